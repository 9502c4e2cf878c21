import Foundation

/// A ``ThreadExecutor`` as a task executor: a task that prefers it
/// (`withTaskExecutorPreference`) runs its jobs on the executor's threads,
/// among the blocking jobs, in the order they come.
///
/// Such a task runs on a thread of the executor's, not of Swift
/// concurrency's pool, so it may wait there: ``isCurrent`` tells a store
/// that its caller is one, and that the store's call may wait for its
/// answer on the spot instead of handing it to another thread.
extension ThreadExecutor: TaskExecutor {
    /// Runs `job` on a thread of this executor, after the jobs submitted
    /// before it. Once the executor has stopped, `job` goes to the global
    /// concurrent executor instead: a task's job is never dropped.
    package func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        if !submitJob({ unowned.runSynchronously(on: executor) }) {
            globalConcurrentExecutor.enqueue(ExecutorJob(unowned))
        }
    }
}
