public import Foundation

/// Debian's nginx (`nginx-light`) as a reverse proxy in front of a server on
/// loopback: TLS, client certificates, body limits and a bearer token check
/// the way a production deployment of a tus server puts them.
///
/// It runs as a child of the test in the foreground (`daemon off;
/// master_process off;`, one process) on a free loopback port, with a
/// configuration, logs and temporary files of its own in a temporary
/// folder, so it needs no root paths and leaves nothing behind.
///
/// Request and response bodies stream (`proxy_request_buffering off`,
/// `proxy_buffering off`): a `PATCH` reaches the server as it is sent, as a
/// tus server behind nginx should be configured. The client's `Host` goes
/// to the server unchanged (the development server builds `Location` from
/// it, so upload URLs name nginx), and `proxy_redirect` turns the
/// `http://` the development server always writes into the scheme the
/// client used, so behind TLS the `Location` is `https://` and goes back
/// through nginx.
///
/// ```swift
/// let certificates = try TestCertificates.shared()
/// try await withDevServer { server, _ in
///     try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
///         let endpoint = nginx.url(for: server.endpoint)   // https://127.0.0.1:<nginx>/files/
///     }
/// }
/// ```
public final class Nginx: Sendable {
    /// How nginx listens and what it allows.
    public struct Configuration: Sendable {
        /// A certificate for nginx to serve, and optionally the CA whose
        /// client certificates it requires.
        public struct TLS: Sendable {
            /// The server certificate's PEM file.
            public var certificate: String
            /// Its private key's PEM file.
            public var key: String
            /// When set, nginx requires a client certificate signed by this
            /// CA (`ssl_verify_client on`). A client without one completes
            /// the handshake and is answered `400` ("No required SSL
            /// certificate was sent"); that is how nginx refuses.
            public var clientCA: String?

            /// TLS with `certificate` and `key`, requiring client
            /// certificates signed by `clientCA` when it is given.
            public init(certificate: String, key: String, clientCA: String? = nil) {
                self.certificate = certificate
                self.key = key
                self.clientCA = clientCA
            }

            /// TLS with one of the ``TestCertificates``, requiring client
            /// certificates signed by `clientCA` when it is given.
            public init(_ files: TestCertificates.Files, requiringClientsOf clientCA: TestCertificates.Files? = nil) {
                self.init(certificate: files.certificate, key: files.key, clientCA: clientCA?.certificate)
            }
        }

        /// TLS, or `nil` for plain HTTP.
        public var tls: TLS?
        /// nginx's `client_max_body_size`: larger bodies are answered `413`.
        /// `"0"`, no limit, by default — nginx's own default is `1m`, too
        /// small for most upload tests.
        public var clientMaxBodySize: String
        /// More directives for the `server` block, each a whole line with
        /// its `;` (say, `"proxy_read_timeout 5s;"`).
        public var extraDirectives: [String]
        /// When set, nginx lets through only requests that carry
        /// `Authorization: Bearer <bearerToken>`, as an API gateway in
        /// front of a tus server does. A request without an
        /// `Authorization` header is answered `401` with
        /// `WWW-Authenticate: Bearer realm="tus"`; one with any other value
        /// (another token, another scheme) `403`. Neither reaches the
        /// upstream. `OPTIONS` is refused the same way: a gateway that
        /// checks credentials checks them on every method, and a tus
        /// client sends its credentials with every request. The check
        /// covers every path, so the upload URLs the server hands out
        /// (which name nginx, see ``Nginx``) are guarded too.
        ///
        /// The token is made of the characters RFC 6750 allows in one
        /// (letters, digits, `-._~+/`, then `=` padding);
        /// ``Nginx/start(upstream:_:)`` refuses any other.
        public var bearerToken: String?

        /// Plain HTTP unless `tls` is given, no body limit unless one is,
        /// no credentials asked unless `bearerToken` is given.
        public init(
            tls: TLS? = nil, clientMaxBodySize: String = "0", extraDirectives: [String] = [], bearerToken: String? = nil
        ) {
            self.tls = tls
            self.clientMaxBodySize = clientMaxBodySize
            self.extraDirectives = extraDirectives
            self.bearerToken = bearerToken
        }

        /// Whether `token` has the form RFC 6750 gives a bearer token
        /// (`b64token`): so it needs no quoting in nginx's configuration.
        static func isBearerToken(_ token: String) -> Bool {
            let body = token.reversed().drop { $0 == "=" }
            return !body.isEmpty && body.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._~+/".contains($0)) }
        }

        /// Plain HTTP, no body limit.
        public static let plainHTTP = Configuration()
    }

    /// The address nginx listens on: always the loopback address.
    public let host = "127.0.0.1"
    /// The port nginx listens on.
    public let port: Int
    /// `https` with TLS, else `http`.
    public let scheme: String
    /// `<scheme>://127.0.0.1:<port>/`.
    public let baseURL: URL
    /// The server nginx forwards to.
    public let upstream: URL
    /// The configuration file nginx was started with.
    public let configurationFile: String

    private let folder: TemporaryFolder
    private let process: ChildProcess
    private let errorLogPath: String
    private let accessLogPath: String

    private init(
        port: Int, scheme: String, upstream: URL, configurationFile: String, folder: TemporaryFolder,
        process: ChildProcess, errorLogPath: String, accessLogPath: String
    ) {
        self.port = port
        self.scheme = scheme
        self.baseURL = URL(string: "\(scheme)://127.0.0.1:\(port)/")!
        self.upstream = upstream
        self.configurationFile = configurationFile
        self.folder = folder
        self.process = process
        self.errorLogPath = errorLogPath
        self.accessLogPath = accessLogPath
    }

    /// Starts nginx in front of `upstream`'s host and port (its path is
    /// ignored: request paths go through unchanged) and returns once it
    /// accepts connections. Call ``stop()`` when done; ``withNginx(upstream:_:_:)``
    /// does it for you.
    ///
    /// - Throws: ``FixtureError`` with nginx's own message if it is not
    ///   installed or does not start, or if the configuration's bearer
    ///   token has characters a token cannot have.
    public static func start(upstream: URL, _ configuration: Configuration = .plainHTTP) async throws -> Nginx {
        guard let upstreamHost = upstream.host, let upstreamPort = upstream.port else {
            throw FixtureError("nginx needs an upstream URL with a host and a port, not \(upstream)")
        }
        if let token = configuration.bearerToken, !Configuration.isBearerToken(token) {
            throw FixtureError("nginx's bearer token must be letters, digits and -._~+/, then = padding")
        }
        let nginx = try Executables.find("nginx", candidates: ["/usr/sbin/nginx"])
        let folder = try TemporaryFolder()
        let errorLog = "\(folder.path)/error.log"
        let accessLog = "\(folder.path)/access.log"
        let file = "\(folder.path)/nginx.conf"
        let (process, port) = try await ForegroundServer.start(
            "nginx",
            launch: { port in
                try? FileManager.default.removeItem(atPath: errorLog)
                let text = configurationText(
                    configuration, port: port, upstream: "\(upstreamHost):\(upstreamPort)", folder: folder.path)
                try Data(text.utf8).write(to: URL(fileURLWithPath: file))
                // -e: the log nginx writes before it has read the
                // configuration, which would otherwise be under /var/log.
                return try ChildProcess(
                    nginx, ["-e", errorLog, "-p", folder.path + "/", "-c", file], outputPath: "\(folder.path)/output.log")
            },
            diagnostics: { (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? "" }
        )
        return Nginx(
            port: port, scheme: configuration.tls == nil ? "http" : "https", upstream: upstream, configurationFile: file,
            folder: folder, process: process, errorLogPath: errorLog, accessLogPath: accessLog)
    }

    /// Runs `body` with nginx in front of `upstream`, and stops nginx
    /// however `body` ends.
    ///
    /// ```swift
    /// try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
    ///     // a 2 MB POST to nginx.url(path: "/files/") gets 413
    /// }
    /// ```
    public static func withNginx<T>(
        upstream: URL, _ configuration: Configuration = .plainHTTP, _ body: (Nginx) async throws -> T
    ) async throws -> T {
        try await withStarted(try await start(upstream: upstream, configuration), stop: { await $0.stop() }, body)
    }

    /// `path` on nginx: `<scheme>://127.0.0.1:<port><path>`.
    public func url(path: String) -> URL {
        URL(string: path.hasPrefix("/") ? String(path.dropFirst()) : path, relativeTo: baseURL)!.absoluteURL
    }

    /// `url` (say, the server's endpoint) with its scheme, host and port
    /// replaced by nginx's; path and query are kept.
    public func url(for url: URL) -> URL {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: true) else { return url }
        components.scheme = scheme
        components.host = host
        components.port = port
        return components.url ?? url
    }

    /// What nginx has logged at level `info` and above: failed handshakes,
    /// refused client certificates, upstream errors.
    public func errorLog() -> String {
        (try? String(contentsOfFile: errorLogPath, encoding: .utf8)) ?? ""
    }

    /// One line per request nginx answered, in its `combined` format
    /// (`127.0.0.1 - - [date] "PATCH /files/… HTTP/1.1" 204 0 …`).
    public func accessLog() -> [String] {
        ((try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// Stops nginx (SIGTERM, then SIGKILL after five seconds).
    public func stop() async {
        await process.stop()
    }

    /// The whole configuration: one `server` on 127.0.0.1:`port`, every
    /// path inside `folder`.
    static func configurationText(_ configuration: Configuration, port: Int, upstream: String, folder: String) -> String {
        var server: [String] = []
        if let tls = configuration.tls {
            server += [
                "listen 127.0.0.1:\(port) ssl;",
                "ssl_certificate \(quoted(tls.certificate));",
                "ssl_certificate_key \(quoted(tls.key));",
                // nginx 1.22 leaves TLS 1.3 out by default (1.23.4 added it).
                "ssl_protocols TLSv1.2 TLSv1.3;",
            ]
            if let clientCA = tls.clientCA {
                server += ["ssl_verify_client on;", "ssl_client_certificate \(quoted(clientCA));"]
            }
        } else {
            server.append("listen 127.0.0.1:\(port);")
        }
        server += ["client_max_body_size \(configuration.clientMaxBodySize);"]
        server += configuration.extraDirectives
        let serverBlock = server.map { "        " + $0 }.joined(separator: "\n")
        var check: [String] = []
        if let token = configuration.bearerToken {
            check = [
                "# Every request needs the token, OPTIONS too: 401 without",
                "# credentials, 403 with others.",
                "if ($http_authorization = \"\") {",
                "    add_header WWW-Authenticate 'Bearer realm=\"tus\"' always;",
                "    return 401;",
                "}",
                "if ($http_authorization != \"Bearer \(token)\") {",
                "    return 403;",
                "}",
            ]
        }
        let authorization = check.map { "            " + $0 }.joined(separator: "\n")
        return """
            # Written by TusTestSupport's Nginx fixture.
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(quoted(folder + "/nginx.pid"));
            error_log \(quoted(folder + "/error.log")) info;

            events {
                worker_connections 256;
            }

            http {
                access_log \(quoted(folder + "/access.log"));
                client_body_temp_path \(quoted(folder + "/client_body"));
                proxy_temp_path \(quoted(folder + "/proxy"));
                fastcgi_temp_path \(quoted(folder + "/fastcgi"));
                uwsgi_temp_path \(quoted(folder + "/uwsgi"));
                scgi_temp_path \(quoted(folder + "/scgi"));

                server {
            \(serverBlock)

                    location / {
            \(authorization)
                        proxy_pass http://\(upstream);
                        proxy_http_version 1.1;
                        # Bodies stream both ways, as a tus server behind nginx needs.
                        proxy_request_buffering off;
                        proxy_buffering off;
                        # The upstream builds Location from Host: keep the client's.
                        proxy_set_header Host $http_host;
                        proxy_set_header X-Forwarded-Host $http_host;
                        proxy_set_header X-Forwarded-Proto $scheme;
                        proxy_set_header X-Forwarded-For $remote_addr;
                        # The development server always writes http://; the
                        # client gets the scheme it used.
                        proxy_redirect http://$http_host/ $scheme://$http_host/;
                    }
                }
            }

            """
    }

    private static func quoted(_ path: String) -> String {
        "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
