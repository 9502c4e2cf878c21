import Foundation
import Testing
import TusTestSupport
import TusCore
import TusRedisStorage
import TusStorageTesting

@Suite struct RedisStorageTests {
    @Test func followsTheStorageRules() async throws {
        try await TestRedis.withServer { server in
            try await StorageConformance.check { try server.makeStore() }
        }
    }

    @Test func anotherConnectionWithTheSamePrefixSeesTheEntries() async throws {
        try await TestRedis.withServer { server in
            let prefix = server.newPrefix()
            let writer = try server.makeStore(prefix: prefix)
            let reader = try RedisStorage(url: server.url(query: "?prefix=\(prefix)"))

            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    let store = index.isMultiple(of: 2) ? writer : reader
                    group.addTask { try await store.setURL("https://tus.example/files/\(index)", forKey: "key-\(index)") }
                }
                try await group.waitForAll()
            }
            #expect(try await reader.url(forKey: "key-2") == "https://tus.example/files/2")
            #expect(try await writer.url(forKey: "key-3") == "https://tus.example/files/3")
            let listed = try await reader.entries()
            #expect(Set(listed.map(\.key)) == Set((0..<20).map { "key-\($0)" }))

            try await reader.removeURL(forKey: "key-2")
            #expect(try await writer.url(forKey: "key-2") == nil)
            try await writer.close()
            try await reader.close()
        }
    }

    @Test func differentPrefixesDoNotSeeEachOther() async throws {
        try await TestRedis.withServer { server in
            let first = try server.makeStore()
            let second = try server.makeStore()
            try await first.setURL("https://tus.example/first", forKey: "k")
            #expect(try await second.url(forKey: "k") == nil)
            #expect(try await second.entries().isEmpty)
            #expect(try await second.removeEntries(storedBefore: .distantFuture) == 0)
            #expect(try await first.url(forKey: "k") == "https://tus.example/first")
            try await first.close()
            try await second.close()
        }
    }

    @Test func differentDatabasesDoNotSeeEachOther() async throws {
        try await TestRedis.withServer(cleaning: [1, 2]) { server in
            let prefix = server.newPrefix()
            let one = try server.makeStore(prefix: prefix, database: 1)
            let two = try RedisStorage(url: server.url(database: 2, query: "?prefix=\(prefix)"))
            try await one.setURL("https://tus.example/in-1", forKey: "k")
            try await two.setURL("https://tus.example/in-2", forKey: "k")
            #expect(try await one.url(forKey: "k") == "https://tus.example/in-1")
            #expect(try await two.url(forKey: "k") == "https://tus.example/in-2")
            try await one.removeURL(forKey: "k")
            #expect(try await two.entries().map(\.url) == ["https://tus.example/in-2"])
            #expect(one.address.hasSuffix("/1") && two.address.hasSuffix("/2"))
            try await one.close()
            try await two.close()
        }
    }

    @Test func keyLayoutIsWhatTheDocsDescribe() async throws {
        try await TestRedis.withServer { server in
            let prefix = server.newPrefix()
            let store = try server.makeStore(prefix: prefix)
            let before = Date().timeIntervalSince1970 * 1000
            try await store.setURL("https://tus.example/files/1", forKey: "size:3--md5:abc")
            let client = try server.client()
            #expect(try client.command(["GET", prefix + "url:size:3--md5:abc"]).string == "https://tus.example/files/1")
            #expect(try client.command(["PTTL", prefix + "url:size:3--md5:abc"]).integer == -1)
            let score = try #require(Double(try client.command(["ZSCORE", prefix + "stored_at", "size:3--md5:abc"]).string ?? ""))
            #expect(abs(score - before) < 60_000)
            #expect(Set(try client.keys(prefix: prefix)) == [prefix + "url:size:3--md5:abc", prefix + "stored_at"])

            try await store.removeURL(forKey: "size:3--md5:abc")
            #expect(try client.keys(prefix: prefix).isEmpty)
            try await store.close()
        }
    }

    @Test func keysAndURLsAreBinarySafe() async throws {
        try await TestRedis.withServer { server in
            let prefix = server.newPrefix()
            let store = try server.makeStore(prefix: prefix)
            let key = "a\u{0}b\u{0}\u{1F600}\r\n$3\r\n"
            let url = "https://tus.example/\u{0}/" + String(repeating: "\u{1F4C1}", count: 16 * 1024)  // 64 KiB
            try await store.setURL(url, forKey: key)
            try await store.setURL("https://tus.example/plain", forKey: "a")
            #expect(try await store.url(forKey: key) == url)
            #expect(try await store.url(forKey: "a") == "https://tus.example/plain")
            #expect(try await store.url(forKey: "a\u{0}b") == nil)
            let entries = try await store.entries()
            #expect(entries.first { $0.key == key }?.url == url)

            let client = try server.client()
            let raw = try client.command([Array("GET".utf8), Array((prefix + "url:").utf8) + Array(key.utf8)])
            #expect(raw.bytes == Array(url.utf8))
            #expect(try await store.removeEntries(storedBefore: .distantFuture) == 2)
            #expect(try client.keys(prefix: prefix).isEmpty)
            try await store.close()
        }
    }

    @Test func entriesExpireWithTheTTL() async throws {
        try await TestRedis.withServer { server in
            let prefix = server.newPrefix()
            let expiring = try RedisStorage(url: server.url(query: "?prefix=\(prefix)&ttl=1"))
            let lasting = try RedisStorage(url: server.url(query: "?prefix=\(prefix)"))
            #expect(expiring.configuration.ttl == 1)
            try await expiring.setURL("https://tus.example/a", forKey: "a")
            try await expiring.setURL("https://tus.example/b", forKey: "b")
            try await lasting.setURL("https://tus.example/c", forKey: "c")

            let client = try server.client()
            let ttl = try #require(try client.command(["PTTL", prefix + "url:a"]).integer)
            #expect(ttl != -1 && ttl <= 1000, "the URL key has no expiry or a longer one: PTTL \(ttl)")

            let gone = try await TestRedis.wait(seconds: 10) {
                let a = try await expiring.url(forKey: "a")
                let b = try await expiring.url(forKey: "b")
                return a == nil && b == nil
            }
            #expect(gone, "entries stored with ttl=1 are still there after 10 s")
            #expect(try await lasting.url(forKey: "c") == "https://tus.example/c")

            // Pruning counts only the entry that had not expired.
            #expect(try await expiring.removeEntries(storedBefore: .distantFuture) == 1)
            #expect(try await lasting.entries().isEmpty)
            #expect(try client.keys(prefix: prefix).isEmpty)

            // Listing skips expired entries and drops them from the index.
            try await expiring.setURL("https://tus.example/d", forKey: "d")
            try await lasting.setURL("https://tus.example/e", forKey: "e")
            #expect(try await TestRedis.wait(seconds: 10) { try await expiring.url(forKey: "d") == nil })
            let listed = try await expiring.entries()
            #expect(listed.map(\.key) == ["e"])
            #expect(try client.command(["ZCARD", prefix + "stored_at"]).integer == 1)

            try await expiring.close()
            try await lasting.close()
        }
    }

    @Test func aKeyOfAnotherTypeIsReportedAsACorruptStore() async throws {
        try await TestRedis.withServer { server in
            let prefix = server.newPrefix()
            let store = try server.makeStore(prefix: prefix)
            _ = try server.client().command(["SET", prefix + "stored_at", "not a sorted set"])
            let error = await tusError { _ = try await store.entries() }
            #expect(error?.code == .corruptStore)
            #expect(error?.message.contains(prefix) == true, "\(String(describing: error))")
            #expect(try server.client().command(["GET", prefix + "stored_at"]).string == "not a sorted set")
            try await store.close()
        }
    }

    @Test func aChangeMeetingAKeyOfAnotherTypeIsReportedAndLeavesThatKeyAlone() async throws {
        try await TestRedis.withServer { server in
            let prefix = server.newPrefix()
            let store = try server.makeStore(prefix: prefix)
            _ = try server.client().command(["SET", prefix + "stored_at", "not a sorted set"])
            for change in [
                { try await store.setURL("https://tus.example/1", forKey: "k") },
                { try await store.removeURL(forKey: "k") },
            ] {
                let error = await tusError(change)
                #expect(error?.code == .corruptStore, "\(String(describing: error))")
                #expect(error?.message.contains(prefix) == true, "\(String(describing: error))")
                #expect(try server.client().command(["GET", prefix + "stored_at"]).string == "not a sorted set")
            }
            // The store still works for what does not touch that key.
            _ = try server.client().command(["DEL", prefix + "stored_at"])
            try await store.setURL("https://tus.example/2", forKey: "k")
            #expect(try await store.url(forKey: "k") == "https://tus.example/2")
            try await store.close()
        }
    }

    @Test func aClosedStoreRefusesEveryOperation() async throws {
        try await TestRedis.withServer { server in
            let store = try server.makeStore()
            try await store.connect()
            try await store.close()
            try await store.close()
            for operation in [
                { _ = try await store.url(forKey: "k") },
                { try await store.setURL("https://tus.example/1", forKey: "k") },
                { _ = try await store.entries() },
                { try await store.connect() },
            ] as [() async throws -> Void] {
                let error = await tusError(operation)
                #expect(error?.code == .closed)
                #expect(error?.message.contains(store.address) == true)
            }
        }
    }
}

@Suite struct RedisStorageFailureTests {
    @Test func aServerThatIsDownFailsFastWithItsAddress() async throws {
        let port = try RedisServerProcess.freePort()
        let store = try RedisStorage(url: "redis://:hunter2@127.0.0.1:\(port)")
        let error = await tusError { _ = try await store.url(forKey: "k") }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.cause is RedisError)
        try await store.close()
    }

    @Test(.enabled(if: RedisServerProcess.hasIPv6Loopback, "the machine has no IPv6 loopback"))
    func anIPv6AddressInBrackets() async throws {
        let server = try RedisServerProcess(alsoIPv6: true)
        defer { server.stop() }
        let store = try RedisStorage(url: "redis://[::1]:\(server.port)/0?prefix=v6:")
        #expect(store.address == "redis://[::1]:\(server.port)/0")
        try await store.setURL("https://tus.example/1", forKey: "k")
        #expect(try await store.url(forKey: "k") == "https://tus.example/1")
        #expect(try RawRedisClient(port: server.port).command(["GET", "v6:url:k"]).string == "https://tus.example/1")
        try await store.close()
    }

    @Test func aPasswordProtectedServer() async throws {
        let password = "s3cret-\(UUID().uuidString.prefix(6))"
        let server = try RedisServerProcess(password: password)
        defer { server.stop() }

        let right = try RedisStorage(url: "redis://:\(password)@127.0.0.1:\(server.port)/1?prefix=p:")
        try await right.setURL("https://tus.example/1", forKey: "k")
        #expect(try await right.url(forKey: "k") == "https://tus.example/1")
        let withUser = try RedisStorage(url: "redis://default:\(password)@127.0.0.1:\(server.port)/1?prefix=p:")
        #expect(try await withUser.url(forKey: "k") == "https://tus.example/1")

        let wrong = try RedisStorage(url: "redis://:not-the-password@127.0.0.1:\(server.port)")
        let wrongError = await tusError { try await wrong.connect() }
        #expect(wrongError?.code == .authenticationFailed)
        #expect(wrongError?.message.contains("wrong password") == true, "\(String(describing: wrongError))")
        #expect(wrongError?.message.contains("WRONGPASS") == true)
        #expect(wrongError?.message.contains("not-the-password") == false)
        #expect(String(describing: wrongError?.cause).contains("not-the-password") == false)

        let wrongUser = try RedisStorage(url: "redis://nobody:\(password)@127.0.0.1:\(server.port)")
        let wrongUserError = await tusError { _ = try await wrongUser.url(forKey: "k") }
        #expect(wrongUserError?.code == .authenticationFailed)
        #expect(wrongUserError?.message.contains("nobody") == true)
        #expect(wrongUserError?.message.contains(password) == false)

        for database in [0, 1] {
            let none = try RedisStorage(url: "redis://127.0.0.1:\(server.port)/\(database)")
            let noneError = await tusError { _ = try await none.url(forKey: "k") }
            #expect(noneError?.code == .authenticationFailed)
            #expect(noneError?.message.contains("requires a password") == true, "\(String(describing: noneError))")
            try await none.close()
        }
        for store in [right, withUser, wrong, wrongUser] { try await store.close() }
    }

    @Test func aRestartedServerIsReachedAgainOnTheNextCall() async throws {
        var server = try RedisServerProcess()
        let port = server.port
        let store = try RedisStorage(url: "redis://127.0.0.1:\(port)/0?prefix=restart:")
        try await store.setURL("https://tus.example/1", forKey: "k")
        #expect(try await store.url(forKey: "k") == "https://tus.example/1")

        server.crash()
        server = try RedisServerProcess(port: port)
        defer { server.stop() }

        // The new server has no data (it saves nothing), but the call works.
        #expect(try await store.url(forKey: "k") == nil)
        try await store.setURL("https://tus.example/2", forKey: "k")
        #expect(try await store.url(forKey: "k") == "https://tus.example/2")

        // A graceful restart too.
        server.stop()
        server = try RedisServerProcess(port: port)
        try await store.setURL("https://tus.example/3", forKey: "k")
        #expect(try await store.entries().map(\.url) == ["https://tus.example/3"])
        try await store.close()
    }

    @Test func aLargeCommandOnADroppedConnectionIsSentAgainOnANewOne() async throws {
        // Writing 8 MiB to a connection whose server died fails part-way
        // (ECONNRESET); the store reconnects and sends all of it again.
        var server = try RedisServerProcess()
        let port = server.port
        let store = try RedisStorage(url: "redis://127.0.0.1:\(port)/0?prefix=pipe:")
        try await store.connect()
        server.crash()
        server = try RedisServerProcess(port: port)
        defer { server.stop() }
        let url = "https://tus.example/" + String(repeating: "x", count: 8 * 1024 * 1024)
        try await store.setURL(url, forKey: "big")
        #expect(try await store.url(forKey: "big") == url)
        try await store.close()
    }

    /// From the pool, the connection is open and nothing else is in flight,
    /// so the GET is written on the caller's thread and its reply waited for
    /// off it; from a task on the store's executor, it is written and waited
    /// for on the store's thread.
    @Test(arguments: ["the pool", "the store's executor"])
    func aServerThatStopsAnsweringTimesOut(callingFrom caller: String) async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        var configuration = RedisStorage.Configuration(port: server.port, keyPrefix: "timeout:")
        configuration.commandTimeout = 0.5
        let store = try RedisStorage(configuration: configuration)
        try await store.connect()
        let preference: (any TaskExecutor)? = caller == "the pool" ? nil : store.taskExecutor

        server.pause()
        let started = ContinuousClock.now
        let error = await withTaskExecutorPreference(preference) {
            await tusError { _ = try await store.url(forKey: "k") }
        }
        let waited = ContinuousClock.now - started
        server.resume()
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(error?.message == "cannot read the URL of \"k\": Redis at redis://127.0.0.1:\(server.port)/0 did not answer GET within 0.5 s")
        #expect((error?.cause as? RedisError)?.code == RedisError.io)
        #expect(waited >= .milliseconds(490) && waited < .seconds(5), "\(waited)")

        // The connection that timed out is dropped; the next call uses a new one.
        try await withTaskExecutorPreference(preference) {
            try await store.setURL("https://tus.example/1", forKey: "k")
        }
        #expect(try await store.url(forKey: "k") == "https://tus.example/1")
        try await store.close()
    }

    @Test func aServerStoppedForGoodGivesConnectionFailed() async throws {
        let server = try RedisServerProcess()
        let store = try RedisStorage(url: "redis://127.0.0.1:\(server.port)")
        try await store.connect()
        server.stop()
        let error = await tusError { try await store.setURL("https://tus.example/1", forKey: "k") }
        #expect(error?.code == .connectionFailed, "\(String(describing: error))")
        #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
        try await store.close()
    }
}
