import Foundation
import Testing
import TusTestSupport
import TusCore
import TusSQLiteStorage
import TusStorageTesting

@Suite struct SQLiteStorageTests {
    @Test func followsTheStorageRules() async throws {
        let folder = try TemporaryFolder()
        try await StorageConformance.check { try SQLiteStorage(path: folder.newPath("store.sqlite")) }
    }

    @Test func keepsEntriesAcrossCloseAndReopen() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let first = try SQLiteStorage(path: path)
        try await first.setURL("https://tus.example/files/a", forKey: "a")
        try await first.setURL("https://tus.example/files/b", forKey: "b")
        try await first.removeURL(forKey: "b")
        try await first.close()

        let reopened = try SQLiteStorage(url: URL(fileURLWithPath: path))
        #expect(try await reopened.url(forKey: "a") == "https://tus.example/files/a")
        #expect(try await reopened.url(forKey: "b") == nil)
        #expect(try await reopened.entries().map(\.key) == ["a"])
        try await reopened.close()
    }

    @Test func aSecondInstanceSeesTheFirstsChanges() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let writer = try SQLiteStorage(path: path)
        let reader = try SQLiteStorage(path: path)
        #expect(try await reader.url(forKey: "k") == nil)
        try await writer.setURL("https://tus.example/files/1", forKey: "k")
        #expect(try await reader.url(forKey: "k") == "https://tus.example/files/1")
        try await writer.setURL("https://tus.example/files/2", forKey: "k")
        #expect(try await reader.url(forKey: "k") == "https://tus.example/files/2")
        try await writer.removeURL(forKey: "k")
        #expect(try await reader.url(forKey: "k") == nil)
        try await writer.close()
        try await reader.close()
    }

    @Test func keysAreComparedAsBytesWithEmbeddedNULs() async throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteStorage(path: folder.newPath("store.sqlite"))
        let keys = ["a", "a\u{0}b", "a\u{0}c", "A", "\u{0}"]
        for (index, key) in keys.enumerated() {
            try await store.setURL("https://tus.example/\(index)\u{0}tail", forKey: key)
        }
        for (index, key) in keys.enumerated() {
            let url = try await store.url(forKey: key)
            #expect(url.map { Array($0.utf8) } == Array("https://tus.example/\(index)\u{0}tail".utf8), "key \(key.debugDescription)")
        }
        #expect(try await store.url(forKey: "a\u{0}") == nil)
        let listed = try await store.entries().map { Array($0.key.utf8) }
        #expect(Set(listed) == Set(keys.map { Array($0.utf8) }))
        try await store.close()
    }

    @Test func aClosedStoreNamesItsFile() async throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteStorage(path: folder.newPath("store.sqlite"))
        try await store.close()
        let error = try await #require(throws: TusError.self) { try await store.setURL("u", forKey: "k") }
        #expect(error.code == .closed)
        #expect(error.message.contains(store.path))
    }

    @Test func withStorageClosesTheStore() async throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteStorage(path: folder.newPath("store.sqlite"))
        let url = try await withStorage(store) { store in
            try await store.setURL("https://tus.example/files/1", forKey: "k")
            return try await store.url(forKey: "k")
        }
        #expect(url == "https://tus.example/files/1")
        let error = try await #require(throws: TusError.self) { try await store.entries() }
        #expect(error.code == .closed)
    }

    /// The size of the file at `path`, 0 when it does not exist.
    private func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    @Test func aLongRunOfWritesKeepsTheLogSmallAndCloseRemovesIt() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let store = try SQLiteStorage(path: path)
        // 2,000 pages of 4 KiB and their frame headers, and room for the
        // commit that crosses the line: the log restarts there. Without the
        // restart, 5,000 new keys leave more than 10,000 pages in it.
        let bound = 2_100 * (4_096 + 24)
        var largest = 0
        for index in 0..<5_000 {
            try await store.setURL("https://tus.example/files/\(index)", forKey: "size:\(index)--md5:\(index)")
            if index % 100 == 0 { largest = max(largest, fileSize(path + "-wal")) }
        }
        #expect(largest > 0, "no write-ahead log was seen")
        #expect(largest <= bound, "the log grew to \(largest) bytes")
        try await store.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "the log outlived the last close")

        let reopened = try SQLiteStorage(path: path)
        #expect(try await reopened.entries().count == 5_000)
        #expect(try await reopened.url(forKey: "size:4999--md5:4999") == "https://tus.example/files/4999")
        try await reopened.close()
    }

    @Test func writesReachTheDatabaseFileWhileTheStoreStaysOpen() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let store = try SQLiteStorage(path: path)
        // About 600 log pages: SQLite by itself copies nothing into the
        // database file before 1,000.
        for index in 0..<300 {
            try await store.setURL("https://tus.example/files/\(index)", forKey: "size:\(index)--md5:\(index)")
        }
        // The database file alone, without its log, as a backup of that one
        // file would see it.
        var seen = 0
        for attempt in 0..<100 where seen == 0 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(100)) }
            let copy = folder.newPath("copy-\(attempt).sqlite")
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            let backup = try SQLiteStorage(path: copy)
            seen = try await backup.entries().count
            try await backup.close()
        }
        #expect(seen > 0, "after 10 s the database file alone still held no entry")
        #expect(seen <= 300)
        try await store.close()
    }

    @Test func pythonsSQLiteReadsWhatItStored() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let store = try SQLiteStorage(path: path)
        try await store.setURL("https://tus.example/files/é", forKey: "size:3--md5:x")
        try await PythonProcess.run("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            assert db.execute("PRAGMA user_version").fetchone()[0] == 2
            sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'tus_uploads'").fetchone()[0]
            assert sql.endswith("WITHOUT ROWID"), sql
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            rows = db.execute("SELECT key, url, typeof(stored_at) FROM tus_uploads").fetchall()
            assert rows == [("size:3--md5:x", "https://tus.example/files/é", "real")], rows
            """, [path])
        try await store.close()
    }
}
