import Foundation
import Testing
import TusProtocol

@Suite struct UploadChecksumTests {
    private func headerValue(_ algorithm: UploadChecksum.Algorithm, of pieces: [String]) -> String {
        var hasher = UploadChecksum.Hasher(algorithm)
        for piece in pieces {
            Data(piece.utf8).withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalize().headerValue
    }

    @Test(arguments: [
        (UploadChecksum.Algorithm.sha1, "abc", "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
        (.sha256, "abc", "sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="),
        (.md5, "abc", "md5 kAFQmDzST7DWlj99KOF/cg=="),
        (.sha1, "", "sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk="),
        (.sha256, "", "sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
        (.md5, "", "md5 1B2M2Y8AsgTpgAmY7PhCfg=="),
    ])
    func headerValuesCarryTheKnownDigests(algorithm: UploadChecksum.Algorithm, text: String, expected: String) {
        #expect(headerValue(algorithm, of: [text]) == expected)
    }

    @Test(arguments: UploadChecksum.Algorithm.allCases)
    func aDigestFedInPiecesIsTheDigestOfTheWhole(algorithm: UploadChecksum.Algorithm) {
        #expect(headerValue(algorithm, of: ["a", "", "bc"]) == headerValue(algorithm, of: ["abc"]))
        #expect(headerValue(algorithm, of: ["ab"]) != headerValue(algorithm, of: ["abc"]))
    }

    @Test func theAlgorithmsAreNamedAsOnTheWire() {
        #expect(UploadChecksum.Algorithm.allCases.map(\.rawValue) == ["sha1", "sha256", "md5"])
    }

    @Test func aHeaderValueReadsBackAsTheChecksum() throws {
        let checksum = try UploadChecksum(headerValue: "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=")
        #expect(checksum.algorithm == .sha1)
        #expect(checksum.digest == Data([
            0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
            0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d,
        ]))
        #expect(checksum.headerValue == "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=")
    }

    @Test func theNameIsReadInAnyCaseAndSpacesAroundAreIgnored() throws {
        let checksum = try UploadChecksum(headerValue: "  SHA256   ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0= ")
        #expect(checksum.headerValue == "sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    }

    @Test(arguments: [
        ("sha1", UploadChecksum.ParseError.malformed),
        ("", .malformed),
        ("sha1 AAAA BBBB", .malformed),
        ("crc32 AAAAAA==", .unsupportedAlgorithm("crc32")),
        ("SHA512 AAAA", .unsupportedAlgorithm("sha512")),
        ("sha1 !!!notbase64", .digestNotBase64),
    ])
    func malformedValuesAreRefusedWithTheReason(value: String, error: UploadChecksum.ParseError) {
        #expect(throws: error) { try UploadChecksum(headerValue: value) }
    }

    @Test func anAlgorithmNotAcceptedIsUnsupportedBeforeItsDigestIsRead() {
        #expect(throws: UploadChecksum.ParseError.unsupportedAlgorithm("sha1")) {
            try UploadChecksum(headerValue: "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", accepting: [.sha256])
        }
        #expect(throws: UploadChecksum.ParseError.unsupportedAlgorithm("sha1")) {
            try UploadChecksum(headerValue: "sha1 !!!notbase64", accepting: [.sha256])
        }
    }
}
