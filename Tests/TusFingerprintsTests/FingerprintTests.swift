import Foundation
import Testing
import TusCore
import TusFingerprints
import TusTestSupport

/// Bytes 0, 1, 2, … 255, 0, 1, … of the given length.
func patterned(_ count: Int, seed: UInt8 = 0) -> Data {
    Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &+ Int(seed)) })
}

@Suite struct MD5FingerprintTests {
    // Ports of tuspy's tests/test_fingerprint.py.

    @Test func emptyInputGivesTuspysKey() throws {
        #expect(try MD5Fingerprint().fingerprint(of: Data()) == "size:0--md5:d41d8cd98f00b204e9800998ecf8427e")
    }

    @Test func knownContentGivesItsMD5AndSize() throws {
        // md5("abc") from RFC 1321's test suite.
        #expect(try MD5Fingerprint().fingerprint(of: Data("abc".utf8)) == "size:3--md5:900150983cd24fb0d6963f7d28e17f72")
    }

    @Test func differentFilesGetDifferentKeys() throws {
        let folder = try TemporaryFolder()
        let a = folder.newPath("a.txt"), b = folder.newPath("b.txt")
        try Data("hello world".utf8).write(to: URL(fileURLWithPath: a))
        try Data("hello there".utf8).write(to: URL(fileURLWithPath: b))
        let fingerprint = MD5Fingerprint()
        #expect(try fingerprint.fingerprint(ofFileAtPath: a) != fingerprint.fingerprint(ofFileAtPath: b))
    }

    @Test func sameContentGetsTheSameKeyWhateverTheName() throws {
        let folder = try TemporaryFolder()
        let a = folder.newPath("a.bin"), b = folder.newPath("copy.bin")
        try patterned(100_000).write(to: URL(fileURLWithPath: a))
        try patterned(100_000).write(to: URL(fileURLWithPath: b))
        #expect(try MD5Fingerprint().fingerprint(ofFileAtPath: a) == MD5Fingerprint().fingerprint(ofFileAtPath: b))
    }

    @Test func onlyTheFirst64KiBAreHashedByDefault() throws {
        var a = patterned(200_000), b = patterned(200_000)
        a[150_000] = 1
        b[150_000] = 2
        let block = MD5Fingerprint()
        #expect(try block.fingerprint(of: a) == block.fingerprint(of: b))
        // A difference inside the first block changes the key.
        var c = patterned(200_000)
        c[65_535] ^= 0xff
        #expect(try block.fingerprint(of: c) != block.fingerprint(of: a))
    }

    @Test func wholeFileScopeTellsApartFilesThatDifferLate() throws {
        var a = patterned(200_000), b = patterned(200_000)
        a[199_999] = 1
        b[199_999] = 2
        let whole = MD5Fingerprint(scope: .wholeFile)
        let keyA = try whole.fingerprint(of: a)
        #expect(keyA != (try whole.fingerprint(of: b)))
        #expect(keyA.hasPrefix("size:200000--md5-whole:"))
    }

    @Test func wholeFileScopeOfASmallFileHashesTheSameBytes() throws {
        let data = patterned(1000)
        let block = try MD5Fingerprint().fingerprint(of: data)
        let whole = try MD5Fingerprint(scope: .wholeFile).fingerprint(of: data)
        #expect(whole == block.replacingOccurrences(of: "--md5:", with: "--md5-whole:"))
    }
}

@Suite struct SHA256FingerprintTests {
    @Test func emptyInput() throws {
        #expect(
            try SHA256Fingerprint().fingerprint(of: Data())
                == "size:0--sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
    }

    @Test func knownContent() throws {
        // sha256("abc") from FIPS 180-2.
        #expect(
            try SHA256Fingerprint().fingerprint(of: Data("abc".utf8))
                == "size:3--sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
    }

    @Test func wholeFileStreamsLargeFilesAndSeesEveryByte() throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("big.bin")
        // 3 MiB + 1: several 1 MiB reads and a short last one.
        var data = patterned(3 * 1024 * 1024 + 1)
        try data.write(to: URL(fileURLWithPath: path))
        let whole = SHA256Fingerprint(scope: .wholeFile)
        let key = try whole.fingerprint(ofFileAtPath: path)
        #expect(key == (try whole.fingerprint(of: data)))
        #expect(key.hasPrefix("size:3145729--sha256-whole:"))
        data[data.count - 1] ^= 1
        #expect(key != (try whole.fingerprint(of: data)))
    }
}

@Suite struct FingerprintSourcesTests {
    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, 300_000])
    func pathHandleAndDataAgree(size: Int) throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("file.bin")
        let data = patterned(size, seed: 7)
        try data.write(to: URL(fileURLWithPath: path))
        for fingerprint in [MD5Fingerprint(), MD5Fingerprint(scope: .wholeFile)] as [any Fingerprint] + [SHA256Fingerprint()] {
            let fromPath = try fingerprint.fingerprint(ofFileAtPath: path)
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            #expect(try fingerprint.fingerprint(of: handle) == fromPath)
            #expect(try fingerprint.fingerprint(of: data) == fromPath)
            #expect(fromPath.hasPrefix("size:\(size)--"))
        }
    }

    @Test func aFileHandleIsNeitherMovedNorClosed() throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("file.bin")
        try patterned(100_000).write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: 12_345)
        let first = try MD5Fingerprint().fingerprint(of: handle)
        #expect(try handle.offset() == 12_345)
        // The key covers the content from its first byte, wherever the handle was.
        #expect(first == (try MD5Fingerprint().fingerprint(ofFileAtPath: path)))
        // Still open and readable where it was.
        #expect(try handle.read(upToCount: 1) == Data([UInt8(truncatingIfNeeded: 12_345)]))
    }

    @Test func aMissingFileIsAnErrorNamingIt() throws {
        let path = "/nonexistent-folder-\(UUID().uuidString)/file.bin"
        let error = try #require(throws: TusError.self) { try MD5Fingerprint().fingerprint(ofFileAtPath: path) }
        #expect(error.code == .notFound)
        #expect(error.message.contains(path))
    }

    @Test func aDirectoryIsAnErrorNamingIt() throws {
        let folder = try TemporaryFolder()
        let error = try #require(throws: TusError.self) { try SHA256Fingerprint().fingerprint(ofFileAtPath: folder.path) }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains(folder.path))
        #expect(error.message.contains("directory"))
    }

    @Test func aPipeIsRefusedWithoutWaitingForAWriter() throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("fifo")
        #expect(mkfifo(path, 0o600) == 0)
        let error = try #require(throws: TusError.self) { try MD5Fingerprint().fingerprint(ofFileAtPath: path) }
        #expect(error.code == .invalidArgument)
        #expect(error.message == "cannot fingerprint \(path): it is not a regular file")
    }

    @Test func aSymbolicLinkGivesTheKeyOfItsTarget() throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("file.bin")
        try patterned(100_000).write(to: URL(fileURLWithPath: path))
        let link = folder.newPath("link.bin")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(try MD5Fingerprint().fingerprint(ofFileAtPath: link) == (try MD5Fingerprint().fingerprint(of: patterned(100_000))))
    }

    @Test func fingerprintingByPathLeavesNoFileOpen() throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("file.bin")
        try patterned(70_000).write(to: URL(fileURLWithPath: path))
        func openFiles() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count }
        guard FileManager.default.fileExists(atPath: "/proc/self/fd") else { return }
        let before = try openFiles()
        for _ in 0..<500 {
            _ = try MD5Fingerprint().fingerprint(ofFileAtPath: path)
            _ = try SHA256Fingerprint(scope: .wholeFile).fingerprint(ofFileAtPath: path)
        }
        _ = try? MD5Fingerprint().fingerprint(ofFileAtPath: folder.path)
        // Other tests may open files at the same time; 1,000 leaked ones would show.
        #expect(try openFiles() < before + 50)
    }

    @Test func aCustomFingerprintNeedsOneMethod() throws {
        struct FirstByte: Fingerprint {
            func fingerprint(of source: inout FingerprintSource) throws -> String {
                let byte = try source.read(upToCount: 1).first.map(String.init) ?? "none"
                return "size:\(source.size)--first:\(byte)"
            }
        }
        #expect(try FirstByte().fingerprint(of: Data([42, 1, 2])) == "size:3--first:42")
        #expect(try FirstByte().fingerprint(of: Data()) == "size:0--first:none")
    }
}
