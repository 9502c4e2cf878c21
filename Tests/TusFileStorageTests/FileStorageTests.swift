import Foundation
import Testing
import TusCore
import TusFileStorage
import TusTestSupport

/// The store file parsed as JSON.
private func jsonObject(at path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// The `_default` table of the store file: id → document.
private func defaultTable(at path: String) throws -> [String: [String: Any]] {
    try #require(try jsonObject(at: path)["_default"] as? [String: [String: Any]])
}

private func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

private func mode(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try #require(attributes[.posixPermissions] as? Int)
}

@Suite struct FileStorageTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    // Ports of tuspy's tests/storage/test_filestorage.py.

    @Test func setItemThenGetItem() async throws {
        let store = try FileStorage(path: folder.newPath("storage.json"))
        let key = "size:11--md5:5eb63bbbe01eeed093cb22bb8f5acdc3"
        try await store.setURL("http://tusd.tusdemo.net/files/unique_file_id", forKey: key)
        #expect(try await store.url(forKey: key) == "http://tusd.tusdemo.net/files/unique_file_id")
        try await store.close()
    }

    @Test func removeItem() async throws {
        let store = try FileStorage(path: folder.newPath("storage.json"))
        try await store.setURL("http://tusd.tusdemo.net/files/unique_file_id", forKey: "k")
        try await store.removeURL(forKey: "k")
        #expect(try await store.url(forKey: "k") == nil)
    }

    // The TinyDB format.

    @Test func writesTinyDBsLayoutWithStringIds() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/1", forKey: "a")
        try await store.setURL("http://x/2", forKey: "b")
        let table = try defaultTable(at: path)
        #expect(Set(table.keys) == ["1", "2"])
        #expect(table["1"]?["key"] as? String == "a")
        #expect(table["1"]?["url"] as? String == "http://x/1")
        #expect(table["2"]?["key"] as? String == "b")
        #expect(table["1"]?["stored_at"] is Double)
    }

    @Test func settingAStoredKeyUpdatesItsDocumentInPlace() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/1", forKey: "a")
        try await store.setURL("http://x/2", forKey: "b")
        try await store.setURL("http://x/1-new", forKey: "a")
        let table = try defaultTable(at: path)
        #expect(table.count == 2)
        #expect(table["1"]?["url"] as? String == "http://x/1-new")
    }

    @Test func newIdsAreTheHighestPlusOne() async throws {
        let path = folder.newPath("store.json")
        try write(#"{"_default": {"3": {"key": "a", "url": "http://x/a"}, "7": {"key": "b", "url": "http://x/b"}}}"#, to: path)
        let store = try FileStorage(path: path)
        try await store.removeURL(forKey: "b")
        try await store.setURL("http://x/c", forKey: "c")
        let table = try defaultTable(at: path)
        #expect(Set(table.keys) == ["3", "4"])
        #expect(table["4"]?["key"] as? String == "c")
    }

    @Test func keepsWhatIsNotOurs() async throws {
        let path = folder.newPath("store.json")
        try write(
            """
            {"_default": {"1": {"key": "a", "url": "http://x/a", "note": {"by": "tuspy", "n": [1, 2.5, true, null]}},
                          "2": {"something": "else"},
                          "x": {"odd": "id"}},
             "other": {"1": {"kept": "yes"}}}
            """, to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/b", forKey: "b")
        try await store.setURL("http://x/a2", forKey: "a")
        let object = try jsonObject(at: path)
        let other = try #require(object["other"] as? [String: [String: String]])
        #expect(other == ["1": ["kept": "yes"]])
        let table = try #require(object["_default"] as? [String: [String: Any]])
        #expect(table["2"]?["something"] as? String == "else")
        #expect(table["x"]?["odd"] as? String == "id")
        #expect(table["3"]?["key"] as? String == "b")
        let note = try #require(table["1"]?["note"] as? [String: Any])
        #expect(note["by"] as? String == "tuspy")
        #expect((note["n"] as? [Any])?.count == 4)
        #expect(table["1"]?["url"] as? String == "http://x/a2")
        // A document without a key is not an entry.
        #expect(try await store.entries().map(\.key).sorted() == ["a", "b"])
    }

    @Test func anEmptyFileIsAnEmptyStore() async throws {
        let path = folder.newPath("store.json")
        try write("", to: path)
        let store = try FileStorage(path: path)
        #expect(try await store.url(forKey: "a") == nil)
        #expect(try await store.entries().isEmpty)
        try await store.setURL("http://x/a", forKey: "a")
        #expect(try defaultTable(at: path)["1"]?["url"] as? String == "http://x/a")
    }

    @Test func aMissingFileIsAnEmptyStoreAndIsCreatedByTheFirstWrite() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        #expect(try await store.url(forKey: "a") == nil)
        #expect(!FileManager.default.fileExists(atPath: path))
        try await store.setURL("http://x/a", forKey: "a")
        #expect(FileManager.default.fileExists(atPath: path))
    }

    // Files and folders.

    @Test func newFilesArePrivate() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/a", forKey: "a")
        #expect(try mode(of: path) == 0o600)
        #expect(try mode(of: path + ".lock") == 0o600)
    }

    @Test func anExistingFileKeepsItsMode() async throws {
        let path = folder.newPath("store.json")
        try write("{}", to: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        try await FileStorage(path: path).setURL("http://x/a", forKey: "a")
        #expect(try mode(of: path) == 0o640)
    }

    @Test func aMissingParentFolderIsCreated() async throws {
        let path = (folder.path as NSString).appendingPathComponent("a/b/c/store.json")
        try await FileStorage(path: path).setURL("http://x/a", forKey: "a")
        #expect(try await FileStorage(path: path).url(forKey: "a") == "http://x/a")
    }

    @Test func aSymbolicLinkIsFollowedAndKept() async throws {
        let target = folder.newPath("real.json"), link = folder.newPath("link.json")
        try write("", to: target)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try await FileStorage(path: link).setURL("http://x/a", forKey: "a")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(try defaultTable(at: target)["1"]?["key"] as? String == "a")
    }

    @Test func aDirectoryIsRefusedByName() throws {
        let error = try #require(throws: TusError.self) { try FileStorage(path: folder.path) }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains(folder.path))
    }

    @Test func leavesNoTemporaryFileBehind() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        for index in 0..<5 { try await store.setURL("http://x/\(index)", forKey: "k\(index)") }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(Set(names) == [(path as NSString).lastPathComponent, (path as NSString).lastPathComponent + ".lock"])
    }

    // Corrupt files are never overwritten.

    @Test(arguments: [
        "not json at all",
        #"{"_default": {"1": {"key": "a", "url": "#,
        #"[1, 2, 3]"#,
        #"{"_default": [1]}"#,
        #"{"_default": {"1": "a string, not a document"}}"#,
        #""just a string""#,
    ])
    func aCorruptFileFailsEveryOperationAndIsLeftAlone(content: String) async throws {
        try await expectCorrupt(Array(content.utf8), in: folder, content)
    }

    // Sharing.

    @Test func twoInstancesSeeEachOthersWrites() async throws {
        let path = folder.newPath("store.json")
        let first = try FileStorage(path: path), second = try FileStorage(path: path)
        try await first.setURL("http://x/1", forKey: "a")
        #expect(try await second.url(forKey: "a") == "http://x/1")
        try await second.setURL("http://x/2", forKey: "a")
        #expect(try await first.url(forKey: "a") == "http://x/2")
        try await first.removeURL(forKey: "a")
        #expect(try await second.url(forKey: "a") == nil)
    }

    @Test func manyInstancesWritingAtOnceLoseNothing() async throws {
        let path = folder.newPath("store.json")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    let store = try FileStorage(path: path)
                    for index in 0..<25 {
                        try await store.setURL("http://x/\(writer)/\(index)", forKey: "w\(writer)-\(index)")
                    }
                    try await store.close()
                }
            }
            try await group.waitForAll()
        }
        let entries = try await FileStorage(path: path).entries()
        #expect(entries.count == 100)
        #expect(Set(try defaultTable(at: path).keys) == Set((1...100).map(String.init)))
    }

    @Test func aClosedStoreRefuses() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        try await store.close()
        let error = try await #require(throws: TusError.self) { try await store.setURL("http://x", forKey: "a") }
        #expect(error.code == .closed)
        #expect(error.message.contains(path))
    }

    @Test func keysCompareByBytesNotUnicodeEquivalence() async throws {
        let store = try FileStorage(path: folder.newPath("store.json"))
        try await store.setURL("http://x/precomposed", forKey: "caf\u{E9}")
        try await store.setURL("http://x/decomposed", forKey: "cafe\u{301}")
        #expect(try await store.url(forKey: "caf\u{E9}") == "http://x/precomposed")
        #expect(try await store.url(forKey: "cafe\u{301}") == "http://x/decomposed")
        #expect(try await store.entries().count == 2)
    }

    @Test func aLockHeldTooLongIsAClearErrorAndReadsGoOn() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path, lockTimeout: 0.3)
        try await store.setURL("http://x/1", forKey: "a")
        // Another process holds the lock until its standard input closes.
        let holder = try PythonProcess(
            "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
            [path + ".lock"])
        try #require(await holder.readLine() == "locked")

        let error = try await #require(throws: TusError.self) { try await store.setURL("http://x/2", forKey: "a") }
        #expect(error.code == .unavailable)
        #expect(error.message.contains(path + ".lock"))
        #expect(try await store.url(forKey: "a") == "http://x/1")

        try holder.closeInput()
        #expect(try await holder.wait().status == 0)
        try await store.setURL("http://x/2", forKey: "a")
        #expect(try await store.url(forKey: "a") == "http://x/2")
    }

    @Test func anIdTooLargeToCountFromIsKeptAndNotUsed() async throws {
        let path = folder.newPath("store.json")
        try write(#"{"_default": {"9223372036854775807": {"key": "huge", "url": "http://x/h"}, "2": {"key": "b", "url": "http://x/b"}}}"#, to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/c", forKey: "c")
        let table = try defaultTable(at: path)
        #expect(Set(table.keys) == ["9223372036854775807", "2", "3"])
    }

    @Test func aLeadingTildeIsTheHomeFolder() throws {
        let store = try FileStorage(path: "~/uploads-\(UUID().uuidString).json")
        #expect(store.path.hasPrefix(NSString("~").expandingTildeInPath + "/"))
        #expect(!store.path.contains("~"))
    }

    @Test func pruneKeepsEntriesOfUnknownAge() async throws {
        let path = folder.newPath("store.json")
        try write(#"{"_default": {"1": {"key": "from-tuspy", "url": "http://x/a"}}}"#, to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/b", forKey: "ours")
        #expect(try await store.removeEntries(storedBefore: Date().addingTimeInterval(60)) == 1)
        #expect(try await store.entries().map(\.key) == ["from-tuspy"])
        #expect(try await store.entries().first?.storedAt == nil)
    }
}
