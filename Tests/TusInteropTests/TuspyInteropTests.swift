import Foundation
import Testing
import TusCore
import TusFileStorage
import TusFingerprints
import TusTestSupport

/// Runs `script` with tuspy 1.1.0 and returns its standard output. The store
/// path is `sys.argv[1]`.
private func tuspy(_ script: String, _ arguments: [String]) throws -> String {
    let result = try runPython(script, arguments)
    guard result.status == 0 else {
        throw TestError.missing("tuspy failed (status \(result.status)): \(result.stderr)")
    }
    return result.output
}

@Suite struct TuspyInteropTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    @Test func theTestPythonHasTuspy110() throws {
        let version = try tuspy("import importlib.metadata as m; print(m.version('tuspy'))", [])
        #expect(version == "1.1.0")
    }

    @Test func weReadWhatTuspyWrote() async throws {
        let path = folder.newPath("tuspy.json")
        _ = try tuspy(
            """
            import sys
            from tusclient.storage.filestorage import FileStorage
            s = FileStorage(sys.argv[1])
            s.set_item("size:1--md5:a", "http://tus.example/files/a")
            s.set_item("size:2--md5:b", "http://tus.example/files/b")
            s.set_item("size:3--md5:c", "http://tus.example/files/c")
            s.set_item("size:1--md5:a", "http://tus.example/files/a2")
            s.remove_item("size:3--md5:c")
            s.set_item("clé ünïcode ✓", "http://tus.example/files/ü")
            s.close()
            """, [path])
        let store = try FileStorage(path: path)
        #expect(try await store.url(forKey: "size:1--md5:a") == "http://tus.example/files/a2")
        #expect(try await store.url(forKey: "size:2--md5:b") == "http://tus.example/files/b")
        #expect(try await store.url(forKey: "size:3--md5:c") == nil)
        #expect(try await store.url(forKey: "clé ünïcode ✓") == "http://tus.example/files/ü")
        let entries = try await store.entries()
        #expect(entries.count == 3)
        #expect(entries.allSatisfy { $0.storedAt == nil })
    }

    @Test func tuspyReadsWhatWeWrote() async throws {
        let path = folder.newPath("ours.json")
        let store = try FileStorage(path: path)
        try await store.setURL("http://tus.example/files/a", forKey: "size:1--md5:a")
        try await store.setURL("http://tus.example/files/b", forKey: "size:2--md5:b")
        try await store.setURL("http://tus.example/files/ü", forKey: "clé ünïcode ✓")
        try await store.removeURL(forKey: "size:2--md5:b")
        let output = try tuspy(
            """
            import sys
            from tusclient.storage.filestorage import FileStorage
            s = FileStorage(sys.argv[1])
            print(s.get_item("size:1--md5:a"))
            print(s.get_item("size:2--md5:b"))
            print(s.get_item("clé ünïcode ✓"))
            s.close()
            """, [path])
        #expect(output == "http://tus.example/files/a\nNone\nhttp://tus.example/files/ü")
    }

    @Test func oneFileSharedTurnByTurn() async throws {
        let path = folder.newPath("shared.json")
        let script = """
            import sys, json
            from tusclient.storage.filestorage import FileStorage
            s = FileStorage(sys.argv[1])
            op = sys.argv[2]
            if op == "set":
                s.set_item(sys.argv[3], sys.argv[4])
            elif op == "remove":
                s.remove_item(sys.argv[3])
            s.close()
            print(open(sys.argv[1]).read())
            """
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/1", forKey: "one")
        _ = try tuspy(script, [path, "set", "two", "http://x/2"])
        try await store.setURL("http://x/3", forKey: "three")
        _ = try tuspy(script, [path, "set", "one", "http://x/1-by-tuspy"])
        let final = try tuspy(script, [path, "show"])

        // Ids grow across both writers; tuspy updated our document in place.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(final.utf8)) as? [String: [String: [String: Any]]])
        let table = try #require(object["_default"])
        #expect(Set(table.keys) == ["1", "2", "3"])
        #expect(table["1"]?["key"] as? String == "one")
        #expect(table["1"]?["url"] as? String == "http://x/1-by-tuspy")
        #expect(table["1"]?["stored_at"] is Double)
        #expect(table["2"]?["key"] as? String == "two")
        #expect(table["3"]?["key"] as? String == "three")

        #expect(try await store.url(forKey: "one") == "http://x/1-by-tuspy")
        #expect(try await store.url(forKey: "two") == "http://x/2")
        _ = try tuspy(script, [path, "remove", "three"])
        #expect(try await store.url(forKey: "three") == nil)
        #expect(try await store.entries().count == 2)
    }

    @Test func tuspysNewEmptyFileIsAnEmptyStoreForUs() async throws {
        let path = folder.newPath("fresh.json")
        _ = try tuspy("import sys\nfrom tusclient.storage.filestorage import FileStorage\nFileStorage(sys.argv[1]).close()", [path])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).isEmpty)
        let store = try FileStorage(path: path)
        #expect(try await store.entries().isEmpty)
        try await store.setURL("http://x/1", forKey: "k")
        let read = try tuspy(
            "import sys\nfrom tusclient.storage.filestorage import FileStorage\nprint(FileStorage(sys.argv[1]).get_item('k'))", [path])
        #expect(read == "http://x/1")
    }

    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, 5 * 1024 * 1024 + 3])
    func fingerprintsAgreeWithTuspy(size: Int) throws {
        let path = folder.newPath("file-\(size).bin")
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try data.write(to: URL(fileURLWithPath: path))
        let theirs = try tuspy(
            """
            import sys
            from tusclient.fingerprint.fingerprint import Fingerprint
            with open(sys.argv[1], "rb") as f:
                print(Fingerprint().get_fingerprint(f))
            """, [path])
        #expect(try MD5Fingerprint().fingerprint(ofFileAtPath: path) == theirs)
        #expect(try MD5Fingerprint().fingerprint(of: data) == theirs)
        let cli = try runTus(["fingerprint", path])
        #expect(cli.output == theirs)
    }
}
