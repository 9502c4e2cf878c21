import Foundation
import Testing
import TusTestSupport
import TusCore
import TusSQLiteStorage

/// What the store does with the file it is given: files it must not touch,
/// the modes of the files it creates, and the paths it refuses.
@Suite struct SQLiteStorageFileTests {
    /// Requires that opening `path` throws `code` naming the file, and that
    /// the file and its folder are exactly as they were.
    private func expectRefused(
        _ path: String,
        _ code: TusError.Code,
        containing fragment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let before = try contents(of: path)
        let filesBefore = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        let error = try #require(throws: TusError.self, sourceLocation: sourceLocation) { try SQLiteStorage(path: path) }
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(path), "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
        #expect(try contents(of: path) == before, "the file changed", sourceLocation: sourceLocation)
        let filesAfter = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(filesAfter == filesBefore, "files appeared beside it", sourceLocation: sourceLocation)
    }

    /// A database file `name` in `folder`, made by Python's `sqlite3` running
    /// `statements` in one transaction.
    private func pythonDatabase(_ name: String, in folder: TemporaryFolder, _ statements: [String]) async throws -> String {
        let path = folder.newPath(name)
        try await PythonProcess.run("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for statement in sys.argv[2:]:
                db.execute(statement)
            db.commit()
            """, [path] + statements)
        return path
    }

    @Test(arguments: [
        ("notes.txt", "upload URLs, one per line\nhttps://tus.example/files/1\n"),
        ("one-byte.sqlite", "\n"),
        ("uploads.json", #"{"_default": {"1": {"key": "k", "url": "https://tus.example/files/1"}}}"#),
        ("short.sqlite", "SQLite format 3"),
        ("garbage.sqlite", "SQLite format 3\u{0}" + String(repeating: "\u{7F}", count: 4000)),
    ])
    func refusesAFileThatIsNotAnSQLiteDatabase(name: String, text: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try expectRefused(path, .corruptStore, containing: "it is not an SQLite database")
    }

    @Test func temporaryNamesOfKilledProcessesAreRemovedAndLiveOnesKept() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        // A process that has ended: its pid names no process now.
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let abandoned = "\(path).\(ended.processIdentifier)-12345.new"
        let live = "\(path).\(getpid())-67890.new"
        for name in [abandoned, live] {
            #expect(FileManager.default.createFile(atPath: name, contents: Data()))
        }
        let store = try SQLiteStorage(path: path)
        try await store.close()
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(FileManager.default.fileExists(atPath: live))
    }

    @Test func refusesAnotherProgramsSQLiteDatabase() async throws {
        let folder = try TemporaryFolder()
        let path = try await pythonDatabase("app.sqlite", in: folder, [
            "CREATE TABLE notes (body TEXT)",
            "INSERT INTO notes VALUES ('keep me')",
        ])
        try expectRefused(path, .corruptStore, containing: "not a swift-tus store")
    }

    @Test func refusesAStoreOfANewerSchemaVersion() async throws {
        let folder = try TemporaryFolder()
        let path = try await pythonDatabase("future.sqlite", in: folder, [
            "CREATE TABLE tus_uploads (key TEXT PRIMARY KEY, url TEXT, stored_at REAL, owner TEXT)",
            "INSERT INTO tus_uploads VALUES ('k', 'https://tus.example/files/1', 0, 'me')",
            "PRAGMA user_version = 99",
        ])
        try expectRefused(path, .corruptStore, containing: "schema version is 99")
    }

    @Test func usesAVersion1StoreAsItIs() async throws {
        let folder = try TemporaryFolder()
        let path = try await pythonDatabase("v1.sqlite", in: folder, [
            "CREATE TABLE tus_uploads (key TEXT PRIMARY KEY NOT NULL, url TEXT NOT NULL, stored_at REAL NOT NULL)",
            "CREATE INDEX tus_uploads_stored_at ON tus_uploads (stored_at)",
            "PRAGMA user_version = 1",
            "INSERT INTO tus_uploads VALUES ('old', 'https://tus.example/files/old', 1700000000.5)",
        ])
        let store = try SQLiteStorage(path: path)
        #expect(try await store.url(forKey: "old") == "https://tus.example/files/old")
        try await store.setURL("https://tus.example/files/new", forKey: "new")
        try await store.removeURL(forKey: "old")
        try await store.close()
        try await PythonProcess.run("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            assert db.execute("PRAGMA user_version").fetchone()[0] == 1
            sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'tus_uploads'").fetchone()[0]
            assert "WITHOUT ROWID" not in sql, sql
            rows = db.execute("SELECT key, url FROM tus_uploads").fetchall()
            assert rows == [("new", "https://tus.example/files/new")], rows
            """, [path])
    }

    @Test func refusesAStoreWhoseTableIsNotOurs() async throws {
        let folder = try TemporaryFolder()
        let path = try await pythonDatabase("other.sqlite", in: folder, [
            "CREATE TABLE tus_uploads (id INTEGER PRIMARY KEY, location TEXT)",
            "PRAGMA user_version = 1",
        ])
        try expectRefused(path, .corruptStore, containing: "tus_uploads")
    }

    @Test func createsThePrivateFilesAndFolders() async throws {
        let folder = try TemporaryFolder()
        let parent = folder.newPath("state") + "/tus"
        let path = parent + "/uploads.sqlite"
        let store = try SQLiteStorage(path: path)
        try await store.setURL("https://tus.example/files/1", forKey: "k")
        #expect(try mode(of: path) == 0o600)
        // While a connection is open, SQLite keeps its log and shared-memory
        // index beside the database.
        #expect(try mode(of: path + "-wal") == 0o600)
        #expect(try mode(of: path + "-shm") == 0o600)
        #expect(try mode(of: parent) == 0o700)
        #expect(try mode(of: (parent as NSString).deletingLastPathComponent) == 0o700)
        try await store.close()
    }

    @Test func usesAnEmptyFileAndKeepsItsMode() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(), attributes: [.posixPermissions: 0o640]))
        let store = try SQLiteStorage(path: path)
        try await store.setURL("https://tus.example/files/1", forKey: "k")
        try await store.close()
        #expect(try mode(of: path) == 0o640)
        #expect(try contents(of: path).prefix(16) == Data("SQLite format 3\u{0}".utf8))
    }

    @Test func refusesADirectory() throws {
        let folder = try TemporaryFolder()
        let error = try #require(throws: TusError.self) { try SQLiteStorage(path: folder.path) }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains(folder.path))
        #expect(error.message.contains("directory"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func refusesAnEmptyPath() throws {
        let error = try #require(throws: TusError.self) { try SQLiteStorage(path: "") }
        #expect(error.code == .invalidArgument)
    }
}
