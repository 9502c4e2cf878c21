import Foundation
import Testing
import TusCore
import TusRedisStorage
import TusTestSupport

/// A number (a thread's id, a step reached), written by one task and read
/// by another; -1 until written.
private final class SharedNumber: @unchecked Sendable {
    private let lock = NSLock()
    private var id = -1
    func set(_ value: Int) { lock.withLock { id = value } }
    var value: Int { lock.withLock { id } }
}

/// Events in the order they happened, from any task or thread.
private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []
    func record(_ event: String) { lock.withLock { events.append(event) } }
    var all: [String] { lock.withLock { events } }
}

/// How many connections to `port` on 127.0.0.1 hold bytes their server has
/// not read, from `/proc/net/tcp`: commands written to a paused server.
private func connectionsWithUnreadBytes(toPort port: Int) -> Int {
    // Read to its end by hand: the file says its size is 0, and it can be
    // long (a line per socket of the machine).
    let fd = open("/proc/net/tcp", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += buffer[..<count]
    }
    let table = String(decoding: bytes, as: UTF8.self)
    let hex = String(port, radix: 16, uppercase: true)
    let local = "0100007F:" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    return table.split(separator: "\n").dropFirst().filter { line in
        let fields = line.split(separator: " ")
        guard fields.count > 4, fields[1] == local else { return false }
        // tx_queue:rx_queue, in hexadecimal.
        let queues = fields[4].split(separator: ":")
        return queues.count == 2 && (Int(queues[1], radix: 16) ?? 0) > 0
    }.count
}

/// The id of the calling thread, from `/proc/thread-self` (`PID/task/TID`).
private func currentThreadID() -> Int {
    var buffer = [CChar](repeating: 0, count: 64)
    let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard count > 0 else { return -1 }
    let path = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.split(separator: "/").last.flatMap { Int($0) } ?? -1
}

/// Whether thread `id` of this process is blocked in `read(2)`, from
/// `/proc/self/task/ID/syscall`, whose first field is the number of the
/// system call the thread is in.
private func isBlockedInRead(thread id: Int) -> Bool {
    #if arch(x86_64)
    let read = "0"
    #elseif arch(arm64)
    let read = "63"
    #else
    let read = "?"
    #endif
    guard let text = try? String(contentsOfFile: "/proc/self/task/\(id)/syscall", encoding: .utf8) else { return false }
    return text.split(separator: " ").first.map(String.init) == read
}

/// A store on `server` whose calls wait up to a minute for a reply, so that
/// a paused server never times them out during a test.
private func patientStore(on server: RedisServerProcess, prefix: String) throws -> RedisStorage {
    var configuration = RedisStorage.Configuration(port: server.port, keyPrefix: prefix)
    configuration.commandTimeout = 60
    return try RedisStorage(configuration: configuration)
}

/// Runs a thousand tasks while store calls wait, and checks that they all
/// finished before any call returned (none is recorded in `log` yet).
private func expectAThousandTasksRunFirst(_ log: EventLog) async {
    #expect(await aThousandTasksRun())
    log.record("1000 tasks finished")
    #expect(log.all == ["1000 tasks finished"])
}

/// Store calls that wait for a server's reply wait off the threads that run
/// every task of the process: a call written on its caller's thread
/// suspends until the store's waiter sees the reply, a call queued behind
/// it waits on the store's own thread, and so does a call from a task that
/// prefers the store's executor.
@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: "/proc/net/tcp"), "needs Linux's /proc"))
struct WaitingRedisCallsTests {
    @Test func otherTasksRunWhileCallsWaitForAServerThatDoesNotAnswer() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let stores = try (0..<3).map { try patientStore(on: server, prefix: "waiting\($0):") }
        for store in stores { try await store.setURL("https://tus.example/files/before", forKey: "before") }

        server.pause()
        let log = EventLog()
        let calls = stores.enumerated().map { index, store in
            Task {
                try await store.setURL("https://tus.example/files/\(index)", forKey: "k")
                log.record("a change returned")
            }
        }
        // Three changes written to the paused server, waiting for replies:
        // were they waiting on the task threads (two on this machine),
        // nothing else would run.
        try await waitUntil("three changes are written to the paused server") {
            connectionsWithUnreadBytes(toPort: server.port) == 3
        }
        // A read queued behind a change of the same store.
        let queued = Task {
            let url = try await stores[0].url(forKey: "before")
            log.record("the read returned")
            return url
        }

        await expectAThousandTasksRunFirst(log)

        server.resume()
        for call in calls { try await call.value }
        #expect(try await queued.value == "https://tus.example/files/before")
        #expect(log.all.first == "1000 tasks finished")
        #expect(log.all.filter { $0 == "a change returned" }.count == 3)
        for (index, store) in stores.enumerated() {
            #expect(try await store.url(forKey: "k") == "https://tus.example/files/\(index)")
            try await store.close()
        }
    }

    @Test func otherTasksRunWhileATaskOnTheStoresExecutorWaitsForAServerThatDoesNotAnswer() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = try patientStore(on: server, prefix: "waiting-executor:")
        try await store.setURL("https://tus.example/files/before", forKey: "before")

        server.pause()
        let log = EventLog()
        // The change waits for its reply on the store's own thread, which
        // the task prefers: not on a thread of the pool.
        let thread = SharedNumber()
        let onExecutor = Task(executorPreference: store.taskExecutor) {
            thread.set(currentThreadID())
            try await store.setURL("https://tus.example/files/after", forKey: "k")
            log.record("the change returned")
        }
        try await waitUntil("the change is written to the paused server") {
            connectionsWithUnreadBytes(toPort: server.port) == 1
        }
        // It waits for the reply in a read on the store's thread, as a
        // blocking client does, not through the store's waiting thread.
        try await waitUntil("the store's thread waits in read(2)") { isBlockedInRead(thread: thread.value) }
        // A read from the pool, made while the store's thread waits.
        let fromPool = Task {
            let url = try await store.url(forKey: "before")
            log.record("the read returned")
            return url
        }

        await expectAThousandTasksRunFirst(log)

        server.resume()
        try await onExecutor.value
        #expect(try await fromPool.value == "https://tus.example/files/before")
        #expect(log.all.first == "1000 tasks finished")
        #expect(try await store.url(forKey: "k") == "https://tus.example/files/after")
        try await store.close()
    }

    @Test func aCallQueuedFromThePoolGoesBeforeALaterCallOfATaskOnTheStoresExecutor() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = try patientStore(on: server, prefix: "executor-order:")
        try await store.connect()

        server.pause()
        let gate = SharedNumber()
        let onExecutor = Task(executorPreference: store.taskExecutor) {
            try await store.setURL("https://tus.example/files/1", forKey: "k")
            gate.set(1)
            try await store.setURL("https://tus.example/files/3", forKey: "k")
        }
        try await waitUntil("the first change is written to the paused server") {
            connectionsWithUnreadBytes(toPort: server.port) == 1
        }
        // Made while the store's thread waits for the first change's reply:
        // it queues for that thread.
        let fromPool = Task { try await store.setURL("https://tus.example/files/2", forKey: "k") }
        try await waitUntil("the pool's change is queued") { store.queuedCalls == 1 }
        #expect(gate.value == -1)

        server.resume()
        try await onExecutor.value
        try await fromPool.value
        // The changes ran in the order they were made: the task's second
        // change went behind the one queued from the pool.
        #expect(try await store.url(forKey: "k") == "https://tus.example/files/3")
        try await store.close()
    }

    @Test func aCallFromAnotherStoresExecutorWaitsOnThisStoresThread() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let storeA = try patientStore(on: server, prefix: "executor-a:")
        let storeB = try patientStore(on: server, prefix: "executor-b:")
        try await storeA.connect()
        try await storeB.connect()
        let threadB = await Task(executorPreference: storeB.taskExecutor) { currentThreadID() }.value

        server.pause()
        // A task on store A's thread calls store B: the call goes to B's
        // thread, which waits for the reply, and A's thread is free
        // meanwhile (were the call written on A's thread and its task
        // suspended there, B's connection would stay taken until A's
        // thread could resume it).
        let call = Task(executorPreference: storeA.taskExecutor) {
            try await storeB.setURL("https://tus.example/files/b", forKey: "k")
        }
        try await waitUntil("store B's thread waits in read(2)") { isBlockedInRead(thread: threadB) }
        #expect(await Task(executorPreference: storeA.taskExecutor) { "store A's thread is free" }.value == "store A's thread is free")

        server.resume()
        try await call.value
        #expect(try await storeB.url(forKey: "k") == "https://tus.example/files/b")
        #expect(try await storeA.url(forKey: "k") == nil)
        try await storeA.close()
        try await storeB.close()
    }
}
