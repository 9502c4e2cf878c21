import Foundation
import Testing
import TusCore
import TusRedisStorage

@Suite struct RedisConfigurationTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var url: String
        var host: String
        var port = 6379
        var username: String?
        var password: String?
        var database = 0
        var prefix = "tus:"
        var ttl: TimeInterval?
        var address: String

        var testDescription: String { url }
    }

    static let valid: [Valid] = [
        Valid(url: "redis://127.0.0.1", host: "127.0.0.1", address: "redis://127.0.0.1:6379/0"),
        Valid(url: "redis://localhost:6380/2", host: "localhost", port: 6380, database: 2, address: "redis://localhost:6380/2"),
        Valid(url: "redis://cache.internal/", host: "cache.internal", address: "redis://cache.internal:6379/0"),
        Valid(url: "REDIS://Cache:7000", host: "Cache", port: 7000, address: "redis://Cache:7000/0"),
        Valid(url: "redis://:pw@host", host: "host", password: "pw", address: "redis://host:6379/0"),
        Valid(
            url: "redis://uploader:pw@host:1/3?prefix=up:&ttl=60", host: "host", port: 1, username: "uploader",
            password: "pw", database: 3, prefix: "up:", ttl: 60, address: "redis://host:1/3"
        ),
        Valid(url: "redis://[::1]:6390/1", host: "::1", port: 6390, database: 1, address: "redis://[::1]:6390/1"),
        Valid(url: "redis://:pw@[::1]", host: "::1", password: "pw", address: "redis://[::1]:6379/0"),
        Valid(url: "redis://:p%40ss%3Aw%2Fd@host", host: "host", password: "p@ss:w/d", address: "redis://host:6379/0"),
        Valid(url: "redis://:p@ss@host", host: "host", password: "p@ss", address: "redis://host:6379/0"),
        Valid(url: "redis://host?prefix=", host: "host", prefix: "", address: "redis://host:6379/0"),
        Valid(url: "redis://host?prefix=%F0%9F%93%81%20x&ttl=0.5", host: "host", prefix: "\u{1F4C1} x", ttl: 0.5, address: "redis://host:6379/0"),
    ]

    @Test(arguments: valid) func parsesAValidURL(_ expected: Valid) throws {
        let configuration = try RedisStorage.Configuration(url: expected.url)
        #expect(configuration.host == expected.host)
        #expect(configuration.port == expected.port)
        #expect(configuration.username == expected.username)
        #expect(configuration.password == expected.password)
        #expect(configuration.database == expected.database)
        #expect(configuration.keyPrefix == expected.prefix)
        #expect(configuration.ttl == expected.ttl)
        #expect(configuration.connectTimeout == 5 && configuration.commandTimeout == 5)
        #expect(configuration.address == expected.address)
        #expect(try RedisStorage(url: expected.url).address == expected.address)
    }

    static let malformed = [
        "redis://",
        "redis://host:notaport",
        "http://x",
        "redis://host/notanumber",
        "redis://host?ttl=abc",
        "redis://host?ttl=0",
        "redis://host?ttl=-5",
        "redis://host?ttl=",
        "redis://host:0",
        "redis://host:65536",
        "redis://host:",
        "redis://host/1/2",
        "redis://host/-1",
        "redis://host?colour=blue",
        "redis://host?prefix=a&prefix=b",
        "redis://user@host",
        "redis://[::1",
        "redis://[host]",
        "redis://::1",
        "redis://:pw@",
        "redis://host#fragment",
        "redis://:%zz@host",
        "127.0.0.1:6379",
        "",
    ]

    @Test(arguments: malformed) func refusesAMalformedURL(_ url: String) async throws {
        let error = await tusError { _ = try RedisStorage(url: url) }
        #expect(error?.code == .invalidArgument, "\(String(describing: error))")
        #expect(error?.message.contains("invalid Redis URL") == true)
    }

    @Test func aMalformedURLIsNamedWithoutItsPassword() async throws {
        let error = await tusError { _ = try RedisStorage.Configuration(url: "redis://admin:hunter2@cache:bad/0") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("redis://***@cache:bad/0") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.message.contains("port") == true)
    }

    /// Found by fuzzing (`scripts/fuzz redis-url`): a host with a NUL was
    /// taken, and the message of the check that then refused it showed the
    /// NUL as it is; control characters in a host are refused, shown
    /// escaped.
    @Test(arguments: ["redis://ca\u{0}che:6379", "redis://:pw@cache\u{7}/0", "redis://cache\u{1B}[2J"])
    func aHostWithControlCharactersIsRefusedAndShownEscaped(_ url: String) async throws {
        let error = await tusError { _ = try RedisStorage.Configuration(url: url) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("is not a host name or address") == true, "\(String(describing: error))")
        #expect(error?.message.unicodeScalars.contains { $0.properties.generalCategory == .control } == false)
    }

    /// Found by fuzzing (`scripts/fuzz store-spec`): a password with a `/`
    /// that is not percent-encoded ends the host early; the URL was shown
    /// masked, but the message went on to quote what the parser took for
    /// the port or the database, a piece of the password.
    @Test(arguments: [
        "redis://admin:abcd/efghsecret@cache:6379",
        "redis://admin:1234/secretpw@cache/0",
        "redis://admin:1234/0?secret=pw@cache",
    ])
    func aPasswordWithASlashIsNotShownInPieces(_ url: String) async throws {
        let error = await tusError { _ = try RedisStorage.Configuration(url: url) }
        #expect(error?.code == .invalidArgument)
        let message = error?.message ?? ""
        #expect(message.contains("percent-encoded"), "\(message)")
        for piece in ["abcd", "efgh", "secret"] {
            #expect(!message.contains(piece), "\(message)")
        }
    }

    @Test func tlsIsRefusedAsUnsupported() async throws {
        let error = await tusError { _ = try RedisStorage(url: "rediss://:pw@cache:6380") }
        #expect(error?.code == .unsupported)
        #expect(error?.message.contains("TLS") == true)
    }

    @Test func theConfigurationNeverShowsThePassword() throws {
        let configuration = try RedisStorage.Configuration(url: "redis://uploader:hunter2@cache:6380/1?ttl=60")
        let store = try RedisStorage(configuration: configuration)
        for text in [
            configuration.description, configuration.debugDescription, String(describing: configuration),
            String(reflecting: configuration), { var out = ""; dump(configuration, to: &out); return out }(),
            store.address,
        ] {
            #expect(!text.contains("hunter2"), "\(text)")
            #expect(text.contains("cache:6380"), "\(text)")
        }
    }

    @Test func badSettingsAreRefused() async throws {
        let bad: [RedisStorage.Configuration] = [
            .init(host: ""),
            .init(port: 0),
            .init(port: 70000),
            .init(database: -1),
            .init(ttl: 0),
            .init(ttl: -.infinity),
            .init(connectTimeout: 0),
            .init(commandTimeout: .nan),
            .init(username: "user"),
        ]
        for configuration in bad {
            let error = await tusError { _ = try RedisStorage(configuration: configuration) }
            #expect(error?.code == .invalidArgument, "\(configuration): \(String(describing: error))")
        }
        let good = try RedisStorage(configuration: .init(host: "::1", port: 6390, keyPrefix: "x:"))
        #expect(good.address == "redis://[::1]:6390/0")
        #expect(good.configuration.keyPrefix == "x:")
    }
}
