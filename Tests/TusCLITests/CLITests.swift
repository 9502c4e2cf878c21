import Foundation
import Testing
import TusCore
import TusFileStorage
import TusFingerprints
import TusTestSupport

@Suite struct FingerprintCommandTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    @Test func printsTheKeyAndNothingElse() throws {
        let path = folder.newPath("file.bin")
        try Data(repeating: 7, count: 70_000).write(to: URL(fileURLWithPath: path))
        let result = try runTus(["fingerprint", path])
        #expect(result.status == 0)
        #expect(result.stdout == (try MD5Fingerprint().fingerprint(ofFileAtPath: path)) + "\n")
        #expect(result.stderr.isEmpty)
    }

    @Test func algorithmAndScopeOptions() throws {
        let path = folder.newPath("file.bin")
        try Data(repeating: 1, count: 100_000).write(to: URL(fileURLWithPath: path))
        let cases: [([String], any Fingerprint)] = [
            (["--algorithm", "sha256"], SHA256Fingerprint()),
            (["--whole-file"], MD5Fingerprint(scope: .wholeFile)),
            (["--algorithm", "sha256", "--whole-file"], SHA256Fingerprint(scope: .wholeFile)),
            (["--algorithm", "md5"], MD5Fingerprint()),
        ]
        for (options, fingerprint) in cases {
            let result = try runTus(["fingerprint", path] + options)
            #expect(result.status == 0, "\(options): \(result.stderr)")
            #expect(result.output == (try fingerprint.fingerprint(ofFileAtPath: path)), "\(options)")
        }
    }

    @Test func aMissingFileIsOneLineAndExit2() throws {
        let path = folder.newPath("missing.bin")
        let result = try runTus(["fingerprint", path])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "tus: cannot open \(path): No such file or directory\n")
    }

    @Test func aDirectoryIsOneLineAndExit2() throws {
        let result = try runTus(["fingerprint", folder.path])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: cannot fingerprint \(folder.path): it is a directory\n")
    }

    @Test func aPipeIsRefusedRatherThanWaitedOn() throws {
        let path = folder.newPath("fifo")
        #expect(mkfifo(path, 0o600) == 0)
        let fingerprint = try runTus(["fingerprint", path], timeout: 20)
        #expect(fingerprint.status == 2)
        #expect(fingerprint.stderr == "tus: cannot fingerprint \(path): it is not a regular file\n")
        let upload = try runTus(["upload", path, "--endpoint", "http://127.0.0.1:9/files/", "--no-store"], timeout: 20)
        #expect(upload.status == 2)
        #expect(upload.stderr.hasPrefix("tus: cannot upload \(path): it is not a regular file"))
    }

    @Test func usageErrorsAreOneLine() throws {
        let result = try runTus(["upload", "x", "--chunk-size", "5XB", "--endpoint", "http://h/"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("tus: "))
        #expect(result.stderr.filter { $0 == "\n" }.count == 1)
    }

    @Test func anUnknownAlgorithmIsAUsageError() throws {
        let path = folder.newPath("file.bin")
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        let result = try runTus(["fingerprint", path, "--algorithm", "crc32"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("crc32"))
        #expect(result.stdout.isEmpty)
    }
}

@Suite struct StoreCommandTests {
    let folder: TemporaryFolder
    let spec: String
    init() throws {
        folder = try TemporaryFolder()
        spec = "json:" + folder.newPath("uploads.json")
    }

    private func tus(_ arguments: [String], environment: [String: String?] = [:]) throws -> ProcessResult {
        try runTus(arguments, environment: ["TUS_STORE": nil].merging(environment) { $1 })
    }

    @Test func setGetListRemove() throws {
        #expect(try tus(["store", "set", "size:1--md5:a", "http://x/files/1", "--store", spec]).status == 0)
        #expect(try tus(["store", "set", "size:2--md5:b", "http://x/files/2", "--store", spec]).status == 0)
        #expect(try tus(["store", "set", "size:1--md5:a", "http://x/files/1b", "--store", spec]).status == 0)

        let get = try tus(["store", "get", "size:1--md5:a", "--store", spec])
        #expect(get.status == 0)
        #expect(get.stdout == "http://x/files/1b\n")

        let list = try tus(["store", "list", "--store", spec])
        #expect(list.status == 0)
        #expect(list.stdout == "size:1--md5:a\thttp://x/files/1b\nsize:2--md5:b\thttp://x/files/2\n")

        #expect(try tus(["store", "remove", "size:1--md5:a", "--store", spec]).status == 0)
        #expect(try tus(["store", "remove", "size:1--md5:a", "--store", spec]).status == 0)
        #expect(try tus(["store", "list", "--store", spec]).stdout == "size:2--md5:b\thttp://x/files/2\n")
    }

    @Test func listAsJSON() throws {
        _ = try tus(["store", "set", "k", "http://x/files/1", "--store", spec])
        let result = try tus(["store", "list", "--json", "--store", spec])
        #expect(result.status == 0)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(array.count == 1)
        #expect(array.first?["key"] as? String == "k")
        #expect(array.first?["url"] as? String == "http://x/files/1")
        let storedAt = try #require(array.first?["stored_at"] as? String)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(formatter.date(from: storedAt))
        #expect(abs(date.timeIntervalSinceNow) < 600)
    }

    @Test func anEmptyStoreListsNothing() throws {
        let result = try tus(["store", "list", "--store", spec])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(try tus(["store", "list", "--json", "--store", spec]).output == "[\n\n]")
    }

    @Test func getOfAnAbsentKeyExits1() throws {
        let result = try tus(["store", "get", "nothing-here", "--store", spec])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "tus: no URL stored under \"nothing-here\" in \(spec)\n")
    }

    @Test func aCorruptStoreExits2AndIsLeftAlone() throws {
        let path = folder.newPath("corrupt.json")
        try Data("{\"_default\": ".utf8).write(to: URL(fileURLWithPath: path))
        for arguments in [["get", "k"], ["set", "k", "http://x"], ["remove", "k"], ["list"]] {
            let result = try tus(["store"] + arguments + ["--store", "json:" + path])
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.hasPrefix("tus: ") && result.stderr.contains(path), "\(arguments): \(result.stderr)")
            #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(result.stderr)")
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"_default\": ")
    }

    @Test(arguments: ["foo", "json:", "mysql://localhost/db", "/tmp/uploads.json"])
    func anUnknownSpecExits2(spec: String) throws {
        let result = try tus(["store", "list", "--store", spec])
        #expect(result.status == 2)
        #expect(result.stderr.contains(spec))
        #expect(result.stderr.contains("expected"))
    }

    @Test func aDirectoryAsStoreExits2() throws {
        let result = try tus(["store", "get", "k", "--store", "json:" + folder.path])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: cannot use \(folder.path) as a JSON store: it is a directory\n")
    }

    @Test func theStoreComesFromTUS_STORE() throws {
        #expect(try tus(["store", "set", "k", "http://x/env"], environment: ["TUS_STORE": spec]).status == 0)
        #expect(try tus(["store", "get", "k", "--store", spec]).output == "http://x/env")
        // --store wins over the variable.
        let other = "json:" + folder.newPath("other.json")
        #expect(try tus(["store", "get", "k", "--store", other], environment: ["TUS_STORE": spec]).status == 1)
    }

    @Test func theDefaultStoreIsUnderXDGStateHome() async throws {
        let state = folder.newPath("state")
        #expect(try tus(["store", "set", "k", "http://x/xdg"], environment: ["XDG_STATE_HOME": state]).status == 0)
        let path = state + "/tus/uploads.json"
        #expect(try await FileStorage(path: path).url(forKey: "k") == "http://x/xdg")
    }

    @Test func theDefaultStoreFallsBackToHome() async throws {
        let home = folder.newPath("home")
        let result = try tus(["store", "set", "k", "http://x/home"], environment: ["XDG_STATE_HOME": nil, "HOME": home])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try await FileStorage(path: home + "/.local/state/tus/uploads.json").url(forKey: "k") == "http://x/home")
    }
}

@Suite struct StoreProcessTests {
    /// Several processes write one JSON file at once: no entry is lost.
    @Test func concurrentProcessesLoseNoEntry() async throws {
        let folder = try TemporaryFolder()
        let spec = "json:" + folder.newPath("shared.json")
        let writers = 6, rounds = 15
        // Each round starts every writer before waiting for any.
        for round in 0..<rounds {
            let processes = try (0..<writers).map { writer in
                try BackgroundProcess(tus: ["store", "set", "w\(writer)-\(round)", "http://x/\(writer)/\(round)", "--store", spec])
            }
            for (writer, process) in processes.enumerated() {
                let status = process.waitForExit()
                #expect(status == 0, "writer \(writer), round \(round): \(process.stderr)")
            }
        }
        let lines = try runTus(["store", "list", "--store", spec]).stdout.split(separator: "\n")
        #expect(lines.count == writers * rounds)
        let expected = Set((0..<writers).flatMap { w in (0..<rounds).map { "w\(w)-\($0)\thttp://x/\(w)/\($0)" } })
        #expect(Set(lines.map(String.init)) == expected)
    }

    /// A writer killed with SIGKILL at random instants never leaves a torn
    /// file: the store always parses and keeps every entry that was written
    /// before.
    @Test func aWriterKilledWithSIGKILLNeverTearsTheFile() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("store.json")
        // A store big enough that a write takes a while.
        let seed = try FileStorage(path: path)
        var text = #"{"_default": {"#
        let url = "https://tus.example/files/" + String(repeating: "x", count: 200)
        text += (1...3000).map { #""\#($0)": {"key": "seed-\#($0)", "url": "\#(url)"}"# }.joined(separator: ", ")
        text += "}}"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try await seed.entries().count == 3000)

        var killed = 0
        var generator = SystemRandomNumberGenerator()
        for round in 0..<40 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestPaths.tusBinary)
            process.arguments = ["store", "set", "round-\(round)", "http://x/\(round)", "--store", "json:" + path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 0...100_000, using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            process.waitUntilExit()
            // Whatever happened, the file parses as JSON and lost no seed entry.
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]
            let table = try #require(object?["_default"])
            #expect(table.count >= 3000, "round \(round): \(table.count) documents")
            if process.terminationReason == .exit {
                #expect(process.terminationStatus == 0)
            }
        }
        // Some rounds were killed in flight, or the test proved nothing.
        #expect(killed > 0)
        let entries = try await seed.entries()
        #expect(entries.filter { $0.key.hasPrefix("seed-") }.count == 3000)
        // A later write still works after all the kills.
        #expect(try runTus(["store", "set", "after", "http://x/after", "--store", "json:" + path]).status == 0)
        #expect(try await seed.url(forKey: "after") == "http://x/after")
    }
}
