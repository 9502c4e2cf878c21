import Dispatch
import Foundation
import Testing
import TusTestSupport
import TusThreads

/// Values written by jobs on the executor's threads and read by the test.
private final class Recorder<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Value] = []
    func append(_ value: Value) { lock.withLock { storage.append(value) } }
    var values: [Value] { lock.withLock { storage } }
}

private struct Stopped: Error {}

/// The name of the thread that calls it (on Linux, the system thread's).
private func currentThreadName() -> String {
    Thread.current.name ?? ""
}

/// An error a job throws, handed back to its caller as it is.
private struct JobError: Error {
    var message: String
}

@Suite struct ThreadExecutorTests {
    @Test func jobsRunOnTheExecutorsThreadAndHandBackResultsAndErrors() async throws {
        let executor = ThreadExecutor(name: "tus-test-run")
        let name = try await executor.run({ currentThreadName() }, ifStopped: { Stopped() })
        #expect(name == "tus-test-run")
        let error = await #expect(throws: JobError.self) {
            try await executor.run({ throw JobError(message: "cannot read /x: broken") }, ifStopped: { Stopped() })
        }
        #expect(error?.message == "cannot read /x: broken")
        _ = try await executor.finish {}
    }

    @Test func jobsRunInTheOrderTheCallsWereMade() async throws {
        let executor = ThreadExecutor(name: "tus-test-order")
        let gate = DispatchSemaphore(value: 0)
        let order = Recorder<Int>()
        // The first job holds the thread until every other call has queued.
        let first = Task { try await executor.run({ gate.wait() }, ifStopped: { Stopped() }) }
        try await waitUntil("the first job runs") { executor.runningThreads == 1 && executor.waitingJobs == 0 }
        var calls: [Task<Void, any Error>] = []
        for index in 1...50 {
            calls.append(Task { try await executor.run({ order.append(index) }, ifStopped: { Stopped() }) })
            try await waitUntil("call \(index) queues") { executor.waitingJobs == index }
        }
        gate.signal()
        try await first.value
        for call in calls { try await call.value }
        #expect(order.values == Array(1...50))
        _ = try await executor.finish {}
    }

    @Test func aCallWhoseTaskIsCancelledStillRunsAndReturnsItsResult() async throws {
        let executor = ThreadExecutor(name: "tus-test-cancel")
        let gate = DispatchSemaphore(value: 0)
        let ran = Recorder<String>()
        let blocker = Task { try await executor.run({ gate.wait() }, ifStopped: { Stopped() }) }
        try await waitUntil("the first job runs") { executor.runningThreads == 1 && executor.waitingJobs == 0 }
        let call = Task { try await executor.run({ ran.append("job"); return 42 }, ifStopped: { Stopped() }) }
        try await waitUntil("the call queues") { executor.waitingJobs == 1 }
        call.cancel()
        gate.signal()
        try await blocker.value
        #expect(try await call.value == 42)
        #expect(ran.values == ["job"])
        _ = try await executor.finish {}
    }

    @Test func finishRunsLastEndsTheThreadAndLaterCallsThrow() async throws {
        let executor = ThreadExecutor(name: "tus-test-finish")
        let order = Recorder<String>()
        let gate = DispatchSemaphore(value: 0)
        let earlier = Task { try await executor.run({ gate.wait(); order.append("earlier") }, ifStopped: { Stopped() }) }
        try await waitUntil("the earlier job runs") { executor.runningThreads == 1 && executor.waitingJobs == 0 }
        let finishing = Task { try await executor.finish { order.append("last"); return "closed" } }
        try await waitUntil("the last job queues") { executor.waitingJobs == 1 }
        gate.signal()
        try await earlier.value
        #expect(try await finishing.value == "closed")
        #expect(order.values == ["earlier", "last"])
        #expect(executor.runningThreads == 0)
        await #expect(throws: Stopped.self) {
            try await executor.run({ order.append("too late") }, ifStopped: { Stopped() })
        }
        #expect(try await executor.finish { order.append("again") } == nil)
        #expect(order.values == ["earlier", "last"])
    }

    @Test func stopWithoutAJobEndsTheThreads() async throws {
        let executor = ThreadExecutor(name: "tus-test-stop")
        #expect(try await executor.run({ 1 + 1 }, ifStopped: { Stopped() }) == 2)
        #expect(executor.runningThreads == 1)
        await executor.stop()
        #expect(executor.runningThreads == 0)
        await executor.stop()
        let idle = ThreadExecutor(name: "tus-test-idle")
        await idle.stop()
        #expect(idle.runningThreads == 0)
    }

    @Test func severalThreadsRunJobsAtOnce() async throws {
        let executor = ThreadExecutor(name: "tus-test-pool", threads: 2)
        let first = DispatchSemaphore(value: 0)
        let second = DispatchSemaphore(value: 0)
        // Each job waits for the other to start: only two threads at once
        // let both finish.
        async let a = executor.run({ first.signal(); return second.wait(timeout: .now() + 30) == .success }, ifStopped: { Stopped() })
        async let b = executor.run({ second.signal(); return first.wait(timeout: .now() + 30) == .success }, ifStopped: { Stopped() })
        #expect(try await a)
        #expect(try await b)
        #expect(executor.runningThreads == 2)
        await executor.stop()
        #expect(executor.runningThreads == 0)
    }

    /// A thread has its name from its first job on, however its start and
    /// the executor's naming interleave. (Foundation on Linux names a
    /// thread from outside once it has started, and the thread, as it
    /// starts, writes back the name it read a moment before: a name given
    /// in between was lost, now and then.)
    @Test func everyThreadHasItsNameFromItsFirstJob() async throws {
        var others: [String] = []
        for index in 0..<500 {
            let executor = ThreadExecutor(name: "tus-test-n\(index)")
            let name = try await executor.run({ currentThreadName() }, ifStopped: { Stopped() })
            if name != "tus-test-n\(index)" { others.append(name) }
            await executor.stop()
        }
        #expect(others.isEmpty, "\(others.count) of 500 threads had another name: \(Set(others).sorted())")
    }

    #if os(Linux)
    @Test func releasingTheExecutorEndsItsThread() async throws {
        func threads(named name: String) -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.filter {
                (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)) == name + "\n"
            }.count
        }
        var executor: ThreadExecutor? = ThreadExecutor(name: "tus-test-free")
        #expect(try await executor?.run({ 7 }, ifStopped: { Stopped() }) == 7)
        #expect(threads(named: "tus-test-free") == 1)
        executor = nil
        try await waitUntil("the thread ends") { threads(named: "tus-test-free") == 0 }
    }
    #endif
}
