import Foundation
import TusTestSupport
import TusCore
import TusRedisStorage

/// The Redis server the tests use.
///
/// The test command starts one shared server and exports its URL as
/// `TUS_TEST_REDIS_URL` (such as `redis://127.0.0.1:6380`). When it is unset,
/// each test starts a private `redis-server` and stops it at its end. Tests
/// that stop, pause or password-protect a server always start their own.
enum TestRedis {
    /// The host, port, password and database of a `redis://` URL.
    struct Address: Sendable {
        var host: String
        var port: Int
        var password: String?
        var username: String?
        var database: Int

        init(url: String) throws {
            let configuration = try RedisStorage.Configuration(url: url)
            host = configuration.host
            port = configuration.port
            password = configuration.password
            username = configuration.username
            database = configuration.database
        }

        init(host: String, port: Int, password: String? = nil) {
            self.host = host
            self.port = port
            self.password = password
            self.database = 0
        }
    }

    /// A server for one test, and a key prefix no other test uses.
    struct Server: Sendable {
        let address: Address
        /// The prefix under which this test's stores put their keys.
        let root: String

        /// `redis://[:password@]host:port/db`, plus `path` (such as `?ttl=1`).
        func url(database: Int? = nil, query: String = "") -> String {
            var credentials = ""
            if let password = address.password {
                let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
                credentials = (address.username ?? "") + ":" + encoded + "@"
            }
            let host = address.host.contains(":") ? "[\(address.host)]" : address.host
            return "redis://\(credentials)\(host):\(address.port)/\(database ?? address.database)\(query)"
        }

        /// Settings for a store with its own new prefix under ``root``.
        func configuration(prefix: String? = nil, database: Int? = nil) -> RedisStorage.Configuration {
            RedisStorage.Configuration(
                host: address.host,
                port: address.port,
                username: address.username,
                password: address.password,
                database: database ?? address.database,
                keyPrefix: prefix ?? newPrefix()
            )
        }

        /// A new store, empty: its prefix is new.
        func makeStore(prefix: String? = nil, database: Int? = nil) throws -> RedisStorage {
            try RedisStorage(configuration: configuration(prefix: prefix, database: database))
        }

        /// A prefix under ``root`` that nothing uses yet.
        func newPrefix() -> String {
            root + UUID().uuidString.prefix(8) + ":"
        }

        /// A plain RESP client on the same server and database.
        func client(database: Int? = nil) throws -> RawRedisClient {
            try RawRedisClient(port: address.port, password: address.password, database: database ?? address.database)
        }
    }

    /// Runs `body` with the shared server, or with a private one when
    /// `TUS_TEST_REDIS_URL` is unset. Afterwards deletes the keys the test
    /// wrote in `databases` (the server's own database when empty).
    static func withServer(cleaning databases: [Int] = [], _ body: (Server) async throws -> Void) async throws {
        let root = "swift-tus-test:\(UUID().uuidString.prefix(8)):"
        if let url = ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"], !url.isEmpty {
            let server = Server(address: try Address(url: url), root: root)
            defer {
                for database in databases.isEmpty ? [server.address.database] : databases {
                    try? server.client(database: database).deleteKeys(prefix: root)
                }
            }
            try await body(server)
        } else {
            let process = try RedisServerProcess()
            defer { process.stop() }
            try await body(Server(address: Address(host: "127.0.0.1", port: process.port), root: root))
        }
    }

    /// Whether `condition` came to hold within `seconds` (the test
    /// support's ``waitUntil(_:timeout:_:)``).
    static func wait(seconds: TimeInterval, until condition: () async throws -> Bool) async throws -> Bool {
        do {
            try await waitUntil("a Redis state", timeout: .milliseconds(Int(seconds * 1000)), condition)
            return true
        } catch TestError.timedOut {
            return false
        }
    }
}

/// Runs `body`, expecting it to throw a ``TusError``, and returns that error.
func tusError(_ body: () async throws -> Void) async -> TusError? {
    do {
        try await body()
        return nil
    } catch let error as TusError {
        return error
    } catch {
        return TusError(.unsupported, "not a TusError: \(type(of: error)): \(error)")
    }
}
