import Foundation

/// Runs blocking work for `async` callers on threads of its own, so that a
/// wait for a file lock, a disk, a database or a server never holds one of
/// the few threads of Swift concurrency's cooperative pool.
///
/// Every store of this package owns one with a single thread: the calls
/// that may wait run there one at a time, in the order they were made, and
/// the calling task is suspended meanwhile, leaving its thread to other
/// tasks.
///
/// ```swift
/// let executor = ThreadExecutor(name: "tus-sqlite")
/// let url = try await executor.run({ try table.url(forKey: key) }, ifStopped: { closedError })
/// _ = try await executor.finish { table.close() }   // the thread ends
/// ```
///
/// - Threads start when the first job comes, up to `threads`, and wait,
///   parked, for the next one. With one thread, jobs run in the order they
///   were submitted: a call submits its job before it suspends, so the calls
///   of one task, and calls that follow each other, keep their order.
/// - The calling task suspends at once: its thread, one of the pool's,
///   never spins or waits for the job. Stores answer what needs no wait on
///   the caller's thread before they come here (a cached JSON read, an
///   SQLite call over a connection that never waits). A thread that ran
///   out of jobs looks for the next one for 50 µs before it parks: the next
///   call of a busy store comes within microseconds, and waking a parked
///   thread costs more.
/// - A task that prefers the executor (it is a `TaskExecutor`) runs on its
///   thread, its jobs queued among the blocking jobs in the order they
///   come; ``isCurrent`` tells a store that its caller is such a task and
///   may wait where it is.
/// - A job always runs to its end, and its caller gets its result, even when
///   the caller's task is cancelled meanwhile: a store call that changes
///   something must never look abandoned while it still happens. What a job
///   waits for is bounded by the store's own timeouts.
/// - ``finish(_:)`` runs a last job after every job already submitted, and
///   returns once the threads have ended; ``stop()`` does the same without a
///   job. After either, ``run(_:ifStopped:)`` throws the caller's error.
///   Releasing the executor stops it too: its threads end once the jobs
///   already submitted have run.
package final class ThreadExecutor: Sendable {
    private let queue: JobQueue

    /// An executor whose threads are called `name` (Linux keeps the first
    /// 15 bytes), with at most `threads` of them.
    package init(name: String, threads: Int = 1) {
        queue = JobQueue(name: name, maxThreads: max(1, threads))
    }

    deinit {
        _ = queue.stop(last: nil, whenEnded: nil)
    }

    /// Runs `job` on a thread of this executor, after the jobs submitted
    /// before it, and returns its result or throws its error.
    ///
    /// - Parameter stopped: the error thrown, without running `job`, when
    ///   the executor has been stopped.
    package func run<Result: Sendable>(
        _ job: @escaping @Sendable () throws -> Result,
        ifStopped stopped: () -> any Error
    ) async throws -> Result {
        let slot = Slot<Result>()
        guard queue.submit({ slot.fill(Swift.Result { try job() }) }) else { throw stopped() }
        return try await withCheckedThrowingContinuation { continuation in slot.wait(continuation) }
    }

    /// Runs `job` after every job already submitted, stops the executor, and
    /// returns `job`'s result once every thread has ended. Returns nil,
    /// without running `job`, when the executor was already stopped (once
    /// its threads have ended).
    package func finish<Result: Sendable>(_ job: @escaping @Sendable () throws -> Result) async throws -> Result? {
        let outcome = Outcome<Result>()
        let accepted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let accepted = queue.stop(
                last: { outcome.value = Swift.Result { try job() } },
                whenEnded: { continuation.resume(returning: true) }
            )
            if !accepted { queue.whenEnded { continuation.resume(returning: false) } }
        }
        guard accepted, let value = outcome.value else { return nil }
        return try value.get()
    }

    /// Stops the executor and returns once the jobs already submitted have
    /// run and every thread has ended.
    package func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let accepted = queue.stop(last: nil, whenEnded: { continuation.resume() })
            if !accepted { queue.whenEnded { continuation.resume() } }
        }
    }

    /// Stops the executor, with `job` as its last job when it was still
    /// running, and returns at once; the threads end on their own. For
    /// `deinit`, which cannot wait.
    package func stop(after job: @escaping @Sendable () -> Void) {
        _ = queue.stop(last: job, whenEnded: nil)
    }

    /// Gives the calling thread the name `name` (cut to the 15 bytes Linux
    /// keeps), as this executor names its own: for other threads of the
    /// package that wait on its behalf.
    package static func nameCurrentThread(_ name: String) {
        JobQueue.nameCurrentThread(JobQueue.systemName(name))
    }

    /// Queues `job` to run on a thread of this executor; false, without
    /// queuing it, once the executor has stopped.
    func submitJob(_ job: @escaping () -> Void) -> Bool {
        queue.submit(job)
    }

    /// Whether the calling thread is one of this executor's: a job of
    /// ``run(_:ifStopped:)``, or a task that prefers this executor.
    package var isCurrent: Bool { queue.isCurrentThread }

    /// Whether the calling thread is a thread of any `ThreadExecutor`: a
    /// job, or a task that prefers one. Such a thread resumes a suspended
    /// task only once it is free, so a store must not hold anything for
    /// others across a suspension made there.
    package static var isOnExecutorThread: Bool { JobQueue.isOnQueueThread }

    /// How many threads are running now (for tests).
    package var runningThreads: Int { queue.runningThreads }

    /// How many jobs wait for a thread, not counting those running (for
    /// tests).
    package var waitingJobs: Int { queue.waitingJobs }
}

/// Where a job of ``ThreadExecutor/run(_:ifStopped:)`` leaves its result
/// for the caller's continuation: handed to it when it waits already, or
/// kept until it does (the job may end before the caller suspends).
private final class Slot<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, any Error>?
    private var waiter: CheckedContinuation<Value, any Error>?

    /// Called on the executor's thread with the job's result.
    func fill(_ result: Result<Value, any Error>) {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume(with: result)
        } else {
            self.result = result
            lock.unlock()
        }
    }

    /// Resumes `continuation` with the result, now or once the job has run.
    func wait(_ continuation: CheckedContinuation<Value, any Error>) {
        lock.lock()
        if let result {
            lock.unlock()
            continuation.resume(with: result)
        } else {
            waiter = continuation
            lock.unlock()
        }
    }
}

/// The result of ``ThreadExecutor/finish(_:)``'s job, written on the
/// executor's thread before it ends and read after.
private final class Outcome<Value>: @unchecked Sendable {
    var value: Result<Value, any Error>?
}

/// The jobs and threads of one executor, guarded by `condition`. The threads
/// hold it, not the executor, so releasing the executor can stop them.
private final class JobQueue: @unchecked Sendable {
    private let name: String
    private let maxThreads: Int
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var head = 0
    private var isStopped = false
    private var threads = 0
    private var idleThreads = 0
    private var endWaiters: [() -> Void] = []

    init(name: String, maxThreads: Int) {
        self.name = name
        self.maxThreads = maxThreads
    }

    var runningThreads: Int { condition.withLock { threads } }

    /// Whether the calling thread is one of this queue's.
    var isCurrentThread: Bool {
        pthread_getspecific(Self.ownerKey) == Unmanaged.passUnretained(self).toOpaque()
    }

    /// Whether the calling thread is any queue's.
    static var isOnQueueThread: Bool { pthread_getspecific(ownerKey) != nil }

    /// Marks, on each thread of a queue, which queue it serves (a thread-local
    /// value of the process's one key).
    private static let ownerKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "cannot make a thread-local key")
        return key
    }()

    var waitingJobs: Int { condition.withLock { jobs.count - head } }

    /// Queues `job`; false when the queue is stopped.
    func submit(_ job: @escaping () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isStopped else { return false }
        enqueue(job)
        return true
    }

    /// Stops taking jobs, after queuing `last`; `whenEnded` is called once
    /// the queue is empty and no thread runs. False, with nothing queued and
    /// `whenEnded` not kept, when it was already stopped.
    func stop(last: (() -> Void)?, whenEnded: (() -> Void)?) -> Bool {
        condition.lock()
        guard !isStopped else {
            condition.unlock()
            return false
        }
        isStopped = true
        if let last { enqueue(last) }
        if let whenEnded {
            if threads == 0 && head == jobs.count {
                condition.unlock()
                whenEnded()
                return true
            }
            endWaiters.append(whenEnded)
        }
        condition.broadcast()
        condition.unlock()
        return true
    }

    /// Calls `callback` once the stopped queue has no thread left (at once
    /// when it has none).
    func whenEnded(_ callback: @escaping () -> Void) {
        condition.lock()
        if threads == 0 && head == jobs.count {
            condition.unlock()
            callback()
            return
        }
        endWaiters.append(callback)
        condition.unlock()
    }

    /// Called with the lock held.
    private func enqueue(_ job: @escaping () -> Void) {
        jobs.append(job)
        if idleThreads > 0 {
            condition.signal()
        } else if threads < maxThreads {
            threads += 1
            let name = Self.systemName(name)
            let thread = Thread { [self] in
                // Before its first job, so every job runs on a named thread.
                Self.nameCurrentThread(name)
                pthread_setspecific(Self.ownerKey, Unmanaged.passUnretained(self).toOpaque())
                work()
            }
            thread.start()
        }
    }

    /// Gives the calling thread its name.
    ///
    /// The thread names itself: Foundation on Linux names a thread from
    /// outside only once it has started, and the thread, as it starts,
    /// writes back the name it read a moment before (its creator's), so a
    /// name given in between was lost (a third of the threads, in a test on
    /// a two-core machine). Swift on Linux does not see `pthread_setname_np`;
    /// writing `/proc/thread-self/comm` is what it does for the calling
    /// thread. A name that cannot be set is no error: it only helps people
    /// and tools that look at the process.
    fileprivate static func nameCurrentThread(_ name: String) {
        #if os(Linux)
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        _ = close(fd)
        #else
        Thread.current.name = name
        #endif
    }

    /// `name` cut to the 15 bytes Linux keeps of a thread's name (a longer
    /// one is refused), at a character boundary.
    fileprivate static func systemName(_ name: String) -> String {
        var bytes = Array(name.utf8.prefix(15))
        while !bytes.isEmpty, String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// How long a thread that ran out of jobs looks for the next one before
    /// it parks: the next call of a busy store comes within microseconds,
    /// and waking a parked thread costs more.
    private static let lookNanoseconds: UInt64 = 50_000

    /// A thread's life: run jobs until the queue is stopped and empty.
    private func work() {
        var lookUntil: UInt64?
        condition.lock()
        while true {
            if head < jobs.count {
                lookUntil = nil
                let job = jobs[head]
                jobs[head] = {}
                head += 1
                if head == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    head = 0
                }
                condition.unlock()
                job()
                condition.lock()
            } else if isStopped {
                threads -= 1
                var waiters: [() -> Void] = []
                if threads == 0 { swap(&waiters, &endWaiters) }
                condition.unlock()
                for waiter in waiters { waiter() }
                return
            } else if lookUntil.map({ DispatchTime.now().uptimeNanoseconds < $0 }) ?? true {
                if lookUntil == nil { lookUntil = DispatchTime.now().uptimeNanoseconds + Self.lookNanoseconds }
                condition.unlock()
                sched_yield()
                condition.lock()
            } else {
                lookUntil = nil
                idleThreads += 1
                condition.wait()
                idleThreads -= 1
            }
        }
    }
}
