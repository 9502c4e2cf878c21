/// Waits until `condition` holds, checking it every few milliseconds, for
/// at most `timeout`: the one way the async tests wait for a state they can
/// only observe (a file's size, a server's log, a key's expiry), never a
/// fixed sleep.
///
/// - Throws: ``TestError/timedOut(_:)`` naming `what` when it never held.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestError.timedOut(what) }
        try await Task.sleep(for: .milliseconds(5))
    }
}
