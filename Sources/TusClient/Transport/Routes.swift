import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import TusCore

/// The HTTP clients of every ``TusClient`` given none of its own: one per
/// proxy, all on one event loop thread, created when first needed and kept
/// for the life of the process.
enum SharedHTTPClients {
    /// The one event loop every shared client runs on.
    static let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// The configuration of a shared client: a refused connection fails at
    /// once (the uploader retries), connecting times out after 10 seconds.
    static func configuration(proxy: HTTPClient.Configuration.Proxy?) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.decompression = .disabled
        configuration.proxy = proxy
        // The client opens a span per request itself (see UploadTracing),
        // as a child of the upload's, and sends its context.
        configuration.tracing.tracer = nil
        return configuration
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var byProxy: [HTTPClient.Configuration.Proxy: HTTPClient] = [:]

    /// The shared client that goes through `proxy`.
    static func client(through proxy: HTTPClient.Configuration.Proxy) -> HTTPClient {
        lock.withLock {
            if let known = byProxy[proxy] { return known }
            let client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration(proxy: proxy))
            byProxy[proxy] = client
            return client
        }
    }
}

/// How one request travels: the HTTP client (and so the proxy) and the TLS
/// configuration, if it differs from the client's own.
struct Route {
    var httpClient: HTTPClient
    /// The proxy the request goes through, for messages.
    var proxy: URL?
    var tlsConfiguration: TLSConfiguration?

    /// The port the connection for `url` goes to: the proxy's, or the
    /// server's (its scheme's default when the URL names none); nil for an
    /// HTTP client of the user's, whose proxies are its own.
    func peerPort(for url: URL) -> Int? {
        if let proxy { return proxy.port ?? 1080 }
        if isCustom { return nil }
        return url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
    }

    /// The route goes through an HTTP client the user gave.
    var isCustom = false

    /// The proxy a plain `http://` request goes to in absolute form, instead
    /// of through `httpClient`'s tunnel.
    var absoluteFormProxy: AbsoluteFormProxy? = nil
}

extension TusClient {
    /// The way to `url`: the proxy the settings pick, and the TLS settings.
    ///
    /// - Throws: ``TusCore/TusError`` for a proxy URL that cannot be used or
    ///   a certificate or key file that cannot be read.
    func route(to url: URL) throws -> Route {
        let isHTTPS = url.scheme?.lowercased() == "https"
        let tlsConfiguration = isHTTPS ? try TLSConfigurations.configuration(for: tls) : nil
        if let httpClient = customHTTPClient {
            return Route(httpClient: httpClient, proxy: nil, tlsConfiguration: tlsConfiguration, isCustom: true)
        }
        guard let proxyURL = proxy.proxy(for: url) else {
            return Route(httpClient: TusClient.sharedHTTPClient, proxy: nil, tlsConfiguration: tlsConfiguration)
        }
        let proxy = try Self.proxyConfiguration(proxyURL)
        return Route(
            httpClient: SharedHTTPClients.client(through: proxy), proxy: proxyURL, tlsConfiguration: tlsConfiguration,
            absoluteFormProxy: AbsoluteFormProxy(proxyURL, for: url))
    }

    /// Whether a request to `url` that asks for interim answers sees them:
    /// it goes over ``OneRequestConnection`` (straight to the server, or to
    /// an `http://` proxy in absolute form), not through an HTTP client of
    /// the user's or a proxy's tunnel.
    func showsInterimAnswers(to url: URL) -> Bool {
        guard customHTTPClient == nil else { return false }
        guard let proxyURL = proxy.proxy(for: url) else { return true }
        return AbsoluteFormProxy(proxyURL, for: url) != nil
    }

    /// AsyncHTTPClient's description of the proxy at `url`.
    static func proxyConfiguration(_ url: URL) throws -> HTTPClient.Configuration.Proxy {
        let scheme = url.scheme?.lowercased() ?? "http"
        guard let host = url.host, !host.isEmpty else {
            throw TusError(.invalidArgument, "the proxy \(url.forMessages) names no host; write it as http://HOST:PORT")
        }
        switch scheme {
        case "http":
            var authorization: HTTPClient.Authorization?
            if let user = url.user {
                let password = url.password ?? ""
                authorization = .basic(
                    username: user.removingPercentEncoding ?? user, password: password.removingPercentEncoding ?? password)
            }
            return .server(host: host, port: url.port ?? 1080, authorization: authorization)
        case "socks5", "socks5h":
            return .socksServer(host: host, port: url.port ?? 1080)
        case "https":
            throw TusError(.unsupported, "the proxy \(url.forMessages) is reached over TLS, which this client does not support; use its http:// address (HTTPS uploads still run TLS end to end through it)")
        default:
            throw TusError(.invalidArgument, "the proxy \(url.forMessages) is not an http:// or socks5:// URL")
        }
    }
}

/// NIOSSL configurations built from ``TLSSettings``, kept so that every
/// request of a client shares one (and so its connections).
enum TLSConfigurations {
    private struct Key: Hashable {
        var settings: TLSSettings
        var certFile: String?
        var certDirectory: String?
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var known: [Key: TLSConfiguration] = [:]

    /// The configuration for `settings`, or nil when the HTTP client's
    /// default (the system's authorities, no client certificate) is it.
    static func configuration(
        for settings: TLSSettings, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> TLSConfiguration? {
        let key = Key(
            settings: settings,
            certFile: environment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 },
            certDirectory: environment["SSL_CERT_DIR"].flatMap { $0.isEmpty ? nil : $0 })
        if settings == TLSSettings(), key.certFile == nil, key.certDirectory == nil { return nil }
        if let configuration = lock.withLock({ known[key] }) { return configuration }
        let configuration = try make(key)
        lock.withLock { known[key] = configuration }
        return configuration
    }

    private static func make(_ key: Key) throws -> TLSConfiguration {
        let settings = key.settings
        var configuration = TLSConfiguration.makeClientConfiguration()
        var added: [NIOSSLCertificate] = []
        func system() throws {
            if let file = key.certFile {
                configuration.trustRoots = .certificates(try certificates(in: file, what: "the CA certificates named by SSL_CERT_FILE"))
            }
            if let folder = key.certDirectory {
                added += certificates(inFolder: folder)
            }
        }
        switch settings.trustRoots {
        case .system:
            try system()
        case .systemAnd(let files):
            try system()
            for file in files { added += try certificates(in: file, what: "the CA certificates") }
        case .only(let files):
            var roots: [NIOSSLCertificate] = []
            for file in files { roots += try certificates(in: file, what: "the CA certificates") }
            configuration.trustRoots = .certificates(roots)
        }
        if !added.isEmpty { configuration.additionalTrustRoots = [.certificates(added)] }
        if let client = settings.clientCertificate {
            let chain = try certificates(in: client.certificateFile, what: "the client certificate")
            configuration.certificateChain = chain.map { .certificate($0) }
            let keyBytes = try contents(of: client.privateKeyFile, what: "the client key")
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyBytes), format: .pem))
            } catch {
                throw TusError(.invalidArgument, "cannot use the client key \(client.privateKeyFile): it holds no unencrypted PEM private key", cause: error)
            }
        }
        if !settings.verifiesServerCertificate { configuration.certificateVerification = .none }
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            if let client = settings.clientCertificate {
                throw TusError(.invalidArgument, "cannot use the client certificate \(client.certificateFile) with the key \(client.privateKeyFile): the key does not belong to the certificate", cause: error)
            }
            throw TusError(.invalidArgument, "cannot use the TLS settings: \(error)", cause: error)
        }
        return configuration
    }

    private static func contents(of path: String, what: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TusError.fileError(path: path, doing: "cannot read \(what) in", error)
        }
    }

    /// The PEM certificates in `path`, at least one.
    private static func certificates(in path: String, what: String) throws -> [NIOSSLCertificate] {
        let bytes = try contents(of: path, what: what)
        let certificates = (try? NIOSSLCertificate.fromPEMBytes(Array(bytes))) ?? []
        guard !certificates.isEmpty else {
            throw TusError(.invalidArgument, "cannot use \(what) in \(path): the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        return certificates
    }

    /// Every PEM certificate in the files of `folder`; files that hold none
    /// are passed over, as OpenSSL does.
    private static func certificates(inFolder folder: String) -> [NIOSSLCertificate] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var result: [NIOSSLCertificate] = []
        for name in names.sorted() {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            result += (try? NIOSSLCertificate.fromPEMBytes(Array(bytes))) ?? []
        }
        return result
    }
}
