import Foundation

/// A cancellation that may come before the task it cancels exists.
final class PendingCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelTask: (@Sendable () -> Void)?
    private var requested = false

    /// Sets what cancelling does; runs it at once if it was already asked for.
    func attach(_ cancel: @escaping @Sendable () -> Void) {
        let now = lock.withLock { () -> Bool in
            cancelTask = cancel
            return requested
        }
        if now { cancel() }
    }

    /// Asks for cancellation.
    func cancel() {
        let action = lock.withLock { () -> (@Sendable () -> Void)? in
            requested = true
            return cancelTask
        }
        action?()
    }
}

/// Turns SIGINT and SIGTERM into a call of `handler`, once.
final class Interruption: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []
    private var received: Int32?

    /// The signal that arrived, if one did.
    var signal: Int32? { lock.withLock { received } }

    init(_ handler: @escaping @Sendable () -> Void) {
        // A parent may have started us with these signals blocked.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in [SIGINT, SIGTERM] {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                self?.lock.withLock { if self?.received == nil { self?.received = number } }
                handler()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Restores the default handling of both signals.
    func stop() {
        lock.withLock {
            for source in sources { source.cancel() }
            sources = []
        }
        Foundation.signal(SIGINT, SIG_DFL)
        Foundation.signal(SIGTERM, SIG_DFL)
    }
}
