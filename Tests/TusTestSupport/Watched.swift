/// A value that changes while a test runs (counters, a server's view of its
/// connections) and that a test can wait on without sleeping: every change
/// checks the conditions tasks are waiting for and wakes those that hold.
///
/// ```swift
/// let received = Watched(0)
/// // elsewhere, on any thread: received.update { $0 += count }
/// try await received.waitUntil { $0 >= 1_000 }
/// ```
public final class Watched<Value: Sendable>: Sendable {
    private struct Waiter {
        var condition: @Sendable (Value) -> Bool
        var continuation: CheckedContinuation<Value, any Error>
    }

    private struct State {
        var value: Value
        var waiters: [UInt64: Waiter] = [:]
        /// Waits that timed out or were cancelled before they were
        /// registered: registering them fails at once.
        var abandoned: [UInt64: any Error] = [:]
        var nextID: UInt64 = 0
        var finished: String?
    }

    private let state: Locked<State>
    private let name: String

    /// Watches `value`; `name` says what it is in timeout messages.
    public init(_ value: Value, name: String = "the value") {
        state = Locked(State(value: value))
        self.name = name
    }

    /// The value now.
    public var value: Value { state.withLock { $0.value } }

    /// Changes the value and wakes the waits whose condition now holds.
    /// Returns what `change` returns.
    @discardableResult
    public func update<T>(_ change: (inout Value) -> T) -> T {
        let (result, ready, value) = state.withLock { state -> (T, [Waiter], Value) in
            let result = change(&state.value)
            guard !state.waiters.isEmpty else { return (result, [], state.value) }
            var ready: [Waiter] = []
            for (id, waiter) in state.waiters where waiter.condition(state.value) {
                ready.append(waiter)
                state.waiters[id] = nil
            }
            return (result, ready, state.value)
        }
        for waiter in ready { waiter.continuation.resume(returning: value) }
        return result
    }

    /// Returns the value as soon as `condition` holds for it — at once if it
    /// already does.
    ///
    /// - Throws: ``TestError/timedOut(_:)``, naming the value, after
    ///   `timeout` or once ``finish(_:)`` was called; `CancellationError`
    ///   if the task is cancelled.
    @discardableResult
    public func waitUntil(
        timeout: Duration = .seconds(30), _ condition: @escaping @Sendable (Value) -> Bool
    ) async throws -> Value {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let timer = Task { [self] in
            try await Task.sleep(for: timeout)
            abandon(id, TestError.timedOut("\(name) did not reach the condition in \(timeout); it is \(value)"))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<Value, any Error>? = state.withLock { state in
                    if let error = state.abandoned.removeValue(forKey: id) { return .failure(error) }
                    if condition(state.value) { return .success(state.value) }
                    if let reason = state.finished {
                        return .failure(TestError.timedOut("\(name) will not change any more (\(reason)); it is \(state.value)"))
                    }
                    state.waiters[id] = Waiter(condition: condition, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            abandon(id, CancellationError())
        }
    }

    /// Fails every pending wait, and every later one whose condition does
    /// not already hold: the value will not change again (`reason` says
    /// why, say "the relay shut down").
    public func finish(_ reason: String) {
        let (waiters, value) = state.withLock { state -> ([Waiter], Value) in
            state.finished = reason
            defer { state.waiters = [:] }
            return (Array(state.waiters.values), state.value)
        }
        for waiter in waiters {
            waiter.continuation.resume(
                throwing: TestError.timedOut("\(name) will not change any more (\(reason)); it is \(value)"))
        }
    }

    /// Fails the wait `id` with `error`, or, if it is not registered yet,
    /// makes registering it fail.
    private func abandon(_ id: UInt64, _ error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.abandoned[id] = error
            return nil
        }
        waiter?.continuation.resume(throwing: error)
    }
}
