import Foundation
import Testing
import TusCore
import TusRedisStorage

/// `redis-sentinel://` specs, and the `WAIT` options of both schemes, read
/// into a configuration; no server involved.
@Suite struct SentinelConfigurationTests {
    @Test func aSentinelSpecIsReadIntoItsParts() throws {
        let configuration = try RedisStorage.Configuration(
            url: "redis-sentinel://uploader:pw@10.0.0.5,sentinel-b:26380,[::1]/up%2Floads/2?prefix=up:&ttl=60&wait=1&wait_timeout=0.5&failover_timeout=10"
        )
        let sentinel = try #require(configuration.sentinel)
        #expect(sentinel.masterName == "up/loads")
        #expect(sentinel.sentinels == [
            .init(host: "10.0.0.5", port: 26379), .init(host: "sentinel-b", port: 26380), .init(host: "::1", port: 26379),
        ])
        #expect(sentinel.failoverTimeout == 10)
        #expect(configuration.username == "uploader" && configuration.password == "pw")
        #expect(configuration.database == 2 && configuration.keyPrefix == "up:" && configuration.ttl == 60)
        #expect(configuration.waitReplicas == 1 && configuration.waitTimeout == 0.5)
        #expect(configuration.address == "redis-sentinel://10.0.0.5:26379,sentinel-b:26380,[::1]:26379/up%2Floads/2")
    }

    @Test func theDefaultsOfASentinelSpec() throws {
        let configuration = try RedisStorage.Configuration(url: "REDIS-SENTINEL://127.0.0.1/mymaster")
        #expect(configuration.sentinel == .init(masterName: "mymaster", sentinels: [.init(host: "127.0.0.1")]))
        #expect(configuration.sentinel?.failoverTimeout == 60)
        #expect(configuration.database == 0 && configuration.keyPrefix == "tus:" && configuration.ttl == nil)
        #expect(configuration.waitReplicas == 0)
        #expect(configuration.address == "redis-sentinel://127.0.0.1:26379/mymaster/0")
    }

    @Test func aSingleServerSpecTakesTheWaitOptions() throws {
        let configuration = try RedisStorage.Configuration(url: "redis://cache:6380/1?wait=2&wait_timeout=1.5")
        #expect(configuration.sentinel == nil)
        #expect(configuration.waitReplicas == 2 && configuration.waitTimeout == 1.5)
        #expect(configuration.address == "redis://cache:6380/1")
    }

    /// Each malformed spec, and the words that say what is wrong with it.
    static let malformed: [(url: String, why: String)] = [
        ("redis-sentinel:///mymaster", "it names no sentinel"),
        ("redis-sentinel://:pw@/mymaster", "it names no sentinel"),
        ("redis-sentinel://127.0.0.1:26379", "it names no master"),
        ("redis-sentinel://127.0.0.1:26379/", "it names no master"),
        ("redis-sentinel://127.0.0.1:26379//0", "it names no master"),
        ("redis-sentinel://a,,b/mymaster", "the list of sentinels has an empty entry"),
        ("redis-sentinel://a:0/mymaster", "the port \"0\" is not a number within 1...65535"),
        ("redis-sentinel://a/mymaster/x", "the database \"x\" is not a number"),
        ("redis-sentinel://a/my%07master", "contains a control character"),
        ("redis-sentinel://a/mymaster?wait=x", "wait=\"x\" is not a number of replicas"),
        ("redis-sentinel://a/mymaster?failover_timeout=0", "the failover_timeout \"0\" is not a number of seconds greater than zero"),
        ("redis-sentinel://a/mymaster?wait_timeout=1", "wait_timeout is given without wait"),
        ("redis-sentinel://a/mymaster?wait=1&wait_timeout=5", "is not shorter than the command timeout 5 s"),
        ("redis-sentinel://a/mymaster?colour=blue", "unknown option \"colour\" (known: prefix, ttl, wait, wait_timeout, failover_timeout)"),
        ("redis://a?failover_timeout=1", "failover_timeout is for redis-sentinel:// URLs only"),
        ("sentinel://a/mymaster", "the scheme is \"sentinel\", not redis, redis-sentinel or redis-cluster"),
    ]

    @Test(arguments: malformed) func aMalformedSpecIsRefusedSayingWhy(_ spec: (url: String, why: String)) async throws {
        let error = await tusError { _ = try RedisStorage.Configuration(url: spec.url) }
        #expect(error?.code == .invalidArgument)
        let message = error?.message ?? ""
        let shown = RedisStorage.Configuration.maskingCredentials(in: spec.url)
        #expect(message.hasPrefix("invalid Redis URL \(shown.debugDescription): "), "\(message)")
        #expect(message.contains(spec.why), "\(message)")
        let form = spec.url.hasPrefix("redis-sentinel") ? "expected redis-sentinel://" : "expected redis://"
        #expect(message.contains(form), "\(message)")
    }

    @Test func aSentinelSpecNeverShowsThePassword() async throws {
        let configuration = try RedisStorage.Configuration(url: "redis-sentinel://uploader:hunter2@s1,s2/mymaster/1")
        for text in [
            configuration.description, String(reflecting: configuration), { var out = ""; dump(configuration, to: &out); return out }(),
            configuration.address,
        ] {
            #expect(!text.contains("hunter2"), "\(text)")
            #expect(text.contains("s1:26379,s2:26379/mymaster"), "\(text)")
        }
        let error = await tusError { _ = try RedisStorage.Configuration(url: "redis-sentinel://uploader:hunter2@s1,s2") }
        #expect(error?.message.contains("redis-sentinel://***@s1,s2") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
    }

    @Test func badSentinelSettingsAreRefused() async throws {
        func configuration(_ change: (inout RedisStorage.Configuration) -> Void) -> RedisStorage.Configuration {
            var configuration = RedisStorage.Configuration()
            configuration.sentinel = .init(masterName: "mymaster", sentinels: [.init(host: "127.0.0.1")])
            change(&configuration)
            return configuration
        }
        let bad: [(RedisStorage.Configuration, String)] = [
            (configuration { $0.sentinel?.sentinels = [] }, "no sentinel is given"),
            (configuration { $0.sentinel?.masterName = "" }, "the master name is empty"),
            (configuration { $0.sentinel?.sentinels = [.init(host: "")] }, "a sentinel's host is empty"),
            (configuration { $0.sentinel?.sentinels = [.init(host: "h", port: 0)] }, "the port 0 of a sentinel"),
            (configuration { $0.sentinel?.failoverTimeout = 0 }, "the failover timeout 0.0 is not"),
            (configuration { $0.waitReplicas = -1 }, "is negative"),
            (configuration { $0.waitReplicas = 1; $0.waitTimeout = 0 }, "the wait timeout 0.0 is not"),
            (configuration { $0.waitReplicas = 1; $0.waitTimeout = 6 }, "the wait timeout 6 s is not shorter than the command timeout 5 s"),
        ]
        for (configuration, why) in bad {
            let error = await tusError { _ = try RedisStorage(configuration: configuration) }
            #expect(error?.code == .invalidArgument, "\(configuration)")
            #expect(error?.message.contains(why) == true, "\(String(describing: error))")
        }
    }
}
