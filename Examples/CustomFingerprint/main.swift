// A custom fingerprint: the tuspy documentation's SHA-256 example, in Swift.
//
//   swift run custom-fingerprint [FILE] [--endpoint URL] [--store STORE.json]
//
// The fingerprint of a file is the key its upload URL is stored under. Any
// type with one method, `fingerprint(of:)`, is a `Fingerprint`; this one is
// `size:<bytes>--sha256:<hex SHA-256 of the first 64 KiB>`, as in the tuspy
// example. (`TusFingerprints` ships the same one, `SHA256Fingerprint`.)
//
// It uploads FILE (by default a 4 MiB sample file it makes) with a JSON store
// and the custom fingerprint, and prints the key and the upload URL. Without
// --endpoint it starts a development tus server in-process and uses a store
// in a temporary folder; both are gone when it ends.
import Crypto
import Foundation
import TusClient
import TusCore
import TusDevServer
import TusFileStorage

// MARK: The custom fingerprint

/// `size:<bytes>--sha256:<hex>`, hashing the whole of a small file and the
/// first 64 KiB of a large one.
struct SHA256Fingerprint: Fingerprint {
    func fingerprint(of source: inout FingerprintSource) throws -> String {
        let content = try source.read(upToCount: 65_536)
        let digest = SHA256.hash(data: content)
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        return "size:\(source.size)--sha256:\(hex)"
    }
}

// MARK: Using it

/// The command line: `[FILE] [--endpoint URL] [--store PATH]`.
struct Arguments {
    var file: String?
    var endpoint: URL?
    var store: String?

    init(_ words: [String]) throws {
        var words = words[...]
        while let word = words.popFirst() {
            switch word {
            case "--endpoint":
                guard let text = words.popFirst(), let url = URL(string: text), url.scheme != nil else {
                    throw TusError(.invalidArgument, "--endpoint needs a URL, such as http://127.0.0.1:1080/files/")
                }
                endpoint = url
            case "--store":
                guard let path = words.popFirst() else { throw TusError(.invalidArgument, "--store needs a path") }
                store = path
            case _ where word.hasPrefix("-"):
                throw TusError(.invalidArgument, "unknown option \(word); usage: custom-fingerprint [FILE] [--endpoint URL] [--store STORE.json]")
            default:
                file = word
            }
        }
    }
}

/// A sample file of `size` bytes, the same bytes every time.
func makeSampleFile(at path: String, size: Int) throws {
    var state: UInt32 = 2_463_534_242
    var bytes = [UInt8](repeating: 0, count: size)
    for index in bytes.indices {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Runs `body` with the tus endpoint to use: the one given, or that of a
/// development server started for the occasion and shut down afterwards.
func withEndpoint(_ given: URL?, scratch: URL, _ body: (URL) async throws -> Void) async throws {
    if let given { return try await body(given) }
    let configuration = TusDevServer.Configuration(directory: scratch.appendingPathComponent("server"))
    try await TusDevServer.withServer(configuration) { server in
        print("Started a development tus server at \(server.endpoint)")
        try await body(server.endpoint)
    }
}

func run(_ arguments: Arguments, scratch: URL) async throws {
    let file: String
    if let given = arguments.file {
        file = given
    } else {
        file = scratch.appendingPathComponent("sample.bin").path
        try makeSampleFile(at: file, size: 4 << 20)
        print("Made a sample file of 4 MiB: \(file)")
    }
    let storePath = arguments.store
        ?? (arguments.endpoint == nil ? scratch.appendingPathComponent("tus_uploads.json").path : FileStorage.defaultPath)

    try await withEndpoint(arguments.endpoint, scratch: scratch) { endpoint in
        try await withStorage(try FileStorage(path: storePath)) { storage in
            // Use the custom fingerprint.
            let client = TusClient(url: endpoint)
            var options = UploadOptions()
            options.storage = storage
            options.fingerprint = SHA256Fingerprint()
            let uploader = try await client.uploader(forFileAtPath: file, options: options)
            print("Fingerprint of \(file): \(uploader.key ?? "none")")
            print("Uploading \(uploader.size ?? 0) bytes to \(endpoint), keeping the URL under that key in \(storage.path)")
            let url = try await uploader.upload()
            print("Upload URL: \(url.absoluteString)")
        }
    }
}

// Every failure ends in one line on standard error and status 2. Temporary
// files (and the server) are removed either way.
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tus-custom-fingerprint-\(getpid())")
var status: Int32 = 0
do {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    try await run(arguments, scratch: scratch)
} catch let error as TusError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    status = 2
} catch {
    FileHandle.standardError.write(Data("error: \(error.localizedDescription)\n".utf8))
    status = 2
}
try? FileManager.default.removeItem(at: scratch)
exit(status)
