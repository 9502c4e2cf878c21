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
        // The call that brings the log to 2,000 pages of 4 KiB checkpoints,
        // and the next commit starts it over; 5,000 new keys write more than
        // 10,000 pages. The bound leaves room for the commit that crosses the
        // line.
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

    @Test func theLogIsCopiedIntoTheDatabaseWhileTheStoreStaysOpen() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let store = try SQLiteStorage(path: path)
        let initial = fileSize(path)
        // About 600 log pages. SQLite by itself copies nothing into the
        // database file before 1,000; the store's background checkpoints
        // start at 250.
        for index in 0..<300 {
            try await store.setURL("https://tus.example/files/\(index)", forKey: "size:\(index)--md5:\(index)")
        }
        try await waitUntil("a page reaches the database file while the store is open", timeout: .seconds(10)) {
            fileSize(path) > initial
        }
        #expect(try await store.entries().count == 300)
        try await store.close()
        // The last close copies the rest and removes the log: the file alone
        // is the whole store again.
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        try await PythonProcess.run("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT count(*) FROM tus_uploads").fetchone() == (300,)
            """, [path])
    }

    @Test func openingASecondInstanceLeavesTheFirstItsLocks() async throws {
        // POSIX record locks belong to the process: closing any descriptor of
        // the file drops all of them. Had opening the second instance done
        // so, the first would hold no lock, and the Python connection,
        // closing as the file's last user, would delete the log the first
        // still writes to; its next change would reach no other process.
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let first = try SQLiteStorage(path: path)
        try await first.setURL("https://tus.example/files/1", forKey: "one")
        let second = try SQLiteStorage(path: path)
        try await PythonProcess.run("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            row = db.execute("SELECT url FROM tus_uploads WHERE key = 'one'").fetchone()
            assert row == ("https://tus.example/files/1",), row
            db.close()
            """, [path])
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "another process deleted the log of an open store")
        try await first.setURL("https://tus.example/files/2", forKey: "two")
        try await PythonProcess.run("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            row = db.execute("SELECT url FROM tus_uploads WHERE key = 'two'").fetchone()
            assert row == ("https://tus.example/files/2",), row
            """, [path])
        #expect(try await second.url(forKey: "two") == "https://tus.example/files/2")
        try await second.close()
        try await first.close()
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
