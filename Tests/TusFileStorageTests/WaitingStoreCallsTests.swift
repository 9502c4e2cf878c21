import Dispatch
import Foundation
import Testing
import TusCore
import TusFileStorage
import TusSQLiteStorage
import TusTestSupport

/// Events in the order they happened, from any task or thread.
private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []
    func record(_ event: String) { lock.withLock { events.append(event) } }
    var all: [String] { lock.withLock { events } }
}

/// A `python3` process that takes a lock, prints `locked`, and holds the
/// lock until its standard input closes, or for 30 s at most, so that a
/// store that wrongly blocks the test's threads cannot hang the run.
private final class LockHolder: Sendable {
    private let python: PythonProcess

    /// Holds the `flock` of the file at `path`, as another swift-tus or any
    /// other process would.
    static func flock(_ path: String) throws -> LockHolder {
        try LockHolder("""
            import fcntl, select, sys
            f = open(sys.argv[1], "a")
            fcntl.flock(f, fcntl.LOCK_EX)
            print("locked", flush=True)
            select.select([sys.stdin], [], [], 30)
            fcntl.flock(f, fcntl.LOCK_UN)
            """, path)
    }

    /// Holds the write lock of the SQLite database at `path`: a transaction
    /// that has begun writing and not finished.
    static func sqliteWriteLock(_ path: String) throws -> LockHolder {
        try LockHolder("""
            import select, sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO tus_uploads VALUES ('python', 'https://tus.example/python', 0)")
            print("locked", flush=True)
            select.select([sys.stdin], [], [], 30)
            db.execute("ROLLBACK")
            """, path)
    }

    private init(_ script: String, _ path: String) throws {
        python = try PythonProcess(script, [path])
    }

    /// Waits until the process says it holds the lock.
    func waitUntilLocked() async throws {
        guard await python.readLine() == "locked" else {
            let result = try await python.wait()
            Issue.record("the lock holder did not take its lock: \(result.errors)")
            throw CancellationError()
        }
    }

    /// Lets the lock go and waits for the process to end; returns its exit
    /// status.
    func release() async throws -> Int32 {
        try python.closeInput()
        return try await python.wait(timeout: .seconds(30)).status
    }
}

/// The state of this process's threads, from `/proc` (Linux).
private enum ProcThreads {
    static var available: Bool { FileManager.default.fileExists(atPath: "/proc/self/task") }

    /// The numbers of the system calls that sleep: `nanosleep` and
    /// `clock_nanosleep`, which `usleep` and SQLite's busy wait use.
    private static var sleepCalls: Set<String> {
        #if arch(x86_64)
        ["35", "230"]
        #elseif arch(arm64)
        ["101", "115"]
        #else
        []
        #endif
    }

    /// Whether a thread called `name` is asleep in a system call: a store's
    /// thread pausing between attempts to take a lock another process holds.
    static func isSleeping(named name: String) -> Bool {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.contains { task in
            guard (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) == name + "\n",
                  let call = try? String(contentsOfFile: "/proc/self/task/\(task)/syscall", encoding: .utf8)
            else { return false }
            return sleepCalls.contains(String(call.prefix { $0 != " " }))
        }
    }

    /// Waits, polling for at most 30 s, until a thread called `name` sleeps
    /// in its wait for a lock. Polling is the one way to see it: the store
    /// tells no one that its thread has begun to wait (nor should it), and
    /// only `/proc` shows the thread asleep.
    static func waitUntilSleeping(named name: String, _ what: String) async throws {
        try await waitUntil("\(what) waits on a thread of its own (\(name))") { isSleeping(named: name) }
    }
}

/// Store calls that wait — for a lock another process holds — wait on the
/// store's own threads, never on the few threads that run every task of the
/// process.
@Suite(.serialized, .enabled(if: ProcThreads.available, "needs Linux's /proc to see the stores' threads"))
struct WaitingStoreCallsTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    @Test func otherTasksRunWhileStoreCallsWaitForLocksOtherProcessesHold() async throws {
        let jsonPath = folder.newPath("uploads.json")
        let json = try FileStorage(path: jsonPath, lockTimeout: 120)
        try await json.setURL("https://tus.example/files/json-before", forKey: "before")
        let sqlitePath = folder.newPath("uploads.sqlite")
        let sqlite = try SQLiteStorage(path: sqlitePath, busyTimeout: .seconds(120))
        try await sqlite.setURL("https://tus.example/files/sqlite-before", forKey: "before")

        let flockHolder = try LockHolder.flock(jsonPath + ".lock")
        try await flockHolder.waitUntilLocked()
        let sqliteHolder = try LockHolder.sqliteWriteLock(sqlitePath)
        try await sqliteHolder.waitUntilLocked()

        let log = EventLog()
        let jsonCall = Task {
            try await json.setURL("https://tus.example/files/json", forKey: "k")
            log.record("the JSON store call returned")
        }
        let sqliteCall = Task {
            try await sqlite.setURL("https://tus.example/files/sqlite", forKey: "k")
            log.record("the SQLite store call returned")
        }
        try await ProcThreads.waitUntilSleeping(named: "tus-json-write", "the JSON store's change")
        try await ProcThreads.waitUntilSleeping(named: "tus-sqlite", "the SQLite store's change")

        // Two waits on a two-core machine: were they on the task threads,
        // nothing else would run until the locks were let go.
        #expect(await aThousandTasksRun())
        log.record("1000 tasks finished")
        // Reads do not queue behind a change that waits (the SQLite store
        // answers them on the caller's thread, beside its own).
        #expect(try await json.url(forKey: "before") == "https://tus.example/files/json-before")
        #expect(try await sqlite.url(forKey: "before") == "https://tus.example/files/sqlite-before")
        #expect(log.all == ["1000 tasks finished"])

        #expect(try await flockHolder.release() == 0)
        #expect(try await sqliteHolder.release() == 0)
        try await jsonCall.value
        try await sqliteCall.value
        #expect(log.all.first == "1000 tasks finished")
        #expect(Set(log.all.dropFirst()) == ["the JSON store call returned", "the SQLite store call returned"])
        #expect(try await json.url(forKey: "k") == "https://tus.example/files/json")
        #expect(try await sqlite.url(forKey: "k") == "https://tus.example/files/sqlite")
        #expect(try await sqlite.url(forKey: "python") == nil)
        try await json.close()
        try await sqlite.close()
    }

    @Test func aChangeWhoseTaskIsCancelledWhileItWaitsIsStillMade() async throws {
        let path = folder.newPath("uploads.json")
        let store = try FileStorage(path: path, lockTimeout: 120)
        try await store.setURL("https://tus.example/files/before", forKey: "before")
        let holder = try LockHolder.flock(path + ".lock")
        try await holder.waitUntilLocked()

        let call = Task { try await store.setURL("https://tus.example/files/1", forKey: "k") }
        try await ProcThreads.waitUntilSleeping(named: "tus-json-write", "the JSON store's change")
        call.cancel()
        #expect(try await holder.release() == 0)
        // It returns as it would have, and the change is made: a caller never
        // mistakes a change that happened for one that did not.
        try await call.value
        #expect(try await store.url(forKey: "k") == "https://tus.example/files/1")
        try await store.close()
    }

    @Test func closeEndsTheStoresThreads() async throws {
        /// This process's threads called `tus-json-*` or `tus-sqlite`, by
        /// thread id and name.
        func storeThreads() -> [String: String] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            var found: [String: String] = [:]
            for task in tasks {
                guard let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                      name.hasPrefix("tus-json-") || name.hasPrefix("tus-sqlite") else { continue }
                found[task] = String(name.dropLast())
            }
            return found
        }
        let before = storeThreads()
        let json = try FileStorage(path: folder.newPath("uploads.json"))
        let sqlite = try SQLiteStorage(path: folder.newPath("uploads.sqlite"))
        try await json.setURL("https://tus.example/files/1", forKey: "k")
        #expect(try await json.url(forKey: "k") == "https://tus.example/files/1")
        try await sqlite.setURL("https://tus.example/files/1", forKey: "k")
        let started = storeThreads().filter { before[$0.key] == nil }
        #expect(started.values.sorted() == ["tus-json-read", "tus-json-write", "tus-sqlite"])

        try await json.close()
        try await sqlite.close()
        // close() returns once the threads have run their last job and
        // left their loop; the system ends each thread a moment later, and
        // only `/proc` shows when: polled, for that moment.
        try await waitUntil("the stores' threads end after close()") { Set(storeThreads().keys).isDisjoint(with: started.keys) }
        let error = await #expect(throws: TusError.self) { try await sqlite.url(forKey: "k") }
        #expect(error?.code == .closed)
        #expect(error?.message == "the SQLite store \(sqlite.path) is closed")
        let jsonError = await #expect(throws: TusError.self) { try await json.setURL("https://tus.example/files/2", forKey: "k") }
        #expect(jsonError?.message == "the JSON store \(json.path) is closed")
    }
}
