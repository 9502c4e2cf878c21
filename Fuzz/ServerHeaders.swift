// Fuzz target `server-headers`: what the development server reads from a
// request's headers. The input, as text, goes to each reader in turn, as
// `TusDecisions` calls it (integers and `Upload-Concat` after trimming):
//
// - `Upload-Offset`, `Upload-Length`, `Content-Length`
//   (`NonNegativeInteger.parse`): a value is read exactly when it is 1 to 19
//   ASCII digits within `Int64`, and is their value.
// - `Upload-Concat` (`UploadConcat`): `partial`, or `final;` and at least one
//   URL, none empty or holding a space or tab; what it reads, it writes
//   again as a value it reads the same.
// - `Upload-Checksum` (`UploadChecksum`): what it reads has a known,
//   accepted algorithm, and its `headerValue` reads back the same; what it
//   refuses, it refuses for the first reason in its documented order.
// - `Upload-Metadata` (`UploadMetadataCodec.decode`): the keys it reads are
//   keys tus allows (the `metadata` target checks the round trip).
// - `Content-Type` (`HeaderParsing.isOffsetOctetStream`): true for
//   `application/offset+octet-stream` in any case, with parameters and
//   spaces or tabs around; never for another media type.
import Foundation
@testable import TusDevServer
@testable import TusProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let value = text(UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    checkInteger(value)
    checkConcat(value)
    checkChecksum(value)
    if let metadata = UploadMetadataCodec.decode(value) {
        for key in metadata.keys {
            require(!key.isEmpty && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") },
                    "Upload-Metadata \(value.debugDescription) gave the key \(key.debugDescription)")
        }
    }
    checkContentType(value)
    return 0
}

func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

func checkInteger(_ value: String) {
    let trimmed = value.trimmingCharacters(in: .whitespaces)
    let parsed = NonNegativeInteger.parse(trimmed)
    let digits = Array(trimmed.utf8)
    let valid = !digits.isEmpty && digits.count <= 19 && digits.allSatisfy(isDigit)
    if let parsed {
        require(valid && parsed >= 0, "\(trimmed.debugDescription) was read as the byte count \(parsed)")
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        require(String(parsed) == (significant.isEmpty ? "0" : String(decoding: significant, as: UTF8.self)),
                "\(trimmed.debugDescription) was read as \(parsed)")
    } else if valid {
        // 19 digits may exceed Int64.max: compare as text.
        let significant = String(decoding: digits.drop { $0 == UInt8(ascii: "0") }, as: UTF8.self)
        let fits = significant.count < 19 || (significant.count == 19 && significant <= String(Int64.max))
        require(!fits, "the byte count \(trimmed.debugDescription) was refused")
    }
}

func checkConcat(_ value: String) {
    guard let concat = UploadConcat(headerValue: value) else {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        require(trimmed != "partial", "Upload-Concat \(value.debugDescription) was refused")
        return
    }
    switch concat {
    case .partial:
        require(value.trimmingCharacters(in: .whitespaces) == "partial", "Upload-Concat \(value.debugDescription) was read as partial")
    case .final(let urls):
        require(!urls.isEmpty, "Upload-Concat \(value.debugDescription) was read as a final upload of no parts")
        for url in urls {
            require(!url.isEmpty && !url.unicodeScalars.contains { $0 == " " || $0 == "\t" },
                    "Upload-Concat \(value.debugDescription) gave the part URL \(url.debugDescription)")
        }
    }
    let again = UploadConcat(headerValue: concat.headerValue)
    require(again == concat, "Upload-Concat \(value.debugDescription) was read as \(concat), written \(concat.headerValue.debugDescription), read back as \(again.debugDescription)")
}

func checkChecksum(_ value: String) {
    // As the server asks: every algorithm, or only some.
    for accepted in [UploadChecksum.Algorithm.allCases, [.sha256]] {
        do {
            let checksum = try UploadChecksum(headerValue: value, accepting: accepted)
            require(accepted.contains(checksum.algorithm), "Upload-Checksum \(value.debugDescription) gave the refused algorithm \(checksum.algorithm)")
            let again = try? UploadChecksum(headerValue: checksum.headerValue, accepting: accepted)
            require(again == checksum, "Upload-Checksum \(value.debugDescription) was read as \(checksum), written \(checksum.headerValue.debugDescription), read back as \(again.debugDescription)")
            require(checksum.headerValue.hasPrefix(checksum.algorithm.rawValue + " "), "\(checksum.headerValue.debugDescription)")
        } catch {
            switch error {
            case .malformed:
                // In ASCII: two words apart from spaces and tabs around,
                // one or more spaces between.
                let bytes = Array(value.utf8)
                let trimmed = bytes.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
                let words = trimmed.split(separator: 0x20)
                let twoWords = bytes.allSatisfy { $0 < 0x80 } && words.count == 2 && !words.joined().contains(0x09)
                require(!twoWords, "Upload-Checksum \(value.debugDescription) of two words was called malformed")
            case .unsupportedAlgorithm(let name):
                require(UploadChecksum.Algorithm(rawValue: name).map { !accepted.contains($0) } ?? true,
                        "Upload-Checksum \(value.debugDescription): \(name.debugDescription) was called unsupported")
            case .digestNotBase64:
                break
            }
        }
    }
}

func checkContentType(_ value: String) {
    let accepted = HeaderParsing.isOffsetOctetStream(value)
    // The media type: the bytes before the first ';', without spaces and
    // tabs around, in ASCII case.
    let bytes = Array(value.utf8)
    let mediaType = bytes.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
    let trimmed = mediaType.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
    let lowered = trimmed.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
    let isIt = lowered == Array("application/offset+octet-stream".utf8)
    if isIt && value.unicodeScalars.allSatisfy(\.isASCII) {
        require(accepted, "Content-Type \(value.debugDescription) was not taken for application/offset+octet-stream")
    }
    if accepted {
        require(value.lowercased().contains("application/offset+octet-stream"),
                "Content-Type \(value.debugDescription) was taken for application/offset+octet-stream")
    }
}
