import Foundation
import TusProtocol

// The vocabulary between the channel handler and the stages a request goes
// through (request logging, fault injection, the tus decisions). None of it
// uses SwiftNIO, so the stages can be driven by tests without a socket.

/// The head of one request, as the stages see it.
struct Request: Sendable {
    /// The method as sent, such as `POST`.
    var method: String
    /// The request target as sent, such as `/files/abc?x=1`.
    var target: String
    /// The header fields in the order received.
    var headers: Headers
    /// `host:port` of the server's end of the connection (`[::1]:8080` for
    /// IPv6), for URLs when the request's `Host` cannot be used.
    var localAuthority: String

    init(method: String, target: String, headers: Headers = Headers(), localAuthority: String = "127.0.0.1") {
        self.method = method
        self.target = target
        self.headers = headers
        self.localAuthority = localAuthority
    }

    /// The target without its query.
    var path: String {
        String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// The method the request stands for, uppercased: the
    /// `X-HTTP-Method-Override` of a `POST` that has one, else the method.
    var effectiveMethod: String {
        if method.uppercased() == "POST", let override = headers.first("X-HTTP-Method-Override"), !override.isEmpty {
            return override.trimmingCharacters(in: .whitespaces).uppercased()
        }
        return method.uppercased()
    }

    /// `Content-Length`: `nil` when absent, `-1` when it is not a plain
    /// non-negative decimal.
    var contentLength: Int64? {
        guard let value = headers.first("Content-Length") else { return nil }
        return NonNegativeInteger.parse(value.trimmingCharacters(in: .whitespaces)) ?? -1
    }

    /// Whether a body follows the head: chunked, or a `Content-Length`
    /// above zero.
    var hasBody: Bool {
        if headers.listValues("Transfer-Encoding").contains(where: { $0.lowercased() == "chunked" }) {
            return true
        }
        return (contentLength ?? 0) > 0
    }

    /// Whether the client waits for `100 Continue` before sending its body.
    var expectsContinue: Bool {
        headers.listValues("Expect").contains { $0.lowercased() == "100-continue" }
    }
}

/// Header fields in order; names compare without regard to case.
struct Headers: Sendable {
    var fields: [(name: String, value: String)]

    init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// The first value of `name`, or `nil`.
    func first(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// Whether a field `name` is present.
    func contains(_ name: String) -> Bool {
        first(name) != nil
    }

    /// Every value of `name`, each split at commas and trimmed, as HTTP
    /// list headers (`Expect`, `Transfer-Encoding`) are read.
    func listValues(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// An answer. The channel handler adds `Content-Length`, `Content-Type`
/// (for a body), `Connection: close` when it closes, and the headers that
/// mark the protocol of the request it answers (`Tus-Resumable`, or the
/// draft's `Upload-Draft-Interop-Version`: see `ProtocolChoice`).
struct Response: Sendable {
    /// The status code, such as 204.
    var status: Int
    /// The reason phrase for a status HTTP does not name (460); known
    /// statuses get their usual phrase.
    var reasonPhrase: String?
    var headers: [(name: String, value: String)]
    /// A plain-text body, for errors.
    var body: String?

    init(status: Int, reasonPhrase: String? = nil, headers: [(name: String, value: String)] = [], body: String? = nil) {
        self.status = status
        self.reasonPhrase = reasonPhrase
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name`, or `nil`.
    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// What a stage makes of a request's head.
enum Outcome {
    /// Answer with this once the request has ended; its body, if any, is
    /// read and thrown away.
    case respond(Response)
    /// Hand the body to this receiver, which says how to answer.
    case receive(any RequestBody)
    /// Read nothing more from the connection for `seconds`, then go on with
    /// what `then` returns. If the connection closes meanwhile, `then` is
    /// never called.
    case wait(seconds: Double, then: () -> Outcome)
    /// Read nothing more from the connection until the function given to
    /// `register` is called (from any thread) or `seconds` pass, whichever
    /// comes first; then go on with what `then` returns, told whether that
    /// function was called. `register` is called once, at once. If the
    /// connection closes meanwhile, `then` is never called.
    case waitForWakeUp(
        seconds: Double, register: (_ wake: @escaping @Sendable () -> Void) -> Void, then: (_ woken: Bool) -> Outcome)
    /// Run `work` off the event loop (it may take long: it reads and writes
    /// files), reading nothing more meanwhile, then answer with its
    /// response. `work` runs even if the connection closes meanwhile.
    case offload(@Sendable () -> Response)
}

/// Takes the body of a request a stage accepted, a buffer at a time, on the
/// connection's event loop.
///
/// ``started(stop:)`` comes first. Then exactly one of these ends a
/// receiver's work: a ``BodyStep/answer(_:)`` or ``BodyStep/hangUp`` from
/// ``receive(_:)``, a call to ``end()``, or a call to ``connectionLost()``.
/// Nothing is called after it.
protocol RequestBody: AnyObject {
    /// An interim (`1xx`) answer to send before the body is read, after
    /// `100 Continue` when the client expects that: the draft's `104
    /// (Upload Resumption Supported)` for a creation. `nil` for none.
    var interimResponse: Response? { get }
    /// The body is about to be read. `stop`, which any thread may call (more
    /// than once), ends it early: the channel handler reads no more of it,
    /// calls ``end()`` on its event loop as if the body had ended there,
    /// answers with what that returns, and closes the connection. Does
    /// nothing once the body has ended.
    func started(stop: @escaping @Sendable () -> Void)
    /// The next bytes of the body.
    func receive(_ bytes: UnsafeRawBufferPointer) -> BodyStep
    /// The body ended; the answer.
    func end() -> BodyEnd
    /// The connection closed (or the server shut down) before the body
    /// ended.
    func connectionLost()
}

extension RequestBody {
    /// No interim answer.
    var interimResponse: Response? { nil }
}

/// What to do after a piece of a body.
enum BodyStep {
    /// Send the rest.
    case more
    /// Stop: throw the rest of the body away and answer with this at its end.
    case answer(Response)
    /// Close the connection now, without an answer.
    case hangUp
}

/// How to end a request whose body was received.
enum BodyEnd {
    /// Answer with this.
    case answer(Response)
    /// Close the connection without an answer.
    case hangUp
}

extension Outcome {
    /// This outcome with `transform` applied to where it leads: to the
    /// outcome after its waits, or to itself when it does not wait. For a
    /// stage that wraps what the next stage decides, however long that
    /// stage waits first.
    func afterWaits(_ transform: @escaping (Outcome) -> Outcome) -> Outcome {
        switch self {
        case .wait(let seconds, let then):
            .wait(seconds: seconds, then: { then().afterWaits(transform) })
        case .waitForWakeUp(let seconds, let register, let then):
            .waitForWakeUp(seconds: seconds, register: register, then: { then($0).afterWaits(transform) })
        case .respond, .receive, .offload:
            transform(self)
        }
    }
}

/// One stage a request goes through: it answers the request or hands it to
/// the next stage, as a Hummingbird middleware does. The stages are built
/// once per server and shared by every connection.
protocol Responder: Sendable {
    /// What to do with the request whose head is `request`. Called on the
    /// connection's event loop.
    func respond(to request: Request) -> Outcome
}
