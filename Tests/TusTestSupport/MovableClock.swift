public import Foundation

/// A clock a test moves by hand, for the development server's
/// `Configuration.clock`: an upload expires, or time passes between two
/// requests, without the test sleeping.
public final class MovableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var offset: TimeInterval = 0

    /// A clock that reads the system's time until moved.
    public init() {}

    /// The system's time, moved by what ``move(to:)`` added.
    public var now: Date { lock.withLock { Date().addingTimeInterval(offset) } }

    /// Moves the clock so that it reads `date` now.
    public func move(to date: Date) { lock.withLock { offset = date.timeIntervalSinceNow } }
}
