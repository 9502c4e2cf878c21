import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import TusCore

/// Plain words for a request that got no answer: which server (and proxy),
/// what happened, and what to do about it.
///
/// The messages never show a Swift type; the error itself stays reachable
/// as ``TusCore/TusError/cause``.
enum ConnectionFailure {
    /// The error for `error`, which ended a request to `url` before an
    /// answer came.
    static func error(
        _ error: any Error, url: URL, route: Route, tls: TLSSettings, bytesSent: Int, group: any EventLoopGroup
    ) async -> TusError {
        let server = address(of: url)
        let through = route.proxy.map { " through the proxy \(address(of: $0))" } ?? ""
        let (code, words) = await describe(error, url: url, route: route, tls: tls, group: group)
        if words.hasPrefix("was ") {
            // "the connection to HOST:PORT was reset (…)"
            return TusError(code, "the connection to \(server)\(through) \(words)", cause: error)
        }
        if bytesSent > 0 || code == .unavailable {
            return TusError(code, "the connection to \(server)\(through) failed: \(words)", cause: error)
        }
        return TusError(code, "cannot connect to \(server)\(through): \(words)", cause: error)
    }

    /// `host:port`, the port filled in from the scheme.
    static func address(of url: URL) -> String {
        let host = url.host ?? "?"
        let port = url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func describe(
        _ error: any Error, url: URL, route: Route, tls: TLSSettings, group: any EventLoopGroup
    ) async -> (TusError.Code, String) {
        let proxy = route.proxy.map(address(of:)) ?? ""
        switch error {
        case let error as NIOConnectionError:
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                return unknownHost(route.proxy ?? url)
            }
            if let first = error.connectionErrors.first {
                return await describe(first.error, url: url, route: route, tls: tls, group: group)
            }
            return (.connectionFailed, "no address of the host could be reached")
        case is SocketAddressError:
            return unknownHost(route.proxy ?? url)
        case let error as IOError:
            return words(forErrno: error.errnoCode, proxy: route.proxy)
        case ChannelError.connectTimeout(_):
            return (.timeout, "no answer to the connection attempt; check the address, or a firewall in the way")
        case let error as HTTPClientError:
            return words(for: error, url: url, proxy: proxy)
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return (.untrustedServer, "the server's certificate is not for the name \(url.host ?? "?"); connect by a name the certificate holds")
        case NIOSSLError.uncleanShutdown:
            return (.unavailable, "was closed in the middle of TLS")
        case NIOSSLError.handshakeFailed(let inner):
            return await handshakeFailure("\(inner)", url: url, route: route, tls: tls, group: group)
        default:
            let text = "\(error)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshake") {
                return await handshakeFailure(text, url: url, route: route, tls: tls, group: group)
            }
            return (.connectionFailed, "an unexpected network failure")
        }
    }

    private static func unknownHost(_ url: URL) -> (TusError.Code, String) {
        (.connectionFailed, "unknown host \(url.host ?? "?") (the name does not resolve); check its spelling and the DNS")
    }

    private static func words(forErrno code: Int32, proxy: URL?) -> (TusError.Code, String) {
        switch code {
        case ECONNREFUSED:
            let what = proxy == nil ? "the server" : "the proxy"
            return (.connectionFailed, "connection refused; is \(what) running on that port?")
        case ECONNRESET, EPIPE:
            return (.unavailable, "was reset (the network, a proxy or the server cut it)")
        case ETIMEDOUT:
            return (.timeout, "the connection timed out")
        case ENETUNREACH, EHOSTUNREACH:
            return (.connectionFailed, "no route to the host; check the network")
        default:
            return (.connectionFailed, String(cString: strerror(code)).lowercased())
        }
    }

    private static func words(for error: HTTPClientError, url: URL, proxy: String) -> (TusError.Code, String) {
        switch error {
        case .connectTimeout:
            return (.timeout, "no answer to the connection attempt; check the address, or a firewall in the way")
        case .tlsHandshakeTimeout:
            return (.timeout, "the TLS handshake got no answer")
        case .remoteConnectionClosed:
            return (.unavailable, "was closed before the server answered (the network, a proxy or the server cut it)")
        case .invalidProxyResponse:
            return (.connectionFailed, "the proxy \(proxy) refused to open a tunnel to \(address(of: url)); check that it allows CONNECT to that port")
        case .proxyAuthenticationRequired:
            return (.authenticationFailed, "the proxy \(proxy) asks for credentials; give them in its URL (http://USER:PASSWORD@HOST:PORT)")
        case .httpProxyHandshakeTimeout, .socksHandshakeTimeout:
            return (.timeout, "the proxy \(proxy) did not answer the tunnel request")
        case .readTimeout, .deadlineExceeded:
            return (.timeout, "no answer in time")
        default:
            return (.connectionFailed, "\(error)")
        }
    }

    /// Words for a failed TLS handshake, from BoringSSL's error text and, for
    /// a certificate that was refused, a look at the certificate itself.
    private static func handshakeFailure(
        _ text: String, url: URL, route: Route, tls: TLSSettings, group: any EventLoopGroup
    ) async -> (TusError.Code, String) {
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            guard route.proxy == nil, let host = url.host else {
                return (.untrustedServer, "the server's certificate could not be verified: it has expired, or no trusted authority issued it; trust its CA certificate (--cacert FILE)")
            }
            let port = url.port ?? 443
            let certificate = await CertificateProbe.leafCertificate(host: host, port: port, group: group)
            let now = time(nil)
            if let certificate, certificate.notValidAfter < now {
                return (.untrustedServer, "the server's certificate expired on \(day(certificate.notValidAfter)); the server must renew it")
            }
            if let certificate, certificate.notValidBefore > now {
                return (.untrustedServer, "the server's certificate is not valid before \(day(certificate.notValidBefore)); check this machine's clock")
            }
            return (.untrustedServer, "the server's certificate is not issued by an authority this client trusts (a private CA or a self-signed certificate); trust its CA certificate (--cacert FILE)")
        }
        if text.contains("CERTIFICATE_REQUIRED") || (tls.clientCertificate == nil && text.contains("HANDSHAKE_FAILURE")) {
            return (.authenticationFailed, "the server requires a client certificate; give one (--cert FILE --key FILE)")
        }
        if tls.clientCertificate != nil,
           text.contains("UNKNOWN_CA") || text.contains("BAD_CERTIFICATE") || text.contains("CERTIFICATE_UNKNOWN") || text.contains("ACCESS_DENIED") {
            return (.authenticationFailed, "the server refused the client certificate; check that its authority is one the server trusts")
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH_TOO_LONG") || text.contains("HTTP_REQUEST") {
            return (.connectionFailed, "the server does not speak TLS on that port; is the address http:// rather than https://?")
        }
        if text.contains("PROTOCOL_VERSION") || text.contains("UNSUPPORTED_PROTOCOL") || text.contains("NO_SHARED_CIPHER") {
            return (.connectionFailed, "the server and this client share no TLS version or cipher")
        }
        return (.connectionFailed, "the TLS handshake failed")
    }

    /// `2025-01-31`.
    private static func day(_ time: time_t) -> String {
        var seconds = time
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
    }
}

/// Fetches a server's certificate without judging it, to say why it was
/// refused: one TLS handshake that stops as soon as the certificate is seen.
enum CertificateProbe {
    static func leafCertificate(host: String, port: Int, group: any EventLoopGroup) async -> NIOSSLCertificate? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .noHostnameVerification
        guard let context = try? NIOSSLContext(configuration: configuration) else { return nil }
        let seen = LockedValue<NIOSSLCertificate?>(nil)
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        // A group of another kind (Network.framework's) cannot probe.
        guard let base = ClientBootstrap(validatingGroup: group) else { return nil }
        let bootstrap = base
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(
                        context: context, serverHostname: isAddress ? nil : host,
                        customVerificationCallback: { certificates, promise in
                            seen.value = certificates.first
                            promise.succeed(.failed)
                        })
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        guard let channel = try? await bootstrap.connect(host: host, port: port).get() else { return nil }
        // The handshake ends (in failure) once the certificate is seen; the
        // connection closes then, or here after five seconds at the most.
        let closer = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        closer.cancel()
        return seen.value
    }

}
