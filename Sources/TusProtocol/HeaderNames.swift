/// The tus protocol version this package speaks, as sent in
/// `Tus-Resumable` and `Tus-Version`.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package let tusProtocolVersion = "1.0.0"

/// The names of the tus 1.0 headers, spelled as the protocol spells them.
///
/// HTTP compares header names without regard to case (SwiftNIO's
/// `HTTPHeaders` does too), so these serve for reading as well as writing.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum TusHeaderName {
    /// `Tus-Resumable`: the version a request or response speaks.
    package static let tusResumable = "Tus-Resumable"
    /// `Tus-Version`: the versions a server speaks, preferred first.
    package static let tusVersion = "Tus-Version"
    /// `Tus-Extension`: the extensions a server supports.
    package static let tusExtension = "Tus-Extension"
    /// `Tus-Max-Size`: the largest upload a server accepts, in bytes.
    package static let tusMaxSize = "Tus-Max-Size"
    /// `Tus-Checksum-Algorithm`: the checksum algorithms a server accepts.
    package static let tusChecksumAlgorithm = "Tus-Checksum-Algorithm"
    /// `Upload-Offset`: how many bytes of an upload the server holds, or
    /// where a `PATCH` body starts.
    package static let uploadOffset = "Upload-Offset"
    /// `Upload-Length`: the size of a whole upload, in bytes.
    package static let uploadLength = "Upload-Length"
    /// `Upload-Defer-Length`: `1` when the size is given later.
    package static let uploadDeferLength = "Upload-Defer-Length"
    /// `Upload-Metadata`: see ``UploadMetadataCodec``.
    package static let uploadMetadata = "Upload-Metadata"
    /// `Upload-Checksum`: see ``UploadChecksum``.
    package static let uploadChecksum = "Upload-Checksum"
    /// `Upload-Expires`: when an unfinished upload may be removed, an HTTP
    /// date (see ``HTTPDate``).
    package static let uploadExpires = "Upload-Expires"
    /// `Upload-Concat`: `partial`, or `final;` and the parts' URLs.
    package static let uploadConcat = "Upload-Concat"
}
