import Foundation

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs, a value
/// that is empty sent as the key alone.
///
/// A key is non-empty printable ASCII (`!` to `~`) with no comma, and
/// appears once; a value is any string, sent as the base64 of its UTF-8.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum UploadMetadataCodec {
    /// A key that tus cannot carry, and why, in words for people.
    package struct InvalidKey: Error, Sendable, Equatable {
        /// The key as given.
        package var key: String
        /// What is wrong with it, such as `metadata key "a b" contains a
        /// space or a comma, which tus does not allow`.
        package var message: String
    }

    /// The header value for `metadata`, keys sorted so it is the same on
    /// every run; `nil` when there is no metadata.
    ///
    /// - Throws: ``InvalidKey`` for the first key (in no particular order)
    ///   tus cannot carry.
    package static func encode(_ metadata: [String: String]) throws(InvalidKey) -> String? {
        if metadata.isEmpty { return nil }
        for key in metadata.keys {
            try validate(key: key)
        }
        return metadata.keys.sorted().map { key in
            let value = metadata[key]!
            return value.isEmpty ? key : "\(key) \(Data(value.utf8).base64EncodedString())"
        }.joined(separator: ",")
    }

    /// Throws unless `key` is non-empty printable ASCII with no space or
    /// comma.
    package static func validate(key: String) throws(InvalidKey) {
        if key.isEmpty {
            throw InvalidKey(key: key, message: "a metadata key is empty")
        }
        if key.contains(" ") || key.contains(",") {
            throw InvalidKey(
                key: key, message: "metadata key \(key.debugDescription) contains a space or a comma, which tus does not allow")
        }
        if !isValidKey(key) {
            throw InvalidKey(key: key, message: "metadata key \(key.debugDescription) must be printable ASCII")
        }
    }

    /// The pairs of a header value, or `nil` if it is malformed: a pair that
    /// is not `key` or `key base64value`, a key tus does not allow or seen
    /// twice, a value that is not base64. Whitespace around a pair is
    /// tolerated; an empty (or blank) header is no metadata. A value's bytes
    /// are read as UTF-8, invalid sequences replaced.
    package static func decode(_ header: String) -> [String: String]? {
        var result: [String: String] = [:]
        let trimmedHeader = header.trimmingCharacters(in: .whitespaces)
        if trimmedHeader.isEmpty { return [:] }
        for element in trimmedHeader.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = element.trimmingCharacters(in: .whitespaces)
            let parts = pair.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 1 || parts.count == 2 else { return nil }
            let key = String(parts[0])
            guard isValidKey(key), result[key] == nil else { return nil }
            var value = ""
            if parts.count == 2 {
                guard let data = Data(base64Encoded: String(parts[1])) else { return nil }
                value = String(decoding: data, as: UTF8.self)
            }
            result[key] = value
        }
        return result
    }

    /// Non-empty, every scalar printable ASCII (`!` to `~`, so no space or
    /// other whitespace), no comma.
    private static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && !key.contains(",") && key.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f }
    }
}
