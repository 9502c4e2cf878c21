import Foundation
import Testing
import TusCore
import TusRedisStorage
import TusStorageTesting
import TusTestSupport

/// The store against a real Redis Cluster: three masters and three replicas,
/// started for each test (``RedisClusterProcesses``).
@Suite struct RedisClusterTests {
    /// A store on `cluster` that knows only the node on `seed` (the first
    /// node when `nil`), with a new prefix.
    private func store(
        _ cluster: RedisClusterProcesses, seed: Int? = nil, prefix: String = newPrefix()
    ) throws -> RedisStorage {
        try RedisStorage(configuration: .cluster(
            [RedisStorage.ClusterNode(host: "127.0.0.1", port: seed ?? cluster.nodes[0].port)],
            password: cluster.password, keyPrefix: prefix
        ))
    }

    private static func newPrefix() -> String { "cluster-test:\(UUID().uuidString.prefix(8)):" }

    @Test func followsTheStorageRules() async throws {
        let cluster = try await RedisClusterProcesses.start()
        try await StorageConformance.check { try self.store(cluster) }
        await cluster.stop()
    }

    @Test func keysOfAStoreShareTheSlotOfTheirPrefixTag() async throws {
        let cluster = try await RedisClusterProcesses.start()
        let prefix = Self.newPrefix()
        let store = try store(cluster, prefix: prefix)
        try await store.setURL("https://tus.example/files/1", forKey: "size:3--md5:abc")

        let urlKey = "{\(prefix)}url:size:3--md5:abc", indexKey = "{\(prefix)}stored_at"
        let slot = try cluster.slot(of: urlKey)
        #expect(try cluster.slot(of: indexKey) == slot)
        let owner = try cluster.client(try cluster.master(of: slot))
        #expect(try owner.command(["GET", urlKey]).string == "https://tus.example/files/1")
        #expect(try owner.command(["ZSCORE", indexKey, "size:3--md5:abc"]).string != nil)
        #expect(try await store.entries().map(\.key) == ["size:3--md5:abc"])
        try await store.removeURL(forKey: "size:3--md5:abc")
        #expect(try owner.command(["EXISTS", urlKey, indexKey]).integer == 0)
        try await store.close()
        await cluster.stop()
    }

    /// The store knows one master only, and its keys' slot is on another:
    /// every operation is answered `MOVED` there first. The cluster has a
    /// password, which the store gives every node it meets.
    @Test func followsMovedFromANodeThatDoesNotServeTheSlot() async throws {
        let cluster = try await RedisClusterProcesses.start(password: "cluster-secret")
        let prefix = Self.newPrefix()
        let owner = try cluster.master(of: try cluster.slot(of: "{\(prefix)}stored_at"))
        let seed = try #require(try cluster.masters().first { $0 != owner })
        let store = try store(cluster, seed: seed, prefix: prefix)

        try await store.connect()
        try await store.setURL("https://tus.example/a", forKey: "a")
        try await store.setURL("https://tus.example/b", forKey: "b")
        #expect(try await store.url(forKey: "a") == "https://tus.example/a")
        #expect(Set(try await store.entries().map(\.key)) == ["a", "b"])
        try await store.removeURL(forKey: "a")
        #expect(try await store.url(forKey: "a") == nil)
        #expect(try await store.removeEntries(storedBefore: .distantFuture) == 1)
        #expect(try await store.entries().isEmpty)

        // What the store wrote went to the slot's master, not to the seed.
        try await store.setURL("https://tus.example/c", forKey: "c")
        #expect(try cluster.client(owner).command(["GET", "{\(prefix)}url:c"]).string == "https://tus.example/c")
        #expect(try cluster.client(seed).command(["DBSIZE"]).integer == 0)
        try await store.close()

        let wrong = try RedisStorage(configuration: .cluster(
            [RedisStorage.ClusterNode(host: "127.0.0.1", port: seed)], password: "not-the-password", keyPrefix: prefix
        ))
        let error = await tusError { _ = try await wrong.url(forKey: "c") }
        #expect(error?.code == .authenticationFailed, "\(String(describing: error))")
        #expect(error?.message.contains("127.0.0.1:\(seed)") == true && error?.message.contains("not-the-password") == false)
        try await wrong.close()
        await cluster.stop()
    }

    /// The slot of the store's keys is moved from its master to another,
    /// its keys migrated but the slot not yet handed over: the old master
    /// answers `ASK`, and only a client that follows it with `ASKING` reads
    /// and changes the entries. Once the slot is handed over, `MOVED` leads
    /// the store to the new master.
    @Test func followsAskWhileASlotMigrates() async throws {
        let cluster = try await RedisClusterProcesses.start()
        let prefix = Self.newPrefix()
        let store = try store(cluster, prefix: prefix)
        for index in 0..<5 { try await store.setURL("https://tus.example/\(index)", forKey: "k\(index)") }

        let slot = try cluster.slot(of: "{\(prefix)}stored_at")
        let source = try cluster.master(of: slot)
        let target = try #require(try cluster.masters().first { $0 != source })
        let sourceID = try #require(try cluster.client(source).command(["CLUSTER", "MYID"]).string)
        let targetID = try #require(try cluster.client(target).command(["CLUSTER", "MYID"]).string)
        #expect(try cluster.client(target).command(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID]) == .status("OK"))
        #expect(try cluster.client(source).command(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID]) == .status("OK"))
        let keys = try #require(try cluster.client(source).command(["CLUSTER", "GETKEYSINSLOT", String(slot), "100"]).array)
            .compactMap(\.string)
        #expect(keys.count == 6)
        let migrated = try cluster.client(source).command(
            ["MIGRATE", "127.0.0.1", String(target), "", "0", "5000", "KEYS"] + keys)
        #expect(migrated == .status("OK"), "MIGRATE answered \(migrated)")

        // The source has none of the keys now: each command is answered ASK.
        #expect(try await store.url(forKey: "k1") == "https://tus.example/1")
        #expect(Set(try await store.entries().map(\.key)) == Set((0..<5).map { "k\($0)" }))
        try await store.setURL("https://tus.example/replaced", forKey: "k2")
        try await store.removeURL(forKey: "k3")

        // A new entry's URL key is on neither node yet: the target answers
        // TRYAGAIN to a transaction over keys it has only in part, and the
        // store tries again until its failover timeout, then says so.
        let hurried = try RedisStorage(configuration: .cluster(
            [RedisStorage.ClusterNode(host: "127.0.0.1", port: cluster.nodes[0].port)], keyPrefix: prefix, failoverTimeout: 1
        ))
        let error = await tusError { try await hurried.setURL("https://tus.example/new", forKey: "new") }
        #expect(error?.code == .unavailable, "\(String(describing: error))")
        #expect(error?.message.contains("did not serve slot \(slot) within 1 s") == true, "\(String(describing: error))")
        #expect(error?.message.contains("TRYAGAIN") == true, "\(String(describing: error))")
        try await hurried.close()
        // The change went to the target, where the keys are now.
        let targetClient = try cluster.client(target)
        #expect(try targetClient.command(["ASKING"]) == .status("OK"))
        #expect(try targetClient.command(["GET", "{\(prefix)}url:k2"]).string == "https://tus.example/replaced")

        // The hand-over: every master learns that the target serves the slot.
        for master in try cluster.masters() {
            _ = try cluster.client(master).command(["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
        }
        try await store.setURL("https://tus.example/new", forKey: "new")
        #expect(try cluster.client(target).command(["GET", "{\(prefix)}url:new"]).string == "https://tus.example/new")
        #expect(try await store.url(forKey: "k2") == "https://tus.example/replaced")
        #expect(try await store.url(forKey: "k3") == nil)
        try await store.close()
        await cluster.stop()
    }

    /// Writers store URLs while the master of the store's slot is killed
    /// with `kill -9`; its replica takes over within seconds. The writers go
    /// on through the failover, and afterwards every URL they stored is
    /// looked up. Without `WAIT`, a set the master acknowledged but had not
    /// yet sent to its replica is lost: that count is printed, not asserted.
    @Test func writersGoOnAfterTheMasterOfTheirSlotDies() async throws {
        var generator = SeededGenerator.forTest()
        let killAfter = Int.random(in: 200...600, using: &generator)
        let cluster = try await RedisClusterProcesses.start()
        let prefix = Self.newPrefix()
        let slot = try cluster.slot(of: "{\(prefix)}stored_at")
        let victim = try cluster.master(of: slot)
        let seeds = cluster.nodes.map { RedisStorage.ClusterNode(host: "127.0.0.1", port: $0.port) }

        let progress = WriterProgress()
        let writers = 4
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let store = try RedisStorage(configuration: .cluster(seeds, keyPrefix: prefix))
                    var index = 0
                    while !progress.isDone(writer) && !Task.isCancelled {
                        let key = "w\(writer)-\(index)"
                        do {
                            try await store.setURL("https://tus.example/\(key)", forKey: key)
                            progress.acknowledged(key, by: writer)
                        } catch let error as TusError {
                            progress.failed(error.message)
                        }
                        index += 1
                    }
                    try await store.close()
                }
            }
            group.addTask {
                try await waitUntil("\(killAfter) acknowledged sets", timeout: .seconds(60)) { progress.count >= killAfter }
                let killedAt = ContinuousClock.now
                cluster.crash(victim)
                progress.killed()
                try await cluster.waitUntilHealthy(replicated: false)
                progress.failedOver(after: ContinuousClock.now - killedAt)
                #expect(try cluster.master(of: slot) != victim)
                // Each writer stores 50 more once the replica has taken over.
                try await waitUntil("every writer storing 50 URLs after the failover", timeout: .seconds(60)) {
                    progress.allDone(writers: writers)
                }
            }
            try await group.waitForAll()
        }

        let reader = try RedisStorage(configuration: .cluster(seeds, keyPrefix: prefix))
        var lost: Set<String> = []
        for key in progress.keys where try await reader.url(forKey: key) != "https://tus.example/\(key)" { lost.insert(key) }
        let listed = Set(try await reader.entries().map(\.key))
        try await reader.close()
        print("""
            cluster failover under load (no WAIT): \(progress.keys.count) sets acknowledged, \
            \(progress.beforeKill) of them before kill -9 of the master on port \(victim), \
            \(lost.count) lost; the replica served the slot \(progress.failoverTime) after the kill; \(progress.failures.count) sets failed during the failover\
            \(progress.failures.first.map { " (first: \($0))" } ?? "")
            """)
        #expect(progress.afterFailover >= 50 * writers, "the writers did not go on after the failover")
        #expect(lost.isDisjoint(with: progress.keysAfterFailover), "sets acknowledged by the new master were lost")
        #expect(listed.isSuperset(of: progress.keysAfterFailover), "the index misses entries stored after the failover")
        await cluster.stop()
    }

    /// The one node the store was given dies, and later the master of the
    /// store's slot too: the store reads the map from the other masters it
    /// learnt of, and goes on once a replica serves the slot.
    @Test func goesOnWhenItsOnlySeedAndThenItsMasterDie() async throws {
        let cluster = try await RedisClusterProcesses.start()
        let prefix = Self.newPrefix()
        let slot = try cluster.slot(of: "{\(prefix)}stored_at")
        let owner = try cluster.master(of: slot)
        let seed = try #require(try cluster.masters().first { $0 != owner })
        let store = try store(cluster, seed: seed, prefix: prefix)
        try await store.setURL("https://tus.example/before", forKey: "before")

        cluster.crash(seed)
        try await cluster.waitUntilHealthy(replicated: false)
        try await store.setURL("https://tus.example/seed-gone", forKey: "seed-gone")

        cluster.crash(owner)
        // The store waits, within its failover timeout, for the replica.
        try await store.setURL("https://tus.example/owner-gone", forKey: "owner-gone")
        // Every node learns of the new master in its own time.
        try await cluster.waitUntilHealthy(replicated: false)
        #expect(try cluster.master(of: slot) != owner)
        #expect(try await store.url(forKey: "seed-gone") == "https://tus.example/seed-gone")
        #expect(Set(try await store.entries().map(\.key)).isSuperset(of: ["seed-gone", "owner-gone"]))
        try await store.close()
        await cluster.stop()
    }

    /// `tus store` with a `redis-cluster://` spec naming one node: six
    /// keys, in whatever slots, set, read, listed and removed.
    @Test func theToolStoresInACluster() async throws {
        let cluster = try await RedisClusterProcesses.start()
        let spec = "redis-cluster://127.0.0.1:\(cluster.nodes[0].port)/?prefix=\(Self.newPrefix())"
        let keys = (1...6).map { "size:\($0)--md5:\($0)" }
        for key in keys {
            let set = try runTus(["store", "set", key, "http://x/\(key)", "--store", spec], environment: ["TUS_STORE": nil])
            #expect(set.status == 0, "\(set.stderr)")
        }
        for key in keys {
            #expect(try runTus(["store", "get", key, "--store", spec]).output == "http://x/\(key)")
        }
        let listed = try runTus(["store", "list", "--store", spec]).stdout.split(separator: "\n").sorted()
        #expect(listed == keys.map { "\($0)\thttp://x/\($0)" }.sorted())
        #expect(try runTus(["store", "remove", keys[0], "--store", spec]).status == 0)
        #expect(try runTus(["store", "get", keys[0], "--store", spec]).status == 1)
        await cluster.stop()
    }

    @Test func aClusterWhoseNodesAllRefuseIsOneClearError() async throws {
        let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
        let store = try RedisStorage(url: "redis-cluster://:pw-not-shown@127.0.0.1:\(ports[0]),127.0.0.1:\(ports[1])")
        let started = ContinuousClock.now
        let error = await tusError { try await store.connect() }
        #expect(error?.code == .connectionFailed)
        let message = error?.message ?? ""
        #expect(message.contains("127.0.0.1:\(ports[0])") && message.contains("127.0.0.1:\(ports[1])"), "\(message)")
        #expect(!message.contains("pw-not-shown"), "\(message)")
        // Nodes that never answered are a wrong address, not a failover to
        // wait for.
        #expect(ContinuousClock.now - started < .seconds(5), "\(message)")
        try await store.close()
    }

    @Test func aSingleServerNamedAsAClusterIsOneClearError() async throws {
        let server = try RedisServerProcess()
        let store = try RedisStorage(url: "redis-cluster://127.0.0.1:\(server.port)")
        let error = await tusError { try await store.connect() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("127.0.0.1:\(server.port) is not a cluster node") == true, "\(String(describing: error))")
        try await store.close()
        server.stop()
    }
}

/// What the writers of the failover test did, shared between their tasks.
private final class WriterProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var acknowledgedKeys: [String] = []
    private var afterFailoverKeys: [String] = []
    private var perWriterAfterFailover: [Int: Int] = [:]
    private var failureMessages: [String] = []
    private var killedAt: Int?
    private var hasFailedOver = false
    private var failoverDuration: Duration = .zero

    func acknowledged(_ key: String, by writer: Int) {
        lock.withLock {
            acknowledgedKeys.append(key)
            if hasFailedOver {
                afterFailoverKeys.append(key)
                perWriterAfterFailover[writer, default: 0] += 1
            }
        }
    }

    func failed(_ message: String) { lock.withLock { failureMessages.append(message) } }
    func killed() { lock.withLock { killedAt = acknowledgedKeys.count } }
    func failedOver(after time: Duration) {
        lock.withLock {
            hasFailedOver = true
            failoverDuration = time
        }
    }

    func isDone(_ writer: Int) -> Bool { lock.withLock { (perWriterAfterFailover[writer] ?? 0) >= 50 } }
    func allDone(writers: Int) -> Bool {
        lock.withLock { (0..<writers).allSatisfy { (perWriterAfterFailover[$0] ?? 0) >= 50 } }
    }

    var count: Int { lock.withLock { acknowledgedKeys.count } }
    var keys: [String] { lock.withLock { acknowledgedKeys } }
    var keysAfterFailover: Set<String> { lock.withLock { Set(afterFailoverKeys) } }
    var afterFailover: Int { lock.withLock { afterFailoverKeys.count } }
    var beforeKill: Int { lock.withLock { killedAt ?? 0 } }
    var failures: [String] { lock.withLock { failureMessages } }
    var failoverTime: String {
        lock.withLock { failoverDuration.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)) }
    }
}
