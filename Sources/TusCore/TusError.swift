import Foundation

/// The one error type of this package.
///
/// Its ``message`` is meant for people: it names the thing that failed (a
/// file path, a server address, a URL) and what was being done. Its ``code``
/// is meant for programs. Codes are opaque, so new ones can be added without
/// breaking a caller's `switch`; compare with `==`:
///
/// ```swift
/// do {
///     _ = try await store.url(forKey: key)
/// } catch let error as TusError where error.code == .corruptStore {
///     print("the store needs repair: \(error.message)")
/// }
/// ```
public struct TusError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidArgument, notFound, io, corruptStore, closed, unavailable
            case connectionFailed, authenticationFailed, timeout, protocolViolation
            case unsupported, untrustedServer
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A caller passed a value that cannot be used: an unknown store spec,
        /// an empty key, a malformed address.
        public static let invalidArgument = Code(.invalidArgument)
        /// A file, upload or entry that must exist does not.
        public static let notFound = Code(.notFound)
        /// Reading or writing a file failed; ``TusError/cause`` holds the
        /// system error.
        public static let io = Code(.io)
        /// The store's backing file or database holds data this package does
        /// not understand. It is left untouched.
        public static let corruptStore = Code(.corruptStore)
        /// The store was used after ``Storage/close()``.
        public static let closed = Code(.closed)
        /// A needed resource is not there or is busy (a database that stays
        /// locked, a server that answers with an error).
        public static let unavailable = Code(.unavailable)
        /// No connection could be made to a server.
        public static let connectionFailed = Code(.connectionFailed)
        /// A server refused the credentials.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// An operation did not finish within its time limit.
        public static let timeout = Code(.timeout)
        /// A peer answered in a way the protocol does not allow.
        public static let protocolViolation = Code(.protocolViolation)
        /// The operation is not supported by this store or server.
        public static let unsupported = Code(.unsupported)
        /// The server's TLS certificate was refused: issued by an authority
        /// not trusted, expired, or for another name. Trying again changes
        /// nothing until the trust settings or the server do.
        public static let untrustedServer = Code(.untrustedServer)

        /// A short name for the code, such as "corrupt store".
        public var description: String {
            switch base {
            case .invalidArgument: "invalid argument"
            case .notFound: "not found"
            case .io: "I/O error"
            case .corruptStore: "corrupt store"
            case .closed: "closed"
            case .unavailable: "unavailable"
            case .connectionFailed: "connection failed"
            case .authenticationFailed: "authentication failed"
            case .timeout: "timeout"
            case .protocolViolation: "protocol violation"
            case .unsupported: "unsupported"
            case .untrustedServer: "untrusted server"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence for people, naming what failed and where, such as
    /// `cannot read store /home/me/uploads.json: not valid JSON at byte 12`.
    public var message: String
    /// The lower-level error that caused this one, if any: a ``SystemError``
    /// with the raw `errno`, a backend's native error code, a decoding error.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message alone: it already names what failed; ``cause`` holds the
    /// details.
    public var description: String { message }
}

/// A failed system call: its name and the raw `errno` it set.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The system call or C function that failed, such as `open` or `rename`.
    public var call: String
    /// The raw `errno` value.
    public var errno: Int32

    /// Creates an error for `call` from an explicit `errno` value.
    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The system's text for ``errno``, such as "No such file or directory".
    public var reason: String { String(cString: strerror(errno)) }

    /// `open: No such file or directory (errno 2)`.
    public var description: String { "\(call): \(reason) (errno \(errno))" }
}
