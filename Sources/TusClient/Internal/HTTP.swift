import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TusCore

/// The tus protocol version this client speaks.
let tusVersion = "1.0.0"

/// One request's answer, its body read whole (answers to tus requests are
/// small).
struct Exchange: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer

    var code: Int { Int(status.code) }

    /// The server's `Upload-Offset`, if present and valid.
    func offset(_ request: String) throws -> Int64 {
        guard let text = headers.first(name: "Upload-Offset") else {
            throw TusError(.protocolViolation, "\(request): the answer has no Upload-Offset header")
        }
        guard let offset = Int64(text), offset >= 0 else {
            throw TusError(.protocolViolation, "\(request): the answer's Upload-Offset \"\(text)\" is not a byte count")
        }
        return offset
    }

    /// The server's `Upload-Length`, if present and valid.
    var length: Int64? {
        headers.first(name: "Upload-Length").flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil }
    }

    /// The server's `Upload-Expires`, if present and a valid HTTP date.
    var expires: Date? {
        headers.first(name: "Upload-Expires").flatMap(HTTPDate.parse)
    }

    /// The start of the body, for error messages.
    var bodySnippet: String {
        let text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "" : ": \(text)"
    }

    /// "answered 404 Not Found: …"
    var statusDescription: String { "answered \(status.code) \(status.reasonPhrase)\(bodySnippet)" }
}

extension HTTPClient {
    /// Sends one request and reads its whole answer.
    ///
    /// - Throws: ``TusError`` with `.connectionFailed` or `.timeout` when no
    ///   answer came; a cancelled task throws `CancellationError`.
    func exchange(
        _ method: HTTPMethod,
        _ url: URL,
        headers: [(String, String)],
        body: ByteBuffer? = nil,
        timeout: Duration
    ) async throws -> Exchange {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(body)
        }
        let label = "\(method.rawValue) \(url.absoluteString)"
        do {
            let response = try await execute(request, timeout: TimeAmount(timeout))
            let responseBody = try await response.body.collect(upTo: 1 << 20)
            return Exchange(status: response.status, headers: response.headers, body: responseBody)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            if _Concurrency.Task.isCancelled { throw CancellationError() }
            throw TusError(.timeout, "\(label): no answer within \(timeout)", cause: error)
        } catch let error as HTTPClientError where error == .cancelled {
            throw CancellationError()
        } catch {
            if _Concurrency.Task.isCancelled { throw CancellationError() }
            throw TusError(.connectionFailed, "\(label) failed: \(describe(error))", cause: error)
        }
    }
}

/// A short description of a transport error.
private func describe(_ error: any Error) -> String {
    if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
        return "cannot connect to \(first.target): \(describe(first.error))"
    }
    if let error = error as? IOError {
        return String(cString: strerror(error.errnoCode))
    }
    let text = String(describing: error)
    switch text {
    case "remoteConnectionClosed": return "the server closed the connection"
    case "connectTimeout": return "connecting timed out"
    default: return text
    }
}

extension TimeAmount {
    /// `duration`, saturating: a negative one is zero, one too long for
    /// nanoseconds in 64 bits is the longest there is.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else {
            self = .zero
            return
        }
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowAgain) = nanoseconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        self = .nanoseconds(overflow || overflowAgain ? .max : total)
    }
}

/// HTTP dates (RFC 9110): IMF-fixdate, and the two obsolete forms.
enum HTTPDate {
    private static let formats = ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"]

    static func parse(_ text: String) -> Date? {
        for format in formats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
