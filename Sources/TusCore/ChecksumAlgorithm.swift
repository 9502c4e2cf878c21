/// A checksum sent with each request's bytes (the tus checksum extension),
/// so the server can reject bytes damaged on the way; named as in
/// `Upload-Checksum` and `Tus-Checksum-Algorithm`.
///
/// The one name for these algorithms in the package: the client's
/// `UploadOptions.checksum`, the development server's accepted algorithms
/// and the `tus` tool's `--checksum` all take it.
public enum ChecksumAlgorithm: String, Sendable, CaseIterable {
    /// SHA-1, which every server announcing the extension must support.
    case sha1
    /// SHA-256.
    case sha256
    /// MD5.
    case md5
}
