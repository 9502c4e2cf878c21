/// Waits until `condition` holds, checking it every few milliseconds, for
/// at most `timeout`: the one way the tests wait for a state they can only
/// observe (a file's size, a server's log), never a fixed sleep.
///
/// - Throws: ``TestError/timedOut(_:)`` naming `what` when it never held.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw TestError.timedOut(what) }
        try await Task.sleep(for: .milliseconds(5))
    }
}
