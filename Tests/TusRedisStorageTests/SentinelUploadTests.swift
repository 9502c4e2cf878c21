import Foundation
import Testing
import TusCore
import TusRedisStorage
import TusTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tus upload` with its store on a Redis Sentinel set, the master killed
/// while an upload is halfway: the relay between the tool and the
/// development server holds the upload at half its bytes while the master
/// dies and the sentinels promote the replica.
@Suite(.serialized) struct SentinelUploadTests {
    /// The same run goes on once the failover is done, finishes with the
    /// server holding the file's bytes, and removes its entry from the new
    /// master.
    @Test func anUploadOutlivesTheMastersDeath() async throws {
        var random = SeededGenerator.forTest()
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let spec = set.url(tail: "/0?prefix=upload:")
        try await withDevServer { server, folder in
            let data = random.bytes(4 << 20)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                let upload = try BackgroundProcess(
                    tus: ["upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--store", spec,
                          "--chunk-size", "1MiB"],
                    environment: ["TUS_STORE": nil]
                )
                try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
                let stored = try await Self.storedURLs(spec)
                #expect(stored.count == 1, "the URL is stored once the upload is created: \(stored)")

                try await set.killMasterAndWaitForFailover()
                relay.releaseStalls()
                #expect(upload.waitForExit(timeout: 120) == 0, "\(upload.stderr)")
                let url = try #require(upload.stdout.split(separator: "\n").last.flatMap { URL(string: String($0)) })
                #expect(stored.first == url.absoluteString)
                #expect(server.uploadedData(for: url) == data, "the server's bytes are the file's")
                #expect(try await Self.storedURLs(spec).isEmpty, "the finished upload's entry is removed")
            }
        }
    }

    /// The run is killed with `kill -9` after the failover; the next run
    /// finds the URL stored before the failover (`wait=1` made sure the
    /// replica had it) on the new master, and resumes from it.
    @Test func anUploadResumesFromTheNewMasterAfterTheUploaderIsKilled() async throws {
        var random = SeededGenerator.forTest()
        let set = try await RedisSentinelSet()
        defer { set.stop() }
        let spec = set.url(tail: "/0?prefix=upload:&wait=1")
        try await withDevServer { server, folder in
            let data = random.bytes(4 << 20)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                let arguments = ["upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--store", spec,
                                 "--chunk-size", "1MiB"]
                let first = try BackgroundProcess(tus: arguments, environment: ["TUS_STORE": nil])
                try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
                let stored = try await Self.storedURLs(spec)
                try #require(stored.count == 1, "the URL is stored once the upload is created: \(stored)")

                try await set.killMasterAndWaitForFailover()
                first.send(SIGKILL)
                #expect(first.waitForExit() == 128 + SIGKILL, "\(first.stderr)")
                relay.releaseStalls()
                try await relay.waitUntil { $0.connectionsClosed == $0.connectionsAccepted }
                // With a replica again, the finished upload's removal can
                // be acknowledged.
                try await set.restartOldMasterAsReplica()

                let second = try runTus(arguments, environment: ["TUS_STORE": nil])
                #expect(second.status == 0, "\(second.stderr)")
                #expect(second.stderr.contains("resuming \(stored[0]) from offset "), "\(second.stderr)")
                let url = try #require(second.stdout.split(separator: "\n").last.flatMap { URL(string: String($0)) })
                #expect(url.absoluteString == stored[0], "the same upload, not a new one")
                #expect(server.uploadedData(for: url) == data, "the server's bytes are the file's")
                #expect(try await Self.storedURLs(spec).isEmpty, "the finished upload's entry is removed")
            }
        }
    }

    /// The URLs the store holds, read through the sentinels.
    private static func storedURLs(_ spec: String) async throws -> [String] {
        let store = try RedisStorage(url: spec)
        let entries = try await store.entries()
        try await store.close()
        return entries.map(\.url)
    }
}
