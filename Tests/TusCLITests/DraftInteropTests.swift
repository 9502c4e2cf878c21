import Foundation
import Testing
import TusTestSupport

/// `tus upload` against Apple's server side of the IETF draft
/// (NIOResumableUpload, run by `nio-resumable-upload-server`): a server no
/// one here wrote, which speaks the draft only.
@Suite(.serialized) struct DraftInteropTests {
    /// The stores a killed upload resumes from.
    enum StoreKind: String, CaseIterable, Sendable {
        case json, sqlite, redis
    }

    /// The store spec of `kind`, in `folder` or on `redis`.
    private static func spec(_ kind: StoreKind, folder: TemporaryFolder, redis: RedisServerProcess?) -> String {
        switch kind {
        case .json: "json:" + folder.newPath("store.json")
        case .sqlite: "sqlite:" + folder.newPath("store.sqlite")
        case .redis: "redis://127.0.0.1:\(redis!.port)"
        }
    }

    /// With the default protocol (`auto`), an upload to a draft-only server
    /// finishes in the draft, leaves the file's bytes, and prints the
    /// upload resource's URL.
    @Test func theDefaultProtocolUploadsToADraftOnlyServer() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(7 << 20)
        try await NIOResumableUploadServer.withServer { server in
            let folder = try TemporaryFolder()
            let path = folder.newPath("photo.bin")
            try data.write(to: URL(fileURLWithPath: path))
            let store = "json:" + folder.newPath("store.json")
            let result = try runTus(["upload", path, "--endpoint", server.uploadURL("photo.bin").absoluteString, "--store", store, "-v"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.output.hasPrefix(server.origin.absoluteString + "/resumable_upload/"), "\(result.stdout)")
            #expect(try Data(contentsOf: server.uploadedFile("photo.bin")) == data)
            // A POST, then PATCH with the rest: no tus request after the first.
            #expect(result.stderr.contains("PATCH \(result.output) → 201"), "\(result.stderr)")
            #expect(try runTus(["store", "list", "--store", store]).stdout.isEmpty, "the URL is removed once the upload is done")
        }
    }

    /// Starts `tus upload` of `path` to `target` through a relay slowed to
    /// 256 kB/s, waits until the URL the `104` gave is stored and some of
    /// the creation's bytes reached the server, kills it with SIGKILL, and
    /// closes the relay, so the server sees the creation's connection end.
    private static func killInTheFirstRequest(
        _ path: String, to server: NIOResumableUploadServer, target: URL, store: String, extra: [String] = []
    ) async throws {
        let relay = try await Relay.start(to: "127.0.0.1", port: server.port, .rate(bytesPerSecond: 256_000))
        let first = try BackgroundProcess(tus: [
            "upload", path, "--endpoint", relay.url(for: target).absoluteString, "--store", store, "--stall-timeout", "5m",
        ] + extra)
        try await waitUntil("the URL from the 104 is stored", timeout: .seconds(60)) {
            !(try runTus(["store", "list", "--store", store]).stdout.isEmpty)
        }
        _ = try await relay.waitUntil(timeout: .seconds(60)) { $0.bytesToServer > 64 << 10 }
        first.send(SIGKILL)
        #expect(first.waitForExit() == 128 + SIGKILL)
        await relay.shutdown()
    }

    /// A run killed with SIGKILL while its first request (the creation)
    /// still sends bytes: the `104` gave the URL, which was stored at once,
    /// and the next run resumes from the bytes the server holds, whichever
    /// store keeps the URL.
    @Test(arguments: StoreKind.allCases)
    func anUploadKilledInItsFirstRequestResumesFromTheServersBytes(store kind: StoreKind) async throws {
        var random = SeededGenerator.forTest(#function + kind.rawValue)
        let data = random.bytes(3 << 20)
        let redis = kind == .redis ? try RedisServerProcess() : nil
        defer { redis?.stop() }
        try await NIOResumableUploadServer.withServer { server in
            let folder = try TemporaryFolder()
            let path = folder.newPath("movie.bin")
            try data.write(to: URL(fileURLWithPath: path))
            let store = Self.spec(kind, folder: folder, redis: redis)
            let target = server.uploadURL("movie.bin")
            try await Self.killInTheFirstRequest(path, to: server, target: target, store: store)

            let second = try runTus(["upload", path, "--endpoint", target.absoluteString, "--store", store])
            #expect(second.status == 0, "\(second.stderr)")
            let resumed = try #require(
                second.stderr.split(separator: "\n").first { $0.contains("resuming") }, "the run resumes: \(second.stderr)")
            let offset = try #require(resumed.split(separator: " ").last.flatMap { Int64($0) }, "\(resumed)")
            #expect(offset > 0 && offset < Int64(data.count), "\(resumed)")
            #expect(second.output.hasPrefix(server.origin.absoluteString + "/resumable_upload/"), "\(second.stdout)")
            #expect(try Data(contentsOf: server.uploadedFile("movie.bin")) == data)
        }
    }

    /// An upload created in the draft, asked for by name, resumes in the
    /// draft whatever protocol the next run is told: the stored URL says
    /// which it speaks, and `--protocol` is for new uploads.
    @Test func aDraftUploadResumesInTheDraftWhateverTheNextRunIsTold() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(2 << 20)
        try await NIOResumableUploadServer.withServer { server in
            let folder = try TemporaryFolder()
            let path = folder.newPath("data.bin")
            try data.write(to: URL(fileURLWithPath: path))
            let store = "sqlite:" + folder.newPath("store.sqlite")
            let target = server.uploadURL("data.bin")
            try await Self.killInTheFirstRequest(path, to: server, target: target, store: store, extra: ["--protocol", "ietf"])
            let listed = try runTus(["store", "list", "--store", store]).stdout
            #expect(listed.contains("#upload-draft-interop-version=6"), "the stored URL says the draft: \(listed)")

            let second = try runTus(["upload", path, "--endpoint", target.absoluteString, "--store", store, "--protocol", "tus", "-v"])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.contains("resuming"), "\(second.stderr)")
            #expect(!second.stderr.contains("POST"), "no new upload: \(second.stderr)")
            #expect(try Data(contentsOf: server.uploadedFile("data.bin")) == data)
        }
    }

    /// A pipe (a stream of unknown length) goes up in the draft: the
    /// creation carries no `Upload-Length`, appends follow as the stream is
    /// read, and the last says `Upload-Complete: ?1`; the JSON lines on
    /// standard error are those of a tus upload.
    @Test func aPipeGoesUpInTheDraftWithJSONProgress() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(3 << 20)
        try await NIOResumableUploadServer.withServer { server in
            let folder = try TemporaryFolder()
            let path = folder.newPath("input.bin")
            try data.write(to: URL(fileURLWithPath: path))
            let target = server.uploadURL("stream.bin").absoluteString
            let command = "cat '\(path)' | '\(TestPaths.tusBinary)' upload - --endpoint \(target) --protocol ietf --chunk-size 1MiB --progress json"
            let result = try runProcess("/bin/sh", ["-c", command])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Data(contentsOf: server.uploadedFile("stream.bin")) == data)
            let events = result.stderr.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let finished = try #require(events.last, "\(result.stderr)")
            #expect(finished["event"] as? String == "finished")
            #expect(finished["url"] as? String == result.output)
            #expect(events.first { $0["event"] as? String != "message" }?["event"] as? String == "started", "\(result.stderr)")
        }
    }
}
