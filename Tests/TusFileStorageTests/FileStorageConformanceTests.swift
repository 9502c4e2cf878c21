import Foundation
import Testing
import TusCore
import TusFileStorage
import TusStorageTesting
import TusTestSupport

@Suite struct FileStorageConformanceTests {
    @Test func followsTheStorageRules() async throws {
        let folder = try TemporaryFolder()
        try await StorageConformance.check { try FileStorage(path: folder.newPath("store.json")) }
    }
}
