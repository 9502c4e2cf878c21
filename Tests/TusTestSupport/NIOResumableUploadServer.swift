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
public final class NIOResumableUploadServer: Sendable {
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    /// `http://127.0.0.1:<port>`, the origin of every URL it gives.
    public let origin: URL
    /// The folder the uploads are written to.
    public let uploadFolder: URL

    private let folder: TemporaryFolder
    private let process: ChildProcess

    private init(port: Int, uploadFolder: URL, folder: TemporaryFolder, process: ChildProcess) {
        self.port = port
        self.origin = URL(string: "http://127.0.0.1:\(port)")!
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
    /// ``withServer(_:)`` does it for you.
    ///
    /// - Throws: ``FixtureError`` with what the server said if it is not
    ///   built or does not start.
    public static func start() async throws -> NIOResumableUploadServer {
        let executable = TestPaths.builtProduct("nio-resumable-upload-server")
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw FixtureError("\(executable) is not built; run swift build --build-tests")
        }
        let folder = try TemporaryFolder()
        let uploads = folder.url.appendingPathComponent("uploads")
        let process = try ChildProcess(executable, [uploads.path], outputPath: folder.newPath("output.log"))
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
        return NIOResumableUploadServer(port: port, uploadFolder: uploads, folder: folder, process: process)
    }

    /// Runs `body` with the server running, and stops it however `body`
    /// ends.
    public static func withServer<T>(_ body: (NIOResumableUploadServer) async throws -> T) async throws -> T {
        try await withStarted(try await start(), stop: { await $0.stop() }, body)
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
