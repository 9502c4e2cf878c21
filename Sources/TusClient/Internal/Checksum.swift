import Crypto
import Foundation
import NIOCore

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

/// The digest of bytes given a piece at a time, for `Upload-Checksum`.
struct ChecksumHasher {
    private enum State {
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
        case md5(Insecure.MD5)
    }

    let algorithm: ChecksumAlgorithm
    private var state: State

    init(algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        state = switch algorithm {
        case .sha1: .sha1(Insecure.SHA1())
        case .sha256: .sha256(SHA256())
        case .md5: .md5(Insecure.MD5())
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .sha1(var hash): hash.update(bufferPointer: bytes); state = .sha1(hash)
        case .sha256(var hash): hash.update(bufferPointer: bytes); state = .sha256(hash)
        case .md5(var hash): hash.update(bufferPointer: bytes); state = .md5(hash)
        }
    }

    /// The algorithm's name, a space, and the base64 digest.
    func headerValue() -> String {
        let digest: Data = switch state {
        case .sha1(let hash): Data(hash.finalize())
        case .sha256(let hash): Data(hash.finalize())
        case .md5(let hash): Data(hash.finalize())
        }
        return "\(algorithm.rawValue) \(digest.base64EncodedString())"
    }
}
