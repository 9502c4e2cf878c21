import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Parsers and formatters for the tus request and response headers.
enum HeaderParsing {
    /// A non-negative decimal integer made of ASCII digits only (no sign, no
    /// spaces) that fits in `Int64`; `nil` otherwise.
    static func nonNegativeInteger(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            return nil
        }
        return Int64(text)
    }

    /// The pairs of an `Upload-Metadata` header, validated: comma-separated
    /// `key base64value` pairs (value optional), keys non-empty, unique, free
    /// of spaces and commas, values valid base64. Whitespace around a pair is
    /// tolerated. An empty header means no metadata.
    static func metadata(_ header: String) -> [String: String]? {
        var result: [String: String] = [:]
        let trimmedHeader = header.trimmingCharacters(in: .whitespaces)
        if trimmedHeader.isEmpty { return [:] }
        for element in trimmedHeader.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = element.trimmingCharacters(in: .whitespaces)
            let parts = pair.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 1 || parts.count == 2 else { return nil }
            let key = String(parts[0])
            guard !key.isEmpty, !key.contains(where: { $0.isWhitespace || $0 == "," }),
                key.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 }),
                result[key] == nil
            else { return nil }
            var value = ""
            if parts.count == 2 {
                let encoded = String(parts[1])
                guard let data = Data(base64Encoded: encoded) else { return nil }
                value = String(decoding: data, as: UTF8.self)
            }
            result[key] = value
        }
        return result
    }

    /// An HTTP date (RFC 7231 IMF-fixdate), such as
    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        // Years 1 to 9999 fit the format.
        let bounded = interval.isFinite ? min(max(interval, -62_135_596_800), 253_402_300_799) : 0
        var seconds = time_t(bounded.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    /// Whether a `Content-Type` value names `application/offset+octet-stream`
    /// (parameters after `;` are ignored).
    static func isOffsetOctetStream(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/offset+octet-stream"
    }
}

/// The checksum algorithms the server knows.
enum ChecksumAlgorithm: String, CaseIterable, Sendable {
    case sha1, sha256, md5

    func makeHasher() -> ChecksumHasher {
        switch self {
        case .sha1: .sha1(Insecure.SHA1())
        case .sha256: .sha256(SHA256())
        case .md5: .md5(Insecure.MD5())
        }
    }
}

/// A running digest over the bytes of one request body.
enum ChecksumHasher {
    case sha1(Insecure.SHA1)
    case sha256(SHA256)
    case md5(Insecure.MD5)

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .sha1(var h):
            h.update(bufferPointer: bytes)
            self = .sha1(h)
        case .sha256(var h):
            h.update(bufferPointer: bytes)
            self = .sha256(h)
        case .md5(var h):
            h.update(bufferPointer: bytes)
            self = .md5(h)
        }
    }

    func finalize() -> Data {
        switch self {
        case .sha1(let h): Data(h.finalize())
        case .sha256(let h): Data(h.finalize())
        case .md5(let h): Data(h.finalize())
        }
    }
}
