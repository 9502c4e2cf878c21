import Foundation
import InMemoryLogging
import Logging
import Testing
import TusRedisStorage
import TusTestSupport

/// The Redis store logs, at `debug`, a broken connection it opens again.
@Suite struct RedisStorageLoggingTests {
    @Test func aBrokenConnectionOpenedAgainIsLogged() async throws {
        let server = try RedisServerProcess()
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "store") { _ in handler }
        logger.logLevel = .debug
        let store = try RedisStorage(url: "redis://127.0.0.1:\(server.port)/0?prefix=logging:", logger: logger)
        try await store.setURL("https://tus.example/files/0", forKey: "k")
        #expect(handler.entries.isEmpty, "a call on an open connection logs nothing")

        // The server drops the store's connection, as a restart or an idle
        // timeout would.
        _ = try RawRedisClient(port: server.port).command(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
        #expect(try await store.url(forKey: "k") == "https://tus.example/files/0")

        let messages = handler.entries.map { entry in entry.message.description }
        #expect(messages == ["the connection to Redis broke; connecting again"])
        #expect(handler.entries.first?.metadata["tus.store.address"] == "redis://127.0.0.1:\(server.port)/0")
        try await store.close()
        server.stop()
    }
}
