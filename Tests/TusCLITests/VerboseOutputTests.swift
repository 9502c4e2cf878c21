import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// `tus upload -v`, `-vv` and `TUS_LOG_LEVEL`: a line per request, headers as
/// curl shows them, and no secret in any of it.
@Suite struct VerboseOutputTests {
    static let token = "t0ken-Vb7Kx2-SECRET"

    /// Runs `tus upload` of a 3 MiB file in 1 MiB requests with a bearer
    /// token and `arguments`; returns its standard error and how many
    /// requests the server saw.
    private func upload(_ arguments: [String], environment: [String: String?] = [:]) async throws -> (stderr: String, requests: Int) {
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try randomData(3 << 20).write(to: URL(fileURLWithPath: path))
            let run = try runTus(
                ["upload", path, "--endpoint", server.endpoint.absoluteString, "--no-store", "--chunk-size", "1MiB",
                 "--header", "Authorization: Bearer \(Self.token)"] + arguments,
                environment: environment)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(!run.stderr.contains(Self.token) && !run.stdout.contains(Self.token), "the token shows nowhere: \(run.stderr)")
            return (run.stderr, server.requestLog.count)
        }
    }

    private func requestLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.contains(" → ") }
    }

    @Test func verboseShowsOneLinePerRequest() async throws {
        let (stderr, requests) = try await upload(["-v"])
        let lines = requestLines(stderr)
        #expect(lines.count == requests, "\(stderr)")
        #expect(lines.contains { $0.hasPrefix("POST http://127.0.0.1:") && $0.contains("→ 201") }, "\(stderr)")
        #expect(lines.contains { $0.hasPrefix("PATCH ") && $0.contains("→ 204 (1048576 bytes sent") }, "\(stderr)")
        #expect(!stderr.contains("> "), "-v shows no headers: \(stderr)")
    }

    @Test func doubleVerboseShowsHeadersWithSecretsMasked() async throws {
        let (stderr, requests) = try await upload(["-vv"])
        #expect(requestLines(stderr).count == requests, "\(stderr)")
        #expect(stderr.contains("> Authorization: ***"), "\(stderr)")
        #expect(stderr.contains("> Tus-Resumable: 1.0.0"), "\(stderr)")
        #expect(stderr.contains("< Upload-Offset: 3145728"), "\(stderr)")
    }

    @Test func theLogLevelVariableWorksLikeTheFlags() async throws {
        let (debug, requests) = try await upload([], environment: ["TUS_LOG_LEVEL": "debug"])
        #expect(requestLines(debug).count == requests, "\(debug)")
        #expect(!debug.contains("> "), "\(debug)")
        let (trace, _) = try await upload([], environment: ["TUS_LOG_LEVEL": "trace"])
        #expect(trace.contains("> Authorization: ***"), "\(trace)")
        let (quiet, _) = try await upload([])
        #expect(requestLines(quiet).isEmpty, "\(quiet)")
    }
}
