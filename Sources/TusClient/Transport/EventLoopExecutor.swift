import NIOCore

/// Runs a task's jobs on one event loop.
///
/// An upload from a file runs its chunk loop here, on the loop that drives
/// its requests: a request's answer then resumes the upload on the thread
/// that read it, and the next request starts from there, instead of waking
/// a thread of the global pool and the event loop again for every chunk.
/// Work that may block (stores, hashing) leaves it with ``offLoop(_:)``.
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
final class EventLoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}

/// Runs `body` on the global concurrent executor, off any event loop: for
/// calls that may block, such as a store's writes or hashing a chunk.
func offLoop<T>(_ body: () async throws -> T) async throws -> T {
    if #available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *) {
        return try await withTaskExecutorPreference(globalConcurrentExecutor, operation: body)
    }
    return try await body()
}
