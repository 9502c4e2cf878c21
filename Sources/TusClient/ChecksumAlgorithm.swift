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
