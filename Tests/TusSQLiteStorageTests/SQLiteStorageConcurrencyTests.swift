import Foundation
import Testing
import TusTestSupport
import TusCore
import TusSQLiteStorage

/// Several connections and several processes writing one database file.
@Suite struct SQLiteStorageConcurrencyTests {
    @Test func manyInstancesOpeningANewFileAtOnceLoseNoEntry() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("shared.sqlite")
        let instances = 8, keysEach = 50
        // Every instance is its own connection; all of them race to create
        // the schema of the new file, then write at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for instance in 0..<instances {
                group.addTask {
                    let store = try SQLiteStorage(path: path)
                    for index in 0..<keysEach {
                        try await store.setURL("https://tus.example/\(instance)/\(index)", forKey: "key-\(instance)-\(index)")
                    }
                    try await store.close()
                }
            }
            try await group.waitForAll()
        }
        let store = try SQLiteStorage(path: path)
        let entries = try await store.entries()
        try await store.close()
        let expected = Set((0..<instances).flatMap { instance in
            (0..<keysEach).map { "key-\(instance)-\($0)=https://tus.example/\(instance)/\($0)" }
        })
        #expect(entries.count == instances * keysEach)
        #expect(Set(entries.map { "\($0.key)=\($0.url)" }) == expected)
    }

    /// A store file with the schema but in rollback-journal mode, as a
    /// process that created it may leave it, is switched into write-ahead
    /// logging when opened. SQLite answers that switch with "database is
    /// locked" at once, without its busy wait, when another connection holds
    /// the write lock: the open waits `busyTimeout` for it as every call does.
    @Test func anOpenWaitsForAWriterBeforeSwitchingOnTheLog() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("rollback.sqlite")
        let holder = try PythonProcess("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.executescript(
                "CREATE TABLE tus_uploads (key TEXT PRIMARY KEY NOT NULL, url TEXT NOT NULL, stored_at REAL NOT NULL) WITHOUT ROWID;"
                "CREATE INDEX tus_uploads_stored_at ON tus_uploads (stored_at);"
                "PRAGMA user_version = 2;")
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO tus_uploads VALUES ('python', 'https://tus.example/python', 0)")
            print("locked", flush=True)
            sys.stdin.read()
            db.execute("COMMIT")
            """, [path])
        try #require(await holder.readLine() == "locked")

        let busyTimeout = Duration.milliseconds(300)
        let started = ContinuousClock.now
        let error = try #require(throws: TusError.self) { try SQLiteStorage(path: path, busyTimeout: busyTimeout) }
        #expect(ContinuousClock.now - started >= busyTimeout, "the open gave up before its busy timeout")
        #expect(error.code == .unavailable)
        #expect(error.message == "cannot open the SQLite store \(path): database is locked")

        // Once the writer is done, the store opens with the writer's entry.
        try holder.closeInput()
        let result = try await holder.wait()
        #expect(result.status == 0, "\(result.errors)")
        let store = try SQLiteStorage(path: path, busyTimeout: busyTimeout)
        #expect(try await store.url(forKey: "python") == "https://tus.example/python")
        try await store.close()
    }

    /// Inserts `count` keys `<name>-<n>` into the table in autocommit mode,
    /// each its own transaction, once a Swift writer has stored a key.
    private static let pythonWriter = """
        import sqlite3, sys, time
        path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        deadline = time.monotonic() + 30
        while db.execute("SELECT count(*) FROM tus_uploads WHERE key GLOB 'swift*'").fetchone()[0] == 0:
            if time.monotonic() > deadline:
                sys.exit("no Swift writer wrote within 30 s")
            time.sleep(0.005)
        for n in range(count):
            db.execute(
                "INSERT INTO tus_uploads (key, url, stored_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET url = excluded.url, stored_at = excluded.stored_at",
                (f"{name}-{n}", f"https://tus.example/{name}/{n}", time.time()))
        db.close()
        """

    @Test func processesSharingTheFileLoseNoEntry() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("shared.sqlite")
        try await SQLiteStorage(path: path).close()

        let pythonNames = (0..<3).map { "py\($0)" }
        let swiftNames = (0..<4).map { "swift\($0)" }
        let keysEach = 300
        let processes = try pythonNames.map { try PythonProcess(Self.pythonWriter, [path, $0, String(keysEach)]) }

        // Each Swift writer stores a few keys, waits until every Python
        // process has begun writing, then stores the rest while they write.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in swiftNames {
                group.addTask {
                    let store = try SQLiteStorage(path: path)
                    for index in 0..<keysEach {
                        if index == 10 {
                            for python in pythonNames {
                                try await waitUntil("\(python) writes") { try await store.url(forKey: "\(python)-0") != nil }
                            }
                        }
                        try await store.setURL("https://tus.example/\(name)/\(index)", forKey: "\(name)-\(index)")
                    }
                    try await store.close()
                }
            }
            try await group.waitForAll()
        }
        for (name, process) in zip(pythonNames, processes) {
            let result = try await process.wait()
            #expect(result.status == 0, "\(name) failed: \(result.errors)")
        }

        let store = try SQLiteStorage(path: path)
        let stored = Dictionary(uniqueKeysWithValues: try await store.entries().map { ($0.key, $0.url) })
        try await store.close()
        for name in pythonNames + swiftNames {
            let missing = (0..<keysEach).filter { stored["\(name)-\($0)"] != "https://tus.example/\(name)/\($0)" }
            #expect(missing.isEmpty, "\(name) lost \(missing.count) of \(keysEach) entries")
        }
        #expect(stored.count == (pythonNames.count + swiftNames.count) * keysEach)
    }

    @Test func aWriterThatWaitsTooLongThrowsUnavailableWithSQLitesCode() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("locked.sqlite")
        let store = try SQLiteStorage(path: path, busyTimeout: .milliseconds(50))
        try await store.setURL("https://tus.example/files/before", forKey: "before")

        // Another process holds the write lock until its input closes.
        let holder = try PythonProcess("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO tus_uploads VALUES ('python', 'https://tus.example/python', 0)")
            print("locked", flush=True)
            sys.stdin.read()
            db.execute("ROLLBACK")
            """, [path])
        try #require(await holder.readLine() == "locked")

        let error = try await #require(throws: TusError.self) {
            try await store.setURL("https://tus.example/files/1", forKey: "k")
        }
        #expect(error.code == .unavailable)
        #expect(error.message == "cannot store the URL of \"k\" in \(store.path): database is locked")
        let cause = try #require(error.cause as? SQLiteError)
        #expect(cause.primaryResultCode == 5) // SQLITE_BUSY
        // Readers do not wait for the writer.
        #expect(try await store.url(forKey: "before") == "https://tus.example/files/before")

        try holder.closeInput()
        let result = try await holder.wait()
        #expect(result.status == 0, "\(result.errors)")
        try await store.setURL("https://tus.example/files/1", forKey: "k")
        #expect(try await store.url(forKey: "k") == "https://tus.example/files/1")
        #expect(try await store.url(forKey: "python") == nil)
        try await store.close()
    }
}
