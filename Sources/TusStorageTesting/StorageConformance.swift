import Foundation
public import TusCore

/// The checks every `Storage` must pass, for any backend's own tests.
///
/// It works with any test framework: it throws one ``Failure`` listing every
/// rule the store broke, and returns quietly when the store follows them all.
///
/// ```swift
/// import Foundation
/// import Testing
/// import TusStorageTesting
///
/// @Test func followsTheStorageRules() async throws {
///     try await StorageConformance.check { MyStorage(prefix: UUID().uuidString) }
/// }
/// ```
///
/// `makeStorage` is called once per check and must return a store that is
/// empty and independent of the others (a new file, a new key prefix). The
/// checks close every store they make.
public enum StorageConformance {
    /// The rules a store broke.
    public struct Failure: Error, CustomStringConvertible {
        /// One line per broken rule: the check's name and what went wrong.
        public var failures: [String]

        /// Every broken rule, one per line.
        public var description: String {
            "the store broke \(failures.count) storage rule(s):\n" + failures.map { "- \($0)" }.joined(separator: "\n")
        }
    }

    /// Runs the checks of the `Storage` protocol: get absent, set, get,
    /// replace, remove, remove absent, keys kept apart, many concurrent tasks,
    /// Unicode and very long keys and URLs, and close.
    ///
    /// - Throws: ``Failure`` when a rule is broken.
    public static func check<S: Storage>(_ makeStorage: @escaping @Sendable () async throws -> S) async throws {
        var failures: [String] = []
        for (name, body) in storageChecks(S.self) {
            await run(name, makeStorage, body, into: &failures)
        }
        if !failures.isEmpty { throw Failure(failures: failures) }
    }

    /// Runs the checks of `Storage` and those of `ListableStorage`:
    /// listing, storing with a given time, and age-based removal.
    ///
    /// - Throws: ``Failure`` when a rule is broken.
    public static func check<S: ListableStorage>(_ makeStorage: @escaping @Sendable () async throws -> S) async throws {
        var failures: [String] = []
        for (name, body) in storageChecks(S.self) + listableChecks(S.self) {
            await run(name, makeStorage, body, into: &failures)
        }
        if !failures.isEmpty { throw Failure(failures: failures) }
    }

    // MARK: Running

    private typealias Body<S> = @Sendable (S) async throws -> Void

    private struct Broken: Error, CustomStringConvertible {
        var description: String
    }

    private static func expect(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw Broken(description: what()) }
    }

    private static func run<S: Storage>(
        _ name: String,
        _ makeStorage: @Sendable () async throws -> S,
        _ body: Body<S>,
        into failures: inout [String]
    ) async {
        let store: S
        do {
            store = try await makeStorage()
        } catch {
            failures.append("\(name): making the store failed: \(error)")
            return
        }
        do {
            try await body(store)
        } catch {
            failures.append("\(name): \(error)")
        }
        try? await store.close()
    }

    // MARK: The checks

    private static func storageChecks<S: Storage>(_: S.Type) -> [(String, Body<S>)] {
        [
            ("get of an absent key is nil", { store in
                let url = try await store.url(forKey: "size:1--md5:absent")
                try expect(url == nil, "expected nil, got \(String(describing: url))")
            }),
            ("set then get returns the URL", { store in
                try await store.setURL("https://tus.example/files/1", forKey: "k")
                let url = try await store.url(forKey: "k")
                try expect(url == "https://tus.example/files/1", "got \(String(describing: url))")
            }),
            ("set of a stored key replaces its URL", { store in
                try await store.setURL("https://tus.example/files/old", forKey: "k")
                try await store.setURL("https://tus.example/files/new", forKey: "k")
                let url = try await store.url(forKey: "k")
                try expect(url == "https://tus.example/files/new", "got \(String(describing: url))")
            }),
            ("remove forgets the URL", { store in
                try await store.setURL("https://tus.example/files/1", forKey: "k")
                try await store.removeURL(forKey: "k")
                let url = try await store.url(forKey: "k")
                try expect(url == nil, "still returns \(String(describing: url))")
            }),
            ("remove of an absent key does not throw", { store in
                try await store.removeURL(forKey: "never stored")
                try await store.removeURL(forKey: "never stored")
            }),
            ("keys are kept apart", { store in
                try await store.setURL("https://tus.example/a", forKey: "a")
                try await store.setURL("https://tus.example/b", forKey: "b")
                try await store.removeURL(forKey: "a")
                let a = try await store.url(forKey: "a")
                let b = try await store.url(forKey: "b")
                try expect(a == nil && b == "https://tus.example/b", "after removing a: a=\(String(describing: a)) b=\(String(describing: b))")
            }),
            ("many concurrent tasks lose no entry", { store in
                let count = 64
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<count {
                        group.addTask { try await store.setURL("https://tus.example/files/\(index)", forKey: "key-\(index)") }
                    }
                    try await group.waitForAll()
                }
                let urls = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                    for index in 0..<count {
                        group.addTask { (index, try await store.url(forKey: "key-\(index)")) }
                    }
                    return try await group.reduce(into: [Int: String?]()) { $0[$1.0] = $1.1 }
                }
                let missing = (0..<count).filter { urls[$0] != "https://tus.example/files/\($0)" }
                try expect(missing.isEmpty, "\(missing.count) of \(count) entries were lost or wrong: keys \(missing.prefix(5))")
            }),
            ("concurrent sets of one key leave one of the URLs", { store in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<16 {
                        group.addTask { try await store.setURL("https://tus.example/files/\(index)", forKey: "shared") }
                    }
                    try await group.waitForAll()
                }
                let url = try await store.url(forKey: "shared")
                let expected = Set((0..<16).map { "https://tus.example/files/\($0)" })
                try expect(url.map(expected.contains) == true, "got \(String(describing: url))")
            }),
            ("Unicode keys and URLs are stored verbatim", { store in
                let keys = ["clé-\u{E9}-été", "日本語のキー", "size:4--md5:\u{1F600}\u{0}tab\there\nnewline"]
                let urls = ["https://tus.example/fichiers/\u{1F4C1}-été", "https://例え.テスト/ファイル/2", "https://tus.example/\"quoted\"\\"]
                for (key, url) in zip(keys, urls) {
                    try await store.setURL(url, forKey: key)
                }
                for (key, url) in zip(keys, urls) {
                    let got = try await store.url(forKey: key)
                    try expect(got.map { Array($0.utf8) } == Array(url.utf8), "key \(key.debugDescription) gave \(String(describing: got))")
                }
            }),
            ("very long keys and URLs are stored whole", { store in
                let key = "size:1--md5:" + String(repeating: "k", count: 10_000)
                let url = "https://tus.example/files/" + String(repeating: "u", count: 64 * 1024)
                try await store.setURL(url, forKey: key)
                let got = try await store.url(forKey: key)
                try expect(got == url, "got \(got.map { "\($0.count) characters" } ?? "nil") instead of \(url.count)")
                let other = try await store.url(forKey: String(key.dropLast()))
                try expect(other == nil, "a key one character shorter found \(other?.count ?? 0) characters")
            }),
            ("close can be called twice, and a closed store refuses only with TusError(.closed)", { store in
                try await store.setURL("https://tus.example/files/1", forKey: "k")
                try await store.close()
                try await store.close()
                do {
                    // A store that holds no resources may go on answering.
                    _ = try await store.url(forKey: "k")
                } catch let error as TusError {
                    try expect(error.code == .closed, "a closed store threw \(error.code), not .closed: \(error.message)")
                } catch {
                    throw Broken(description: "a closed store threw \(type(of: error)), not TusError: \(error)")
                }
            }),
        ]
    }

    private static func listableChecks<S: ListableStorage>(_: S.Type) -> [(String, Body<S>)] {
        [
            ("entries lists what was stored", { store in
                let empty = try await store.entries()
                try expect(empty.isEmpty, "a new store lists \(empty.count) entries")
                let before = Date()
                try await store.setURL("https://tus.example/a", forKey: "a")
                try await store.setURL("https://tus.example/b-old", forKey: "b")
                try await store.setURL("https://tus.example/b", forKey: "b")
                try await store.setURL("https://tus.example/c", forKey: "c")
                try await store.removeURL(forKey: "c")
                let after = Date()
                let entries = try await store.entries()
                let pairs = Set(entries.map { "\($0.key)=\($0.url)" })
                try expect(pairs == ["a=https://tus.example/a", "b=https://tus.example/b"], "listed \(pairs.sorted())")
                for entry in entries {
                    guard let storedAt = entry.storedAt else {
                        throw Broken(description: "entry \(entry.key) has no storedAt")
                    }
                    try expect(
                        storedAt >= before.addingTimeInterval(-1) && storedAt <= after.addingTimeInterval(1),
                        "entry \(entry.key) storedAt \(storedAt) is outside \(before)...\(after)"
                    )
                }
            }),
            ("removeEntries(storedBefore:) removes only older entries", { store in
                try await store.setURL("https://tus.example/old", forKey: "old")
                try await Task.sleep(for: .milliseconds(150))
                let cutoff = Date()
                try await Task.sleep(for: .milliseconds(150))
                try await store.setURL("https://tus.example/new", forKey: "new")
                let none = try await store.removeEntries(storedBefore: Date.distantPast)
                try expect(none == 0, "removing entries older than the distant past removed \(none)")
                let removed = try await store.removeEntries(storedBefore: cutoff)
                try expect(removed == 1, "removed \(removed) entries, expected 1")
                let old = try await store.url(forKey: "old")
                let new = try await store.url(forKey: "new")
                try expect(old == nil && new == "https://tus.example/new", "after pruning: old=\(String(describing: old)) new=\(String(describing: new))")
                let keys = try await store.entries().map(\.key)
                try expect(keys == ["new"], "lists \(keys) after pruning")
            }),
            ("setURL(_:forKey:storedAt:) keeps the given time", { store in
                let hourAgo = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3600).rounded())
                try await store.setURL("https://tus.example/migrated", forKey: "migrated", storedAt: hourAgo)
                try await store.setURL("https://tus.example/unknown", forKey: "unknown", storedAt: nil)
                let entries = try await store.entries()
                let migrated = entries.first { $0.key == "migrated" }
                try expect(migrated?.url == "https://tus.example/migrated", "listed \(entries.map(\.key))")
                let storedAt = try migrated?.storedAt ?? { throw Broken(description: "the migrated entry has no storedAt") }()
                try expect(abs(storedAt.timeIntervalSince(hourAgo)) < 0.002, "storedAt \(storedAt), expected \(hourAgo)")
                if let unknown = entries.first(where: { $0.key == "unknown" })?.storedAt {
                    try expect(abs(unknown.timeIntervalSinceNow) < 60, "an unknown time was recorded as \(unknown)")
                }
                let removed = try await store.removeEntries(olderThan: 1800)
                try expect(removed == 1, "removing entries older than 30 minutes removed \(removed), expected 1")
                let left = try await store.url(forKey: "unknown")
                try expect(left == "https://tus.example/unknown", "the entry of unknown age was removed")
            }),
            ("replacing a URL renews its age", { store in
                try await store.setURL("https://tus.example/1", forKey: "k")
                try await Task.sleep(for: .milliseconds(150))
                let cutoff = Date()
                try await Task.sleep(for: .milliseconds(150))
                try await store.setURL("https://tus.example/2", forKey: "k")
                let removed = try await store.removeEntries(storedBefore: cutoff)
                try expect(removed == 0, "pruning removed a URL that was replaced after the cutoff")
            }),
        ]
    }
}
