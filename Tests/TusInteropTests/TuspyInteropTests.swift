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

    /// Keys and URLs that need escapes in JSON, both ways.
    @Test func keysThatNeedEscapesRoundTrip() async throws {
        let path = folder.newPath("escapes.json")
        let keys = ["quote\"", "back\\slash", "tab\tnew\nline", "nul\u{0}", "\u{1}\u{1F}\u{7F}", "clé ✓", "😀 astral",
                    "\u{2028}\u{2029}", "cafe\u{301}", "/slash/", ""]
        let keysFile = folder.newPath("keys.json")
        try JSONSerialization.data(withJSONObject: keys).write(to: URL(fileURLWithPath: keysFile))
        let store = try FileStorage(path: path)
        for (index, key) in keys.enumerated() {
            try await store.setURL("http://tus.example/files/\(index)?k=\(key)", forKey: key)
        }
        let script = """
            import json, sys
            from tusclient.storage.filestorage import FileStorage
            keys = json.load(open(sys.argv[2]))
            s = FileStorage(sys.argv[1])
            found = [s.get_item(key) for key in keys]
            for index, key in enumerate(keys):
                s.set_item("py:" + key, "http://py/%d?k=%s" % (index, key))
            s.close()
            print(json.dumps(found))
            """
        let output = try tuspy(script, [path, keysFile])
        let found = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String])
        #expect(found == keys.enumerated().map { "http://tus.example/files/\($0.offset)?k=\($0.element)" })
        for (index, key) in keys.enumerated() {
            #expect(try await store.url(forKey: "py:" + key) == "http://py/\(index)?k=\(key)", "\(key.debugDescription)")
            #expect(try await store.url(forKey: key) == "http://tus.example/files/\(index)?k=\(key)")
        }
        #expect(try await store.entries().count == 2 * keys.count)
    }

    /// tuspy updates a URL in place (TinyDB rewrites the whole file through
    /// its open handle); with a URL of the same length the file keeps its
    /// size and inode. A store that read the file before must see it.
    @Test func tuspysSameSizeUpdateInPlaceIsSeenByAStoreThatReadBefore() async throws {
        let path = folder.newPath("inplace.json")
        let store = try FileStorage(path: path)
        for index in 0..<20 { try await store.setURL("http://tus.example/files/\(index)-0", forKey: "k\(index)") }
        let script = """
            import os, sys
            from tusclient.storage.filestorage import FileStorage
            before = os.stat(sys.argv[1])
            s = FileStorage(sys.argv[1])
            s.set_item(sys.argv[2], sys.argv[3])
            s.close()
            after = os.stat(sys.argv[1])
            print(before.st_ino == after.st_ino and before.st_size == after.st_size)
            """
        // The first update turns the store's layout into TinyDB's; then
        // every update keeps the size.
        _ = try tuspy(script, [path, "k0", "http://tus.example/files/0-0"])
        for round in 1...5 {
            #expect(try await store.url(forKey: "k7") == "http://tus.example/files/7-\(round - 1)")
            #expect(try tuspy(script, [path, "k7", "http://tus.example/files/7-\(round)"]) == "True")
            #expect(try await store.url(forKey: "k7") == "http://tus.example/files/7-\(round)")
        }
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
