import Foundation
import Testing
import TusCore
import TusStorageTesting

/// The custom backend of the TusCore article "Writing a store of your own"
/// (Sources/TusCore/TusCore.docc/CustomStorage.md), as written there.
actor DictionaryStorage: Storage {
    private var urls: [String: String] = [:]
    func url(forKey key: String) -> String? { urls[key] }
    func setURL(_ url: String, forKey key: String) { urls[key] = url }
    func removeURL(forKey key: String) { urls[key] = nil }
}

/// A store that loses every tenth write and never forgets: the conformance
/// suite must catch both.
actor CarelessStorage: Storage {
    private var urls: [String: String] = [:]
    private var writes = 0
    func url(forKey key: String) -> String? { urls[key] }
    func setURL(_ url: String, forKey key: String) {
        writes += 1
        if writes % 10 != 0 { urls[key] = url }
    }
    func removeURL(forKey key: String) {}
}

/// A store that throws a plain error after close.
final class WrongErrorAfterClose: Storage, @unchecked Sendable {
    struct Closed: Error {}
    private let lock = NSLock()
    private var urls: [String: String] = [:]
    private var closed = false
    private func check() throws { try lock.withLock { if closed { throw Closed() } } }
    func url(forKey key: String) throws -> String? { try check(); return lock.withLock { urls[key] } }
    func setURL(_ url: String, forKey key: String) throws { try check(); lock.withLock { urls[key] = url } }
    func removeURL(forKey key: String) throws { try check(); _ = lock.withLock { urls.removeValue(forKey: key) } }
    func close() { lock.withLock { closed = true } }
}

@Suite struct StorageConformanceTests {
    @Test func theDocumentedCustomBackendPasses() async throws {
        try await StorageConformance.check { DictionaryStorage() }
    }

    @Test func aStoreThatLosesWritesAndNeverForgetsFails() async throws {
        let failure = try await #require(throws: StorageConformance.Failure.self) {
            try await StorageConformance.check { CarelessStorage() }
        }
        let text = failure.failures.joined(separator: "\n")
        #expect(text.contains("many concurrent tasks lose no entry"))
        #expect(text.contains("remove forgets the URL"))
        #expect(failure.description.hasPrefix("the store broke \(failure.failures.count) storage rule(s)"))
    }

    @Test func aStoreThatThrowsTheWrongErrorAfterCloseFails() async throws {
        let failure = try await #require(throws: StorageConformance.Failure.self) {
            try await StorageConformance.check { WrongErrorAfterClose() }
        }
        #expect(failure.failures.count == 1)
        #expect(failure.failures.first?.contains("not TusError") == true)
    }

    @Test func aStoreThatCannotBeMadeIsReported() async throws {
        struct Unreachable: Error {}
        let failure = try await #require(throws: StorageConformance.Failure.self) {
            try await StorageConformance.check { () async throws -> DictionaryStorage in throw Unreachable() }
        }
        #expect(failure.failures.allSatisfy { $0.contains("making the store failed") })
    }
}
