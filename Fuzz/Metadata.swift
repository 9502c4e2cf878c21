// Fuzz target `metadata`: `Upload-Metadata` (`UploadMetadataCodec`), which
// the client writes and the development server reads.
//
// The input is read two ways:
// - as a header value: whatever `decode` accepts has keys tus allows, and
//   `encode` writes it again as a header that decodes to the same pairs,
//   byte for byte;
// - as metadata, pairs separated by 0xFF bytes (key 0xFE value): `encode`
//   refuses exactly the keys tus cannot carry, with a message naming the
//   key, and otherwise writes a header, keys sorted, that `decode` reads
//   back to the same pairs, byte for byte.
import Foundation
@testable import TusProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let header = text(bytes) { checkHeader(header) }
    checkMetadata(Array(bytes))
    return 0
}

/// Values compared as bytes: `String`'s `==` would call canonically
/// equivalent spellings equal.
func asBytes(_ metadata: [String: String]) -> [[UInt8]: [UInt8]] {
    Dictionary(uniqueKeysWithValues: metadata.map { (Array($0.key.utf8), Array($0.value.utf8)) })
}

/// tus's rule for keys, over bytes: non-empty, `!` to `~`, no comma.
func isAllowedKey(_ key: String) -> Bool {
    !key.isEmpty && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") }
}

func checkHeader(_ header: String) {
    guard let decoded = UploadMetadataCodec.decode(header) else { return }
    for key in decoded.keys {
        require(isAllowedKey(key), "decode accepted the key \(key.debugDescription) from \(header.debugDescription)")
    }
    let encoded: String?
    do {
        encoded = try UploadMetadataCodec.encode(decoded)
    } catch {
        propertyFailed("encode refused what decode read from \(header.debugDescription): \(error.message)")
    }
    guard let encoded else {
        require(decoded.isEmpty, "encode wrote nothing for \(decoded)")
        return
    }
    let again = UploadMetadataCodec.decode(encoded)
    require(again.map(asBytes) == asBytes(decoded),
            "\(header.debugDescription) decodes to \(decoded), encoded as \(encoded.debugDescription), which decodes to \(again.debugDescription)")
}

func checkMetadata(_ bytes: [UInt8]) {
    var metadata: [String: String] = [:]
    for pair in bytes.split(separator: 0xFF, omittingEmptySubsequences: false) {
        let parts = pair.split(separator: 0xFE, maxSplits: 1, omittingEmptySubsequences: false)
        guard let key = String(validating: parts[0], as: UTF8.self) else { return }
        let value = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : ""
        // A key given twice, or in two spellings a dictionary takes for
        // one (canonically equivalent), is not metadata.
        guard metadata[key] == nil else { return }
        metadata[key] = value
    }
    let header: String?
    do {
        header = try UploadMetadataCodec.encode(metadata)
    } catch {
        require(!isAllowedKey(error.key), "encode refused the key \(error.key.debugDescription), which tus allows: \(error.message)")
        require(holds(error.message, error.key.isEmpty ? "empty" : error.key.debugDescription),
                "the message does not name the key \(error.key.debugDescription): \(error.message)")
        return
    }
    for key in metadata.keys {
        require(isAllowedKey(key), "encode accepted the key \(key.debugDescription)")
    }
    guard let header else {
        require(metadata.isEmpty, "encode wrote nothing for \(metadata)")
        return
    }
    require(header.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F || $0 == " " },
            "the header \(header.debugDescription) is not printable ASCII")
    let keys = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.split(separator: " ").first.map(String.init) ?? "" }
    require(keys == metadata.keys.sorted(), "the header \(header.debugDescription) has its keys out of order")
    let decoded = UploadMetadataCodec.decode(header)
    require(decoded.map(asBytes) == asBytes(metadata),
            "\(metadata) is encoded as \(header.debugDescription), which decodes to \(decoded.debugDescription)")
}
