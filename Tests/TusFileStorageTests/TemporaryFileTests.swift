import Foundation
import Testing
import TusCore
@testable import TusFileStorage
import TusTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary file a change is written to, in a folder others can write
/// to: links planted under its old fixed name or a guessed new one are never
/// followed, leftovers of killed writers are removed once stale, and nothing
/// else is touched.
@Suite struct TemporaryFileTests {
    let folder: TemporaryFolder
    let path: String
    let victim: String
    static let victimBytes = Data("another user's file, which no store write may touch\n".utf8)
    static let victimMode = 0o644

    init() throws {
        folder = try TemporaryFolder()
        path = folder.path + "/uploads.json"
        victim = folder.path + "/victim.txt"
        try Self.victimBytes.write(to: URL(fileURLWithPath: victim))
        try FileManager.default.setAttributes([.posixPermissions: Self.victimMode], ofItemAtPath: victim)
    }

    // MARK: Planted links

    @Test func linksPlantedAtTheOldNameAndAtGuessedNamesAreNeverFollowed() async throws {
        var random = SeededGenerator.forTest()
        let files = TemporaryFiles(storePath: path)
        let planted = [path + ".tmp"] + (0..<16).map { _ in folder.path + "/" + files.name(random.next()) }
        for link in planted { try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim) }

        let store = try FileStorage(path: path)
        try await store.setURL("https://tus.example/files/1", forKey: "a")
        try await store.setURL("https://tus.example/files/2", forKey: "b")
        try await store.setURL("https://tus.example/files/3", forKey: "a")
        try await store.removeURL(forKey: "b")
        try await store.setURL("https://tus.example/files/4", forKey: "c")
        try await store.close()

        try expectVictimUntouched()
        for link in planted {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == victim, "\(link) is no longer the planted link")
        }
        try await expectEntries(["a": "https://tus.example/files/3", "c": "https://tus.example/files/4"])
        #expect(try mode(of: path) == 0o600)
        #expect(try fileType(of: path) == S_IFREG)
        // Only the planted names are left beside the store; no temporary file.
        #expect(try temporaryNames() == Set(planted.dropFirst().map { ($0 as NSString).lastPathComponent }))
    }

    @Test func aNameAlreadyTakenIsSkippedAndTheNextOneDrawn() throws {
        var random = SeededGenerator.forTest()
        let seed = random.next()
        let files = TemporaryFiles(storePath: path)
        var guesses = SeededGenerator(seed: seed)
        let taken = (0..<3).map { _ in folder.path + "/" + files.name(guesses.next()) }
        let expected = folder.path + "/" + files.name(guesses.next())
        try FileManager.default.createSymbolicLink(atPath: taken[0], withDestinationPath: victim)
        try FileManager.default.createSymbolicLink(atPath: taken[1], withDestinationPath: folder.path + "/nothing-here")
        try Data("planted".utf8).write(to: URL(fileURLWithPath: taken[2]))

        var replay = SeededGenerator(seed: seed)
        let created = try files.create(using: &replay)
        defer { _ = close(created.descriptor) }
        #expect(created.path == expected)
        try POSIX.writeAll(created.descriptor, Array("new".utf8))

        try expectVictimUntouched()
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/nothing-here"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: taken[2])) == Data("planted".utf8))
        #expect(try fileType(of: expected) == S_IFREG)
        #expect(try mode(of: expected) & 0o077 == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: expected)) == Data("new".utf8))
    }

    @Test func everyNameTakenIsOneErrorNamingTheFolderAndWhatToRemove() throws {
        let files = TemporaryFiles(storePath: path)
        let name = files.name(Repeating.value)
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/" + name, withDestinationPath: victim)
        let store = try FileStorage(path: path)
        var random = Repeating()

        let error = #expect(throws: TusError.self) {
            try store.createTemporaryFile("store the URL of \"k\"", using: &random)
        }
        #expect(error?.code == .io)
        #expect(error?.message == "cannot store the URL of \"k\" in \(path): cannot create a temporary file in \(folder.path): "
            + "the 32 random names tried, such as \(folder.path)/\(name), were all taken; "
            + "remove the files named .uploads.json.*.tmp there and try again; the store was left unchanged")
        #expect((error?.cause as? SystemError)?.errno == EEXIST)
        try expectVictimUntouched()
    }

    // MARK: Leftovers

    @Test func aStaleTemporaryFileIsRemovedByTheNextWriteAndNothingElse() async throws {
        var random = SeededGenerator.forTest()
        let files = TemporaryFiles(storePath: path)
        func patterned() -> String { folder.path + "/" + files.name(random.next()) }
        let twoHoursAgo = Date().addingTimeInterval(-2 * 3600)

        let stale = patterned()
        try make(stale, modified: twoHoursAgo)
        let fresh = patterned()
        try make(fresh, modified: Date())
        let youngerThanTheBound = patterned()
        try make(youngerThanTheBound, modified: Date().addingTimeInterval(-50 * 60))
        // A stale link of the pattern, to a stale file: neither followed nor
        // removed; its target is kept too.
        let staleLink = patterned()
        let linkTarget = folder.path + "/target.txt"
        try make(linkTarget, modified: twoHoursAgo)
        try FileManager.default.createSymbolicLink(atPath: staleLink, withDestinationPath: linkTarget)
        try setLinkTime(staleLink, twoHoursAgo)
        let staleVictimLink = patterned()
        try FileManager.default.createSymbolicLink(atPath: staleVictimLink, withDestinationPath: victim)
        try setLinkTime(staleVictimLink, twoHoursAgo)
        // A folder of the pattern, and stale regular files whose names do
        // not follow it exactly.
        let staleFolder = patterned()
        try FileManager.default.createDirectory(atPath: staleFolder, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.modificationDate: twoHoursAgo], ofItemAtPath: staleFolder)
        let notOurs = [
            path + ".tmp",                                             // the old fixed name
            folder.path + "/.other.json.0123456789abcdef.tmp",         // another store's
            folder.path + "/.uploads.json.0123456789abcde.tmp",        // 15 digits
            folder.path + "/.uploads.json.0123456789ABCDEF.tmp",       // upper case
            folder.path + "/.uploads.json.0123456789abcdef.tmp.bak",
            folder.path + "/uploads.json.0123456789abcdef.tmp",        // no leading dot
        ]
        for name in notOurs { try make(name, modified: twoHoursAgo) }

        let store = try FileStorage(path: path)
        // A read writes nothing, and removes nothing.
        #expect(try await store.url(forKey: "a") == nil)
        #expect(FileManager.default.fileExists(atPath: stale))
        try await store.setURL("https://tus.example/files/1", forKey: "a")
        try await store.close()

        #expect(!FileManager.default.fileExists(atPath: stale))
        for kept in [fresh, youngerThanTheBound, linkTarget, staleFolder] + notOurs {
            #expect(FileManager.default.fileExists(atPath: kept), "\(kept) was removed")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: staleLink) == linkTarget)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: staleVictimLink) == victim)
        #expect(try Data(contentsOf: URL(fileURLWithPath: linkTarget)) == Data(linkTarget.utf8))
        try expectVictimUntouched()
        let left = [fresh, youngerThanTheBound, staleLink, staleVictimLink, staleFolder].map { ($0 as NSString).lastPathComponent }
        #expect(try temporaryNames() == Set(left))
        try await expectEntries(["a": "https://tus.example/files/1"])
    }

    @Test func aStoreWithALongNameFitsItsTemporaryNamesInTheFileSystemsLimit() async throws {
        let name = String(repeating: "u", count: 240) + ".json"
        let longPath = folder.path + "/" + name
        let files = TemporaryFiles(storePath: longPath)
        let stale = folder.path + "/" + files.name(7)
        #expect((stale as NSString).lastPathComponent.utf8.count == 255)
        try make(stale, modified: Date().addingTimeInterval(-2 * 3600))

        let store = try FileStorage(path: longPath)
        try await store.setURL("https://tus.example/files/1", forKey: "a")
        #expect(try await store.url(forKey: "a") == "https://tus.example/files/1")
        try await store.close()
        #expect(!FileManager.default.fileExists(atPath: stale))
    }

    // MARK: Helpers

    /// A generator that always draws the same number.
    struct Repeating: RandomNumberGenerator {
        static let value: UInt64 = 0x5eed
        mutating func next() -> UInt64 { Self.value }
    }

    private func expectVictimUntouched(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == Self.victimBytes, sourceLocation: sourceLocation)
        #expect(try mode(of: victim) == Self.victimMode, sourceLocation: sourceLocation)
        #expect(try fileType(of: victim) == S_IFREG, sourceLocation: sourceLocation)
    }

    /// The entries a new instance reads from the file.
    private func expectEntries(_ expected: [String: String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let reader = try FileStorage(path: path)
        let entries = try await reader.entries()
        try await reader.close()
        #expect(Dictionary(entries.map { ($0.key, $0.url) }, uniquingKeysWith: { $1 }) == expected, sourceLocation: sourceLocation)
        #expect(entries.count == expected.count, sourceLocation: sourceLocation)
    }

    /// The names in the folder of the pattern `.uploads.json.<16 hex digits>.tmp`.
    private func temporaryNames() throws -> Set<String> {
        let prefix = ".uploads.json."
        return Set(try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { name in
            guard name.hasPrefix(prefix), name.hasSuffix(".tmp"), name.count == prefix.count + 16 + 4 else { return false }
            return name.dropFirst(prefix.count).prefix(16).allSatisfy { "0123456789abcdef".contains($0) }
        })
    }

    private func make(_ file: String, modified: Date) throws {
        try Data(file.utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: file)
    }

    /// Sets the times of the link itself, not of what it points to.
    private func setLinkTime(_ link: String, _ date: Date) throws {
        let seconds = Int(date.timeIntervalSince1970)
        var times = [timeval(tv_sec: seconds, tv_usec: 0), timeval(tv_sec: seconds, tv_usec: 0)]
        if lutimes(link, &times) == -1 { throw SystemError(call: "lutimes", errno: errno) }
    }

    private func status(_ file: String) throws -> stat {
        var info = stat()
        if lstat(file, &info) == -1 { throw SystemError(call: "lstat", errno: errno) }
        return info
    }

    private func mode(of file: String) throws -> Int { Int(try status(file).st_mode & 0o7777) }
    private func fileType(of file: String) throws -> mode_t { try status(file).st_mode & S_IFMT }
}
