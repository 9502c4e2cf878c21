import Foundation

/// A value guarded by a lock, shared by the fixtures' event loops and the
/// tests' tasks. (`Synchronization.Mutex` needs macOS 15, the package supports
/// macOS 13, and this target does not link NIOConcurrencyHelpers.)
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
