import Foundation
import Testing
import TusCore
import TusRedisStorage
import TusStorageTesting
import TusTestSupport

/// Stores on a Redis Sentinel set of real processes (``RedisSentinelSet``):
/// a master, a replica and three sentinels. One set at a time: each is five
/// processes.
@Suite(.serialized) struct SentinelStorageTests {
    @Test func followsTheStorageRules() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let base = set.configuration()
        try await StorageConformance.check {
            var configuration = base
            configuration.keyPrefix = "conformance:\(UUID().uuidString.prefix(8)):"
            return try RedisStorage(configuration: configuration)
        }
    }

    @Test func aSpecNamesTheSentinelsAndTheStoreWritesToTheMaster() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let store = try RedisStorage(url: set.url(tail: "/0?prefix=spec:"))
        #expect(store.address == "redis-sentinel://\(set.sentinelList)/\(set.masterName)/0")
        try await store.setURL("https://tus.example/files/1", forKey: "k")
        #expect(try await store.url(forKey: "k") == "https://tus.example/files/1")
        let master = try RawRedisClient(port: set.master.port)
        #expect(try master.command(["GET", "spec:url:k"]).string == "https://tus.example/files/1")
        try await store.close()
    }

    @Test func anUnknownMasterNameIsRefusedInWords() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let store = try RedisStorage(url: set.url(masterName: "nosuchmaster"))
        let error = await tusError { try await store.connect() }
        #expect(error?.code == .invalidArgument)
        let message = error?.message ?? ""
        #expect(message.hasPrefix(
            "cannot open the store: the sentinels of redis-sentinel://\(set.sentinelList)/nosuchmaster/0 know no master named \"nosuchmaster\""
        ), "\(message)")
        for sentinel in set.sentinels { #expect(message.contains("127.0.0.1:\(sentinel.port)"), "\(message)") }
        try await store.close()
    }

    /// A master that refuses the credentials is not a failover: the call
    /// fails at once, without waiting out `failover_timeout`.
    @Test func credentialsTheMasterRefusesFailAtOnce() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let store = try RedisStorage(url: set.url(tail: "/0?failover_timeout=30").replacingOccurrences(
            of: "redis-sentinel://", with: "redis-sentinel://:hunter2@"
        ))
        let started = ContinuousClock.now
        let error = await tusError { try await store.connect() }
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(error?.code == .authenticationFailed)
        #expect(error?.message.hasPrefix(
            "cannot open the store: Redis at \(store.address) (master 127.0.0.1:\(set.master.port)) refused to log in:"
        ) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("hunter2") == false)
        try await store.close()
    }

    @Test func sentinelsThatAreAllDownAreNamedWithTheirReasons() async throws {
        let ports = try (0..<2).map { _ in try freeLoopbackPort() }
        let list = ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")
        let store = try RedisStorage(url: "redis-sentinel://:hunter2@\(list)/tusmaster")
        let error = await tusError { _ = try await store.url(forKey: "k") }
        #expect(error?.code == .connectionFailed)
        let message = error?.message ?? ""
        #expect(message.hasPrefix(
            "cannot read the URL of \"k\": no sentinel of redis-sentinel://\(list)/tusmaster/0 answered where the master \"tusmaster\" is: 127.0.0.1:\(ports[0]): "
        ), "\(message)")
        #expect(message.contains("127.0.0.1:\(ports[1]): "), "\(message)")
        #expect(message.localizedCaseInsensitiveContains("refused"), "\(message)")
        #expect(!message.contains("hunter2"))
        try await store.close()
    }

    /// A master that stops answering (`SIGSTOP`) is not dead to the
    /// kernel: connections to it are still accepted. The call that meets it
    /// times out, asks the sentinels again until they have promoted the
    /// replica, and is made there.
    @Test func aMasterThatStopsAnsweringIsLeftForTheNewOne() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        var configuration = set.configuration()
        configuration.commandTimeout = 1
        configuration.connectTimeout = 1
        let store = try RedisStorage(configuration: configuration)
        try await store.setURL("https://tus.example/files/1", forKey: "k")
        set.master.pause()
        try await store.setURL("https://tus.example/files/2", forKey: "k")
        #expect(try await store.url(forKey: "k") == "https://tus.example/files/2")
        let promoted = try RawRedisClient(port: set.replica.port)
        #expect(try promoted.command(["ROLE"]).array?.first?.string == "master")
        #expect(try promoted.command(["GET", configuration.keyPrefix + "url:k"]).string == "https://tus.example/files/2")
        try await store.close()
    }

    /// A master that the sentinels name but that does not come back within
    /// `failover_timeout` ends the call with one error naming it and the
    /// sentinels.
    @Test func aMasterThatStaysDownIsGivenUpOnAfterTheFailoverTimeout() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let store = try RedisStorage(url: set.url(tail: "/0?failover_timeout=1"))
        try await store.setURL("https://tus.example/files/1", forKey: "k")
        set.replica.crash()
        set.master.crash()
        let started = ContinuousClock.now
        let error = await tusError { try await store.setURL("https://tus.example/files/2", forKey: "k") }
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(error?.code == .unavailable)
        let sentinels = set.sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ", ")
        #expect(error?.message.hasPrefix(
            "cannot store the URL of \"k\": the master \"tusmaster\" of the sentinels \(sentinels) could not be reached within 1 s (failover_timeout): cannot connect to the master at 127.0.0.1:\(set.master.port): "
        ) == true, "\(error?.message ?? "")")
        try await store.close()
    }

    @Test func aSetWaitsForTheReplicaAndFailsInWordsWithoutIt() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let store = try RedisStorage(url: set.url(tail: "/0?prefix=wait:&wait=1&wait_timeout=0.2"))
        try await store.setURL("https://tus.example/files/1", forKey: "k")
        // WAIT returned: the replica has the change.
        let replica = try RawRedisClient(port: set.replica.port)
        #expect(try replica.command(["GET", "wait:url:k"]).string == "https://tus.example/files/1")
        // The same with a redis:// URL of the master.
        let direct = try RedisStorage(url: "redis://127.0.0.1:\(set.master.port)/0?prefix=direct:&wait=1&wait_timeout=0.2")
        try await direct.setURL("https://tus.example/files/d", forKey: "d")
        #expect(try replica.command(["GET", "direct:url:d"]).string == "https://tus.example/files/d")

        set.replica.stop()
        let error = await tusError { try await store.setURL("https://tus.example/files/2", forKey: "k") }
        #expect(error?.code == .unavailable)
        #expect(error?.message.hasPrefix(
            "cannot store the URL of \"k\": Redis at \(store.address) (master 127.0.0.1:\(set.master.port)) made the change, but only 0 of the 1 replica it must wait for acknowledged it within 0.2 s;"
        ) == true, "\(error?.message ?? "")")
        let removal = await tusError { try await store.removeURL(forKey: "k") }
        #expect(removal?.code == .unavailable)
        let directError = await tusError { try await direct.setURL("https://tus.example/files/e", forKey: "e") }
        #expect(directError?.message.contains("only 0 of the 1 replica it must wait for") == true, "\(String(describing: directError))")
        // Reads go on; the master made the refused changes.
        #expect(try await store.url(forKey: "k") == nil)
        #expect(try await direct.url(forKey: "e") == "https://tus.example/files/e")
        try await store.close()
        try await direct.close()
    }

    /// The tool takes a `redis-sentinel://` spec, and a later run reads
    /// what an earlier one stored, through a failover.
    @Test func theToolStoresThroughTheSentinelsAcrossAFailover() async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let spec = set.url(tail: "/0?prefix=cli:&wait=1")
        let stored = try runTus(["store", "set", "size:1--md5:a", "http://x/1", "--store", spec], environment: ["TUS_STORE": nil])
        #expect(stored.status == 0, "\(stored.stderr)")
        try await set.killMasterAndWaitForFailover()
        let read = try runTus(["store", "get", "size:1--md5:a", "--store", spec], environment: ["TUS_STORE": nil])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.output == "http://x/1")
        // With no replica left, a set that must wait for one is refused.
        let refused = try runTus(["store", "set", "size:2--md5:b", "http://x/2", "--store", spec], environment: ["TUS_STORE": nil])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("only 0 of the 1 replica it must wait for"), "\(refused.stderr)")
    }

    /// Writers keep setting keys while the master is killed with `SIGKILL`;
    /// they go on through the failover, and afterwards every key is looked
    /// for. With `WAIT` for one replica no acknowledged set may be lost;
    /// without, the loss is printed, since asynchronous replication may lose
    /// the last sets before the kill.
    @Test(arguments: [0, 1]) func writersGoOnThroughAFailover(waitReplicas: Int) async throws {
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        var writing = set.configuration(waitReplicas: waitReplicas)
        writing.waitTimeout = 0.5
        let configuration = writing
        let writers = 4
        let tally = Tally()
        var failover = Duration.zero
        var beforeKill = 0

        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let store = try RedisStorage(configuration: configuration)
                    var number = 0
                    while await !tally.isStopped {
                        let key = "writer-\(writer)-\(number)"
                        number += 1
                        do {
                            try await store.setURL("https://tus.example/files/\(key)", forKey: key)
                            await tally.acknowledged(key)
                        } catch let error as TusError {
                            await tally.refused(error)
                        }
                    }
                    try await store.close()
                }
            }
            do {
                try await waitUntil("the writers stored 300 URLs") { await tally.acknowledgedCount >= 300 }
                beforeKill = await tally.acknowledgedCount
                let killed = ContinuousClock.now
                try await set.killMasterAndWaitForFailover()
                failover = ContinuousClock.now - killed
                if waitReplicas > 0 {
                    // The only replica is now the master: WAIT can succeed
                    // again once the old master is back, as a replica.
                    try await set.restartOldMasterAsReplica()
                }
                let afterFailover = await tally.acknowledgedCount
                try await waitUntil("the writers stored 300 more URLs after the failover", timeout: .seconds(60)) {
                    await tally.acknowledgedCount >= afterFailover + 300
                }
            } catch {
                // The group waits for the writers before it rethrows.
                await tally.stop()
                throw error
            }
            await tally.stop()
            try await group.waitForAll()
        }

        var reading = configuration
        reading.waitReplicas = 0
        let reader = try RedisStorage(configuration: reading)
        let found = Dictionary(try await reader.entries().map { ($0.key, $0.url) }, uniquingKeysWith: { first, _ in first })
        try await reader.close()
        let acknowledged = await tally.acknowledgedKeys
        let lost = acknowledged.filter { found[$0] != "https://tus.example/files/\($0)" }
        let refusals = await tally.refusals
        print("""
            failover under load, \(waitReplicas == 0 ? "without WAIT" : "with WAIT 1"): \(writers) writers, \
            the sentinels agreed on the new master \(failover.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))) after the kill, \
            \(acknowledged.count) sets acknowledged (\(beforeKill) before the kill), \(lost.count) of them lost, \
            \(refusals.values.reduce(0, +)) refused (\(refusals.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")))
            """)
        if waitReplicas > 0 {
            #expect(lost.isEmpty, "acknowledged sets lost with WAIT: \(lost.sorted().prefix(20))")
        }
        // The writers went on: sets were acknowledged by the new master.
        #expect(acknowledged.count >= 600)
    }
}

/// What the writers of a failover test saw.
private actor Tally {
    private(set) var acknowledgedKeys: [String] = []
    /// How many sets were refused, by the error's code.
    private(set) var refusals: [String: Int] = [:]
    private(set) var isStopped = false

    var acknowledgedCount: Int { acknowledgedKeys.count }

    func acknowledged(_ key: String) { acknowledgedKeys.append(key) }
    func refused(_ error: TusError) { refusals["\(error.code)", default: 0] += 1 }
    func stop() { isStopped = true }
}
