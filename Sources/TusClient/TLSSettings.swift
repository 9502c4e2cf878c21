/// Whom the client trusts when it connects over HTTPS, and how it proves
/// who it is.
///
/// ```swift
/// var tls = TLSSettings()
/// tls.trustRoots = .systemAnd(certificateFiles: ["/etc/myapp/corporate-ca.pem"])
/// tls.clientCertificate = ClientCertificate(
///     certificateFile: "/etc/myapp/client.pem", privateKeyFile: "/etc/myapp/client.key")
/// let client = TusClient(url: URL(string: "https://tus.internal/files/")!, tls: tls)
/// ```
///
/// Files are PEM. They are read when the first HTTPS request is made; a file
/// that is missing or holds no certificate or key fails that request with a
/// `TusError` naming the file.
public struct TLSSettings: Sendable, Hashable {
    /// The certificate authorities a server's certificate must lead to.
    public enum TrustRoots: Sendable, Hashable {
        /// The system's authorities. As in OpenSSL-based tools, the
        /// environment can name others: the certificates in the file named by
        /// `SSL_CERT_FILE` replace the system's, and those in the folder named
        /// by `SSL_CERT_DIR` are added.
        case system
        /// The system's authorities (as for ``system``) and those in these
        /// PEM files: a private or corporate CA.
        case systemAnd(certificateFiles: [String])
        /// Only the authorities in these PEM files.
        case only(certificateFiles: [String])
    }

    /// The authorities trusted. Default: ``TrustRoots/system``.
    public var trustRoots: TrustRoots

    /// The certificate and key the client presents to a server that asks for
    /// one (mutual TLS). Default: none.
    public var clientCertificate: ClientCertificate?

    /// Whether the server's certificate is checked: its authority, its
    /// dates and its name. Turning this off (curl's `--insecure`) lets anyone
    /// on the path read and change the upload; keep it for tests. Default:
    /// true.
    public var verifiesServerCertificate: Bool

    /// Creates settings; the defaults trust the system's authorities and
    /// present no client certificate.
    public init(
        trustRoots: TrustRoots = .system,
        clientCertificate: ClientCertificate? = nil,
        verifiesServerCertificate: Bool = true
    ) {
        self.trustRoots = trustRoots
        self.clientCertificate = clientCertificate
        self.verifiesServerCertificate = verifiesServerCertificate
    }
}

/// A client certificate for mutual TLS: the certificate (followed by any
/// intermediate certificates) and its private key, both PEM files.
public struct ClientCertificate: Sendable, Hashable {
    /// The PEM file with the client's certificate, then its intermediates.
    public var certificateFile: String
    /// The PEM file with the certificate's private key (not encrypted).
    public var privateKeyFile: String

    /// Creates a client certificate from two PEM files; they may be one and
    /// the same file holding both.
    public init(certificateFile: String, privateKeyFile: String) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
    }
}
