public import Foundation

/// Apple's server of the IETF draft "Resumable Uploads for HTTP"
/// (NIOResumableUpload, from swift-nio-extras), as the package's
/// `nio-resumable-upload-server` process on a free loopback port: the
/// draft's other side for tests that speak it.
///
/// A `POST` or `PUT` to ``uploadURL(_:)`` is an upload, made resumable when
/// it carries `Upload-Draft-Interop-Version: 6` and `Upload-Complete`. Once
/// complete, its bytes are in ``uploadedFile(_:)`` and the answer is
/// `201 Created`; until then they grow in a `.part` file beside it.
///
/// ```swift
/// try await NIOResumableUploadServer.withServer { server in
///     let answer = try await Curl.request(
///         "POST", server.uploadURL("a.txt"),
///         headers: ["Upload-Draft-Interop-Version": "6", "Upload-Complete": "?1"],
///         body: Data("hello".utf8), tus: false)
///     #expect(answer.status == 201)
///     #expect(try Data(contentsOf: server.uploadedFile("a.txt")) == Data("hello".utf8))
/// }
/// ```
///
/// Started with an `origin` (and usually a `port`), it gives that origin in
/// the absolute `Location` of every upload resource instead of its own, so
/// that a relay listening there, in front of `port`, carries every request
/// of an upload and not only the first.
public final class NIOResumableUploadServer: Sendable {
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    /// The origin of every URL it gives: `http://127.0.0.1:<port>`, or the
    /// one it was started with.
    public let origin: URL
    /// The folder the uploads are written to.
    public let uploadFolder: URL

    private let folder: TemporaryFolder
    private let process: ChildProcess

    private init(port: Int, origin: URL?, uploadFolder: URL, folder: TemporaryFolder, process: ChildProcess) {
        self.port = port
        self.origin = origin ?? URL(string: "http://127.0.0.1:\(port)")!
        self.uploadFolder = uploadFolder
        self.folder = folder
        self.process = process
    }

    /// Where to send the upload that will be written as `name` (letters,
    /// digits, `-`, `_` and `.`, not first): `<origin>/uploads/<name>`.
    public func uploadURL(_ name: String) -> URL {
        origin.appendingPathComponent("uploads").appendingPathComponent(name)
    }

    /// The file holding the completed upload `name`.
    public func uploadedFile(_ name: String) -> URL {
        uploadFolder.appendingPathComponent(name)
    }

    /// Starts the server and returns once it listens (it prints its port
    /// when it does). Call ``stop()`` when done;
    /// ``withServer(port:origin:_:)`` does it for you.
    ///
    /// - Parameters:
    ///   - port: the port to listen on; nil for a free one.
    ///   - origin: the origin to give in upload resources' URLs, such as
    ///     that of a relay in front of the server (`http://127.0.0.1:8080`,
    ///     no path); nil for the server's own.
    /// - Throws: ``FixtureError`` with what the server said if it is not
    ///   built or does not start.
    public static func start(port: Int? = nil, origin: URL? = nil) async throws -> NIOResumableUploadServer {
        let executable = TestPaths.builtProduct("nio-resumable-upload-server")
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw FixtureError("\(executable) is not built; run swift build --build-tests")
        }
        let folder = try TemporaryFolder()
        let uploads = folder.url.appendingPathComponent("uploads")
        var arguments = [uploads.path]
        if let port { arguments += ["--port", String(port)] }
        if let origin { arguments += ["--origin", origin.absoluteString] }
        let process = try ChildProcess(executable, arguments, outputPath: folder.newPath("output.log"))
        do {
            try await waitUntil("nio-resumable-upload-server prints its port", timeout: .seconds(30)) {
                firstLine(of: process.output) != nil || !process.isRunning
            }
        } catch {
            await process.stop()
            throw FixtureError("nio-resumable-upload-server did not start in 30 s: \(process.output)")
        }
        guard let line = firstLine(of: process.output), let port = Int(line), process.isRunning else {
            let status = await process.stop()
            throw FixtureError("nio-resumable-upload-server did not start (exit status \(status)): \(process.output)")
        }
        return NIOResumableUploadServer(port: port, origin: origin, uploadFolder: uploads, folder: folder, process: process)
    }

    /// Runs `body` with the server running (started as ``start(port:origin:)``
    /// does), and stops it however `body` ends.
    public static func withServer<T>(
        port: Int? = nil, origin: URL? = nil, _ body: (NIOResumableUploadServer) async throws -> T
    ) async throws -> T {
        try await withStarted(try await start(port: port, origin: origin), stop: { await $0.stop() }, body)
    }

    /// What the server has printed so far: its port, then a line `wrote
    /// NAME (N bytes)` for every upload completed, and its errors.
    public var output: String { process.output }

    /// Stops the server (SIGTERM, then SIGKILL after five seconds).
    public func stop() async {
        await process.stop()
    }

    /// The first line of `text`, once it is whole.
    private static func firstLine(of text: String) -> String? {
        guard let end = text.firstIndex(of: "\n") else { return nil }
        return String(text[..<end])
    }
}
