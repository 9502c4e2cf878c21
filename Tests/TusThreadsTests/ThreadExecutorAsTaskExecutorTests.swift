import Foundation
import Testing
import TusTestSupport
import TusThreads

private struct Stopped: Error {}

/// The name of the thread that calls it.
private func threadName() -> String {
    Thread.current.name ?? ""
}

/// A task that prefers a ``ThreadExecutor`` runs on its thread, among its
/// jobs, and is never lost when the executor stops.
@Suite struct ThreadExecutorAsTaskExecutorTests {
    @Test func aTaskThatPrefersTheExecutorRunsOnItsThread() async throws {
        let executor = ThreadExecutor(name: "tus-test-task")
        #expect(!executor.isCurrent)
        let seen = await withTaskExecutorPreference(executor) {
            // Across suspensions, the task comes back to the same thread.
            var names: [String] = []
            var current: [Bool] = []
            for _ in 0..<3 {
                names.append(threadName())
                current.append(executor.isCurrent)
                await Task.yield()
            }
            return (names, current)
        }
        #expect(seen.0 == ["tus-test-task", "tus-test-task", "tus-test-task"])
        #expect(seen.1 == [true, true, true])
        #expect(!executor.isCurrent)
        // Another executor's thread is not this one's.
        let other = ThreadExecutor(name: "tus-test-other")
        #expect(try await other.run({ executor.isCurrent }, ifStopped: { Stopped() }) == false)
        #expect(try await executor.run({ executor.isCurrent }, ifStopped: { Stopped() }) == true)
        await other.stop()
        await executor.stop()
    }

    @Test func aJobCalledFromATaskOnTheThreadRunsOnceTheTaskSuspends() async throws {
        // The task holds the only thread: the job queues behind it, and runs
        // as soon as the task waits for it.
        let executor = ThreadExecutor(name: "tus-test-nested")
        let result = try await withTaskExecutorPreference(executor) {
            try await executor.run({ threadName() }, ifStopped: { Stopped() })
        }
        #expect(result == "tus-test-nested")
        _ = try await executor.finish {}
    }

    @Test func aTaskOnAStoppedExecutorGoesOnOnThePool() async throws {
        let executor = ThreadExecutor(name: "tus-test-stopped")
        let outcome = try await withTaskExecutorPreference(executor) {
            let before = executor.isCurrent
            // Stopping from the task itself: the task resumes after the
            // executor's thread has ended, on a thread of the pool.
            _ = try await executor.finish {}
            let after = executor.isCurrent
            let refused = await #expect(throws: Stopped.self) {
                try await executor.run({ 1 }, ifStopped: { Stopped() })
            }
            return (before, after, refused != nil)
        }
        #expect(outcome.0, "before finish, the task ran on the executor's thread")
        #expect(!outcome.1, "after finish, the task runs elsewhere")
        #expect(outcome.2, "a job submitted after finish is refused")
        #expect(executor.runningThreads == 0)
    }
}
