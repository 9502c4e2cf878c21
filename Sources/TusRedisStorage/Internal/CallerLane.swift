import Foundation

/// Who uses a store's session now: one call on its caller's thread (the
/// lane), or the store's thread, never both.
///
/// A call takes the lane only when the store's thread has no job queued or
/// running and no other call holds it, and never waits for it: otherwise it
/// goes to the store's thread, behind the jobs already there, so calls keep
/// their order. A job of the store's thread waits, on that thread, until the
/// lane is let go. The lock is held for a few instructions at a time, never
/// across a system call.
final class CallerLane: @unchecked Sendable {
    private let condition = NSCondition()
    private var held = false
    private var threadJobs = 0
    private var closing = false

    /// Takes the lane; false, at once, when the store's thread has jobs,
    /// another call holds it, or the store is closing.
    func tryTake() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !held, threadJobs == 0, !closing else { return false }
        held = true
        return true
    }

    /// Lets the lane go.
    func release() {
        condition.lock()
        held = false
        if threadJobs > 0 { condition.broadcast() }
        condition.unlock()
    }

    /// A job is about to be handed to the store's thread; no call takes the
    /// lane until it has ended. `closing`: it is the last one, and no call
    /// takes the lane again.
    func jobSubmitted(closing: Bool = false) {
        condition.lock()
        threadJobs += 1
        if closing { self.closing = true }
        condition.unlock()
    }

    /// On the store's thread, as a job starts: waits until no call holds the
    /// lane.
    func jobStarts() {
        condition.lock()
        while held { condition.wait() }
        condition.unlock()
    }

    /// A job has ended, or was refused by a stopped executor.
    func jobEnded() {
        condition.lock()
        threadJobs -= 1
        condition.unlock()
    }
}
