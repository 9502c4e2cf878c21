#if os(Linux)
import CTusHiredis
import Foundation
import TusThreads

/// What a wait of ``ReplyWaiter`` ended with.
enum Readiness: Sendable {
    /// The socket has bytes to read, or its connection ended (a read tells
    /// which).
    case readable
    /// The deadline passed first.
    case timedOut
    /// The waiter could not watch the socket (`epoll` failed with this
    /// `errno`, or the waiter was stopped).
    case unavailable(Int32)
}

/// One thread of a store that waits, with `epoll`, for the replies of
/// commands written on their callers' threads, and resumes each caller when
/// its socket has something to read, or when its deadline has passed.
///
/// A caller that wrote a command and found no reply yet suspends in
/// ``wait(for:until:)``: no thread of Swift concurrency's pool waits on the
/// network. The thread starts on the first wait and ends at ``stop()``.
///
/// The thread never wakes for a new wait: it sleeps until the earliest
/// deadline of the waits it has, and when it has none for one command
/// timeout, so that a later wait's deadline (its own command timeout from
/// then) is never earlier than the thread's sleep. Only a wait with an
/// earlier deadline than that wakes it, through an `eventfd`.
final class ReplyWaiter: Sendable {
    private let core: Core

    /// A waiter whose thread is called `name`, and sleeps at most `idle`
    /// seconds (the store's command timeout) when it has nothing to wait
    /// for.
    init(name: String, idle: TimeInterval) {
        core = Core(name: name, idle: idle)
    }

    deinit {
        core.stop()
    }

    /// Waits until `socket` is readable, for at most `timeout`
    /// nanoseconds; one wait per socket at a time.
    func wait(for socket: Int32, timeout: UInt64) async -> Readiness {
        await withCheckedContinuation { continuation in core.add(socket, timeout, continuation) }
    }

    /// Ends the thread; waits still pending end as ``Readiness/unavailable(_:)``.
    func stop() {
        core.stop()
    }
}

/// The waits, the `epoll` instance and the thread, guarded by `lock`; the
/// thread holds this, not the ``ReplyWaiter``, so releasing the waiter
/// stops it.
private final class Core: @unchecked Sendable {
    private struct Wait {
        var deadline: UInt64
        var continuation: CheckedContinuation<Readiness, Never>
    }

    private let name: String
    private let idleNanoseconds: UInt64
    private let lock = NSLock()
    private var epoll: Int32 = -1
    private var wakeup: Int32 = -1
    private var waits: [Int32: Wait] = [:]
    private var started = false
    private var stopped = false
    /// Until when the thread sleeps in `epoll_wait`, as it computed before
    /// sleeping.
    private var sleepsUntil: UInt64 = 0

    init(name: String, idle: TimeInterval) {
        self.name = name
        self.idleNanoseconds = UInt64(max(0.001, min(idle, 3600)) * 1e9)
    }

    func add(_ socket: Int32, _ timeout: UInt64, _ continuation: CheckedContinuation<Readiness, Never>) {
        lock.lock()
        // Read under the lock: the thread reads the clock under it too
        // before it sleeps, so a deadline one idle time away is never
        // earlier than its sleep, and needs no wake-up.
        let deadline = DispatchTime.now().uptimeNanoseconds + timeout
        if stopped {
            lock.unlock()
            continuation.resume(returning: .unavailable(ECANCELED))
            return
        }
        if !started {
            epoll = tus_epoll_create()
            wakeup = tus_eventfd_create()
            guard epoll >= 0, wakeup >= 0, tus_epoll_watch(epoll, wakeup, 0) == 0 else {
                let number = errno
                if epoll >= 0 { close(epoll) }
                if wakeup >= 0 { close(wakeup) }
                epoll = -1
                wakeup = -1
                lock.unlock()
                continuation.resume(returning: .unavailable(number))
                return
            }
            started = true
            sleepsUntil = DispatchTime.now().uptimeNanoseconds + idleNanoseconds
            let name = name
            let thread = Thread { [self] in
                ThreadExecutor.nameCurrentThread(name)
                run()
            }
            thread.start()
        }
        waits[socket] = Wait(deadline: deadline, continuation: continuation)
        // One-shot: the socket reports once, then stays quiet until the next
        // wait arms it again. A socket not yet in the set (a new connection;
        // closing one takes it out) is added.
        if tus_epoll_watch(epoll, socket, 1) != 0 {
            let number = errno
            waits[socket] = nil
            lock.unlock()
            continuation.resume(returning: .unavailable(number))
            return
        }
        let wake = deadline < sleepsUntil
        lock.unlock()
        if wake { tus_eventfd_signal(wakeup) }
    }

    func stop() {
        lock.lock()
        guard !stopped else {
            lock.unlock()
            return
        }
        stopped = true
        let left = started ? [:] : waits
        if !started { waits = [:] }
        let wakeup = started ? self.wakeup : -1
        lock.unlock()
        for wait in left.values { wait.continuation.resume(returning: .unavailable(ECANCELED)) }
        if wakeup >= 0 { tus_eventfd_signal(wakeup) }
    }

    /// The thread's life: wait, resume the waits whose socket is readable
    /// or whose deadline has passed, until stopped.
    private func run() {
        var ready = [Int32](repeating: -1, count: 16)
        while true {
            lock.lock()
            if stopped {
                let left = waits
                waits = [:]
                close(epoll)
                close(wakeup)
                lock.unlock()
                for wait in left.values { wait.continuation.resume(returning: .unavailable(ECANCELED)) }
                return
            }
            let now = DispatchTime.now().uptimeNanoseconds
            var expired: [CheckedContinuation<Readiness, Never>] = []
            var until = now + idleNanoseconds
            for (socket, wait) in waits {
                if wait.deadline <= now {
                    expired.append(wait.continuation)
                    waits[socket] = nil
                } else {
                    until = min(until, wait.deadline)
                }
            }
            sleepsUntil = until
            lock.unlock()
            for continuation in expired { continuation.resume(returning: .timedOut) }
            if !expired.isEmpty { continue }

            // Rounded up, so that the thread never wakes just before a deadline.
            let milliseconds = Int32(min((until - now + 999_999) / 1_000_000, 60_000))
            let count = tus_epoll_wait(epoll, &ready, Int32(ready.count), milliseconds)
            guard count > 0 else { continue }
            var readable: [CheckedContinuation<Readiness, Never>] = []
            lock.lock()
            for socket in ready.prefix(Int(count)) {
                if socket == wakeup {
                    tus_eventfd_drain(wakeup)
                } else if let wait = waits.removeValue(forKey: socket) {
                    readable.append(wait.continuation)
                }
            }
            lock.unlock()
            for continuation in readable { continuation.resume(returning: .readable) }
        }
    }
}
#endif
