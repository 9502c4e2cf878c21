public import Foundation

/// aiohttp-tus (PyPI), a tus server with the creation extension but not
/// creation-with-upload: it ignores the body of a POST and answers without
/// `Upload-Offset`, as a server without that extension does.
///
/// It runs as a child of the test on a free loopback port, with
/// `Tests/Servers/aiohttp_tus_app.py` and the virtual environment's Python
/// (``TestPaths/python``), and keeps uploads in a temporary folder. A
/// finished upload is stored under its `filename` metadata.
///
/// ```swift
/// try await AiohttpTus.withServer { server in
///     let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path).upload()
///     #expect(server.finishedFile(named: "a.bin") == data)
/// }
/// ```
public final class AiohttpTus: Sendable {
    /// The creation endpoint, `http://127.0.0.1:<port>/uploads`.
    public let endpoint: URL
    /// The folder finished uploads are kept in.
    public let folder: URL

    private let temporary: TemporaryFolder
    private let process: ChildProcess

    private init(port: Int, temporary: TemporaryFolder, process: ChildProcess) {
        endpoint = URL(string: "http://127.0.0.1:\(port)/uploads")!
        folder = temporary.url.appendingPathComponent("uploads")
        self.temporary = temporary
        self.process = process
    }

    /// Starts the server and returns once it accepts connections. Call
    /// ``stop()`` when done; ``withServer(_:)`` does it for you.
    ///
    /// - Throws: ``FixtureError`` with the server's own output if it does
    ///   not start (for example, when `.venv` lacks aiohttp-tus: run
    ///   `scripts/setup --test`).
    public static func start() async throws -> AiohttpTus {
        let temporary = try TemporaryFolder()
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/Servers/aiohttp_tus_app.py").path
        let uploads = temporary.url.appendingPathComponent("uploads").path
        let (process, port) = try await ForegroundServer.start(
            "aiohttp-tus",
            launch: { port in
                try ChildProcess(TestPaths.python, [script, String(port), uploads], outputPath: "\(temporary.path)/output.log")
            },
            diagnostics: { "" }
        )
        return AiohttpTus(port: port, temporary: temporary, process: process)
    }

    /// Runs `body` with the server running, and stops it however `body` ends.
    public static func withServer<T>(_ body: (AiohttpTus) async throws -> T) async throws -> T {
        try await withStarted(try await start(), stop: { await $0.stop() }, body)
    }

    /// The bytes of the finished upload whose `filename` metadata is `name`,
    /// or nil when there is none.
    public func finishedFile(named name: String) -> Data? {
        try? Data(contentsOf: folder.appendingPathComponent(name))
    }

    /// Stops the server (SIGTERM, then SIGKILL after five seconds).
    public func stop() async {
        await process.stop()
    }
}
