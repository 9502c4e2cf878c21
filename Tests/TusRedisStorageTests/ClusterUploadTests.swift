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

/// `tus upload` with its store on a Redis Cluster, the master of the
/// store's slot killed while an upload is halfway: the relay between the
/// tool and the development server holds the upload at half its bytes while
/// the master dies and its replica takes over.
@Suite(.serialized) struct ClusterUploadTests {
    /// The prefix of the stores here; `{upload:}stored_at` is the index,
    /// whose slot is the store's.
    static let prefix = "upload:"

    /// The port of the master serving the store's slot now.
    private static func storeMaster(_ cluster: RedisClusterProcesses) throws -> Int {
        try cluster.master(of: cluster.slot(of: "{\(prefix)}stored_at"))
    }

    private static func spec(_ cluster: RedisClusterProcesses) -> String {
        "redis-cluster://127.0.0.1:\(cluster.nodes[0].port),127.0.0.1:\(cluster.nodes[1].port)/?prefix=\(prefix)"
    }

    /// The same run goes on once the replica serves the slot, finishes with
    /// the server holding the file's bytes, and removes its entry.
    @Test func anUploadOutlivesTheDeathOfItsSlotsMaster() async throws {
        var random = SeededGenerator.forTest()
        let cluster = try await RedisClusterProcesses.start()
        let spec = Self.spec(cluster)
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
                _ = try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
                let stored = try await Self.storedURLs(spec)
                #expect(stored.count == 1, "the URL is stored once the upload is created: \(stored)")

                cluster.crash(try Self.storeMaster(cluster))
                try await cluster.waitUntilHealthy(replicated: false)
                relay.releaseStalls()
                #expect(upload.waitForExit(timeout: 120) == 0, "\(upload.stderr)")
                #expect(!upload.stderr.contains("warning"), "the store was reached through the failover: \(upload.stderr)")
                let url = try #require(upload.stdout.split(separator: "\n").last.flatMap { URL(string: String($0)) })
                #expect(stored.first == url.absoluteString)
                #expect(server.uploadedData(for: url) == data, "the server's bytes are the file's")
                #expect(try await Self.storedURLs(spec).isEmpty, "the finished upload's entry is removed")
            }
        }
        await cluster.stop()
    }

    /// The run is killed with `kill -9` after the failover; the next run
    /// finds the URL on the replica that took over, and resumes from it.
    @Test func anUploadResumesFromTheNewMasterAfterTheUploaderIsKilled() async throws {
        var random = SeededGenerator.forTest()
        let cluster = try await RedisClusterProcesses.start()
        let spec = Self.spec(cluster)
        try await withDevServer { server, folder in
            let data = random.bytes(4 << 20)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                let arguments = ["upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--store", spec,
                                 "--chunk-size", "1MiB"]
                let first = try BackgroundProcess(tus: arguments, environment: ["TUS_STORE": nil])
                _ = try await relay.waitUntil(timeout: .seconds(60)) { $0.stallsBegun == 1 }
                let stored = try await Self.storedURLs(spec)
                try #require(stored.count == 1, "the URL is stored once the upload is created: \(stored)")
                // Every master's replica has its writes (the fixture WAITs),
                // the stored URL included, before the master dies.
                try await cluster.waitUntilHealthy()

                cluster.crash(try Self.storeMaster(cluster))
                try await cluster.waitUntilHealthy(replicated: false)
                first.send(SIGKILL)
                #expect(first.waitForExit() == 128 + SIGKILL, "\(first.stderr)")
                relay.releaseStalls()
                _ = try await relay.waitUntil { $0.connectionsClosed == $0.connectionsAccepted }

                let second = try runTus(arguments, environment: ["TUS_STORE": nil])
                #expect(second.status == 0, "\(second.stderr)")
                #expect(second.stderr.contains("resuming \(stored[0]) from offset "), "\(second.stderr)")
                let url = try #require(second.stdout.split(separator: "\n").last.flatMap { URL(string: String($0)) })
                #expect(url.absoluteString == stored[0], "the same upload, not a new one")
                #expect(server.uploadedData(for: url) == data, "the server's bytes are the file's")
                #expect(try await Self.storedURLs(spec).isEmpty, "the finished upload's entry is removed")
            }
        }
        await cluster.stop()
    }

    /// The URLs the store holds, read through the cluster.
    private static func storedURLs(_ spec: String) async throws -> [String] {
        let store = try RedisStorage(url: spec)
        let entries = try await store.entries()
        try await store.close()
        return entries.map(\.url)
    }
}
