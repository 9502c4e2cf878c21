import Foundation
import NIOCore
import NIOHTTP1
import TusCore
import TusProtocol

/// One request's answer, its body read whole (answers to tus requests are
/// small), and the tus headers read from it.
struct Exchange: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// The interim (1xx) answers that came before this one, where the way
    /// the request went shows them (see ``OneRequestConnection``).
    var interim: [HTTPResponseHead] = []

    /// The server's `Upload-Offset`, or an error naming `request` when it is
    /// missing or not a byte count.
    func offset(_ request: String) -> Result<Int64, TusError> {
        guard let text = headers.first(name: TusHeaderName.uploadOffset) else {
            return .failure(TusError(.protocolViolation, "\(request): the answer has no Upload-Offset header"))
        }
        guard let offset = NonNegativeInteger.parseTrimmed(text) else {
            return .failure(TusError(.protocolViolation, "\(request): the answer's Upload-Offset \"\(text)\" is not a byte count"))
        }
        return .success(offset)
    }

    /// The server's `Upload-Length`, if present and valid.
    var length: Int64? {
        headers.first(name: TusHeaderName.uploadLength).flatMap(NonNegativeInteger.parseTrimmed)
    }

    /// The server's `Upload-Expires`, if present and a valid HTTP date.
    var expires: Date? {
        headers.first(name: TusHeaderName.uploadExpires).flatMap(HTTPDate.parse)
    }

    /// The server's clock when it answered (`Date`), if it says.
    var date: Date? {
        headers.first(name: "Date").flatMap(HTTPDate.parse)
    }

    /// The upload's `Upload-Metadata` as the server echoes it, if it does
    /// and it is well formed.
    var metadata: [String: String]? {
        headers.first(name: TusHeaderName.uploadMetadata).flatMap(UploadMetadataCodec.decode)
    }

    /// The `Location` header, resolved against the request's URL.
    func location(relativeTo base: URL) -> URL? {
        headers.first(name: "Location").flatMap { TusLocation.resolve($0, against: base) }
    }

    /// The header `name`, if present.
    func header(_ name: String) -> String? { headers.first(name: name) }

    /// The start of the body, for error messages.
    var bodySnippet: String {
        let text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "" : ": \(text)"
    }

    /// "401 Unauthorized"
    var statusLine: String { "\(status.code) \(status.reasonPhrase)" }

    /// "answered 404 Not Found: …"
    var statusDescription: String { "answered \(statusLine)\(bodySnippet)" }
}
