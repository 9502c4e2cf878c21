/// `Upload-Complete`, a structured-field Boolean: `?1` or `?0`.
///
/// In a request it says whether the request's content ends the upload
/// (draft -12 §4.1.2). Every upload append (`PATCH`) must carry it (draft
/// -12 §4.4.1): `?0` while more is to come, `?1` with the last bytes, or
/// with no content once everything has been sent. A creation request
/// (`POST`, `PUT`, …) carrying it asks for a resumable upload; `?0` there
/// creates the upload resource for content sent later (§4.2.1).
///
/// In an answer to a creation or an append it says where the answer comes
/// from (draft -12 §4.1.2, §4.4.2): `?1`, from the resource the upload was
/// for, having processed the whole representation (even a 4xx or 5xx then
/// means resuming will not help); `?0`, from the resumable-upload
/// machinery: a `2xx` acknowledging a partial append, or a `409 Conflict`
/// for a mismatched offset (``DraftStatus/conflict``). An offset retrieval
/// (`HEAD`) answers with it too, saying whether the upload is complete
/// (§4.3.2).
///
/// Anything but a Boolean makes the draft ignore the whole field; here it
/// is a ``DraftHeaderError`` the caller can show before ignoring it.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum UploadCompleteField {
    /// Reads a header value: `?1` is true, `?0` false. Parameters after the
    /// Boolean (`?1;a=b`) are ignored.
    ///
    /// - Throws: ``DraftHeaderError`` naming the header when the value is
    ///   empty, not a structured-field Item, or an Item of another type.
    package static func parse(_ headerValue: String) throws(DraftHeaderError) -> Bool {
        let header = DraftHeaderName.uploadComplete
        let expected = "expected ?1 (complete) or ?0 (more to come)"
        let item = try StructuredFieldText.item(headerValue, header: header, expected: expected)
        guard case .bool(let complete) = item.rfc9651BareItem else {
            throw DraftHeaderError(
                header: header, value: headerValue,
                problem: "is \(StructuredFieldText.kind(of: item.rfc9651BareItem)), not a boolean: \(expected)")
        }
        return complete
    }

    /// The header value for `complete`: `?1` or `?0`.
    package static func headerValue(_ complete: Bool) -> String {
        do {
            return try StructuredFieldText.serialize(.bool(complete))
        } catch {
            preconditionFailure("a structured-field Boolean always serializes: \(error)")
        }
    }
}
