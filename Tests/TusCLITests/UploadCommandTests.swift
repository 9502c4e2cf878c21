import Foundation
import Testing
import TusCore
import TusDevServer
import TusFileStorage
import TusFingerprints
import TusTestSupport

private func randomFile(_ size: Int, in folder: TemporaryFolder, name: String = "upload.bin") throws -> (String, Data) {
    let path = folder.newPath(name)
    let data = randomData(size)
    try data.write(to: URL(fileURLWithPath: path))
    return (path, data)
}

/// The server's offset for the upload the store at `spec` points to, or 0.
private func storedOffset(_ server: TusDevServer, store spec: String) throws -> Int64 {
    let line = try runTus(["store", "list", "--store", spec]).stdout.split(separator: "\n").first
    guard let url = line?.split(separator: "\t").last.flatMap({ URL(string: String($0)) }) else { return 0 }
    return server.uploadInfo(for: url)?.offset ?? 0
}

@Suite struct UploadCommandTests {
    @Test func uploadsAndPrintsTheURLLast() async throws {
        try await withDevServer { server, folder in
            let (path, data) = try randomFile(300_000, in: folder, name: "photo.png")
            let store = "json:" + folder.newPath("store.json")
            let result = try runTus(["upload", path, "--endpoint", server.endpoint.absoluteString, "--store", store, "--chunk-size", "100KiB"])
            #expect(result.status == 0, "\(result.stderr)")
            let lastLine = try #require(result.stdout.split(separator: "\n").last.map(String.init))
            let url = try #require(URL(string: lastLine))
            #expect(server.uploadedData(for: url) == data)
            let info = try #require(server.uploadInfo(for: url))
            #expect(info.metadata["filename"] == (path as NSString).lastPathComponent)
            #expect(info.metadata["filetype"] == "image/png")
            // Removed from the store after success.
            #expect(try runTus(["store", "list", "--store", store]).stdout.isEmpty)
        }
    }

    @Test func metadataHeadersChecksumAndKeepURL() async throws {
        try await withDevServer { server, folder in
            let (path, data) = try randomFile(50_000, in: folder)
            let store = "json:" + folder.newPath("store.json")
            let result = try runTus([
                "upload", path, "--endpoint", server.endpoint.absoluteString, "--store", store,
                "--metadata", "filename=renamed.bin", "--metadata", "owner=ops team", "--header", "X-Trace: 42",
                "--checksum", "sha256", "--keep-url", "--fingerprint", "sha256",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let url = try #require(URL(string: result.output))
            #expect(server.uploadedData(for: url) == data)
            var metadata = try #require(server.uploadInfo(for: url)?.metadata)
            // The file check beside the user's metadata: the size, and a hash
            // of the file's end.
            #expect(metadata.removeValue(forKey: "swift-tus-file-check")?.hasPrefix("50000 sha256:") == true)
            #expect(metadata == ["filename": "renamed.bin", "filetype": "application/octet-stream", "owner": "ops team"])
            let key = try SHA256Fingerprint().fingerprint(ofFileAtPath: path)
            #expect(try runTus(["store", "get", key, "--store", store]).output == url.absoluteString)
        }
    }

    @Test func noStoreKeepsNothing() async throws {
        try await withDevServer { server, folder in
            let (path, _) = try randomFile(1000, in: folder)
            let state = folder.newPath("state")
            let result = try runTus(["upload", path, "--endpoint", server.endpoint.absoluteString, "--no-store"],
                                    environment: ["XDG_STATE_HOME": state, "TUS_STORE": nil])
            #expect(result.status == 0)
            #expect(!FileManager.default.fileExists(atPath: state))
        }
    }

    /// `tus upload` killed with SIGKILL mid-upload, then run again, resumes
    /// from an offset above 0 and the server's file is byte-identical.
    @Test func resumesAfterBeingKilled() async throws {
        try await withDevServer { server, folder in
            let (path, data) = try randomFile(2_000_000, in: folder)
            let store = "json:" + folder.newPath("store.json")
            let arguments = ["upload", path, "--endpoint", server.endpoint.absoluteString, "--store", store, "--chunk-size", "256KiB"]
            // The creation carries the first chunk; the first PATCH is held, so
            // the kill lands mid-upload.
            server.inject(.stall(seconds: 5, method: "PATCH"))
            let first = try BackgroundProcess(tus: arguments)
            try await waitUntil("the upload's first PATCH is held") { server.pendingFaults.isEmpty }
            first.send(SIGKILL)
            #expect(first.waitForExit() == 128 + SIGKILL)
            let offset = try storedOffset(server, store: store)
            #expect(offset == 256 * 1024)

            let second = try runTus(arguments)
            #expect(second.status == 0, "\(second.stderr)")
            let url = try #require(URL(string: second.output))
            #expect(second.stderr.contains("resuming \(url.absoluteString) from offset \(offset)"))
            #expect(server.uploadedData(for: url) == data)
        }
    }

    /// A stored URL that holds a password (written by another tool, say)
    /// resumes, and the line that says so masks the password.
    @Test func theResumingLineMasksAPasswordInTheStoredURL() async throws {
        try await withDevServer { server, folder in
            let (path, data) = try randomFile(1_000_000, in: folder)
            let store = "json:" + folder.newPath("store.json")
            let arguments = ["upload", path, "--endpoint", server.endpoint.absoluteString, "--store", store, "--chunk-size", "200KiB"]
            server.inject(.stall(seconds: 5, method: "PATCH"))
            let first = try BackgroundProcess(tus: arguments)
            try await waitUntil("the upload's first PATCH is held") { server.pendingFaults.isEmpty }
            first.send(SIGKILL)
            #expect(first.waitForExit() == 128 + SIGKILL)
            let line = try #require(try runTus(["store", "list", "--store", store]).stdout.split(separator: "\n").first)
            let fields = line.split(separator: "\t").map(String.init)
            let key = try #require(fields.first), stored = try #require(fields.last.flatMap(URLComponents.init(string:)))
            var withPassword = stored
            withPassword.user = "user"
            withPassword.password = "s3cret"
            _ = try runTus(["store", "set", key, try #require(withPassword.string), "--store", store])

            let second = try runTus(arguments)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.contains("resuming http://user:***@"), "\(second.stderr)")
            #expect(!second.stderr.contains("s3cret"))
            #expect(server.uploadedData(for: try #require(URL(string: second.output))) == data)
        }
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalStopsTheUploadResumably(signal: Int32) async throws {
        try await withDevServer { server, folder in
            let (path, data) = try randomFile(1_000_000, in: folder)
            let store = "json:" + folder.newPath("store.json")
            let arguments = ["upload", path, "--endpoint", server.endpoint.absoluteString, "--store", store, "--chunk-size", "200KiB"]
            server.inject(.stall(seconds: 5, method: "PATCH"))
            let first = try BackgroundProcess(tus: arguments)
            try await waitUntil("the upload's first PATCH is held") { server.pendingFaults.isEmpty }
            first.send(signal)
            #expect(first.waitForExit() == 128 + signal)
            #expect(first.stderr.contains("interrupted with "))
            #expect(first.stderr.contains("run the same command again to resume"))

            let second = try runTus(arguments)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.contains("resuming "))
            #expect(server.uploadedData(for: try #require(URL(string: second.output))) == data)
        }
    }

    @Test func onATerminalTheProgressIsABarRedrawnInPlace() async throws {
        try await withDevServer { server, folder in
            let (path, data) = try randomFile(3_000_000, in: folder)
            // `script` runs the command on a pseudo-terminal, so standard
            // error is a terminal, as in a shell.
            let command = [TestPaths.tusBinary, "upload", path, "--endpoint", server.endpoint.absoluteString,
                           "--no-store", "--chunk-size", "100KiB"]
                .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
                .joined(separator: " ")
            // A terminal that takes redrawing, whatever the tests' own
            // environment says (NO_COLOR and TERM=dumb give plain lines).
            let terminal: [String: String?] = ["TERM": "xterm-256color", "NO_COLOR": nil]
            #if os(Linux)
            let result = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"], environment: terminal)
            #else
            let result = try runProcess("/usr/bin/script", ["-q", "/dev/null", "/bin/sh", "-c", command], environment: terminal)
            #endif
            #expect(result.status == 0, "\(result.stdout)")
            // The terminal turns each line feed into CR LF.
            let output = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
            // The bar is redrawn over itself (a carriage return, then the
            // line, then erase-to-end-of-line), ends full, and gets a line of
            // its own before the URL.
            #expect(output.contains("\r[########################]  100%  2.9 MiB / 2.9 MiB"), "\(output.debugDescription)")
            #expect(output.contains("\u{1B}[K\n"), "\(output.debugDescription)")
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(output.debugDescription)")
            #expect(lines.first?.hasPrefix("\r[") == true, "no plain progress lines: \(output.debugDescription)")
            let url = try #require(lines.last.flatMap(URL.init(string:)))
            #expect(server.uploadedData(for: url) == data)
        }
    }

    @Test func aMissingFileIsOneLine() throws {
        let result = try runTus(["upload", "/nonexistent/file.bin", "--endpoint", "http://127.0.0.1:9/files/", "--no-store"])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: cannot open /nonexistent/file.bin: No such file or directory\n")
    }

    @Test(arguments: ["foo", "ftp://host/files/", "http://"])
    func aBadEndpointIsOneLine(endpoint: String) throws {
        let folder = try TemporaryFolder()
        let (path, _) = try randomFile(10, in: folder)
        let result = try runTus(["upload", path, "--endpoint", endpoint, "--no-store"])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: --endpoint \(endpoint.debugDescription) is not an http:// or https:// URL\n")
    }

    /// A header without a colon may still hold a secret (a forgotten colon
    /// after `Authorization`): the message shows its first word only.
    @Test func aMalformedHeaderIsOneLineWithoutItsValue() throws {
        let folder = try TemporaryFolder()
        let (path, _) = try randomFile(10, in: folder)
        let result = try runTus(["upload", path, "--endpoint", "http://127.0.0.1:9/files/", "--no-store", "--header", "Authorization Bearer topsecret123"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("tus: --header \"Authorization\"… is not 'Name: value'"), "\(result.stderr)")
        #expect(!result.stderr.contains("topsecret123"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aServerThatRefusesIsOneLine() async throws {
        try await withDevServer({ $0.maxUploadSize = 100 }) { server, folder in
            let (path, _) = try randomFile(1000, in: folder)
            let result = try runTus(["upload", path, "--endpoint", server.endpoint.absoluteString, "--no-store"])
            #expect(result.status == 2)
            #expect(result.stderr.hasPrefix("tus: cannot upload \(path) to \(server.endpoint.absoluteString)"))
            #expect(result.stderr.hasSuffix("\n"))
            #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("tus:") }.count == 1)
        }
    }

    @Test(arguments: [["--chunk-size", "0"], ["--chunk-size", "5XB"], ["--retries", "-1"], ["--checksum", "crc32"], ["--store", "json:/tmp/x.json", "--no-store"]])
    func badOptionsAreUsageErrors(options: [String]) throws {
        let result = try runTus(["upload", "/etc/hostname", "--endpoint", "http://127.0.0.1:9/"] + options)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
    }
}

@Suite struct ServeAndDemoCommandTests {
    @Test func serveRunsUntilInterrupted() async throws {
        let folder = try TemporaryFolder()
        let dir = folder.newPath("uploads")
        let serve = try BackgroundProcess(tus: ["serve", "--dir", dir, "--port", "0"])
        try await waitUntil("tus serve prints its endpoint") { serve.stdout.hasSuffix("\n") }
        let endpoint = serve.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(endpoint.hasPrefix("http://127.0.0.1:"))
        let (path, _) = try randomFile(100_000, in: folder)
        let upload = try runTus(["upload", path, "--endpoint", endpoint, "--no-store"])
        #expect(upload.status == 0, "\(upload.stderr)")
        let id = try #require(URL(string: upload.output)?.lastPathComponent)
        #expect(FileManager.default.fileExists(atPath: dir))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.hasPrefix(id) })
        serve.send(SIGINT)
        #expect(serve.waitForExit() == 0)
        #expect(serve.stderr.contains("stopped"))
        // A line per request, at info, naming the method and the path.
        let lines = serve.stderr.split(separator: "\n")
        #expect(lines.contains { $0.contains(" info ") && $0.contains("POST /files/ 201 ") }, "\(serve.stderr)")
    }

    @Test func serveRefusesAPortInUse() async throws {
        try await withDevServer { server, folder in
            let result = try runTus(["serve", "--dir", folder.newPath("d"), "--port", String(server.port)])
            #expect(result.status == 2)
            #expect(result.stderr.hasPrefix("tus: "))
            #expect(result.stderr.contains(String(server.port)))
        }
    }

    @Test func demoRefusesAChunkTooLargeToInterrupt() throws {
        let result = try runTus(["demo", "--size", "1MiB", "--chunk-size", "1MiB"])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: --chunk-size (1MiB) must be at most half of --size (1MiB), so that the upload can be interrupted halfway (see --help)\n")
    }

    @Test func demoInterruptsResumesAndVerifies() throws {
        let result = try runTus(["demo", "--size", "3MiB", "--chunk-size", "256KiB"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("interrupted at offset"))
        #expect(result.stderr.contains(" from offset "))
        #expect(result.stderr.contains("the stored URL was removed after success: yes"))
        #expect(result.output.hasPrefix("http://127.0.0.1:"))
    }
}

/// An upload started and interrupted by the real tuspy (FileStorage and its
/// default fingerprint) is resumed by `tus upload` with the same JSON file.
@Suite struct TuspyHandoverTests {
    @Test func tusUploadResumesWhatTuspyStarted() async throws {
        try await withDevServer { server, folder in
            let (path, data) = try randomFile(1_000_000, in: folder, name: "video.mp4")
            let storePath = folder.newPath("tuspy_uploads.db")
            let tuspy = try runPython(
                """
                import sys
                from tusclient import client
                from tusclient.storage.filestorage import FileStorage
                storage = FileStorage(sys.argv[3])
                uploader = client.TusClient(sys.argv[1]).uploader(
                    sys.argv[2], chunk_size=300000, store_url=True, url_storage=storage,
                    metadata={"filename": "video.mp4", "filetype": "video/mp4"})
                uploader.upload_chunk()  # then the process stops, as if cut off
                print(uploader.url)
                print(uploader.offset)
                storage.close()
                """, [server.endpoint.absoluteString, path, storePath])
            #expect(tuspy.status == 0, "\(tuspy.stderr)")
            let lines = tuspy.stdout.split(separator: "\n").map(String.init)
            let tuspyURL = try #require(lines.first)
            #expect(lines.last == "300000")

            let result = try runTus(["upload", path, "--endpoint", server.endpoint.absoluteString, "--store", "json:" + storePath])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("resuming \(tuspyURL) from offset 300000"))
            #expect(result.output == tuspyURL)
            #expect(server.uploadedData(for: try #require(URL(string: tuspyURL))) == data)
        }
    }

    /// Not under AddressSanitizer (`scripts/sanitize address` sets
    /// `TUS_TEST_SANITIZER`): its shadow memory and its quarantine of freed
    /// blocks grow the tool's resident memory by tens of MB, so the peak
    /// says nothing about the chunks the tool holds.
    @Test(.disabled(
        if: ProcessInfo.processInfo.environment["TUS_TEST_SANITIZER"] == "address",
        "AddressSanitizer's shadow memory and quarantine make a peak resident memory meaningless"))
    func anUploadHoldsLessThanAChunkInMemory() async throws {
        try await withDevServer { server, folder in
            // The peak resident memory of `tus upload`, read by a small
            // parent (a parent's own pages would count in the child's peak).
            func peakMemory(_ path: String) throws -> Int {
                let result = try runPython("""
                    import os, sys
                    pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
                    _, status, usage = os.wait4(pid, 0)
                    print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)
                    """, [TestPaths.tusBinary, "upload", path, "--endpoint", server.endpoint.absoluteString,
                          "--no-store", "--chunk-size", "16MiB"])
                let fields = result.output.split(separator: " ").compactMap { Int($0) }
                #expect(result.status == 0 && fields.first == 0, "\(result.stderr)")
                return fields.count == 2 ? fields[1] : 0
            }
            let tiny = folder.newPath("tiny.bin")
            try Data([1]).write(to: URL(fileURLWithPath: tiny))
            let block = randomData(1 << 20)
            var data = Data(capacity: 96 << 20)
            for _ in 0..<96 { data.append(block) }
            let large = folder.newPath("large.bin")
            try data.write(to: URL(fileURLWithPath: large))

            let baseline = try peakMemory(tiny)
            let peak = try peakMemory(large)
            #expect(baseline > 0)
            // The POST carried the first 5 MiB, then six PATCHes of up to
            // 16 MiB went out; not even one was held whole.
            #expect(peak - baseline < 16 << 20, "peak \(peak) bytes, \(baseline) for a 1-byte file")
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count == 6)
            let uploads = try FileManager.default.contentsOfDirectory(atPath: server.configuration.directory.path)
                .filter { $0.hasSuffix(".bin") }
                .map { server.configuration.directory.appendingPathComponent($0) }
            #expect(try uploads.contains { try Data(contentsOf: $0) == data })
        }
    }
}
