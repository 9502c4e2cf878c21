import Foundation
import Testing
import TusTestSupport

/// Writers killed with `kill -9` at random moments, a Redis server killed
/// and restarted under load, and `tus serve` killed in the middle of an
/// upload: no acknowledged write is lost, the store reads, and nothing is
/// left behind that grows.
///
/// Each runs for `TUS_SOAK_SECONDS` (2 by default, the short run of the
/// test command); `scripts/soak SECONDS` runs them longer. Every random
/// choice comes from a seeded generator whose seed is printed
/// (`TUS_TEST_SEED` replays it).
@Suite(.serialized) struct SoakTests {
    static var seconds: Double {
        ProcessInfo.processInfo.environment["TUS_SOAK_SECONDS"].flatMap(Double.init) ?? 2
    }

    static var backends: [String] {
        ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"] == nil ? ["json", "sqlite"] : ["json", "sqlite", "redis"]
    }

    @Test(arguments: backends)
    func writersKilledAtRandomLoseNoAcknowledgedWrite(backend: String) throws {
        var random = SeededGenerator.forTest("writers killed at random, \(backend)")
        let folder = try TemporaryFolder()
        let file = folder.newPath(backend == "sqlite" ? "store.sqlite" : "store.json")
        let spec = switch backend {
        case "json": "json:" + file
        case "sqlite": "sqlite:" + file
        default: ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"]! + "?prefix=tus-soak-\(UUID().uuidString):"
        }
        var acknowledged: [String: String] = [:]
        var killed = 0
        var round = 0
        let deadline = Date().addingTimeInterval(Self.seconds)
        while Date() < deadline {
            round += 1
            let writes = (0..<3).map { ("soak-\(round)-\($0)", "https://tus.example/files/\(round)-\($0)") }
            let writers = try writes.map { try BackgroundProcess(tus: ["store", "set", $0.0, $0.1, "--store", spec]) }
            // A random writer dies at a random moment of its run.
            let victim = Int.random(in: 0..<writers.count, using: &random)
            usleep(UInt32.random(in: 0...40_000, using: &random))
            writers[victim].send(SIGKILL)
            for (writer, write) in zip(writers, writes) {
                let status = writer.waitForExit()
                if status == 0 {
                    acknowledged[write.0] = write.1
                } else if status == 128 + SIGKILL {
                    killed += 1
                } else {
                    Issue.record("tus store set failed with \(status): \(writer.stderr)")
                }
            }
        }
        print("soak \(backend): \(round) rounds, \(acknowledged.count) writes acknowledged, \(killed) writers killed")
        #expect(killed > 0)

        let listed = try runTus(["store", "list", "--json", "--store", spec])
        #expect(listed.status == 0, "\(listed.stderr)")
        let entries = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        var stored: [String: String] = [:]
        for entry in entries {
            if let key = entry["key"] as? String, let url = entry["url"] as? String { stored[key] = url }
        }
        for (key, url) in acknowledged {
            #expect(stored[key] == url, "acknowledged \(key) is \(stored[key] ?? "missing")")
        }

        // Nothing that grows: at most the store, its lock or log files, and
        // for the JSON store the temporary files of writers killed between
        // creating one and renaming it (`.<name>.<random>.tmp`, at most one
        // per writer killed; a write removes them once an hour old).
        var names = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        let name = (file as NSString).lastPathComponent
        let allowed: Set<String> = switch backend {
        case "json": [name, name + ".lock"]
        case "sqlite": [name, name + "-wal", name + "-shm", name + "-journal"]
        default: []
        }
        if backend == "json" {
            let temporary = names.filter { $0.hasPrefix(".\(name).") && $0.hasSuffix(".tmp") && $0.count == name.count + 22 }
            #expect(temporary.count <= killed, "\(temporary.count) temporary files left by \(killed) writers killed")
            names.subtract(temporary)
        }
        #expect(names.subtracting(allowed).isEmpty, "left behind: \(names.subtracting(allowed).sorted())")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server"), "scripts/test installs redis-server"))
    func redisKilledAndRestartedUnderLoadLosesNothingAcknowledged() async throws {
        var random = SeededGenerator.forTest("redis restarted under load")
        let folder = try TemporaryFolder()
        let port = try freeLoopbackPort()
        // Every acknowledged write is on disk before it is acknowledged.
        let arguments = ["--port", String(port), "--bind", "127.0.0.1", "--dir", folder.path, "--save", "",
                         "--appendonly", "yes", "--appendfsync", "always", "--loglevel", "warning"]
        var server = try await startRedis(arguments, port: port)
        defer { server.send(SIGKILL); _ = server.waitForExit() }
        let spec = "redis://127.0.0.1:\(port)?prefix=soak:"
        var acknowledged: [String: String] = [:]
        var restarts = 0
        let deadline = Date().addingTimeInterval(Self.seconds)
        var write = 0
        var nextRestart = Date().addingTimeInterval(Self.seconds * Double.random(in: 0.2...0.5, using: &random))
        while Date() < deadline || restarts == 0 {
            write += 1
            let key = "soak-\(write)"
            let url = "https://tus.example/files/\(write)"
            let writer = try BackgroundProcess(tus: ["store", "set", key, url, "--store", spec])
            if Date() >= nextRestart {
                usleep(UInt32.random(in: 0...20_000, using: &random))
                server.send(SIGKILL)
                _ = server.waitForExit()
                server = try await startRedis(arguments, port: port)
                restarts += 1
                nextRestart = Date().addingTimeInterval(Self.seconds * Double.random(in: 0.3...0.6, using: &random))
            }
            if writer.waitForExit() == 0 { acknowledged[key] = url }
        }
        print("soak redis restarts: \(write) writes, \(acknowledged.count) acknowledged, \(restarts) restarts")
        for (key, url) in acknowledged {
            let got = try runTus(["store", "get", key, "--store", spec])
            #expect(got.status == 0 && got.output == url, "acknowledged \(key): \(got.stderr)")
        }
    }

    @Test func tusServeKilledMidUploadAndRestartedFinishesTheUpload() async throws {
        var random = SeededGenerator.forTest("tus serve killed mid-upload")
        let folder = try TemporaryFolder()
        let directory = folder.newPath("server")
        let port = try freeLoopbackPort()
        let serve = ["serve", "--dir", directory, "--port", String(port)]
        var server = try BackgroundProcess(tus: serve)
        defer { server.send(SIGKILL); _ = server.waitForExit() }
        let started = server
        try await waitUntil("tus serve listens on \(port)") { started.stdout.contains("127.0.0.1:\(port)") }

        let data = random.bytes(24 << 20)
        let path = folder.newPath("upload.bin")
        try data.write(to: URL(fileURLWithPath: path))
        let upload = try BackgroundProcess(tus: [
            "upload", path, "--endpoint", "http://127.0.0.1:\(port)/files/", "--store", "json:" + folder.newPath("store.json"),
            "--chunk-size", "256KiB", "--retries", "10",
        ])
        // Kill the server once a random share of the file has arrived.
        let share = Int.random(in: (data.count / 8)...(data.count / 2), using: &random)
        try await waitUntil("\(share) bytes reach the server") { Self.bytesStored(in: directory) >= share }
        server.send(SIGKILL)
        _ = server.waitForExit()
        server = try BackgroundProcess(tus: serve)
        #expect(upload.waitForExit(timeout: 120) == 0, "\(upload.stderr)")
        let url = try #require(URL(string: upload.stdout.split(separator: "\n").last.map(String.init) ?? ""))
        let stored = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(url.lastPathComponent + ".bin"))
        #expect(stored == data)
        #expect(upload.stderr.contains("retrying in"), "\(upload.stderr)")
    }

    /// The bytes of every upload the server at `directory` holds.
    static func bytesStored(in directory: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".bin") }.reduce(0) { total, name in
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int) ?? 0
            return total + size
        }
    }

    /// A redis-server with `arguments`, once it answers on `port`.
    func startRedis(_ arguments: [String], port: Int) async throws -> BackgroundProcess {
        let server = try BackgroundProcess("/usr/bin/redis-server", arguments)
        do {
            try await waitUntil("redis-server answers on \(port)") {
                (try? runProcess("/usr/bin/redis-cli", ["-p", String(port), "ping"], timeout: 5).output) == "PONG"
            }
        } catch {
            throw TestError.missing("redis-server on port \(port): \(server.stderr)")
        }
        return server
    }
}
