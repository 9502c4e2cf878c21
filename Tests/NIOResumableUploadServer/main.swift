// `nio-resumable-upload-server`: Apple's server side of the IETF draft
// "Resumable Uploads for HTTP" (NIOResumableUpload, from swift-nio-extras)
// as a small file-writing server, for the tests to speak the draft to.
//
//     nio-resumable-upload-server UPLOAD_FOLDER [--port PORT] [--origin ORIGIN]
//
// It listens on a free port of 127.0.0.1 (on PORT with --port) and, once it
// accepts connections, prints the port as one line on standard output.
// NIOResumableUpload gives each upload resource an absolute URL made of an
// origin it is told at start: http://127.0.0.1:PORT, its own, or ORIGIN
// (such as http://127.0.0.1:8080, no path) with --origin, so that a relay or
// proxy in front of it receives every request of an upload, not only the
// first: start the relay toward a free port, then the server with --port
// that port and --origin the relay's. A POST or PUT to
// /uploads/NAME is an upload (made resumable by NIOResumableUpload when the
// request carries Upload-Draft-Interop-Version and Upload-Complete); its
// bytes go to UPLOAD_FOLDER/NAME.part, renamed UPLOAD_FOLDER/NAME once the
// upload is complete, and the answer is 201 Created. It then prints
// `wrote NAME (N bytes)`. It runs until it is killed.
//
// Test support, not a product; see Docs/IETFDraft.md for what
// NIOResumableUpload does on the wire.
import Foundation
import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOPosix
import NIOResumableUpload

/// Writes `line` to standard output at once (it is a file, not a terminal,
/// when a test runs the server).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("nio-resumable-upload-server: \(message)\n".utf8))
    exit(2)
}

/// One upload's file, written on a serial queue of its own so that the
/// event loop never waits for the disk. Touched only on that queue.
final class UploadFile: @unchecked Sendable {
    private let queue = DispatchQueue(label: "nio-resumable-upload-server.file")
    private let partPath: String
    private let finalPath: String
    private var handle: FileHandle?
    private var failure: String?
    private var written: Int64 = 0

    /// Creates `folder/name.part`, empty.
    init(folder: URL, name: String) {
        partPath = folder.appendingPathComponent(name + ".part").path
        finalPath = folder.appendingPathComponent(name).path
        queue.async { [self] in
            guard FileManager.default.createFile(atPath: partPath, contents: nil),
                let handle = FileHandle(forWritingAtPath: partPath)
            else {
                failure = "cannot create \(partPath)"
                return
            }
            self.handle = handle
        }
    }

    /// Appends `bytes`.
    func write(_ bytes: ByteBuffer) {
        queue.async { [self] in
            guard failure == nil, let handle else { return }
            do {
                try bytes.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
                written += Int64(bytes.readableBytes)
            } catch {
                failure = "cannot write \(partPath): \(error.localizedDescription)"
            }
        }
    }

    /// Closes the file and gives it its final name; `done` gets the number
    /// of bytes written, or what went wrong.
    func finish(_ done: EventLoopPromise<Int64>) {
        queue.async { [self] in
            do {
                if let failure { throw Failure(failure) }
                try handle?.close()
                handle = nil
                if FileManager.default.fileExists(atPath: finalPath) {
                    try FileManager.default.removeItem(atPath: finalPath)
                }
                try FileManager.default.moveItem(atPath: partPath, toPath: finalPath)
                done.succeed(written)
            } catch {
                done.fail(error)
            }
        }
    }

    /// Closes the file and removes it: the upload will not be completed.
    func discard() {
        queue.async { [self] in
            try? handle?.close()
            handle = nil
            try? FileManager.default.removeItem(atPath: partPath)
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The application behind NIOResumableUpload: it sees each upload as one
/// plain request, however many requests the client sent it in. One
/// instance per upload (NIOResumableUpload makes a child channel for each).
final class UploadWriter: ChannelInboundHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private let folder: URL
    private var file: UploadFile?
    private var name = ""
    /// The request was answered at its head; its body is ignored.
    private var refused = false

    init(folder: URL) {
        self.folder = folder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            guard request.method == .post || request.method == .put else {
                var headers = HTTPFields()
                headers[.allow] = "POST, PUT"
                return refuse(context, request.method == .options ? .noContent : .methodNotAllowed, headers)
            }
            guard let name = Self.uploadName(request.path) else {
                return refuse(context, .notFound, HTTPFields(), "uploads go to /uploads/NAME\n")
            }
            self.name = name
            file = UploadFile(folder: folder, name: name)
        case .body(let bytes):
            file?.write(bytes)
        case .end:
            guard !refused, let file else { return }
            self.file = nil
            let done = context.eventLoop.makePromise(of: Int64.self)
            file.finish(done)
            done.futureResult.assumeIsolated().whenComplete { [name] result in
                switch result {
                case .success(let count):
                    say("wrote \(name) (\(count) bytes)")
                    self.respond(context, .created, HTTPFields())
                case .failure(let error):
                    FileHandle.standardError.write(Data("nio-resumable-upload-server: \(error)\n".utf8))
                    self.respond(context, .internalServerError, HTTPFields(), "\(error)\n")
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The upload ended without its last byte (cancelled, timed out).
        file?.discard()
        file = nil
        context.fireChannelInactive()
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ headers: HTTPFields, _ text: String = "") {
        refused = true
        respond(context, status, headers, text)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ headers: HTTPFields, _ text: String = "") {
        var response = HTTPResponse(status: status, headerFields: headers)
        response.headerFields[.contentLength] = String(text.utf8.count)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if !text.isEmpty {
            context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: text))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// `NAME` of a path `/uploads/NAME`, if it is a plain file name.
    static func uploadName(_ path: String?) -> String? {
        guard let path, path.hasPrefix("/uploads/") else { return nil }
        let name = String(path.dropFirst("/uploads/".count))
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
        }
        guard allowed, !name.isEmpty, !name.hasPrefix("."), !name.hasSuffix(".part") else { return nil }
        return name
    }
}

/// Listens on 127.0.0.1 (on `port`, or a free port when nil), prints the
/// port, and serves until killed; the upload resources' URLs start with
/// `origin`, or with the server's own origin when nil.
func serve(folder: URL, port requestedPort: Int?, origin: String?) -> Never {
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
        fail("cannot create \(folder.path): \(error.localizedDescription)")
    }
    // The context holds the uploads, and gives the upload resources' URLs
    // as its origin followed by a path, so it needs the port, known only
    // once bound: connections are taken once it is set, and refused before.
    let uploadContext = NIOLockedValueBox<HTTPResumableUploadContext?>(nil)
    let server: any Channel
    do {
        server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let context = uploadContext.withLockedValue({ $0 }) else {
                        throw Failure("not ready")
                    }
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline()
                    try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                    // A new writer for every upload: the handler's other
                    // initializer, `handlers:`, adds the same instances to
                    // the channel of every upload on a connection.
                    try pipeline.addHandler(
                        HTTPResumableUploadHandler(context: context) { uploadChannel in
                            try? uploadChannel.pipeline.syncOperations.addHandler(UploadWriter(folder: folder))
                        })
                }
            }
            .bind(host: "127.0.0.1", port: requestedPort ?? 0)
            .wait()
    } catch {
        fail("cannot listen on 127.0.0.1:\(requestedPort ?? 0): \(error)")
    }
    guard let port = server.localAddress?.port else { fail("the server has no port") }
    uploadContext.withLockedValue {
        $0 = HTTPResumableUploadContext(origin: origin ?? "http://127.0.0.1:\(port)")
    }
    say(String(port))
    do {
        try server.closeFuture.wait()
    } catch {
        fail("the server stopped: \(error)")
    }
    exit(0)
}

/// `ORIGIN` of `--origin ORIGIN` if it is an origin: `http` or `https`,
/// a host, an optional port, and no path, query or fragment.
func parseOrigin(_ text: String) -> String? {
    guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
        scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty,
        url.path.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
    else { return nil }
    return text
}

let usage = "usage: nio-resumable-upload-server UPLOAD_FOLDER [--port PORT] [--origin ORIGIN]"
var arguments = CommandLine.arguments.dropFirst()
var folderPath: String?
var port: Int?
var origin: String?
while let argument = arguments.popFirst() {
    switch argument {
    case "--port", "--origin":
        guard let value = arguments.popFirst() else { fail("\(argument) needs a value; \(usage)") }
        if argument == "--port" {
            guard let number = Int(value), (1...65535).contains(number) else {
                fail("--port \(value) is not a port number (1 to 65535)")
            }
            port = number
        } else {
            guard let parsed = parseOrigin(value) else {
                fail("--origin \(value) is not an origin such as http://127.0.0.1:8080 (a scheme, a host, a port, no path)")
            }
            origin = parsed
        }
    default:
        guard folderPath == nil, !argument.hasPrefix("-") else { fail(usage) }
        folderPath = argument
    }
}
guard let folderPath else { fail(usage) }
serve(folder: URL(fileURLWithPath: folderPath, isDirectory: true), port: port, origin: origin)
