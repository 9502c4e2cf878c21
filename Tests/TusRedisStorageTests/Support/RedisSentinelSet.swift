import Foundation
import TusCore
import TusRedisStorage
import TusTestSupport

/// A Redis Sentinel set on loopback, started for one test: a master, one
/// replica of it and three `redis-sentinel` processes that monitor it under
/// the name ``masterName``, with a quorum of two, each on a free port.
///
/// The sentinels call the master down after 1.5 s without an answer
/// (`down-after-milliseconds`) and give a failover 3 s (`failover-timeout`),
/// so that killing the master gets the replica promoted within seconds.
/// Everything is stopped by ``stop()`` or when the value is released.
final class RedisSentinelSet {
    /// The name the sentinels know the master by.
    let masterName = "tusmaster"
    /// The server that was started as the master.
    private(set) var master: RedisServerProcess
    /// The server that was started as its replica.
    private(set) var replica: RedisServerProcess
    /// The three sentinels.
    private(set) var sentinels: [RedisServerProcess] = []

    /// Starts the master, its replica and the sentinels, and waits (at most
    /// 30 s) until the replica has synchronised and every sentinel sees the
    /// replica and the two other sentinels: only then can they fail over.
    init() async throws {
        master = try RedisServerProcess()
        replica = try RedisServerProcess(arguments: ["--replicaof", "127.0.0.1", String(master.port)])
        let master = master, replica = replica
        try await waitUntil("the replica on port \(replica.port) synchronised with the master on port \(master.port)") {
            (try? Self.info(port: replica.port, section: "replication"))?.contains("master_link_status:up") == true
        }
        for _ in 0..<3 {
            sentinels.append(try RedisServerProcess(sentinelMonitoring: masterName, port: master.port))
        }
        try await waitUntilSentinelsAreReady()
    }

    deinit { stop() }

    /// Stops every process.
    func stop() {
        for sentinel in sentinels { sentinel.stop() }
        replica.stop()
        master.stop()
    }

    /// `host:port` of every sentinel, comma-separated, as a spec lists them.
    var sentinelList: String {
        sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
    }

    /// `redis-sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/MASTER`, plus `tail`
    /// (such as `/0?prefix=x:`).
    func url(masterName: String? = nil, tail: String = "") -> String {
        "redis-sentinel://\(sentinelList)/\(masterName ?? self.masterName)\(tail)"
    }

    /// Settings for a store on this set, with a new prefix.
    func configuration(waitReplicas: Int = 0) -> RedisStorage.Configuration {
        var configuration = RedisStorage.Configuration()
        configuration.sentinel = .init(
            masterName: masterName,
            sentinels: sentinels.map { .init(host: "127.0.0.1", port: $0.port) }
        )
        configuration.keyPrefix = "sentinel-test:\(UUID().uuidString.prefix(8)):"
        configuration.waitReplicas = waitReplicas
        return configuration
    }

    /// A new store on this set, empty: its prefix is new.
    func makeStore(waitReplicas: Int = 0) throws -> RedisStorage {
        try RedisStorage(configuration: configuration(waitReplicas: waitReplicas))
    }

    /// Kills the master with `SIGKILL`, as a crash would, and waits (at most
    /// 30 s) until every sentinel names the replica as the master and the
    /// replica says it is one: the failover is done.
    func killMasterAndWaitForFailover() async throws {
        master.crash()
        try await waitForFailover()
    }

    /// Waits until every sentinel names the replica as the master and the
    /// replica says it is one.
    func waitForFailover() async throws {
        let replica = replica
        let sentinels = sentinels
        try await quotingLogs { try await waitUntil("the sentinels promoted the replica on port \(replica.port)", timeout: .seconds(60)) {
            for sentinel in sentinels {
                let reply = try? RawRedisClient(port: sentinel.port)
                    .command(["SENTINEL", "get-master-addr-by-name", masterName])
                guard reply?.array?.last?.string == String(replica.port) else { return false }
            }
            let role = try? RawRedisClient(port: replica.port).command(["ROLE"])
            return role?.array?.first?.string == "master"
        } }
    }

    /// Starts a server on the port of the old master, as a replica of the
    /// new one (the old replica), as an operator brings a failed node back,
    /// and waits until it has synchronised. The promoted replica is then
    /// ``master`` and the restarted server ``replica``.
    func restartOldMasterAsReplica() async throws {
        let newMaster = replica
        // Never to be promoted (replica-priority 0): a master briefly taken
        // for down on a busy machine would otherwise be failed over to this
        // server before it has synchronised, and its empty data set copied
        // over the master's.
        let restarted = try RedisServerProcess(
            port: master.port, arguments: ["--replicaof", "127.0.0.1", String(newMaster.port), "--replica-priority", "0"]
        )
        master = newMaster
        replica = restarted
        try await quotingLogs {
            try await waitUntil("the restarted server on port \(restarted.port) synchronised with the new master") {
                (try? Self.info(port: restarted.port, section: "replication"))?.contains("master_link_status:up") == true
            }
        }
    }

    /// Runs `wait`; when it throws, throws an error that adds the logs of
    /// every process of the set, so that a failed test says what they did.
    private func quotingLogs(_ wait: () async throws -> Void) async throws {
        do {
            try await wait()
        } catch {
            var text = "\(error)\n"
            for (name, process) in [("master", master), ("replica", replica)] + sentinels.map({ ("sentinel", $0) }) {
                text += "--- \(name) on port \(process.port):\n\(process.output.suffix(4000))\n"
            }
            throw RedisServerProcess.ServerError(description: text)
        }
    }

    /// Waits until every sentinel sees the replica up and the two other
    /// sentinels.
    private func waitUntilSentinelsAreReady() async throws {
        let ports = sentinels.map(\.port)
        let masterName = masterName
        try await quotingLogs { try await waitUntil("three sentinels saw the replica and each other", timeout: .seconds(60)) {
            // A sentinel slow to answer, on a busy machine, is not ready yet.
            for port in ports {
                guard let client = try? RawRedisClient(port: port),
                      let replicas = (try? client.command(["SENTINEL", "replicas", masterName]))?.array else { return false }
                let flags = replicas.compactMap { Self.field("flags", in: $0) }
                guard flags.count == 1, flags.allSatisfy({ !$0.contains("down") && !$0.contains("disconnected") }) else {
                    return false
                }
                guard (try? client.command(["SENTINEL", "sentinels", masterName]))?.array?.count == 2 else { return false }
            }
            return true
        } }
    }

    /// The value of `name` in a reply made of names and values, as
    /// `SENTINEL replicas` gives one server.
    private static func field(_ name: String, in reply: RawRedisClient.Reply) -> String? {
        guard let items = reply.array else { return nil }
        var index = 0
        while index + 1 < items.count {
            if items[index].string == name { return items[index + 1].string }
            index += 2
        }
        return nil
    }

    /// The text of `INFO section` of the server on `port`.
    static func info(port: Int, section: String) throws -> String {
        try RawRedisClient(port: port).command(["INFO", section]).string ?? ""
    }
}
