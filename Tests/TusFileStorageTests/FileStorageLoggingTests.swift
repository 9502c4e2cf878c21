import Foundation
import InMemoryLogging
import Logging
import Testing
import TusFileStorage
import TusTestSupport

/// The JSON store logs, at `debug`, a change that waits for another
/// process's lock, and how long it waited.
@Suite struct FileStorageLoggingTests {
    @Test func aChangeThatWaitsForTheLockIsLogged() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.json")
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "store") { _ in handler }
        logger.logLevel = .debug
        let store = try FileStorage(path: path, lockTimeout: 30, logger: logger)
        try await store.setURL("https://tus.example/files/0", forKey: "before")
        #expect(handler.entries.isEmpty, "a change that takes the lock at once logs nothing")

        let holder = try PythonProcess(
            "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
            [path + ".lock"])
        try #require(await holder.readLine() == "locked")
        let change = Task { try await store.setURL("https://tus.example/files/1", forKey: "k") }
        try await waitUntil("the change says it waits for the lock") {
            handler.entries.contains { entry in entry.message.description == "waiting for the store's lock" }
        }
        try holder.closeInput()
        #expect(try await holder.wait().status == 0)
        try await change.value

        let messages = handler.entries.map { entry in entry.message.description }
        #expect(messages == ["waiting for the store's lock", "took the store's lock"])
        let took = try #require(handler.entries.last)
        #expect(took.level == .debug)
        #expect(took.metadata["tus.store.path"] == "\(store.path)")
        #expect(took.metadata["tus.store.seconds"] != nil)
        try await store.close()
    }
}
