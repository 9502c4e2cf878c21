/// The iteration of the IETF draft "Resumable Uploads for HTTP"
/// (draft-ietf-httpbis-resumable-upload) that a request or an answer
/// speaks, sent as `Upload-Draft-Interop-Version`, a structured-field
/// Integer.
///
/// The number goes up only when the draft changes in a way that breaks
/// interoperability, so several revisions share one. A server sends the
/// `104 (Upload Resumption Supported)` interim answer only when the
/// request names the version it speaks, and puts the version in that
/// answer; a client ignores a `104` that names no version or another one
/// (draft -12 Appendix B "Draft Version Identification"; draft -05 §4.2).
/// The final RFC will drop the header, so that finished implementations
/// never mistake a draft one for their own.
///
/// What differs between the two versions spoken here, among the headers
/// `TusProtocol` reads and writes: the key of `Upload-Limit` that gives
/// the upload resource's remaining lifetime (``limitLifetimeKey``).
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum DraftInteropVersion: Int, CaseIterable, Comparable, Sendable {
    /// 6: drafts -04 and -05 (2024). The version most implementations
    /// speak: Apple's URLSession, tusd, tus-js-client, and swift-nio-extras'
    /// NIOResumableUpload (whose newest version it is; it also takes 3 and
    /// 5).
    case v6 = 6
    /// 8: drafts -09 to -12 (2025–2026), the newest: draft -12 and the
    /// working copy of July 2026 still name 8.
    case v8 = 8

    /// The newest version spoken here.
    package static let newest: DraftInteropVersion = .v8

    /// Reads an `Upload-Draft-Interop-Version` value.
    ///
    /// - Throws: ``DraftHeaderError`` when the value is not a
    ///   structured-field Integer, or when it is one but not a version
    ///   spoken here (then ``DraftHeaderError/isUnsupportedVersion`` is
    ///   true).
    package init(headerValue: String) throws(DraftHeaderError) {
        let header = DraftHeaderName.uploadDraftInteropVersion
        let spoken = Self.allCases.map { String($0.rawValue) }.joined(separator: " or ")
        let number = try StructuredFieldText.nonNegativeInteger(headerValue, header: header, expected: "expected \(spoken)")
        guard let version = Self.allCases.first(where: { Int64($0.rawValue) == number }) else {
            throw DraftHeaderError(
                header: header, value: headerValue,
                problem: "names an interop version this package does not speak: expected \(spoken)",
                isUnsupportedVersion: true)
        }
        self = version
    }

    /// The header value: the number (`6`).
    package var headerValue: String { String(rawValue) }

    /// The key of `Upload-Limit` that gives the seconds the upload resource
    /// has left: `expires` in version 6 (draft -05 §8.2), `max-age` from
    /// version 7 on (renamed in draft -06; draft -12 §4.1.4).
    package var limitLifetimeKey: String {
        switch self {
        case .v6: "expires"
        case .v8: "max-age"
        }
    }

    /// Versions in the order of their numbers.
    package static func < (lhs: DraftInteropVersion, rhs: DraftInteropVersion) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
