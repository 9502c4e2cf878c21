import Foundation
import TusCore

/// What to do with a stored upload URL, from the server's answer to HEAD.
///
/// - a 2xx answer gives the server's offset, and the upload resumes there;
/// - a 4xx answer other than 408, 423 and 429 means the upload is gone;
/// - an `Upload-Length` other than the file's size, an offset past it, or an
///   `Upload-Expires` in the past make the URL stale;
/// - a 408, 423 or 429, a 5xx, or any other answer leaves the URL stored and
///   fails for now.
enum ResumeDecision: Equatable {
    /// Go on at `offset`.
    case resume(offset: Int64, lengthDeferred: Bool)
    /// The URL is stale: forget it and start a new upload.
    case forget(reason: String)
    /// Keep the URL and fail with this message for now.
    case keep(code: TusError.Code, message: String)

    static func decide(_ answer: Exchange, stored: String, size: Int64?, now: Date = Date()) throws -> ResumeDecision {
        switch answer.code {
        case 200..<300:
            let offset = try answer.offset("HEAD \(stored)")
            if let length = answer.length, let size, length != size {
                return .forget(reason: "the server holds an upload of \(length) bytes, the file has \(size)")
            }
            if let size, offset > size {
                return .forget(reason: "the server holds \(offset) bytes, more than the file's \(size)")
            }
            if let expires = answer.expires, expires <= now {
                return .forget(reason: "the upload expired at \(expires)")
            }
            return .resume(offset: offset, lengthDeferred: answer.headers.first(name: "Upload-Defer-Length") == "1")
        case 423:
            return .keep(code: .unavailable, message: "cannot resume the upload at \(stored): it is locked by another client (423); the stored URL is kept")
        case 408, 429, 500..<600:
            return .keep(code: .unavailable, message: "cannot resume the upload at \(stored): the server \(answer.statusDescription); the stored URL is kept")
        case 400..<500:
            return .forget(reason: "HEAD \(answer.statusDescription)")
        default:
            return .keep(code: .protocolViolation, message: "cannot resume the upload at \(stored): HEAD \(answer.statusDescription)")
        }
    }
}
