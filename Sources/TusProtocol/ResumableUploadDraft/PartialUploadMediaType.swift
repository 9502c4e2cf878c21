import Foundation

/// `application/partial-upload`, the media type of an upload append's
/// content: a contiguous block of the representation, possibly empty, that
/// need not start or end where the representation does (draft -12 §6;
/// draft -05 §9). Every append is a `PATCH` whose `Content-Type` is this
/// type (draft -12 §4.4.1), required since interop version 6 (draft -04),
/// so in both versions spoken here.
///
/// The type of the representation itself is the creation request's
/// `Content-Type`; appends never repeat it.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum PartialUploadMediaType {
    /// The `Content-Type` an append sends: `application/partial-upload`.
    package static let contentType = "application/partial-upload"

    /// Whether a `Content-Type` value names this type. Media types are
    /// compared without regard to case, and parameters (`; charset=…`)
    /// and the spaces around the type do not change it (RFC 9110 §8.3.1).
    ///
    /// Apple's NIOResumableUpload is stricter: it takes only the exact
    /// string, so an append to it sends ``contentType`` as is.
    package static func matches(contentType value: String) -> Bool {
        let type = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased() == contentType
    }
}
