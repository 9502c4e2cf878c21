import Foundation
import Logging
import TusCore

/// The connections of a store to the nodes of a Redis Cluster, and the map of
/// which master serves which slot.
///
/// Each pipeline of commands goes to the master of its slot. A node that
/// answers `MOVED` has the map read again; one that answers `ASK` gets the
/// same commands once more, after `ASKING`, on the node named. A node that
/// cannot be reached, and a cluster that answers `CLUSTERDOWN` or
/// `TRYAGAIN`, have the map read again from another node and the commands
/// sent again, with a growing pause in between, until ``retryWindow`` has
/// passed since the first attempt: long enough, with a short node timeout,
/// for a replica to take over a master that died. Every command the store
/// sends can safely be repeated.
///
/// Not thread-safe: only the store's thread uses it.
final class RedisCluster {
    /// The nodes the configuration names, asked for the map first.
    let seeds: [ClusterNode]
    /// How long, in seconds, an operation goes on trying when nodes cannot
    /// be reached or the cluster is down.
    let retryWindow: TimeInterval
    /// The cluster's address for messages: `redis-cluster://host:port,...`.
    let address: String
    /// Opens a connection to a node, logged in; throws a `TusError`
    /// (`connectionFailed` when the node cannot be reached).
    private let open: (ClusterNode, any CustomStringConvertible) throws -> RedisConnection

    private var map: ClusterSlots.Map?
    /// Every node the last map named, masters and replicas, asked for the
    /// next map after the seeds.
    private var known: [ClusterNode] = []
    private var connections: [ClusterNode: RedisConnection] = [:]

    /// The most redirections one operation follows before it gives up.
    static let maxRedirections = 8

    /// Where waits for a failover are logged, at `debug`.
    let logger: Logger

    init(
        seeds: [ClusterNode], retryWindow: TimeInterval, address: String, logger: Logger,
        open: @escaping (ClusterNode, any CustomStringConvertible) throws -> RedisConnection
    ) {
        self.logger = logger
        self.seeds = seeds
        self.retryWindow = retryWindow
        self.address = address
        self.open = open
    }

    /// Drops every connection.
    func close() {
        connections = [:]
        map = nil
    }

    /// Sends `commands`, whose keys all hash to `slot`, in one write to the
    /// master of `slot` and returns their replies, following redirections
    /// and failovers as the type's description says.
    ///
    /// - Throws: `TusError` when no node can be reached, the nodes redirect
    ///   too often, or the configured nodes are not a cluster; `RedisError`
    ///   for a timeout or a reply that is not RESP, which the session reports
    ///   as it does for a single server.
    func pipeline(_ commands: [[[UInt8]]], slot: Int, name: String, _ operation: any CustomStringConvertible) throws -> [RedisReply] {
        let started = Date()
        var pause: TimeInterval = 0.05
        var redirections = 0
        var asking: ClusterNode?
        var lastProblem = ""

        // Waits before the next attempt, or gives up once the window has
        // passed.
        func waitOrGiveUp(_ problem: String) throws {
            if lastProblem.isEmpty {
                logger.debug("the cluster does not serve the store's slot; trying again until it does", metadata: [
                    "tus.store.backend": "RedisStorage", "tus.store.address": "\(address)", "tus.store.slot": "\(slot)",
                    "tus.reason": "\(problem)",
                ])
            }
            lastProblem = problem
            let elapsed = Date().timeIntervalSince(started)
            guard elapsed + pause <= retryWindow else {
                throw TusError(
                    .unavailable,
                    "cannot \(operation): the Redis Cluster \(address) did not serve slot \(slot) within \(Self.seconds(retryWindow)): \(lastProblem)"
                )
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.5)
        }

        while true {
            let node: ClusterNode
            if let asking {
                node = asking
            } else {
                if map == nil {
                    do {
                        try refresh(operation)
                    } catch let error as TusError where error.code == .connectionFailed && hadMap {
                        try waitOrGiveUp(Self.reason(error, operation))
                        continue
                    }
                }
                guard let master = map?.master(of: slot) else {
                    map = nil
                    try waitOrGiveUp("no master serves the slot")
                    continue
                }
                node = master
            }

            let connection: RedisConnection
            do {
                connection = try connected(to: node, operation)
            } catch let error as TusError where error.code == .connectionFailed {
                // A master that died: its replica takes over once the
                // cluster notices; read the map again meanwhile.
                map = nil
                asking = nil
                try waitOrGiveUp(Self.reason(error, operation))
                continue
            }

            let sent = asking == nil ? commands : [[Array("ASKING".utf8)]] + commands
            var replies: [RedisReply]
            do {
                replies = try connection.pipeline(sent, name: name)
            } catch {
                connections[node] = nil
                guard Self.isBroken(error) else { throw error }
                map = nil
                asking = nil
                try waitOrGiveUp("the connection to \(node) broke during \(error.command): \(error.message)")
                continue
            }
            if asking != nil { replies.removeFirst() }
            asking = nil

            switch Self.problem(in: replies, from: node) {
            case nil:
                return replies
            case .redirected(let redirection)?:
                redirections += 1
                guard redirections <= Self.maxRedirections else {
                    throw TusError(
                        .unavailable,
                        "cannot \(operation): the Redis Cluster \(address) redirected slot \(slot) \(Self.maxRedirections) times, last to \(redirection.node); is a slot migration stuck?"
                    )
                }
                switch redirection.kind {
                case .moved:
                    // The map is stale: read it again, and keep the move
                    // even if the node asked has not learnt of it yet.
                    try? refresh(operation)
                    map?.move(redirection.slot, to: redirection.node)
                case .ask:
                    asking = redirection.node
                }
            case .busy(let text)?:
                // CLUSTERDOWN while a failover goes on, TRYAGAIN while a slot
                // migrates, LOADING while a node reads its data.
                if text.hasPrefix("CLUSTERDOWN") { map = nil }
                try waitOrGiveUp("\(node) answered \(text)")
            }
        }
    }

    /// Whether a map was read once: until then, nodes that cannot be
    /// reached are an error at once (a wrong address), not a failover to
    /// wait for.
    private var hadMap = false

    private enum Problem {
        case redirected(ClusterSlots.Redirection)
        case busy(String)
    }

    /// The first redirection, or failing that the first error saying the
    /// cluster cannot serve the slot now, among `replies`.
    private static func problem(in replies: [RedisReply], from node: ClusterNode) -> Problem? {
        var busy: String?
        for reply in replies {
            guard case .error(let text) = reply else { continue }
            if let redirection = ClusterSlots.Redirection(text, answeredBy: node) { return .redirected(redirection) }
            if busy == nil, text.hasPrefix("CLUSTERDOWN") || text.hasPrefix("TRYAGAIN") || text.hasPrefix("LOADING") {
                busy = text
            }
        }
        return busy.map { .busy($0) }
    }

    /// Reads the map with `CLUSTER SLOTS` from the first node that answers:
    /// the nodes of the last map, then the seeds.
    ///
    /// - Throws: `TusError` `connectionFailed` naming every node tried when
    ///   none could be reached; `invalidArgument` when a node is not in
    ///   cluster mode; what ``open`` throws other than `connectionFailed`
    ///   (a wrong password).
    private func refresh(_ operation: any CustomStringConvertible) throws {
        var candidates: [ClusterNode] = []
        for node in known + seeds where !candidates.contains(node) { candidates.append(node) }
        var problems: [String] = []
        for node in candidates {
            let reply: RedisReply
            do {
                reply = try connected(to: node, operation).command([Array("CLUSTER".utf8), Array("SLOTS".utf8)], name: "CLUSTER SLOTS")
            } catch let error as TusError where error.code == .connectionFailed {
                problems.append(Self.reason(error, operation))
                continue
            } catch let error as RedisError {
                connections[node] = nil
                problems.append("\(node): \(error.message)")
                continue
            }
            if case .error(let text) = reply {
                if text.localizedCaseInsensitiveContains("cluster support disabled") {
                    throw TusError(
                        .invalidArgument,
                        "cannot \(operation): Redis at \(node) is not a cluster node (cluster mode is off); use a redis:// URL for a single server (\(text))"
                    )
                }
                problems.append("\(node) answered CLUSTER SLOTS with \(text)")
                continue
            }
            guard let map = ClusterSlots.Map(slotsReply: reply, from: node) else {
                problems.append("\(node) answered CLUSTER SLOTS with \(reply.kind) of an unknown shape")
                continue
            }
            self.map = map
            hadMap = true
            known = Self.nodes(in: reply, from: node)
            return
        }
        throw TusError(
            .connectionFailed,
            "cannot \(operation): no node of the Redis Cluster \(address) answered: " + problems.joined(separator: "; ")
        )
    }

    /// Every node, master or replica, a `CLUSTER SLOTS` reply names.
    private static func nodes(in reply: RedisReply, from asked: ClusterNode) -> [ClusterNode] {
        guard case .array(let ranges) = reply else { return [] }
        var nodes: [ClusterNode] = []
        for case .array(let fields) in ranges {
            for case .array(let node) in fields.dropFirst(2) {
                guard node.count >= 2, case .string(let host) = node[0], case .integer(let port) = node[1] else { continue }
                let text = String(decoding: host, as: UTF8.self)
                guard text != "?", (1...65535).contains(port) else { continue }
                let found = ClusterNode(host: text.isEmpty ? asked.host : text, port: Int(port))
                if !nodes.contains(found) { nodes.append(found) }
            }
        }
        return nodes
    }

    /// The open connection to `node`, or a new one.
    private func connected(to node: ClusterNode, _ operation: any CustomStringConvertible) throws -> RedisConnection {
        if let connection = connections[node] { return connection }
        let connection = try open(node, operation)
        connections[node] = connection
        return connection
    }

    /// A timeout: hiredis reports an expired `SO_RCVTIMEO`/`SO_SNDTIMEO` as
    /// an I/O error with `EAGAIN`.
    private static func isBroken(_ error: RedisError) -> Bool {
        let timeout = error.code == RedisError.io
            && (error.systemErrno == EAGAIN || error.systemErrno == EWOULDBLOCK || error.systemErrno == ETIMEDOUT)
        return error.code == RedisError.eof || (error.code == RedisError.io && !timeout)
    }

    /// What `error` says, without the "cannot <operation>: " it starts
    /// with, to be quoted in a message that says it.
    private static func reason(_ error: TusError, _ operation: any CustomStringConvertible) -> String {
        let lead = "cannot \(operation): "
        return error.message.hasPrefix(lead) ? String(error.message.dropFirst(lead.count)) : error.message
    }

    private static func seconds(_ value: TimeInterval) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
