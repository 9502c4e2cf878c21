import Foundation
import TusTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis Cluster of private `redis-server --cluster-enabled yes` processes
/// on loopback ports, three masters and three replicas, made with
/// `redis-cli --cluster create`, and stopped by ``stop()`` or when the value
/// is released.
///
/// Each node keeps its files (`nodes.conf`, its log) in a temporary folder
/// of its own and nothing else on disk. The node timeout is 1 s, so a
/// replica takes over a killed master within a few seconds.
final class RedisClusterProcesses: @unchecked Sendable {
    /// One `redis-server` of the cluster.
    final class Node: @unchecked Sendable {
        let port: Int
        /// The port of the cluster bus, given with `--cluster-port`: the
        /// default, the port plus 10000, is past 65535 for a port above 55535
        /// and may be taken by another program.
        let busPort: Int
        let process: ChildProcess
        let folder: TemporaryFolder

        init(port: Int, busPort: Int, process: ChildProcess, folder: TemporaryFolder) {
            self.port = port
            self.busPort = busPort
            self.process = process
            self.folder = folder
        }

        /// `127.0.0.1:port`, as specs and `redis-cli` name it.
        var address: String { "127.0.0.1:\(port)" }
    }

    let nodes: [Node]
    let password: String?

    /// How long a node may be unreachable before the cluster counts it as
    /// failed and its replica takes over, in milliseconds.
    static let nodeTimeout = 1000

    private init(nodes: [Node], password: String?) {
        self.nodes = nodes
        self.password = password
    }

    /// Starts six nodes, makes them a cluster of three masters with a
    /// replica each, and waits until every node says the cluster is ok, each
    /// master has its replica in sync, and every node's map covers every
    /// slot.
    static func start(password: String? = nil) async throws -> RedisClusterProcesses {
        let executable = try RedisServerProcess.executable()
        var nodes: [Node] = []
        do {
            for _ in 0..<6 { nodes.append(try await startNode(executable, password: password)) }
            let cluster = RedisClusterProcesses(nodes: nodes, password: password)
            try cluster.create()
            try await cluster.waitUntilHealthy()
            return cluster
        } catch {
            for node in nodes { node.process.send(SIGKILL) }
            throw error
        }
    }

    /// Starts one node and waits until it answers `PING`; a port another
    /// program took meanwhile is replaced with a new one.
    private static func startNode(_ executable: String, password: String?) async throws -> Node {
        var lastOutput = ""
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            var busPort = try freeLoopbackPort()
            while busPort == port { busPort = try freeLoopbackPort() }
            let folder = try TemporaryFolder()
            var arguments = [
                "--port", String(port), "--cluster-port", String(busPort), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", folder.path + "/nodes.conf",
                "--cluster-node-timeout", String(nodeTimeout),
                // A replica takes over however long it was cut off from its
                // master: the test kills masters on purpose.
                "--cluster-replica-validity-factor", "0",
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", folder.path, "--logfile", "",
            ]
            if let password { arguments += ["--requirepass", password, "--masterauth", password] }
            let process = try ChildProcess(executable, arguments, outputPath: folder.path + "/redis-server.log")
            let node = Node(port: port, busPort: busPort, process: process, folder: folder)
            // Ends early when the server has exited instead.
            try? await waitUntil("redis-server on port \(port) answers", timeout: .seconds(10)) {
                if !process.isRunning { return true }
                return (try? RawRedisClient(port: port, password: password).command(["PING"])) == .status("PONG")
            }
            if process.isRunning, (try? RawRedisClient(port: port, password: password).command(["PING"])) == .status("PONG") {
                return node
            }
            lastOutput = process.output
            process.send(SIGKILL)
            process.wait(timeout: .seconds(5))
            if !lastOutput.contains("Address already in use") { break }
        }
        throw FixtureError("a cluster node of redis-server did not start: \(lastOutput)")
    }

    /// `redis-cli --cluster create` over the six nodes, one replica per
    /// master.
    private func create() throws {
        let executable = (try RedisServerProcess.executable() as NSString).deletingLastPathComponent + "/redis-cli"
        var arguments = ["--cluster", "create"] + nodes.map(\.address) + ["--cluster-replicas", "1", "--cluster-yes"]
        if let password { arguments = ["-a", password, "--no-auth-warning"] + arguments }
        let result = try runProcess(executable, arguments, timeout: 60)
        guard result.status == 0 else {
            throw FixtureError("redis-cli --cluster create failed (exit \(result.status)): \(result.stdout) \(result.stderr)")
        }
    }

    /// A client of the node on `port`.
    func client(_ port: Int) throws -> RawRedisClient {
        try RawRedisClient(port: port, password: password)
    }

    /// The nodes still running.
    var running: [Node] { nodes.filter { $0.process.isRunning } }

    /// `CLUSTER SLOTS` of a running node: each range of slots and the port
    /// of its master.
    func slotMap(askingPort port: Int? = nil) throws -> [(slots: ClosedRange<Int>, master: Int, replicas: [Int])] {
        let port = try port ?? (running.first?.port).orThrow("no node of the cluster runs")
        let reply = try client(port).command(["CLUSTER", "SLOTS"])
        guard let ranges = reply.array else { throw FixtureError("CLUSTER SLOTS answered \(reply)") }
        return try ranges.map { range in
            guard let fields = range.array, fields.count >= 3, let first = fields[0].integer, let last = fields[1].integer,
                  let master = fields[2].array?[1].integer else {
                throw FixtureError("CLUSTER SLOTS answered \(reply)")
            }
            let replicas = fields.dropFirst(3).compactMap { $0.array?[1].integer }
            return (first...last, master, replicas)
        }
    }

    /// The slot of `key`, as the cluster itself computes it
    /// (`CLUSTER KEYSLOT`).
    func slot(of key: String) throws -> Int {
        let port = try (running.first?.port).orThrow("no node of the cluster runs")
        return try client(port).command(["CLUSTER", "KEYSLOT", key]).integer.orThrow("CLUSTER KEYSLOT gave no number")
    }

    /// The port of the master that serves `slot` now, by a running node's
    /// map.
    func master(of slot: Int) throws -> Int {
        try slotMap().first { $0.slots.contains(slot) }.orThrow("no master serves slot \(slot)").master
    }

    /// The ports of the masters, by a running node's map.
    func masters() throws -> [Int] {
        Array(Set(try slotMap().map(\.master))).sorted()
    }

    /// Kills the node on `port` at once, as a crash would.
    func crash(_ port: Int) {
        guard let node = nodes.first(where: { $0.port == port }) else { return }
        node.process.send(SIGKILL)
        node.process.wait(timeout: .seconds(5))
    }

    /// Waits until every running node says the cluster is ok and maps every
    /// slot to a running master whose replicas (when `replicated`) are in
    /// sync, for at most `timeout`.
    func waitUntilHealthy(replicated: Bool = true, timeout: Duration = .seconds(60)) async throws {
        var reason = ""
        do {
            try await waitUntil("the Redis Cluster on ports \(nodes.map(\.port)) to be ok", timeout: timeout) {
                reason = try self.unhealthiness(replicated: replicated) ?? ""
                return reason.isEmpty
            }
        } catch TestError.timedOut(let what) {
            throw FixtureError("timed out waiting for \(what): \(reason)")
        }
    }

    /// Why the cluster is not healthy yet, or `nil` when it is.
    private func unhealthiness(replicated: Bool) throws -> String? {
        let runningPorts = Set(running.map(\.port))
        for node in running {
            guard let client = try? client(node.port) else { return "\(node.port) does not answer" }
            guard let info = try? client.command(["CLUSTER", "INFO"]).string, info.contains("cluster_state:ok") else {
                return "\(node.port) does not say cluster_state:ok"
            }
            guard let map = try? slotMap(askingPort: node.port) else { return "\(node.port) gave no slot map" }
            let covered = map.reduce(0) { $0 + $1.slots.count }
            guard covered == 16384 else { return "\(node.port) maps \(covered) slots" }
            if let dead = map.first(where: { !runningPorts.contains($0.master) }) {
                return "\(node.port) maps slots \(dead.slots) to \(dead.master), which is down"
            }
        }
        guard replicated else { return nil }
        // A replica may say it is online before it gets the master's writes:
        // each master is written to and waits until its replica has that
        // write (`WAIT`).
        for range in try slotMap() {
            let master = try client(range.master)
            let key = try probeKey(in: range.slots)
            guard try master.command(["SET", key, "probe"]) == .status("OK") else { return "\(range.master) refused a write" }
            let acknowledged = try master.command(["WAIT", "1", "200"]).integer ?? 0
            _ = try master.command(["DEL", key])
            if acknowledged < 1 { return "the replica of master \(range.master) does not get its writes yet" }
        }
        return nil
    }

    /// A key whose slot is in `slots`, by `CLUSTER KEYSLOT`.
    private func probeKey(in slots: ClosedRange<Int>) throws -> String {
        let port = try (running.first?.port).orThrow("no node of the cluster runs")
        let client = try client(port)
        for index in 0..<100_000 {
            let key = "fixture-probe-\(index)"
            if let slot = try client.command(["CLUSTER", "KEYSLOT", key]).integer, slots.contains(slot) { return key }
        }
        throw FixtureError("no key found for slots \(slots)")
    }

    /// Stops every node: SIGTERM, then SIGKILL after 5 s.
    func stop() async {
        for node in nodes { await node.process.stop() }
    }

    deinit {
        for node in nodes { node.process.send(SIGKILL) }
    }
}

extension Optional {
    /// The value, or a ``FixtureError`` saying `what` is missing.
    func orThrow(_ what: @autoclosure () -> String) throws -> Wrapped {
        guard let self else { throw FixtureError(what()) }
        return self
    }
}
