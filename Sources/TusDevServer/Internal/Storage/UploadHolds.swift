import Foundation

/// Which requests hold which uploads, how to ask a holder to stop, and who
/// waits for a hold to end.
///
/// A request that writes a body into an upload, or copies parts into a
/// final upload, holds them so no other request changes them meanwhile. A
/// newer request for a held upload does not give up at once, as tusd does
/// not: it asks the holder to stop (``askToLetGo(_:wake:)``) and waits to be
/// woken when the hold ends. A body being written can be stopped (it ends
/// where it is and lets go); a join cannot, and lets go when it is done.
///
/// A value with no lock and no thread of its own: ``UploadStore`` keeps it
/// under its lock, and calls the functions its methods return once that
/// lock is released, so none of them runs under it.
struct UploadHolds {
    /// A function another request gives, to be called once: to stop a
    /// holder, or to wake a request waiting for a hold to end.
    typealias Callback = @Sendable () -> Void

    /// What a hold is for.
    enum Purpose: Sendable {
        /// A request's body is written into the upload. It can be stopped,
        /// once it says how (``onStopRequest(_:_:)``).
        case writing
        /// The upload is a part being copied into a final upload. It cannot
        /// be stopped, and the copy does not change it.
        case joining
    }

    /// What ``askToLetGo(_:wake:)`` found.
    enum Request {
        /// Nobody holds the upload: there is nothing to wait for, and `wake`
        /// will not be called.
        case notHeld
        /// `wake` will be called when the hold ends. `stop`, if set, is the
        /// holder's way to be stopped, to call now; `nil` when it was asked
        /// before, or has not said yet how to stop it (it is asked as soon as
        /// it does), or is a join.
        case waiting(stop: Callback?)
    }

    private struct Hold {
        var purpose: Purpose
        /// How to stop the holder, once it said.
        var stop: Callback?
        /// Whether another request asked the holder to stop.
        var stopAsked = false
        /// The requests to wake when the hold ends.
        var waiters: [Callback] = []
    }

    private var holds: [String: Hold] = [:]

    /// Whether a request holds `id` (for `purpose`, if given).
    func isHeld(_ id: String, for purpose: Purpose? = nil) -> Bool {
        guard let hold = holds[id] else { return false }
        return purpose.map { $0 == hold.purpose } ?? true
    }

    /// Holds `id` for `purpose`. `false` if it is held already.
    mutating func take(_ id: String, for purpose: Purpose) -> Bool {
        guard holds[id] == nil else { return false }
        holds[id] = Hold(purpose: purpose)
        return true
    }

    /// Ends the hold on `id`, and returns the functions that wake the
    /// requests waiting for it, to call.
    mutating func release(_ id: String) -> [Callback] {
        holds.removeValue(forKey: id)?.waiters ?? []
    }

    /// A newer request wants `id`: asks its holder to stop, and has `wake`
    /// called when the hold ends. A waiter that stops waiting (its time is
    /// up, its connection closed) is still woken, and ignores it.
    mutating func askToLetGo(_ id: String, wake: @escaping Callback) -> Request {
        guard var hold = holds[id] else { return .notHeld }
        hold.waiters.append(wake)
        let firstAsk = !hold.stopAsked
        hold.stopAsked = true
        holds[id] = hold
        return .waiting(stop: firstAsk ? hold.stop : nil)
    }

    /// The holder of `id`, writing to it, says how to stop it. Returns
    /// `stop` when it was asked to already, to call now. Only the holder
    /// calls this, while it holds `id`.
    mutating func onStopRequest(_ id: String, _ stop: @escaping Callback) -> Callback? {
        guard var hold = holds[id], hold.purpose == .writing, hold.stop == nil else { return nil }
        hold.stop = stop
        holds[id] = hold
        return hold.stopAsked ? stop : nil
    }
}
