import Foundation
import Testing
import TusTestSupport

/// `--store redis-sentinel://…`: read by the tool, and refused in words when
/// it cannot be used. (The Sentinel store itself is tested against real
/// sentinels in TusRedisStorageTests.)
@Suite struct SentinelStoreSpecTests {
    private func tus(_ arguments: [String]) throws -> ProcessResult {
        try runTus(arguments, environment: ["TUS_STORE": nil])
    }

    @Test(arguments: [
        ("redis-sentinel://:hunter2@127.0.0.1:26379", "it names no master"),
        ("redis-sentinel://:hunter2@/mymaster", "it names no sentinel"),
        ("redis-sentinel://:hunter2@127.0.0.1:26379/mymaster?wait=two", "wait=\"two\" is not a number of replicas"),
    ])
    func aMalformedSentinelSpecIsRefusedInWords(spec: String, why: String) throws {
        let result = try tus(["store", "list", "--store", spec])
        #expect(result.status == 2)
        let shown = spec.replacingOccurrences(of: ":hunter2@", with: "***@")
        #expect(result.stderr.hasPrefix("tus: invalid Redis URL \(shown.debugDescription): \(why)"), "\(result.stderr)")
        #expect(result.stderr.contains("expected redis-sentinel://"), "\(result.stderr)")
        #expect(!result.stderr.contains("hunter2"))
    }

    /// The spec is taken: the tool asks the sentinels, and says that none
    /// answered.
    @Test func sentinelsThatAreDownAreNamed() throws {
        let ports = try (0..<2).map { _ in try freeLoopbackPort() }
        let list = ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")
        let result = try tus(["store", "get", "k", "--store", "redis-sentinel://:hunter2@\(list)/mymaster"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix(
            "tus: cannot read the URL of \"k\": no sentinel of redis-sentinel://\(list)/mymaster/0 answered where the master \"mymaster\" is: 127.0.0.1:\(ports[0]): "
        ), "\(result.stderr)")
        #expect(!result.stderr.contains("hunter2"))
    }

    @Test func theHelpNamesTheSentinelSpec() throws {
        let result = try tus(["store", "--help"])
        #expect(result.stdout.contains("redis-sentinel://"), "\(result.stdout)")
    }
}
