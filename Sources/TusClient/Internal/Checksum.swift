import NIOCore
import TusProtocol

extension ChecksumAlgorithm {
    /// The `Upload-Checksum` header value for `bytes`: the algorithm's name,
    /// a space, and the base64 digest.
    func headerValue(for bytes: ByteBuffer) -> String {
        var hasher = hasher()
        bytes.withUnsafeReadableBytes { hasher.update($0) }
        return hasher.headerValue()
    }

    /// A digest fed a piece at a time.
    func hasher() -> ChecksumHasher {
        ChecksumHasher(algorithm: self)
    }
}

/// The digest of bytes given a piece at a time, for `Upload-Checksum`
/// (``UploadChecksum/Hasher`` under the client's names).
struct ChecksumHasher {
    let algorithm: ChecksumAlgorithm
    private var hasher: UploadChecksum.Hasher

    init(algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        hasher = UploadChecksum.Hasher(algorithm.wireAlgorithm)
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bytes)
    }

    /// The algorithm's name, a space, and the base64 digest.
    func headerValue() -> String {
        hasher.finalize().headerValue
    }
}
