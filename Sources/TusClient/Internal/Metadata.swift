import Foundation
import TusCore

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs, keys sorted
/// so the header is the same on every run.
enum UploadMetadata {
    /// Checks every key as the protocol requires and builds the header
    /// value, or nil when there is no metadata.
    static func header(_ metadata: [String: String]) throws -> String? {
        if metadata.isEmpty { return nil }
        for key in metadata.keys {
            try validate(key)
        }
        return metadata.keys.sorted().map { key in
            let value = metadata[key]!
            return value.isEmpty ? key : "\(key) \(Data(value.utf8).base64EncodedString())"
        }.joined(separator: ",")
    }

    /// Throws `.invalidArgument` unless `key` is non-empty printable ASCII
    /// with no space or comma.
    static func validate(_ key: String) throws {
        if key.isEmpty {
            throw TusError(.invalidArgument, "a metadata key is empty")
        }
        if key.contains(" ") || key.contains(",") {
            throw TusError(.invalidArgument, "metadata key \(key.debugDescription) contains a space or a comma, which tus does not allow")
        }
        if !key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) {
            throw TusError(.invalidArgument, "metadata key \(key.debugDescription) must be printable ASCII")
        }
    }
}
