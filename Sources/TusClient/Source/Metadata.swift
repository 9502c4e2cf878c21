import TusCore
import TusProtocol

/// `Upload-Metadata`, written by ``UploadMetadataCodec``; a key tus cannot
/// carry is a ``TusError`` here.
enum UploadMetadata {
    /// Checks every key as the protocol requires and builds the header
    /// value (keys sorted), or nil when there is no metadata.
    static func header(_ metadata: [String: String]) throws -> String? {
        do throws(UploadMetadataCodec.InvalidKey) {
            return try UploadMetadataCodec.encode(metadata)
        } catch {
            throw TusError(.invalidArgument, error.message)
        }
    }

    /// Throws `.invalidArgument` unless `key` is non-empty printable ASCII
    /// with no space or comma.
    static func validate(_ key: String) throws {
        do throws(UploadMetadataCodec.InvalidKey) {
            try UploadMetadataCodec.validate(key: key)
        } catch {
            throw TusError(.invalidArgument, error.message)
        }
    }
}
