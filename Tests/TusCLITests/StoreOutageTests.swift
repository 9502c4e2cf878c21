import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// `tus upload` goes on when its store cannot be reached: Redis down from the
/// start, Redis killed in the middle of the upload, a full disk under a JSON
/// or SQLite store. Each time the run says so in one warning, finishes, and
/// the server holds the file's bytes exactly; `--require-store` makes the
/// outage an error instead.
@Suite struct StoreOutageTests {
    static let warning = "the upload goes on without the store"

    /// Uploads a file of `count` random bytes through `tus upload ARGUMENTS`
    /// to a development server, and checks that it finished with the file's
    /// bytes on the server and one warning that names `names`.
    private func expectFinishedWithOneWarning(
        _ arguments: [String], naming names: [String], count: Int = 1 << 20, function: String = #function,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        var random = SeededGenerator.forTest(function)
        try await withDevServer { server, folder in
            let data = random.bytes(count)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            let run = try runTus(["upload", path, "--endpoint", server.endpoint.absoluteString, "--chunk-size", "256KiB"] + arguments)
            #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
            let warnings = run.stderr.split(separator: "\n").filter { $0.contains("warning") }
            #expect(warnings.count == 1, "one warning, not \(run.stderr)", sourceLocation: sourceLocation)
            let warning = warnings.first.map(String.init) ?? ""
            #expect(warning.contains(Self.warning), "\(warning)", sourceLocation: sourceLocation)
            for name in names {
                #expect(warning.contains(name), "the warning names \(name): \(warning)", sourceLocation: sourceLocation)
            }
            let url = try #require(run.stdout.split(separator: "\n").last.flatMap { URL(string: String($0)) }, sourceLocation: sourceLocation)
            #expect(server.uploadedData(for: url) == data, "the server holds the file's bytes", sourceLocation: sourceLocation)
        }
    }

    // MARK: Redis

    @Test func aRedisStoreDownFromTheStartIsWarnedOfOnceAndTheUploadFinishes() async throws {
        // Nothing listens on a free port: every connection is refused.
        let port = try freeLoopbackPort()
        try await expectFinishedWithOneWarning(["--store", "redis://127.0.0.1:\(port)"], naming: ["127.0.0.1:\(port)"])
    }

    @Test func requireStoreMakesARedisStoreThatIsDownAnErrorBeforeAnyUpload() async throws {
        let port = try freeLoopbackPort()
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try randomData(4096).write(to: URL(fileURLWithPath: path))
            let run = try runTus([
                "upload", path, "--endpoint", server.endpoint.absoluteString,
                "--store", "redis://:s3cret-pw@127.0.0.1:\(port)", "--require-store",
            ])
            #expect(run.status == 2, "\(run.stderr)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1, "one error line, not \(run.stderr)")
            #expect(run.stderr.contains("127.0.0.1:\(port)"), "\(run.stderr)")
            #expect(!run.stderr.contains("warning"), "\(run.stderr)")
            #expect(!run.stderr.contains("s3cret-pw"), "the password is not shown: \(run.stderr)")
            #expect(!server.requestLog.contains { $0.hasPrefix("POST ") }, "no upload was created")
        }
    }

    /// Redis answers until the upload's URL is stored and half the bytes
    /// are on their way, then is killed: removing the URL of the finished
    /// upload is what fails, and the run still finishes.
    @Test func aRedisStoreKilledDuringTheUploadIsWarnedOfOnceAndTheUploadFinishes() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(2 << 20)
        let redis = try RedisServerProcess()
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                let store = "redis://127.0.0.1:\(redis.port)"
                let upload = try BackgroundProcess(tus: [
                    "upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--store", store,
                    "--chunk-size", "256KiB", "--stall-timeout", "5m",
                ])
                _ = try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
                let listed = try runTus(["store", "list", "--store", store])
                #expect(listed.stdout.split(separator: "\n").count == 1, "the upload's URL is stored: \(listed.stdout) \(listed.stderr)")

                redis.crash()
                relay.releaseStalls()
                #expect(upload.waitForExit() == 0, "\(upload.stderr)")
                let warnings = upload.stderr.split(separator: "\n").filter { $0.contains("warning") }
                #expect(warnings.count == 1, "one warning, not \(upload.stderr)")
                #expect(warnings.first?.contains(Self.warning) == true, "\(upload.stderr)")
                let url = try #require(upload.stdout.split(separator: "\n").last.flatMap { URL(string: String($0)) })
                #expect(server.uploadedData(for: url) == data)
            }
        }
    }

    /// Redis is down when the upload starts and back before it fails: the
    /// URL of the unfinished upload is stored when the upload ends, and the
    /// next run resumes it.
    @Test func anUnfinishedUploadsURLIsStoredOnceTheStoreIsBack() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(2 << 20)
        let port = try freeLoopbackPort()
        let store = "redis://127.0.0.1:\(port)"
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                // No retries: the stall ends the run.
                let upload = try BackgroundProcess(tus: [
                    "upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--store", store,
                    "--chunk-size", "256KiB", "--stall-timeout", "5s", "--retries", "0",
                ])
                _ = try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
                #expect(upload.stderr.contains(Self.warning), "\(upload.stderr)")
                let redis = try RedisServerProcess(port: port)
                #expect(upload.waitForExit() == 2, "the stalled run fails: \(upload.stderr)")
                relay.releaseStalls()
                let listed = try runTus(["store", "list", "--store", store])
                let stored = try #require(listed.stdout.split(separator: "\n").first?.split(separator: "\t").last.map(String.init),
                                          "the URL is stored once Redis is back: \(listed.stdout) \(listed.stderr)")

                let resumed = try runTus(["upload", path, "--endpoint", server.endpoint.absoluteString, "--store", store])
                #expect(resumed.status == 0, "\(resumed.stderr)")
                #expect(resumed.stderr.contains("resuming \(stored) from offset "), "\(resumed.stderr)")
                #expect(!resumed.stderr.contains("warning"), "\(resumed.stderr)")
                #expect(resumed.stdout.split(separator: "\n").last.map(String.init) == stored)
                #expect(server.uploadedData(for: try #require(URL(string: stored))) == data)
                redis.crash()
            }
        }
    }

    // MARK: A full disk

    @Test(.enabled(if: SmallDisk.isAvailable, "mounting a tmpfs needs root (CAP_SYS_ADMIN); this test was skipped"))
    func aJSONStoreOnAFullDiskIsWarnedOfOnceAndTheUploadFinishes() async throws {
        let disk = try SmallDisk()
        try disk.fill()
        let store = (disk.path as NSString).appendingPathComponent("store.json")
        try await expectFinishedWithOneWarning(["--store", "json:" + store], naming: [store, "the disk is full"])
    }

    @Test(.enabled(if: SmallDisk.isAvailable, "mounting a tmpfs needs root (CAP_SYS_ADMIN); this test was skipped"))
    func anSQLiteStoreOnAFullDiskIsWarnedOfOnceAndTheUploadFinishes() async throws {
        let disk = try SmallDisk()
        try disk.fill()
        let store = (disk.path as NSString).appendingPathComponent("store.sqlite")
        try await expectFinishedWithOneWarning(["--store", "sqlite:" + store], naming: [store, "the disk is full"])
    }
}
