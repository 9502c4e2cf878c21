/// The status codes tus adds to HTTP's.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum TusStatus {
    /// 460: the body's digest differs from its `Upload-Checksum`; the server
    /// discarded the body and the offset is unchanged.
    package static let checksumMismatch = 460
    /// The reason phrase sent with ``checksumMismatch``.
    package static let checksumMismatchReason = "Checksum Mismatch"
}
