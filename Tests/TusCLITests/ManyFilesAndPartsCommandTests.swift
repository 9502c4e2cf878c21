import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// `tus upload FILE... --jobs N` and `tus upload FILE --parallel N`.
@Suite struct ManyFilesAndPartsCommandTests {
    @Test func manyFilesWithOneMissing() async throws {
        try await withDevServer { server, folder in
            var files: [String: Data] = [:]
            for index in 0..<6 {
                let path = folder.newPath("file-\(index).bin")
                let data = randomData(50_000 + index * 10_000)
                try data.write(to: URL(fileURLWithPath: path))
                files[path] = data
            }
            let missing = folder.newPath("missing.bin")
            let paths = files.keys.sorted() + [missing]
            let store = "json:" + folder.newPath("store.json")
            let result = try runTus(["upload"] + paths + ["--endpoint", server.endpoint.absoluteString, "--jobs", "3", "--store", store])
            // Every other file finished; the status says one did not.
            #expect(result.status == 2)
            var uploaded: [String: URL] = [:]
            for line in result.stdout.split(separator: "\n") {
                let fields = line.split(separator: "\t").map(String.init)
                #expect(fields.count == 2, "\(line)")
                if fields.count == 2 { uploaded[fields[0]] = URL(string: fields[1]) }
            }
            #expect(Set(uploaded.keys) == Set(files.keys))
            for (path, data) in files {
                #expect(uploaded[path].flatMap { server.uploadedData(for: $0) } == data, "\(path)")
            }
            #expect(result.stderr.contains("tus: \(missing): cannot open \(missing): No such file or directory"), "\(result.stderr)")
            #expect(result.stderr.hasSuffix("tus: 1 of 7 files did not finish\n"), "\(result.stderr)")
            #expect(try runTus(["store", "list", "--store", store]).stdout.isEmpty)
        }
    }

    /// Several files at once in the IETF draft: each a draft upload of
    /// its own, byte for byte; parts are refused with the draft, in words.
    @Test func manyFilesGoUpInTheDraftAndPartsAreRefused() async throws {
        try await withDevServer { server, folder in
            var random = SeededGenerator.forTest(#function)
            var files: [String: Data] = [:]
            for index in 0..<5 {
                let path = folder.newPath("file-\(index).bin")
                let data = random.bytes(200_000 + index * 50_000)
                try data.write(to: URL(fileURLWithPath: path))
                files[path] = data
            }
            let store = "json:" + folder.newPath("store.json")
            let result = try runTus(
                ["upload"] + files.keys.sorted() + ["--endpoint", server.endpoint.absoluteString, "--jobs", "3", "--store", store, "--protocol", "ietf"])
            #expect(result.status == 0, "\(result.stderr)")
            for line in result.stdout.split(separator: "\n") {
                let fields = line.split(separator: "\t").map(String.init)
                let url = try #require(fields.count == 2 ? URL(string: fields[1]) : nil, "\(line)")
                #expect(server.uploadedData(for: url) == files[fields[0]], "\(line)")
                #expect(server.uploadInfo(for: url)?.madeWith == .ietfDraft(interopVersion: 6, complete: true), "\(line)")
            }
            #expect(result.stdout.split(separator: "\n").count == files.count)

            let parts = try runTus(["upload", files.keys.sorted()[0], "--endpoint", server.endpoint.absoluteString, "--parallel", "2", "--protocol", "ietf"])
            #expect(parts.status == 2, "\(parts.stderr)")
            #expect(parts.stderr.contains("--parallel needs tus's concatenation"), "\(parts.stderr)")
        }
    }

    @Test func aServerWithoutConcatenationGetsOneUploadAndTheCLISaysSo() async throws {
        try await withDevServer({ $0.concatenation = false }) { server, folder in
            let data = randomData(400_000)
            let path = folder.newPath("file.bin")
            try data.write(to: URL(fileURLWithPath: path))
            let result = try runTus(["upload", path, "--endpoint", server.endpoint.absoluteString, "--no-store", "--parallel", "4"])
            #expect(result.status == 0, "\(result.stderr)")
            let url = try #require(URL(string: result.output.split(separator: "\n").last.map(String.init) ?? ""))
            #expect(server.uploadedData(for: url) == data)
            #expect(result.stderr.contains("the server does not announce concatenation: uploading in one part"), "\(result.stderr)")
        }
    }

    static var stores: [String] {
        ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"] == nil ? ["json", "sqlite"] : ["json", "sqlite", "redis"]
    }

    /// `kill -9` in the middle of a parallel upload through a slow link,
    /// then the same command again: every part goes on from its own offset,
    /// and the file arrives byte for byte.
    ///
    /// Nothing here races the upload. The relay stalls the link every
    /// 160,000 bytes from the client, four times, and a stalled connection
    /// forwards nothing either way until the test releases it. From the
    /// first stall on, a part's request hangs, so the upload cannot finish
    /// (the client would give up on that request only after
    /// `--stall-timeout`, 10 minutes); no part can finish within the
    /// 640,000 bytes the stalls let through (each has 750,000), so the
    /// fourth stall comes too. The kill waits for the four stalls and for
    /// 600 KB at the server. A part's URL is stored before any of its bytes
    /// is sent, so by then the store holds the parts' entry.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_URL"] != nil, "scripts/test starts tuspyserver"),
          arguments: stores)
    func killedInTheMiddleOfAParallelUploadThenResumed(store kind: String) async throws {
        let endpoint = try #require(ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_URL"].flatMap(URL.init(string:)))
        let directory = try #require(ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_DIR"])
        let folder = try TemporaryFolder()
        let spec = switch kind {
        case "json": "json:" + folder.newPath("store.json")
        case "sqlite": "sqlite:" + folder.newPath("store.sqlite")
        default: ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"]! + "?prefix=tus-parallel-\(UUID().uuidString):"
        }
        let data = randomData(3_000_000)
        let path = folder.newPath("file.bin")
        try data.write(to: URL(fileURLWithPath: path))
        let link = Relay.Behaviour(roundTripLatency: .milliseconds(20), stall: .init(afterBytes: 160_000, times: 4))
        try await Relay.withRelay(to: endpoint, link) { relay in
            let arguments = ["upload", path, "--endpoint", relay.url(for: endpoint).absoluteString, "--store", spec,
                             "--parallel", "4", "--chunk-size", "64KiB", "--stall-timeout", "10m"]
            let first = try BackgroundProcess(tus: arguments)
            do {
                try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 4 && $0.bytesToServer > 600_000 }
            } catch {
                Issue.record("the upload did not stall four times after 600 KB: \(error); \(first.stderr)")
                return
            }
            first.send(SIGKILL)
            #expect(first.waitForExit() == 128 + SIGKILL, "\(first.stderr)")
            // What the stalls held reaches the server, then the ends of the
            // killed process's connections.
            relay.releaseStalls()
            try await relay.waitUntil { $0.connectionsClosed == $0.connectionsAccepted }

            let listed = try runTus(["store", "list", "--store", spec]).stdout
            #expect(listed.contains("#partials\t4 parts: "), "\(listed)")

            // No stall is left: the second run goes through at the link's speed.
            let second = try runTus(arguments)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.contains("resuming the upload's parts with "), "\(second.stderr)")
            let url = try #require(URL(string: second.output.split(separator: "\n").last.map(String.init) ?? ""))
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(url.lastPathComponent))
            #expect(bytes == data)
            #expect(try runTus(["store", "list", "--store", spec]).stdout.isEmpty)
        }
    }
}
