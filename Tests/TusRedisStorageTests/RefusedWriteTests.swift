import Foundation
import Testing
import TusTestSupport
import TusCore
import TusRedisStorage

/// A server that takes no writes — out of memory, or a read-only replica —
/// refuses a change with one error that names it and says why; what it held
/// is still read.
@Suite(.serialized) struct RefusedWriteTests {
    static let entries = (1...5).map { (key: "size:\($0)--md5:refused", url: "https://tus.example/files/\($0)") }

    private func expectEveryEntry(in store: RedisStorage, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for entry in Self.entries {
            #expect(try await store.url(forKey: entry.key) == entry.url, sourceLocation: sourceLocation)
        }
        let listed = try await store.entries().map { "\($0.key)=\($0.url)" }.sorted()
        #expect(listed == Self.entries.map { "\($0.key)=\($0.url)" }.sorted(), sourceLocation: sourceLocation)
    }

    @Test func aServerOutOfMemoryRefusesAChangeInWords() async throws {
        try await TestRedis.withServer { server in
            let store = try server.makeStore()
            for entry in Self.entries { try await store.setURL(entry.url, forKey: entry.key) }

            // The test server, made to hold no more: every write is refused
            // while reads go on. Its settings are put back whatever happens.
            let admin = try server.client()
            let memory = try #require(try admin.command(["CONFIG", "GET", "maxmemory"]).array?.last?.string)
            let policy = try #require(try admin.command(["CONFIG", "GET", "maxmemory-policy"]).array?.last?.string)
            defer {
                _ = try? admin.command(["CONFIG", "SET", "maxmemory", memory])
                _ = try? admin.command(["CONFIG", "SET", "maxmemory-policy", policy])
            }
            #expect(try admin.command(["CONFIG", "SET", "maxmemory-policy", "noeviction"]) == .status("OK"))
            #expect(try admin.command(["CONFIG", "SET", "maxmemory", "1"]) == .status("OK"))

            let error = await #expect(throws: TusError.self) {
                try await store.setURL("https://tus.example/files/new", forKey: "new")
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.hasPrefix(
                "cannot store the URL of \"new\": Redis at \(store.address) is out of memory and refuses writes (maxmemory is reached and its policy evicts nothing); free memory there or raise maxmemory, and try again; what was stored before is kept (OOM "
            ) == true, "\(error?.message ?? "")")
            #expect((error?.cause as? RedisError)?.message.hasPrefix("OOM") == true)
            try await expectEveryEntry(in: store)
            #expect(try await store.url(forKey: "new") == nil)

            _ = try admin.command(["CONFIG", "SET", "maxmemory", memory])
            try await store.setURL("https://tus.example/files/new", forKey: "new")
            #expect(try await store.url(forKey: "new") == "https://tus.example/files/new")
            try await store.close()
        }
    }

    @Test func aReadOnlyReplicaRefusesAChangeInWords() async throws {
        // A server of its own: made a replica, the shared test server would
        // drop its data.
        let process = try RedisServerProcess()
        defer { process.stop() }
        let store = try RedisStorage(url: process.url + "/0?prefix=refused:")
        for entry in Self.entries { try await store.setURL(entry.url, forKey: entry.key) }

        // A replica of a primary that does not answer keeps what it holds,
        // serves reads, and refuses writes.
        let admin = try RawRedisClient(port: process.port)
        #expect(try admin.command(["REPLICAOF", "127.0.0.1", String(try RedisServerProcess.freePort())]) == .status("OK"))

        let error = await #expect(throws: TusError.self) {
            try await store.setURL("https://tus.example/files/new", forKey: "new")
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.hasPrefix(
            "cannot store the URL of \"new\": Redis at \(store.address) is a read-only replica and refuses writes; point the store at the primary server; what was stored before is kept (READONLY "
        ) == true, "\(error?.message ?? "")")
        let removal = await #expect(throws: TusError.self) { try await store.removeURL(forKey: Self.entries[0].key) }
        #expect(removal?.message.contains("is a read-only replica and refuses writes") == true)
        try await expectEveryEntry(in: store)

        #expect(try admin.command(["REPLICAOF", "NO", "ONE"]) == .status("OK"))
        try await store.setURL("https://tus.example/files/new", forKey: "new")
        #expect(try await store.url(forKey: "new") == "https://tus.example/files/new")
        try await store.close()
    }
}
