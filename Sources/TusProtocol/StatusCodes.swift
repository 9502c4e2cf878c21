/// The status codes tus adds to HTTP's.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`: public only so those modules can use it, not a product and
/// not the package's API.
public enum TusStatus {
    /// 460: the body's digest differs from its `Upload-Checksum`; the server
    /// discarded the body and the offset is unchanged.
    public static let checksumMismatch = 460
    /// The reason phrase sent with ``checksumMismatch``.
    public static let checksumMismatchReason = "Checksum Mismatch"
}
