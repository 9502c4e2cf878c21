import Foundation

/// Starting a server program (nginx, tinyproxy) that the fixture runs as its
/// own child in the foreground (a ``ChildProcess``), so that it never
/// outlives the test: no daemon, no pid file to chase.
enum ForegroundServer {
    /// Starts a program on a free loopback port and returns once the port
    /// accepts connections.
    ///
    /// `launch` writes the program's configuration for the port it is given
    /// and starts it; `diagnostics` returns what the program said (its
    /// error log), for the error message. A port is free only until someone
    /// binds it, so a program that exits before listening is started again
    /// on a new port, a few times.
    static func start(
        _ name: String,
        launch: (_ port: Int) throws -> ChildProcess,
        diagnostics: () -> String
    ) async throws -> (process: ChildProcess, port: Int) {
        var failures: [String] = []
        for _ in 0..<4 {
            let port = try Loopback.freePort()
            let process = try launch(port)
            if try await Loopback.waitUntilListening(port: port, hasExited: { !process.isRunning }), process.isRunning {
                return (process, port)
            }
            let status = await process.stop()
            failures.append(
                "on port \(port) (exit status \(status)): \(process.output) \(diagnostics())"
                    .trimmingCharacters(in: .whitespacesAndNewlines))
            // Only a port taken in the meantime is worth another try.
            guard failures.last?.contains("in use") == true else { break }
        }
        throw FixtureError("\(name) did not start: " + failures.joined(separator: "; "))
    }
}
