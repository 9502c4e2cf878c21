import Foundation
import RedisURLStorageExample
import Testing
import TusStorageTesting

/// The custom store of the custom-storage example — the tuspy documentation's
/// Redis example written in Swift — passes the conformance suite, as
/// the TusCore article "Writing a store of your own" shows.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"] != nil || ProcessInfo.processInfo.environment["CI"] != nil,
                "scripts/test starts redis-server"))
struct RedisURLStorageTests {
    @Test func theExampleStoreFollowsTheStorageRules() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"], "run scripts/test")
        try await StorageConformance.check {
            RedisURLStorage(redis: try RedisConnection(url: url), prefix: "example-\(UUID().uuidString):")
        }
    }
}
