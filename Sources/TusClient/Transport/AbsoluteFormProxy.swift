import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TusCore

/// An HTTP proxy that a plain `http://` request goes through as curl sends
/// it: the request itself, in absolute form
/// (`PATCH http://host:port/files/abc HTTP/1.1`), on a connection to the
/// proxy, with no tunnel. A proxy that allows `CONNECT` to port 443 only
/// (squid's default) carries such requests.
///
/// AsyncHTTPClient cannot send this form: with a proxy configured it opens
/// every connection, `http://` ones too, with `CONNECT`, and its request
/// line always holds the path and query only (origin form). So these
/// requests go out over a small SwiftNIO HTTP/1.1 connection of their own
/// (``OneRequestConnection``), one connection per request, closed once the
/// answer came. `https://` requests keep AsyncHTTPClient's tunnel, in which
/// TLS runs end to end.
struct AbsoluteFormProxy: Sendable, Hashable {
    /// The proxy's host, without brackets around an IPv6 address.
    var host: String
    var port: Int
    /// `Basic …`, from the user and password in the proxy's URL
    /// (percent-decoded), or nil when the URL names no user.
    var authorization: String?

    /// The proxy at `proxy` for a request to `url`; nil unless `url` is
    /// `http://` and `proxy` an `http://` proxy (a SOCKS proxy, and every
    /// `https://` request, go through AsyncHTTPClient).
    init?(_ proxy: URL, for url: URL) {
        guard url.scheme?.lowercased() == "http", (proxy.scheme?.lowercased() ?? "http") == "http",
              let host = proxy.host, !host.isEmpty else { return nil }
        self.host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        port = proxy.port ?? 1080
        if let user = proxy.user {
            let password = proxy.password ?? ""
            let pair = "\(user.removingPercentEncoding ?? user):\(password.removingPercentEncoding ?? password)"
            authorization = "Basic " + Data(pair.utf8).base64EncodedString()
        }
    }

    /// `host:port`, for messages.
    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Sends one request through the proxy and reads its whole answer (at
    /// most 1 MiB of body), as `HTTPClient.exchange` does without a proxy.
    ///
    /// The connection runs on `loop`, and a body goes out a piece at a time
    /// (with `fromFile`, a file's pieces are regions of the file, sent with
    /// `sendfile`; only for a client with one event loop).
    ///
    /// - Throws: `CancellationError` when the task is cancelled (the
    ///   connection is closed); ``TusCore/TusError`` when a file range
    ///   cannot be read, or (`.timeout`) when no whole answer came
    ///   within `timeout`; ``NoAnswer`` for every other failure, wrapping
    ///   ``Stalled`` when neither a byte went out nor one came in for
    ///   `stallTimeout`.
    func exchange(
        _ method: HTTPMethod,
        _ url: URL,
        headers: [(String, String)],
        body: RequestBody? = nil,
        fromFile: Bool,
        on loop: any EventLoop,
        timeout: Duration,
        stallTimeout: Duration?,
        peerPort: Int?,
        onInterim: (@Sendable (HTTPResponseHead) -> Void)? = nil
    ) async throws -> Exchange {
        let label = "\(method.rawValue) \(url.forMessages)"
        guard let head = requestHead(method, url, headers: headers, bodyCount: body?.count ?? 0) else {
            throw TusError(.invalidArgument, "\(label): not a URL this client can send to")
        }
        return try await OneRequestConnection.exchange(
            head, label: label, body: body, to: OneRequestConnection.Peer(host: host, port: port), fromFile: fromFile,
            on: loop, timeout: timeout, stallTimeout: stallTimeout, peerPort: peerPort, onInterim: onInterim)
    }

    /// The request as the proxy takes it: the absolute URL (without user,
    /// password or fragment) in the request line, `Host` naming the server,
    /// `Proxy-Authorization`, and the body's length, framed as
    /// AsyncHTTPClient frames it. Nil for a URL without a host.
    func requestHead(_ method: HTTPMethod, _ url: URL, headers: [(String, String)], bodyCount: Int) -> HTTPRequestHead? {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: true),
              let host = components.host, !host.isEmpty else { return nil }
        let name = host.hasPrefix("[") || !host.contains(":") ? host : "[\(host)]"
        let authority = components.port.map { "\(name):\($0)" } ?? name
        var target = "http://\(authority)"
        target += components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?\(query)" }

        var fields = HTTPHeaders(headers)
        fields.remove(name: "Content-Length")
        fields.remove(name: "Transfer-Encoding")
        fields.remove(name: "Proxy-Authorization")
        if !fields.contains(name: "Host") {
            fields.add(name: "Host", value: components.port.map { $0 == 80 ? name : "\(name):\($0)" } ?? name)
        }
        if let authorization { fields.add(name: "Proxy-Authorization", value: authorization) }
        // No Content-Length where the method expects no body and none goes.
        if bodyCount > 0 || ![HTTPMethod.GET, .HEAD, .DELETE, .TRACE].contains(method) {
            fields.add(name: "Content-Length", value: String(bodyCount))
        }
        // One request per connection: the proxy may close it after the answer.
        fields.replaceOrAdd(name: "Connection", value: "close")
        return HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: fields)
    }

}
