/// Runs `body` with a fixture that is already started, and stops it however
/// `body` ends: the shape of every `withNginx`, `withRelay`, `withTinyproxy`
/// and `withServer` of the test support.
func withStarted<Fixture, T>(
    _ fixture: Fixture, stop: (Fixture) async -> Void, _ body: (Fixture) async throws -> T
) async throws -> T {
    do {
        let result = try await body(fixture)
        await stop(fixture)
        return result
    } catch {
        await stop(fixture)
        throw error
    }
}
