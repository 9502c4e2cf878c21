import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// `tus upload --progress json`: every line on standard error is one JSON
/// object of format version 1, and the events of a finished, an
/// interrupted, a failed and a many-files run come complete and in order.
@Suite struct ProgressJSONTests {
    /// Each line of `stderr` as a JSON object; records an issue for a line
    /// that is not one, or not of version 1.
    private func events(_ stderr: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        stderr.split(separator: "\n").compactMap { line in
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            if object == nil { Issue.record("not a JSON object: \(line)", sourceLocation: sourceLocation) }
            if let object, object["v"] as? Int != 1 { Issue.record("no \"v\": 1 in \(line)", sourceLocation: sourceLocation) }
            return object
        }
    }

    private func names(_ events: [[String: Any]]) -> [String] {
        events.map { $0["event"] as? String ?? "?" }
    }

    @Test func aFinishedUploadIsStartedProgressAndFinished() async throws {
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try randomData(3 << 20).write(to: URL(fileURLWithPath: path))
            let run = try runTus([
                "upload", path, "--endpoint", server.endpoint.absoluteString, "--store", "json:" + folder.newPath("store.json"),
                "--chunk-size", "1MiB", "--progress", "json",
            ])
            #expect(run.status == 0, "\(run.stderr)")
            let lines = events(run.stderr)
            #expect(names(lines).first == "started")
            #expect(names(lines).last == "finished")
            #expect(lines.allSatisfy { $0["file"] as? String == path }, "every line names the file")
            #expect(lines.first?["size"] as? Int == 3 << 20)
            let progress = lines.filter { $0["event"] as? String == "progress" }
            #expect(progress.last?["bytes"] as? Int == 3 << 20, "the last progress is the whole file")
            #expect(lines.last?["url"] as? String == run.stdout.split(separator: "\n").last.map(String.init))
        }
    }

    @Test func anInterruptedUploadEndsWithAnInterruptedEvent() async throws {
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            let data = randomData(2 << 20)
            try data.write(to: URL(fileURLWithPath: path))
            let store = "json:" + folder.newPath("store.json")
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                let upload = try BackgroundProcess(tus: [
                    "upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--store", store,
                    "--chunk-size", "256KiB", "--stall-timeout", "5m", "--progress", "json",
                ])
                _ = try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
                upload.send(SIGINT)
                #expect(upload.waitForExit() == 130, "\(upload.stderr)")
                relay.releaseStalls()
                let lines = events(upload.stderr)
                #expect(names(lines).first == "started")
                #expect(names(lines).last == "interrupted", "\(upload.stderr)")
                #expect(lines.last?["resumable"] as? Bool == true)
                #expect((lines.last?["bytes"] as? Int ?? -1) >= 0)
            }
        }
    }

    @Test func aFailureIsOneErrorEvent() async throws {
        let port = try freeLoopbackPort()
        let folder = try TemporaryFolder()
        let path = folder.newPath("upload.bin")
        try randomData(1000).write(to: URL(fileURLWithPath: path))
        let run = try runTus(["upload", path, "--endpoint", "http://127.0.0.1:\(port)/files/", "--no-store", "--retries", "0", "--progress", "json"])
        #expect(run.status == 2)
        let lines = events(run.stderr)
        #expect(names(lines).last == "error", "\(run.stderr)")
        #expect((lines.last?["message"] as? String)?.contains("127.0.0.1:\(port)") == true, "\(run.stderr)")
        let usage = try runTus(["upload", "--progress", "json"])
        #expect(usage.status == 2)
        #expect(names(events(usage.stderr)) == ["error"], "a usage error is a JSON line too: \(usage.stderr)")
    }

    @Test func manyFilesNameTheirFileOnEveryLine() async throws {
        try await withDevServer { server, folder in
            let paths = try (0..<3).map { index in
                let path = folder.newPath("file-\(index).bin")
                try randomData(200_000 + index).write(to: URL(fileURLWithPath: path))
                return path
            }
            let run = try runTus(["upload"] + paths + ["--endpoint", server.endpoint.absoluteString, "--no-store", "--jobs", "2", "--progress", "json"])
            #expect(run.status == 0, "\(run.stderr)")
            let lines = events(run.stderr)
            for path in paths {
                let mine = lines.filter { $0["file"] as? String == path }
                #expect(names(mine).first == "started", "\(path): \(run.stderr)")
                #expect(names(mine).last == "finished", "\(path): \(run.stderr)")
            }
            #expect(lines.allSatisfy { $0["file"] is String }, "every line names its file: \(run.stderr)")
        }
    }
}

/// `--progress json` over a slow link: `sent` runs ahead of `bytes` while a
/// request's body goes out.
@Suite struct ProgressJSONSlowLinkTests {
    @Test func sentRunsAheadOfConfirmedBytesOnASlowLink() async throws {
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try randomData(3 << 20).write(to: URL(fileURLWithPath: path))
            // One request of 3 MiB at 1.5 MB/s: about two seconds.
            try await Relay.withRelay(to: server.endpoint, .rate(bytesPerSecond: 1_500_000)) { relay in
                let run = try runTus([
                    "upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--no-store",
                    "--chunk-size", "3MiB", "--progress", "json",
                ])
                #expect(run.status == 0, "\(run.stderr)")
                let progress = run.stderr.split(separator: "\n").compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                }.filter { $0["event"] as? String == "progress" }
                let ahead = progress.filter { ($0["sent"] as? Int ?? 0) > ($0["bytes"] as? Int ?? 0) }
                #expect(!ahead.isEmpty, "\(run.stderr)")
                #expect(progress.last?["sent"] as? Int == 3 << 20)
            }
        }
    }
}
