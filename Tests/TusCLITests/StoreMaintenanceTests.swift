import Foundation
import Testing
import TusCore
import TusFileStorage
import TusSQLiteStorage
import TusTestSupport

/// The kinds of store the tool is tested with. Redis joins when the test
/// command provides a server.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case json, sqlite, redis

    var testDescription: String { rawValue }

    /// The kinds available in this run.
    static var available: [StoreKind] {
        ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"] == nil ? [.json, .sqlite] : allCases
    }

    /// A spec for a new, empty store of this kind.
    func newSpec(in folder: TemporaryFolder) -> String {
        switch self {
        case .json: "json:" + folder.newPath("uploads.json")
        case .sqlite: "sqlite:" + folder.newPath("uploads.sqlite")
        case .redis:
            (ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379")
                + "/0?prefix=tus-cli-test-\(UUID().uuidString):"
        }
    }
}

private func tus(_ arguments: [String]) throws -> ProcessResult {
    try runTus(arguments, environment: ["TUS_STORE": nil])
}

@Suite struct StoreBackendCommandTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    @Test(arguments: StoreKind.available)
    func everyCommandWorksWithEveryBackend(kind: StoreKind) throws {
        let spec = kind.newSpec(in: folder)
        #expect(try tus(["store", "set", "size:1--md5:a", "http://x/1", "--store", spec]).status == 0)
        #expect(try tus(["store", "set", "size:2--md5:b", "http://x/2", "--store", spec]).status == 0)
        #expect(try tus(["store", "get", "size:1--md5:a", "--store", spec]).output == "http://x/1")
        let lines = try tus(["store", "list", "--store", spec]).stdout.split(separator: "\n").sorted()
        #expect(lines == ["size:1--md5:a\thttp://x/1", "size:2--md5:b\thttp://x/2"])
        #expect(try tus(["store", "remove", "size:1--md5:a", "--store", spec]).status == 0)
        let absent = try tus(["store", "get", "size:1--md5:a", "--store", spec])
        #expect(absent.status == 1)
        #expect(absent.stderr == "tus: no URL stored under \"size:1--md5:a\" in \(spec)\n")
        let pruned = try tus(["store", "prune", "--older-than", "1d", "--store", spec])
        #expect(pruned.output == "removed 0 entries older than 1d from \(spec)")
    }

    @Test(arguments: [
        "redis://:pa/ss-secret@127.0.0.1:1", "redis:/:secret@host", "redis://user:p@ss-secret@127.0.0.1:1/0",
        "redis-cluster://:pa/ss-secret@127.0.0.1:1,127.0.0.1:2", "redis-cluster://user:secret@127.0.0.1:1,,h/3",
    ])
    func aPasswordIsNeverShown(spec: String) throws {
        let result = try tus(["store", "list", "--store", spec])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("tus: "))
        #expect(!result.stderr.contains("secret"))
        #expect(!result.stderr.contains("pa/ss"))
    }

    /// Found by fuzzing (`scripts/fuzz store-spec`): a `~user` that names
    /// no user was tidied by Foundation (`~x//` became `~x/`), so the spec
    /// `tus` showed named another path than the one given, and showing and
    /// reading it again changed it once more.
    @Test func aTildeThatNamesNoUserIsKeptAsWritten() throws {
        let spec = "json:~nosuchuser-tus-test//"
        let result = try tus(["store", "get", "k", "--store", spec])
        #expect(result.status == 1)
        #expect(result.stderr == "tus: no URL stored under \"k\" in \(spec)\n")
    }

    /// Found by fuzzing (`scripts/fuzz store-spec`): an unknown spec was
    /// quoted as it is, so a quote in it made the message ambiguous and a
    /// control character reached the terminal; it is quoted escaped, as
    /// Redis URLs are.
    @Test func anUnknownStoreIsQuotedEscaped() throws {
        let result = try tus(["store", "list", "--store", "mystore:\"a\"\u{1B}[2J"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix(#"tus: --store: unknown store "mystore:\"a\"\u{1B}[2J"; expected"#), "\(result.stderr)")
        #expect(!result.stderr.contains("\u{1B}"))
    }

    @Test func aJSONFileIsNotAnSQLiteStore() throws {
        let path = folder.newPath("uploads.json")
        try Data(#"{"_default": {}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let result = try tus(["store", "list", "--store", "sqlite:" + path])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: cannot use \(path) as an SQLite store: it is not an SQLite database; it was left unchanged\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == #"{"_default": {}}"#)
    }
}

@Suite struct MigrateCommandTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    @Test(arguments: StoreKind.available)
    func copiesEveryEntryWithItsTimeAndTwiceChangesNothing(destination kind: StoreKind) async throws {
        let source = folder.newPath("source.json")
        let hourAgo = Date().timeIntervalSince1970 - 3600
        try Data("""
            {"_default": {"1": {"key": "old", "url": "http://x/old", "stored_at": \(hourAgo)},
                          "2": {"key": "from-tuspy", "url": "http://x/tuspy"}}}
            """.utf8).write(to: URL(fileURLWithPath: source))
        try await FileStorage(path: source).setURL("http://x/new", forKey: "new")
        let destination = kind.newSpec(in: folder)

        let first = try tus(["store", "migrate", "--from", "json:" + source, "--to", destination])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.output == "copied 3 of 3 entries from json:\(source) to \(destination)")
        let second = try tus(["store", "migrate", "--from", "json:" + source, "--to", destination])
        #expect(second.output == "copied 0 of 3 entries from json:\(source) to \(destination)")

        let listed = try tus(["store", "list", "--json", "--store", destination])
        let array = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        let urls = Dictionary(uniqueKeysWithValues: array.map { ($0["key"] as! String, $0["url"] as! String) })
        #expect(urls == ["old": "http://x/old", "from-tuspy": "http://x/tuspy", "new": "http://x/new"])

        // The old entry kept its age: pruning at 30 minutes removes it alone.
        let pruned = try tus(["store", "prune", "--older-than", "30m", "--store", destination])
        #expect(pruned.output == "removed 1 entry older than 30m from \(destination)")
        #expect(try tus(["store", "get", "old", "--store", destination]).status == 1)
        #expect(try tus(["store", "get", "new", "--store", destination]).output == "http://x/new")
        // The source is untouched.
        #expect(try await FileStorage(path: source).entries().count == 3)
    }

    /// A parts entry whose file also has a URL (the parts were joined and a
    /// run stopped before removing them) or that holds no parts is an
    /// orphan: `tus store prune` removes it whatever its age, and keeps the
    /// parts of an upload still going.
    @Test(arguments: ["json", "sqlite"])
    func pruneRemovesOrphanedPartsEntries(kind: String) throws {
        let spec = "\(kind):" + folder.newPath("store.\(kind)")
        let parts = #"[{"length":5,"start":0,"url":"http://x/p1"},{"length":5,"start":5,"url":null}]"#
        _ = try tus(["store", "set", "joined", "http://x/final", "--store", spec])
        _ = try tus(["store", "set", "joined#partials", parts, "--store", spec])
        _ = try tus(["store", "set", "going#partials", parts, "--store", spec])
        _ = try tus(["store", "set", "broken#partials", "not a list", "--store", spec])
        let pruned = try tus(["store", "prune", "--store", spec])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.output == "removed 2 orphaned parts entries from \(spec)")
        let listed = try tus(["store", "list", "--store", spec]).output.split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) ?? "" }
        #expect(Set(listed) == ["joined", "going#partials"])
        #expect(try tus(["store", "prune", "--store", spec]).output == "removed 0 orphaned parts entries from \(spec)")
    }

    @Test func aChangedURLIsCopiedAgain() throws {
        let source = "json:" + folder.newPath("a.json"), destination = "sqlite:" + folder.newPath("b.sqlite")
        _ = try tus(["store", "set", "k", "http://x/1", "--store", source])
        _ = try tus(["store", "migrate", "--from", source, "--to", destination])
        _ = try tus(["store", "set", "k", "http://x/2", "--store", source])
        #expect(try tus(["store", "migrate", "--from", source, "--to", destination]).output.hasPrefix("copied 1 of 1 entry"))
        #expect(try tus(["store", "get", "k", "--store", destination]).output == "http://x/2")
    }

    @Test(arguments: ["json", "sqlite"])
    func aMissingSourceIsAnErrorAndCreatesNothing(kind: String) throws {
        let source = folder.newPath("typo.\(kind)"), destination = folder.newPath("dest.json")
        let result = try tus(["store", "migrate", "--from", "\(kind):" + source, "--to", "json:" + destination])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: --from \(kind):\(source): \(source) does not exist\n")
        #expect(!FileManager.default.fileExists(atPath: source))
        #expect(!FileManager.default.fileExists(atPath: destination))
    }

    @Test func aBrokenSourceStopsBeforeWritingAnything() throws {
        let source = folder.newPath("broken.json"), destination = folder.newPath("dest.json")
        try Data("not json".utf8).write(to: URL(fileURLWithPath: source))
        let result = try tus(["store", "migrate", "--from", "json:" + source, "--to", "json:" + destination])
        #expect(result.status == 2)
        #expect(result.stderr.contains(source))
        #expect(!FileManager.default.fileExists(atPath: destination))
    }
}

@Suite struct PruneCommandTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    @Test func removesOnlyEntriesOlderThanTheDuration() async throws {
        let path = folder.newPath("store.json")
        let now = Date().timeIntervalSince1970
        try Data("""
            {"_default": {"1": {"key": "two-days", "url": "http://x/1", "stored_at": \(now - 2 * 86_400)},
                          "2": {"key": "two-hours", "url": "http://x/2", "stored_at": \(now - 2 * 3600)},
                          "3": {"key": "two-minutes", "url": "http://x/3", "stored_at": \(now - 120)},
                          "4": {"key": "unknown", "url": "http://x/4"}}}
            """.utf8).write(to: URL(fileURLWithPath: path))
        let spec = "json:" + path
        #expect(try tus(["store", "prune", "--older-than", "1d", "--store", spec]).output == "removed 1 entry older than 1d from \(spec)")
        #expect(try tus(["store", "prune", "--older-than", "90m", "--store", spec]).output == "removed 1 entry older than 90m from \(spec)")
        #expect(try tus(["store", "prune", "--older-than", "3600s", "--store", spec]).output == "removed 0 entries older than 3600s from \(spec)")
        let keys = try await FileStorage(path: path).entries().map(\.key)
        #expect(keys == ["two-minutes", "unknown"])
    }

    @Test(arguments: ["5", "5x", "-5m", "m", "1.5h", ""])
    func aBadDurationIsAUsageError(duration: String) throws {
        let result = try tus(["store", "prune", "--older-than", duration, "--store", "json:" + folder.newPath("s.json")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--older-than"))
    }
}
