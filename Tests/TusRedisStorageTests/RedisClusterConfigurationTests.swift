import Foundation
import Testing
import TusCore
import TusRedisStorage

/// `redis-cluster://` URLs and cluster configurations: what is accepted,
/// and one clear error for each malformed one, never with its password.
@Suite struct RedisClusterConfigurationTests {
    @Test func aClusterURLNamesEveryNode() throws {
        let configuration = try RedisStorage.Configuration(
            url: "redis-cluster://uploader:p%40ss@10.0.0.5:7000,cache-2,[::1]:7002/?prefix=up:&ttl=60")
        #expect(configuration.clusterNodes == [
            .init(host: "10.0.0.5", port: 7000), .init(host: "cache-2", port: 6379), .init(host: "::1", port: 7002),
        ])
        #expect(configuration.username == "uploader" && configuration.password == "p@ss")
        #expect(configuration.keyPrefix == "up:" && configuration.ttl == 60 && configuration.database == 0)
        #expect(configuration.failoverTimeout == RedisStorage.Configuration.defaultFailoverTimeout)
        #expect(configuration.address == "redis-cluster://10.0.0.5:7000,cache-2:6379,[::1]:7002")
        #expect(!configuration.description.contains("p@ss") && !"\(configuration.customMirror.children.map(\.value))".contains("p@ss"))
        #expect(try RedisStorage.Configuration(url: "REDIS-CLUSTER://h:1").clusterNodes == [.init(host: "h", port: 1)])
        #expect(try RedisStorage.Configuration(url: "redis-cluster://h:1/0").clusterNodes?.count == 1)
        #expect(try RedisStorage.Configuration(url: "redis://h:1").clusterNodes == nil)
    }

    @Test func aClusterConfigurationIsTheSameAsItsURL() throws {
        let built = RedisStorage.Configuration.cluster(
            [.init(host: "10.0.0.5", port: 7000), .init(host: "10.0.0.6", port: 7001)], password: "pw", keyPrefix: "up:"
        )
        #expect(try RedisStorage.Configuration(url: "redis-cluster://:pw@10.0.0.5:7000,10.0.0.6:7001?prefix=up:") == built)
        #expect(try RedisStorage(configuration: built).address == "redis-cluster://10.0.0.5:7000,10.0.0.6:7001")
    }

    @Test(arguments: [
        ("redis-cluster://", "names no cluster node"),
        ("redis-cluster://:secret-pw@/?prefix=x", "names no cluster node"),
        ("redis-cluster://a:7000,,b:7001", "a cluster node in the list is empty"),
        ("redis-cluster://a:7000,", "a cluster node in the list is empty"),
        ("redis-cluster://a:7000,b:notaport", "the port \"notaport\" is not a number"),
        ("redis-cluster://a:7000/2", "a Redis Cluster has database 0 only"),
        ("redis-cluster://a:7000?prefix=", "the prefix is a hash tag"),
        ("redis-cluster://a:7000?prefix=%7Dx", "the prefix is a hash tag"),
        ("redis-cluster://a:7000?colour=blue", "unknown option"),
        ("redis-cluster://user:secret-pw@a:7000/1", "a Redis Cluster has database 0 only"),
    ])
    func aMalformedClusterURLIsOneClearError(url: String, why: String) async throws {
        let error = await tusError { _ = try RedisStorage(url: url) }
        #expect(error?.code == .invalidArgument, "\(String(describing: error))")
        let message = error?.message ?? ""
        #expect(message.contains(why), "\(message)")
        #expect(message.contains("expected redis-cluster://"), "\(message)")
        #expect(!message.contains("secret-pw"), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func aClusterConfigurationWithoutNodesIsRefused() async throws {
        let error = await tusError { _ = try RedisStorage(configuration: .cluster([])) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("the cluster has no node") == true, "\(String(describing: error))")
        let badPort = await tusError {
            _ = try RedisStorage(configuration: .cluster([.init(host: "a", port: 1), .init(host: "b", port: 70000)]))
        }
        #expect(badPort?.message.contains("the port 70000 of a cluster node") == true, "\(String(describing: badPort))")
        let badTimeout = await tusError {
            _ = try RedisStorage(configuration: .cluster([.init(host: "a", port: 1)], failoverTimeout: 0))
        }
        #expect(badTimeout?.message.contains("failover timeout") == true, "\(String(describing: badTimeout))")
    }
}
