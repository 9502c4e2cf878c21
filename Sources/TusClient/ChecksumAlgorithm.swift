import TusProtocol

/// A checksum the client can send with each chunk (the tus checksum
/// extension), so the server can reject a chunk damaged on the way.
public enum ChecksumAlgorithm: String, Sendable, CaseIterable {
    /// SHA-1, which every server announcing the extension must support.
    case sha1
    /// SHA-256.
    case sha256
    /// MD5.
    case md5
}

extension ChecksumAlgorithm {
    /// The same algorithm in the wire format the client shares with the
    /// development server.
    var wireAlgorithm: UploadChecksum.Algorithm {
        switch self {
        case .sha1: .sha1
        case .sha256: .sha256
        case .md5: .md5
        }
    }
}
