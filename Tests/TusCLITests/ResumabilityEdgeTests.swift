import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// `tus upload` keeps an upload resumable at the edges a user meets: a
/// gateway that refuses the credentials, a connection that hangs open, a
/// slow but steady link, a client clock that is days fast, and another file
/// that happens to have the same fingerprint key.
///
/// An upload is interrupted the same way everywhere: the relay between the
/// client and the server stalls once, halfway through the file's bytes; the
/// test waits for the stall, kills `tus` with SIGKILL, lets what the stall
/// held through and waits for the relay's connections to end. Requests are
/// of 1 MiB (`--chunk-size`): the first MiB goes with the POST that creates
/// the upload (creation-with-upload), so the stall comes in a PATCH, once
/// the upload's URL is stored and the server holds some of its bytes.
@Suite struct ResumabilityEdgeTests {
    /// The tus servers the tests run against.
    enum Server: String, CustomStringConvertible {
        case devServer = "tus serve"
        case tuspyserver

        var description: String { rawValue }
    }

    static let tuspyserverIsRunning = ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_URL"] != nil

    // MARK: Refused credentials

    /// Through nginx asking for a bearer token: a run killed midway, then a
    /// run without credentials and one with the wrong token are each refused
    /// in one line that says the upload stays resumable, and the stored URL
    /// stays; the run with the right token resumes from where the server
    /// stopped. No output ever shows a token.
    @Test func refusedCredentialsKeepTheUploadResumableBehindTusServe() async throws {
        try await refusedCredentialsKeepTheUploadResumable(.devServer)
    }

    @Test(.enabled(if: tuspyserverIsRunning, "scripts/test starts tuspyserver"))
    func refusedCredentialsKeepTheUploadResumableBehindTuspyserver() async throws {
        try await refusedCredentialsKeepTheUploadResumable(.tuspyserver)
    }

    private func refusedCredentialsKeepTheUploadResumable(_ kind: Server, function: String = #function) async throws {
        let goodToken = "gOOd-t0ken.Xq7Lr2", wrongToken = "wr0ng-t0ken.Zk4Pw9"
        var random = SeededGenerator.forTest("\(function) (\(kind))")
        let folder = try TemporaryFolder()
        let (path, data) = try writeFile(&random, count: 4 << 20, in: folder, name: "upload.bin")
        let spec = "json:" + folder.newPath("store.json")
        try await withServer(kind) { server in
            let endpoint = server.endpoint
            try await Nginx.withNginx(upstream: endpoint, .init(bearerToken: goodToken)) { nginx in
                try await Relay.withRelay(to: nginx.baseURL, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                    let arguments = ["upload", path, "--endpoint", relay.url(for: nginx.url(for: endpoint)).absoluteString,
                                     "--store", spec, "--stall-timeout", "2s", "--chunk-size", "1MiB"]
                    var outputs: [String] = []
                    let killed = try await killAtTheStall(arguments + ["--header", "Authorization: Bearer \(goodToken)"], relay: relay)
                    outputs.append(killed)
                    let stored = try storedURL(spec)

                    for (credentials, status) in [([String](), 401), (["--header", "Authorization: Bearer \(wrongToken)"], 403)] {
                        let refused = try runTus(arguments + credentials, timeout: 60)
                        outputs += [refused.stdout, refused.stderr]
                        #expect(refused.status == 2, "\(status): \(refused.stderr)")
                        let lines = refused.stderr.split(separator: "\n")
                        #expect(lines.count == 1, "\(status): one line, not \(refused.stderr)")
                        let line = lines.first.map { $0.lowercased() } ?? ""
                        #expect(line.contains("refused") && line.contains("credentials"), "\(status): \(refused.stderr)")
                        #expect(line.contains("resum"), "\(status): it says the upload stays resumable: \(refused.stderr)")
                        #expect(refused.stdout.isEmpty, "\(status): \(refused.stdout)")
                        #expect(try storedURL(spec) == stored, "\(status): the stored URL is kept")
                    }
                    #expect(nginx.accessLog().contains { $0.contains("\" 401 ") }, "nginx answered 401")
                    #expect(nginx.accessLog().contains { $0.contains("\" 403 ") }, "nginx answered 403")

                    let resumed = try runTus(arguments + ["--header", "Authorization: Bearer \(goodToken)"], timeout: 60)
                    outputs += [resumed.stdout, resumed.stderr]
                    #expect(resumed.status == 0, "\(resumed.stderr)")
                    let offset = resumedOffset(resumed.stderr, url: stored)
                    #expect(offset.map { $0 > 0 && $0 < data.count } == true, "resuming \(stored) from offset N: \(resumed.stderr)")
                    let url = try #require(lastLine(resumed.stdout).flatMap(URL.init(string:)), "\(resumed.stdout)")
                    #expect(url == stored)
                    #expect(server.bytes(url) == data, "the server's bytes are the file's")
                    #expect(try runTus(["store", "list", "--store", spec]).stdout.isEmpty, "the finished upload is forgotten")

                    for output in outputs {
                        #expect(!output.contains(goodToken) && !output.contains(wrongToken), "a token was printed: \(output)")
                    }
                }
            }
        }
    }

    // MARK: A connection that hangs open

    /// The relay stalls once halfway and holds the connection open for
    /// longer than the test lasts: `tus upload --stall-timeout 2s` gives up
    /// on that request, says nothing moved, and finishes in the same run,
    /// with the same upload. The stalled PATCH never ends at the server
    /// while the test runs, so the server has to let the client's next
    /// PATCH take the upload over: one that answers 423 (busy) for as
    /// long as the stalled PATCH holds the upload never lets it finish.
    @Test func aStallWithTheConnectionHeldOpenIsSurvivedInOneRunAgainstTusServe() async throws {
        try await aStallIsSurvivedInOneRun(.devServer, stall: nil)
    }

    /// The relay lets the stalled request go after 10 s. tuspyserver 4.4.3
    /// takes an upload's lock by polling `flock` with `time.sleep` on its
    /// event loop, for up to 30 s: a second PATCH while the stalled one
    /// holds the lock freezes the whole server (every request, HEAD too,
    /// goes unanswered) until that wait ends with 503; then the stalled
    /// request ends and the lock is free. The client waits that out: about
    /// 35 s in all.
    @Test(.enabled(if: tuspyserverIsRunning, "scripts/test starts tuspyserver"))
    func aStallWithTheConnectionHeldOpenIsSurvivedInOneRunAgainstTuspyserver() async throws {
        try await aStallIsSurvivedInOneRun(.tuspyserver, stall: .seconds(10))
    }

    private func aStallIsSurvivedInOneRun(_ kind: Server, stall duration: Duration?, function: String = #function) async throws {
        var random = SeededGenerator.forTest("\(function) (\(kind))")
        let folder = try TemporaryFolder()
        let (path, data) = try writeFile(&random, count: 4 << 20, in: folder, name: "upload.bin")
        try await withServer(kind) { server in
            let endpoint = server.endpoint
            let link = Relay.Behaviour(stall: .once(afterBytes: data.count / 2, duration: duration))
            try await Relay.withRelay(to: endpoint, link) { relay in
                let result = try runTus(
                    ["upload", path, "--endpoint", relay.url(for: endpoint).absoluteString, "--no-store",
                     "--stall-timeout", "2s", "--chunk-size", "1MiB"], timeout: 120)
                #expect(relay.counters.stallsBegun == 1, "the link stalled: \(relay.counters)")
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stderr.contains("nothing moved"), "\(result.stderr)")
                let url = try #require(lastLine(result.stdout).flatMap(URL.init(string:)), "\(result.stdout)")
                #expect(server.bytes(url) == data, "the server's bytes are the file's")
                if let uploadsCreated = server.uploadsCreated {
                    #expect(uploadsCreated() == 1, "the stalled upload went on; no second one was created")
                }
                // The relay shuts the held connection when the test ends.
            }
        }
    }

    // MARK: A slow steady link

    /// 64 KB/s, steadily, with `--stall-timeout 2s`: the body outlasts the
    /// socket buffers many times over (the client's writes wait on the
    /// link for seconds at a time), and the upload still goes through with
    /// no word of a stall or a retry.
    @Test func aSlowSteadyLinkIsNotTakenForAStall() async throws {
        var random = SeededGenerator.forTest()
        let rate = 64_000
        try await withDevServer { server, folder in
            let (path, data) = try writeFile(&random, count: 512 << 10, in: folder, name: "upload.bin")
            try await Relay.withRelay(to: server.endpoint, .rate(bytesPerSecond: rate)) { relay in
                let clock = ContinuousClock()
                let start = clock.now
                let result = try runTus(
                    ["upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--no-store",
                     "--stall-timeout", "2s"], timeout: 120)
                let elapsed = clock.now - start
                print("\(data.count) B at \(rate) B/s in \(elapsed); \(relay.counters)")
                #expect(result.status == 0, "\(result.stderr)")
                let url = try #require(lastLine(result.stdout).flatMap(URL.init(string:)), "\(result.stdout)")
                #expect(server.uploadedData(for: url) == data, "the server's bytes are the file's")
                let text = result.stderr.lowercased()
                for word in ["nothing moved", "stall", "retrying", "abandoned"] {
                    #expect(!text.contains(word), "\(word): \(result.stderr)")
                }
                // The link really was slow: the cap held the body back.
                #expect(elapsed >= .seconds(0.8 * Double(data.count) / Double(rate)), "\(elapsed)")
            }
        }
    }

    // MARK: A fast client clock

    /// `tus serve` gives an upload 24 hours (`Upload-Expires`). A run
    /// killed midway, then the same command on a machine whose clock is two
    /// days fast: by that clock the expiry has passed, but the server's
    /// clock is the one that counts, and the upload resumes.
    @Test func aClientClockTwoDaysFastDoesNotExpireALiveUpload() async throws {
        var random = SeededGenerator.forTest()
        try await withDevServer({ $0.expiration = 24 * 3600 }) { server, folder in
            let (path, data) = try writeFile(&random, count: 4 << 20, in: folder, name: "upload.bin")
            let spec = "json:" + folder.newPath("store.json")
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                let arguments = ["upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString,
                                 "--store", spec, "--stall-timeout", "2s", "--chunk-size", "1MiB"]
                _ = try await killAtTheStall(arguments, relay: relay)
                let stored = try storedURL(spec)
                let info = try #require(server.uploadInfo(for: stored), "the server holds \(stored)")
                #expect(info.offset > 0)
                let expires = try #require(info.expiresAt, "the server gives the upload an expiry")
                #expect(expires > Date() && expires < Date().addingTimeInterval(2 * 86_400),
                        "live by the server's clock, past by the client's: \(expires)")

                let resumed = try FakeTime.days(2).runTus(arguments, timeout: 60)
                #expect(resumed.status == 0, "\(resumed.stderr)")
                let offset = resumedOffset(resumed.stderr, url: stored)
                #expect(offset.map { $0 > 0 } == true, "resuming \(stored) from offset N: \(resumed.stderr)")
                let url = try #require(lastLine(resumed.stdout).flatMap(URL.init(string:)), "\(resumed.stdout)")
                #expect(url == stored, "the same upload, not a new one")
                #expect(server.uploadedData(for: url) == data, "the server's bytes are the file's")
            }
        }
    }

    // MARK: Another file under the same key

    /// Two files of one size whose first 64 KiB are the same have the same
    /// md5 fingerprint key. The first is killed midway; uploading the
    /// second with the same store does not append its bytes to the first's
    /// upload: it says the stored upload belongs to another file and
    /// uploads the second anew. Once as two files side by side, once as one
    /// path whose content was replaced.
    @Test(arguments: [false, true])
    func anotherFileUnderTheSameKeyIsNotResumed(samePath: Bool) async throws {
        var random = SeededGenerator.forTest("\(#function) (same path: \(samePath))")
        let count = 4 << 20, shared = 64 << 10
        let head = random.bytes(shared)
        let first = head + random.bytes(count - shared)
        let second = head + random.bytes(count - shared)
        try await withDevServer { server, folder in
            let firstPath = folder.newPath("first.bin")
            let secondPath = samePath ? firstPath : folder.newPath("second.bin")
            try first.write(to: URL(fileURLWithPath: firstPath))
            let spec = "json:" + folder.newPath("store.json")
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: count / 2))) { relay in
                let endpoint = relay.url(for: server.endpoint).absoluteString
                _ = try await killAtTheStall(
                    ["upload", firstPath, "--endpoint", endpoint, "--store", spec, "--stall-timeout", "2s", "--chunk-size", "1MiB"],
                    relay: relay)
                let stored = try storedURL(spec)
                #expect((server.uploadInfo(for: stored)?.offset ?? 0) > 0)

                try second.write(to: URL(fileURLWithPath: secondPath))
                let key = try runTus(["fingerprint", secondPath]).output
                #expect(try runTus(["store", "get", key, "--store", spec]).output == stored.absoluteString,
                        "the second file's key is the one the first's upload is stored under")

                let result = try runTus(
                    ["upload", secondPath, "--endpoint", endpoint, "--store", spec, "--stall-timeout", "2s", "--chunk-size", "1MiB"],
                    timeout: 60)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(!result.stderr.contains("resuming"), "\(result.stderr)")
                #expect(result.stderr.contains("another file"), "\(result.stderr)")
                let url = try #require(lastLine(result.stdout).flatMap(URL.init(string:)), "\(result.stdout)")
                #expect(url != stored, "a new upload")
                #expect(server.uploadedData(for: url) == second, "the server's bytes are the second file's")
            }
        }
    }

    // MARK: Helpers

    /// A running server: its creation endpoint, an upload's bytes as it
    /// keeps them, and (for `tus serve`, which logs its requests) how many
    /// uploads it was asked to create.
    private struct Running {
        var endpoint: URL
        var bytes: (URL) -> Data?
        var uploadsCreated: (() -> Int)?
    }

    /// Runs `body` with a server of `kind`.
    private func withServer(_ kind: Server, _ body: (Running) async throws -> Void) async throws {
        switch kind {
        case .devServer:
            try await withDevServer { server, _ in
                try await body(Running(
                    endpoint: server.endpoint, bytes: { server.uploadedData(for: $0) },
                    uploadsCreated: { server.requestLog.filter { $0.hasPrefix("POST ") }.count }))
            }
        case .tuspyserver:
            let environment = ProcessInfo.processInfo.environment
            let endpoint = try #require(environment["TUS_TEST_TUSPYSERVER_URL"].flatMap(URL.init(string:)))
            let directory = try #require(environment["TUS_TEST_TUSPYSERVER_DIR"])
            try await body(Running(
                endpoint: endpoint,
                bytes: { try? Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent($0.lastPathComponent)) },
                uploadsCreated: nil))
        }
    }

    /// Writes `count` bytes from `random` to a new file in `folder`.
    private func writeFile(
        _ random: inout SeededGenerator, count: Int, in folder: TemporaryFolder, name: String
    ) throws -> (String, Data) {
        let data = random.bytes(count)
        let path = folder.newPath(name)
        try data.write(to: URL(fileURLWithPath: path))
        return (path, data)
    }

    /// Starts `tus` with `arguments`, waits for the relay's (single) stall,
    /// kills `tus` with SIGKILL, lets what the stall held through to the
    /// server, and waits for every connection through the relay to end.
    /// Returns what the killed run printed.
    private func killAtTheStall(_ arguments: [String], relay: Relay) async throws -> String {
        let process = try BackgroundProcess(tus: arguments)
        do {
            try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
        } catch {
            Issue.record("the upload did not reach the stall: \(error); \(process.stderr)")
            throw error
        }
        process.send(SIGKILL)
        #expect(process.waitForExit() == 128 + SIGKILL, "\(process.stderr)")
        relay.releaseStalls()
        try await relay.waitUntil { $0.connectionsClosed == $0.connectionsAccepted }
        return process.stdout + process.stderr
    }

    /// The one URL in the store `spec`.
    private func storedURL(_ spec: String) throws -> URL {
        let listed = try runTus(["store", "list", "--store", spec])
        let lines = listed.stdout.split(separator: "\n")
        guard lines.count == 1, let url = lines[0].split(separator: "\t").last.flatMap({ URL(string: String($0)) }) else {
            throw TestError.missing("one stored upload in \(spec), not \(listed.stdout) \(listed.stderr)")
        }
        return url
    }

    /// N in "resuming URL from offset N", when stderr says so of `url`.
    private func resumedOffset(_ stderr: String, url: URL) -> Int? {
        let prefix = "resuming \(url.absoluteString) from offset "
        guard let line = stderr.split(separator: "\n").first(where: { $0.contains(prefix) }),
            let range = line.range(of: prefix)
        else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    private func lastLine(_ text: String) -> String? {
        text.split(separator: "\n").last.map(String.init)
    }
}
