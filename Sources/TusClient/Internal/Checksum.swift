import Crypto
import Foundation
import NIOCore

extension ChecksumAlgorithm {
    /// The `Upload-Checksum` header value for `bytes`: the algorithm's name,
    /// a space, and the base64 digest.
    func headerValue(for bytes: ByteBuffer) -> String {
        let digest: Data = bytes.withUnsafeReadableBytes { buffer in
            switch self {
            case .sha1: Data(Insecure.SHA1.hash(data: buffer))
            case .sha256: Data(SHA256.hash(data: buffer))
            case .md5: Data(Insecure.MD5.hash(data: buffer))
            }
        }
        return "\(rawValue) \(digest.base64EncodedString())"
    }
}
