/// The draft's two byte counts, `Upload-Offset` and `Upload-Length`: each a
/// structured-field Item holding a non-negative Integer (draft -12 §4.1.1,
/// §4.1.3; draft -05 §8.1, §8.4).
///
/// A structured-field Integer has at most fifteen digits, so a byte count
/// beyond 999 999 999 999 999 (about 888 TiB) cannot be sent. Unlike tus
/// 1.0's digits (``NonNegativeInteger``), the value may carry parameters
/// (`25;a=1`, ignored here) and spaces around it; a `-` makes it negative,
/// which the draft forbids.
///
/// `Upload-Offset` in an answer is the server's promise that the bytes
/// before it need not be sent again; in an append it is where the content
/// starts, and a server holding another offset refuses the append with
/// `409 Conflict` and its own offset (``DraftStatus/conflict``).
/// `Upload-Length` is the size of the whole representation; a request
/// with `Upload-Complete: ?1` and `Content-Length` says it too (offset plus
/// content length), and the two must agree (draft -12 §4.1.3).
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum DraftByteCountField: Sendable, CaseIterable {
    /// `Upload-Offset`.
    case uploadOffset
    /// `Upload-Length`.
    case uploadLength

    /// The header's name.
    package var name: String {
        switch self {
        case .uploadOffset: DraftHeaderName.uploadOffset
        case .uploadLength: DraftHeaderName.uploadLength
        }
    }

    /// Reads a header value: the byte count.
    ///
    /// - Throws: ``DraftHeaderError`` naming the header when the value is
    ///   empty, not a structured-field Item, an Item of another type (a
    ///   decimal, a string …), negative, or longer than fifteen digits.
    package func parse(_ headerValue: String) throws(DraftHeaderError) -> Int64 {
        try StructuredFieldText.nonNegativeInteger(
            headerValue, header: name, expected: "expected a byte count such as 0 or 1024")
    }

    /// The header value for `count`: its digits.
    ///
    /// - Throws: ``DraftHeaderError`` when `count` is negative or more than
    ///   a structured-field Integer holds.
    package func headerValue(_ count: Int64) throws(DraftHeaderError) -> String {
        try StructuredFieldText.serialize(nonNegative: count, header: name)
    }
}
