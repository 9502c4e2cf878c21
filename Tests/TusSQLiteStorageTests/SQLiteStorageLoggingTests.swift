import Foundation
import InMemoryLogging
import Logging
import Testing
import TusCore
import TusSQLiteStorage
import TusTestSupport

/// The SQLite store logs, at `debug`, a call that took 100 ms or more: most
/// often one that waited for another connection's write lock.
@Suite struct SQLiteStorageLoggingTests {
    @Test func aCallThatWaitsForAWriterIsLoggedAsSlow() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.sqlite")
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "store") { _ in handler }
        logger.logLevel = .debug
        let store = try SQLiteStorage(path: path, busyTimeout: .milliseconds(300), logger: logger)
        try await store.setURL("https://tus.example/files/0", forKey: "before")
        #expect(handler.entries.isEmpty, "a quick call logs nothing")

        let holder = try PythonProcess("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            sys.stdin.read()
            db.execute("ROLLBACK")
            """, [path])
        try #require(await holder.readLine() == "locked")
        await #expect(throws: TusError.self) { try await store.setURL("https://tus.example/files/1", forKey: "k") }
        try holder.closeInput()
        #expect(try await holder.wait().status == 0)

        let slow = handler.entries.filter { entry in entry.message.description == "slow store call" }
        #expect(slow.count == 1, "\(handler.entries)")
        #expect(slow.first?.metadata["tus.store.backend"] == "SQLiteStorage")
        #expect("\(slow.first?.metadata["tus.store.operation"] ?? "")".contains("cannot store the URL of \"k\""))
        try await store.close()
    }
}
