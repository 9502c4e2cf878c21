import Foundation
import NIOCore
import NIOPosix
import TusCore
import TusProtocol

/// A second check that a stored upload is this file's, beside the key it is
/// stored under.
///
/// The default key (tuspy's) hashes the file's size and first 64 KiB, so two
/// files that share both share a key. At creation the upload's metadata
/// gets ``metadataKey`` with the file's size and a SHA-256 of its last 64
/// KiB; on resume, a server that echoes the metadata (`HEAD` answers carry
/// `Upload-Metadata`) shows whether the upload behind the stored URL is this
/// file's. A server that echoes no metadata cannot tell, and the stored URL
/// is trusted as before.
enum FileCheck {
    /// The metadata key: the package's name in it, so no user's key clashes.
    static let metadataKey = "swift-tus-file-check"

    /// How many bytes from the end are hashed.
    static let tailLength = 64 << 10

    /// The check's value for bytes `tail`, the last ``tailLength`` of a file
    /// of `size` bytes: `SIZE sha256:BASE64`.
    static func value(size: Int64, tail: ByteBuffer) -> String {
        var hasher = UploadChecksum.Hasher(.sha256)
        tail.withUnsafeReadableBytes { hasher.update($0) }
        return "\(size) sha256:\(hasher.finalize().digest.base64EncodedString())"
    }

    /// The check of `source`, or nil for a stream (never resumed). A file's
    /// tail is read on NIO's blocking-I/O thread pool, never on the
    /// caller's thread.
    static func value(of source: UploadSource) async throws -> String? {
        guard source.isSeekable, let size = source.size else { return nil }
        let start = max(0, size - Int64(tailLength))
        let tail = try await NIOThreadPool.singleton.runIfActive {
            try source.read(at: start, count: Int(size - start))
        }
        return value(size: size, tail: tail)
    }
}
