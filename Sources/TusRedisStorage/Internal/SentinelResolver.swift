import Foundation
import TusCore

/// Asks the sentinels of a ``RedisStorage/Configuration/Sentinel`` where the
/// master is, each on a short-lived connection of its own, as the Sentinel
/// client guidelines describe: in turn, until one names it, and the one
/// that answered first next time.
///
/// Only the store's thread uses it.
struct SentinelResolver {
    let sentinel: RedisStorage.Configuration.Sentinel
    let connectTimeout: TimeInterval
    let commandTimeout: TimeInterval
    /// What messages call the set: the configuration's address.
    let address: String
    /// The sentinels, the last one that named the master first.
    private var order: [RedisStorage.Configuration.Sentinel.Address]

    init(configuration: RedisStorage.Configuration, sentinel: RedisStorage.Configuration.Sentinel) {
        self.sentinel = sentinel
        self.connectTimeout = configuration.connectTimeout
        self.commandTimeout = configuration.commandTimeout
        self.address = configuration.address
        self.order = sentinel.sentinels
    }

    /// The master's host and port, as the first sentinel that knows it says.
    ///
    /// - Throws: `TusError` with `TusError.Code.connectionFailed` when no
    ///   sentinel answered (each one's reason said), or
    ///   `TusError.Code.invalidArgument` when those that answered know no
    ///   master of that name.
    mutating func master(_ operation: Operation) throws -> (host: String, port: Int) {
        var problems: [String] = []
        var unknownTo: [String] = []
        for (index, candidate) in order.enumerated() {
            switch ask(candidate) {
            case .master(let host, let port):
                if index != 0 {
                    order.remove(at: index)
                    order.insert(candidate, at: 0)
                }
                return (host, port)
            case .unknown:
                unknownTo.append(candidate.description)
            case .failed(let why):
                problems.append("\(candidate): \(why)")
            }
        }
        let name = sentinel.masterName.debugDescription
        if !unknownTo.isEmpty {
            let others = problems.isEmpty ? "" : "; the others did not answer (\(problems.joined(separator: "; ")))"
            throw TusError(
                .invalidArgument,
                "cannot \(operation): the sentinels of \(address) know no master named \(name) (asked \(unknownTo.joined(separator: ", "))\(others)); use the name their configuration gives the master (sentinel monitor NAME host port quorum)"
            )
        }
        throw TusError(
            .connectionFailed,
            "cannot \(operation): no sentinel of \(address) answered where the master \(name) is: \(problems.joined(separator: "; "))"
        )
    }

    private enum Answer {
        case master(host: String, port: Int)
        case unknown
        case failed(String)
    }

    /// Asks one sentinel, on a connection of its own, closed afterwards.
    private func ask(_ sentinel: RedisStorage.Configuration.Sentinel.Address) -> Answer {
        let reply: RedisReply
        do {
            let connection = try RedisConnection(
                host: sentinel.host, port: sentinel.port, connectTimeout: connectTimeout, commandTimeout: commandTimeout
            )
            reply = try connection.command(
                [Array("SENTINEL".utf8), Array("get-master-addr-by-name".utf8), Array(self.sentinel.masterName.utf8)],
                name: "SENTINEL get-master-addr-by-name"
            )
        } catch {
            return .failed(error.message)
        }
        switch reply {
        case .null:
            return .unknown
        case .array(let parts) where parts.count == 2:
            guard case .string(let hostBytes) = parts[0], case .string(let portBytes) = parts[1],
                  let port = Int(String(decoding: portBytes, as: UTF8.self)), (1...65535).contains(port) else {
                return .failed("it answered SENTINEL get-master-addr-by-name with something that is not a host and a port")
            }
            return .master(host: String(decoding: hostBytes, as: UTF8.self), port: port)
        case .error(let text):
            return .failed("it is not a sentinel, or refused the question (\(text))")
        default:
            return .failed("it answered SENTINEL get-master-addr-by-name with \(reply.kind), expected a host and a port")
        }
    }
}

extension SentinelResolver {
    /// `host:port` as messages show it, an IPv6 host in brackets.
    static func shown(host: String, port: Int) -> String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }
}
