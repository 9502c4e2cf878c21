import Foundation
import Testing
import TusTestSupport

/// The runnable examples do what the README says they do.
@Suite struct ExampleTests {
    private func example(_ name: String) -> String {
        (TestPaths.tusBinary as NSString).deletingLastPathComponent + "/" + name
    }

    @Test func managingStoredURLsFindsStoresAndRemoves() throws {
        let folder = try TemporaryFolder()
        let file = folder.newPath("file.bin"), store = folder.newPath("store.json")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: file))
        let key = "size:5--md5:5d41402abc4b2a76b9719d911017c592"

        let first = try runProcess(example("managing-stored-urls"), [file, store])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("Fingerprint of \(file): \(key)"))
        #expect(first.stdout.contains("No stored URL found for this file"))
        #expect(first.stdout.contains("Removed; the store now holds 0 entries"))

        // With a URL already stored under the file's key, it finds it.
        let setResult = try runTus(["store", "set", key, "http://tus.example/files/abc", "--store", "json:" + store])
        #expect(setResult.status == 0)
        let second = try runProcess(example("managing-stored-urls"), [file, store])
        #expect(second.stdout.contains("Found stored URL: http://tus.example/files/abc"))
        #expect(try runTus(["store", "get", key, "--store", "json:" + store]).status == 1)
    }

    @Test func managingStoredURLsRefusesOptionsItDoesNotKnow() throws {
        let result = try runProcess(example("managing-stored-urls"), ["/etc/hostname", "--endpoint"])
        #expect(result.status == 2)
        #expect(result.stderr == "error: unknown option --endpoint; usage: managing-stored-urls [FILE] [STORE.json]\n")
        #expect(!FileManager.default.fileExists(atPath: "--endpoint"))
    }

    @Test func managingStoredURLsReportsAMissingFile() throws {
        let result = try runProcess(example("managing-stored-urls"), ["/nonexistent/file.bin"])
        #expect(result.status == 2)
        #expect(result.stderr == "error: cannot open /nonexistent/file.bin: No such file or directory\n")
    }
}
