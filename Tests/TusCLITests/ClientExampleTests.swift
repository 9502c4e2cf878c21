import Foundation
import Testing
import TusFingerprints
import TusTestSupport

/// The upload examples do what their doc comments say, run as a user runs
/// them: each starts its own development server unless given `--endpoint`.
@Suite struct ClientExampleTests {
    private func example(_ name: String) -> String {
        (TestPaths.tusBinary as NSString).deletingLastPathComponent + "/" + name
    }

    /// A file of `size` bytes no other test uploads.
    private func uniqueFile(in folder: TemporaryFolder, size: Int) throws -> String {
        let path = folder.newPath("file.bin")
        var generator = SystemRandomNumberGenerator()
        try Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The text after `prefix` on the first line of `output` that starts with it.
    private func value(after prefix: String, in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    private let uploadURL = #/http://127\.0\.0\.1:\d+/files/[0-9a-f]{32}/#

    // MARK: basic-upload

    @Test func basicUploadUploadsTheSampleFileAndPrintsItsURL() throws {
        let result = try runProcess(example("basic-upload"), [])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.contains("  4194304 of 4194304 bytes (100%)\n"))
        #expect(result.stdout.contains("Upload completed successfully\n"))
        let url = try #require(value(after: "Upload URL: ", in: result.stdout))
        #expect(url.wholeMatch(of: uploadURL) != nil, "\(url)")
    }

    @Test func basicUploadStopsOnCtrlCAndSaysItCanResume() throws {
        let folder = try TemporaryFolder()
        let file = try uniqueFile(in: folder, size: 10_000)
        // A server that accepts the connection and never answers: the upload
        // is still running when Ctrl-C comes.
        let silent = try LocalPort(listening: true)
        let output = folder.newPath("stdout"), errors = folder.newPath("stderr")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: example("basic-upload"))
        process.arguments = [file, "--endpoint", "http://127.0.0.1:\(silent.port)/files/", "--store", folder.newPath("store.json")]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        process.standardInput = FileHandle.nullDevice
        let exited = ExitSignal(process)
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }

        #expect(silent.waitForClient(seconds: 60), "basic-upload never connected")
        kill(process.processIdentifier, SIGINT)
        try #require(exited.wait(timeout: 30), "basic-upload did not stop on SIGINT")
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let stdout = try String(contentsOfFile: output, encoding: .utf8)
        #expect(stdout.hasSuffix("Upload interrupted - can be resumed later\n"), "\(stdout)")
        #expect(!stdout.contains("Upload URL"))
    }

    @Test func basicUploadReportsAMissingFile() throws {
        let result = try runProcess(example("basic-upload"), ["/nonexistent/file.bin"])
        #expect(result.status == 2)
        #expect(result.stderr == "error: cannot open /nonexistent/file.bin: No such file or directory\n")
    }

    // MARK: resume-upload

    @Test func resumeUploadInterruptsThenResumesTheSameUpload() throws {
        let result = try runProcess(example("resume-upload"), [])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let interrupted = try #require(value(after: "Upload interrupted - can be resumed later: ", in: result.stdout))
        let offset = try #require(value(after: "Resuming upload from offset ", in: result.stdout).flatMap { Int($0) })
        #expect(offset > 0 && offset < 4 << 20)
        #expect(offset == 1 << 20, "the first chunk is 1 MiB")
        #expect(result.stdout.contains("\nAlready uploaded: 25.0%\n"))
        #expect(result.stdout.contains("\nUpload completed\n"))
        // The upload that goes on is the one interrupted, and ends whole.
        let url = try #require(value(after: "Upload URL: ", in: result.stdout))
        #expect(url.wholeMatch(of: uploadURL) != nil, "\(url)")
        #expect(interrupted == "\(url) holds \(offset) bytes")
        #expect(result.stdout.contains("The server holds the same 4194304 bytes as "))
    }

    @Test func resumeUploadResumesAGivenFile() throws {
        let folder = try TemporaryFolder()
        let file = try uniqueFile(in: folder, size: (3 << 20) + 5)
        let result = try runProcess(example("resume-upload"), [file])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Resuming upload from offset 1048576\nAlready uploaded: 33.3%\n"))
        #expect(result.stdout.contains("The server holds the same 3145733 bytes as \(file)\n"))
    }

    // MARK: custom-fingerprint

    @Test func customFingerprintUsesTheSHA256Key() throws {
        let result = try runProcess(example("custom-fingerprint"), [])
        #expect(result.status == 0, "\(result.stderr)")
        let fingerprint = try #require(value(after: "Fingerprint of ", in: result.stdout))
        #expect(fingerprint.contains(#/sample\.bin: size:4194304--sha256:[0-9a-f]{64}$/#), "\(fingerprint)")
        let url = try #require(value(after: "Upload URL: ", in: result.stdout))
        #expect(url.wholeMatch(of: uploadURL) != nil, "\(url)")
    }

    @Test func customFingerprintMatchesTheLibrarysSHA256Fingerprint() throws {
        let folder = try TemporaryFolder()
        let file = try uniqueFile(in: folder, size: 100_000)
        let expected = try SHA256Fingerprint().fingerprint(ofFileAtPath: file)
        let result = try runProcess(example("custom-fingerprint"), [file])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Fingerprint of \(file): \(expected)\n"))
        #expect(value(after: "Upload URL: ", in: result.stdout)?.wholeMatch(of: uploadURL) != nil)
    }

    // MARK: custom-storage

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"] != nil, "needs TUS_TEST_REDIS_URL"))
    func customStorageKeepsTheURLInRedis() throws {
        let redis = try #require(ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"])
        let folder = try TemporaryFolder()
        let file = try uniqueFile(in: folder, size: 200_000)
        let key = try MD5Fingerprint().fingerprint(ofFileAtPath: file)
        let result = try runProcess(example("custom-storage"), [file, "--redis", redis])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Connected to redis://"))
        let url = try #require(value(after: "Upload URL: ", in: result.stdout))
        #expect(url.wholeMatch(of: uploadURL) != nil, "\(url)")
        // Stored under the seed's `tuspy:` prefix, read back from Redis, removed.
        #expect(result.stdout.contains("Redis holds tuspy:\(key) = \(url)\n"))
        #expect(result.stdout.contains("Removed tuspy:\(key); Redis now holds nothing there\n"))
    }

    @Test func customStorageReportsARedisThatIsNotThere() throws {
        let closed = try LocalPort(listening: false)
        let result = try runProcess(example("custom-storage"), ["--redis", "redis://127.0.0.1:\(closed.port)"])
        #expect(result.status == 2)
        #expect(result.stderr == "error: cannot connect to redis://127.0.0.1:\(closed.port): Connection refused\n")
        #expect(!result.stdout.contains("Upload URL"))
    }

    // MARK: against a server of the IETF draft

    /// The upload examples run unchanged against a server that speaks the
    /// IETF draft only (Apple's NIOResumableUpload), given its URL with
    /// `--endpoint`: the server ends with the file's bytes.
    @Test(arguments: ["basic-upload", "resume-upload", "custom-fingerprint", "custom-storage"])
    func theUploadExamplesRunUnchangedAgainstADraftServer(_ name: String) async throws {
        let redis = name == "custom-storage" ? try RedisServerProcess() : nil
        defer { redis?.stop() }
        try await NIOResumableUploadServer.withServer { server in
            let folder = try TemporaryFolder()
            let file = try uniqueFile(in: folder, size: 3_000_000)
            var arguments = [file, "--endpoint", server.uploadURL(name).absoluteString]
            if let redis {
                arguments += ["--redis", "redis://127.0.0.1:\(redis.port)"]
            } else {
                arguments += ["--store", folder.newPath("store.json")]
            }
            let result = try runProcess(example(name), arguments)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let url = try #require(value(after: "Upload URL: ", in: result.stdout), "\(result.stdout)")
            #expect(url.hasPrefix(server.origin.absoluteString + "/resumable_upload/"), "\(url)")
            #expect(try Data(contentsOf: server.uploadedFile(name)) == Data(contentsOf: URL(fileURLWithPath: file)))
        }
    }
}

/// A TCP port on 127.0.0.1 held for the test: listening (connections wait in
/// the kernel's queue and are never answered) or not (connections are refused).
private final class LocalPort {
    let port: Int
    private let descriptor: Int32

    init(listening: Bool) throws {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard descriptor >= 0, bound, !listening || listen(descriptor, 8) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw TestError.missing("cannot hold a local port: \(reason)")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until a client has connected, at most `seconds`.
    func waitForClient(seconds: Double) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(seconds * 1000)) == 1
    }

    deinit { close(descriptor) }
}
