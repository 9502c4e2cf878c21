import Foundation
import Testing
import TusCore
import TusFileStorage
import TusSQLiteStorage
import TusTestSupport

private func tus(_ arguments: [String]) throws -> ProcessResult {
    try runTus(arguments, environment: ["TUS_STORE": nil])
}

/// Twenty entries, as a store holds them before its disk fills.
private let entries = (1...20).map { index in
    (key: "size:\(index)--md5:\(String(repeating: "0", count: 30))\(String(format: "%02d", index))",
     url: "https://tus.example/files/upload-\(index)")
}

/// `KEY<TAB>URL` lines, sorted, as `tus store list` prints them.
private let listed = entries.map { "\($0.key)\t\($0.url)" }.sorted()

/// Stores on a disk that is full or mounted read-only: a change fails with
/// one error that names the file and says what happened; every entry stored
/// before is still there, for the library and for `tus store list`.
@Suite(.serialized, .enabled(if: SmallDisk.isAvailable, "mounting a tmpfs needs root (CAP_SYS_ADMIN); these tests were skipped"))
struct FullAndReadOnlyDiskTests {
    static let full = "the disk is full; free some space on it and try again; the store was left unchanged"
    static let readOnly = "the file system is read-only; remount it read-write or move the store to another disk; the store was left unchanged"

    /// Every entry, read by `store` and by a new `tus store list`.
    private func expectEveryEntry(
        in store: any ListableStorage, spec: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let stored = try await store.entries().map { "\($0.key)\t\($0.url)" }.sorted()
        #expect(stored == listed, sourceLocation: sourceLocation)
        for entry in entries {
            #expect(try await store.url(forKey: entry.key) == entry.url, sourceLocation: sourceLocation)
        }
        let list = try tus(["store", "list", "--store", spec])
        #expect(list.status == 0, "\(list.stderr)", sourceLocation: sourceLocation)
        #expect(list.stdout.split(separator: "\n").map(String.init).sorted() == listed, sourceLocation: sourceLocation)
    }

    /// A change through `store` and through `tus store set` both fail with
    /// `reason`, naming the file; returns the first error.
    @discardableResult
    private func expectChangesRefused(
        by store: any Storage, path: String, spec: String, reason: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TusError? {
        let error = await #expect(throws: TusError.self, sourceLocation: sourceLocation) {
            try await store.setURL("https://tus.example/files/new", forKey: "new")
        }
        #expect(error?.code == .io, sourceLocation: sourceLocation)
        #expect(error?.message == "cannot store the URL of \"new\" in \(path): \(reason)", sourceLocation: sourceLocation)
        let set = try tus(["store", "set", "new", "https://tus.example/files/new", "--store", spec])
        #expect(set.status == 2, sourceLocation: sourceLocation)
        #expect(set.stderr == "tus: cannot store the URL of \"new\" in \(path): \(reason)\n", sourceLocation: sourceLocation)
        return error
    }

    // MARK: The JSON store

    @Test func theJSONStoreOnAFullDiskRefusesAChangeAndKeepsEveryEntry() async throws {
        let disk = try SmallDisk()
        defer { disk.unmount() }
        let path = disk.path + "/uploads.json"
        let store = try FileStorage(path: path)
        for entry in entries { try await store.setURL(entry.url, forKey: entry.key) }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        try disk.fill()

        try await expectChangesRefused(by: store, path: path, spec: "json:" + path, reason: Self.full)
        let error = await #expect(throws: TusError.self) { try await store.removeURL(forKey: entries[0].key) }
        #expect((error?.cause as? SystemError)?.errno == ENOSPC)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // The temporary file of the refused change is removed.
        let temporary = try FileManager.default.contentsOfDirectory(atPath: disk.path).filter {
            $0.hasPrefix(".uploads.json.") && $0.hasSuffix(".tmp")
        }
        #expect(temporary.isEmpty, "left behind: \(temporary)")
        try await expectEveryEntry(in: store, spec: "json:" + path)
        try await store.close()
        try await expectEveryEntry(in: try FileStorage(path: path), spec: "json:" + path)
    }

    @Test func theJSONStoreOnAReadOnlyDiskRefusesAChangeAndKeepsEveryEntry() async throws {
        let disk = try SmallDisk()
        defer { disk.unmount() }
        let path = disk.path + "/uploads.json"
        let writer = try FileStorage(path: path)
        for entry in entries { try await writer.setURL(entry.url, forKey: entry.key) }
        try await writer.close()
        try disk.remountReadOnly()

        let store = try FileStorage(path: path)
        try await expectChangesRefused(by: store, path: path, spec: "json:" + path, reason: Self.readOnly)
        try await expectEveryEntry(in: store, spec: "json:" + path)
        try await store.close()
    }

    // MARK: The SQLite store

    @Test func theSQLiteStoreOnADiskThatFillsWhileItIsOpenRefusesAChangeAndKeepsEveryEntry() async throws {
        let disk = try SmallDisk()
        defer { disk.unmount() }
        let path = disk.path + "/uploads.sqlite"
        let store = try SQLiteStorage(path: path)
        for entry in entries { try await store.setURL(entry.url, forKey: entry.key) }
        try disk.fill()

        let error = try await expectChangesRefused(by: store, path: path, spec: "sqlite:" + path, reason: Self.full)
        #expect((error?.cause as? SQLiteError)?.primaryResultCode == 13)  // SQLITE_FULL
        try await expectEveryEntry(in: store, spec: "sqlite:" + path)
        // Closing copies the log into the database and deletes it, which
        // frees room (a change after a refused one reopens the store, which
        // does the same): fill that too.
        try await store.close()
        try disk.fill()
        let reopened = try SQLiteStorage(path: path)
        try await expectEveryEntry(in: reopened, spec: "sqlite:" + path)
        try await expectChangesRefused(by: reopened, path: path, spec: "sqlite:" + path, reason: Self.full)
        try await expectChangesAgain(in: reopened, once: disk)
    }

    /// A SQLite store on `disk` holding ``entries``, closed; its path.
    private func sqliteStoreWithEntries(on disk: SmallDisk) async throws -> String {
        let path = disk.path + "/uploads.sqlite"
        let writer = try SQLiteStorage(path: path)
        for entry in entries { try await writer.setURL(entry.url, forKey: entry.key) }
        try await writer.close()
        return path
    }

    /// Once `disk` has room again, the same `store` takes changes; then it
    /// is closed.
    private func expectChangesAgain(
        in store: SQLiteStorage, once disk: SmallDisk, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try disk.empty()
        try await store.setURL("https://tus.example/files/later", forKey: "later")
        #expect(try await store.url(forKey: "later") == "https://tus.example/files/later", sourceLocation: sourceLocation)
        try await store.close()
    }

    /// The reported case: `tus store list` on a full disk said "disk I/O
    /// error" and listed nothing, because SQLite could not make the `-shm`
    /// file that a database in WAL mode is read through.
    @Test func theSQLiteStoreOpenedOnAFullDiskReadsEveryEntry() async throws {
        let disk = try SmallDisk()
        defer { disk.unmount() }
        let path = try await sqliteStoreWithEntries(on: disk)
        try disk.fill()

        try await expectEveryEntry(in: try SQLiteStorage(path: path), spec: "sqlite:" + path)
        let store = try SQLiteStorage(path: path)
        try await expectEveryEntry(in: store, spec: "sqlite:" + path)
        try await expectChangesRefused(by: store, path: path, spec: "sqlite:" + path, reason: Self.full)
        try await expectChangesAgain(in: store, once: disk)
    }

    @Test func theSQLiteStoreOnAReadOnlyDiskRefusesAChangeAndKeepsEveryEntry() async throws {
        let disk = try SmallDisk()
        defer { disk.unmount() }
        let path = try await sqliteStoreWithEntries(on: disk)
        try disk.remountReadOnly()

        let store = try SQLiteStorage(path: path)
        try await expectEveryEntry(in: store, spec: "sqlite:" + path)
        try await expectChangesRefused(by: store, path: path, spec: "sqlite:" + path, reason: Self.readOnly)
        let prune = await #expect(throws: TusError.self) { try await store.removeEntries(olderThan: 0) }
        #expect(prune?.message == "cannot remove old entries from \(path): \(Self.readOnly)")
        try await store.close()
    }
}
