import Foundation

/// Certificates for TLS tests, made with the real `openssl` command: a
/// private CA and servers it signed (a good one, an expired one, one with
/// the wrong name), and a second CA with a client it signed, for mutual TLS.
///
/// Made once per test process by ``shared()`` (a few `openssl` runs), in a
/// temporary folder removed when the process exits. Every property is a
/// path to a PEM file.
///
/// ```swift
/// let certificates = try TestCertificates.shared()
/// try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
///     _ = try runProcess("/usr/bin/curl", ["--cacert", certificates.serverCABundle, nginx.url(path: "/files/").absoluteString])
/// }
/// ```
public final class TestCertificates: Sendable {
    /// A certificate and its private key (unencrypted), as two PEM files.
    public struct Files: Sendable {
        /// The certificate's PEM file.
        public let certificate: String
        /// The private key's PEM file.
        public let key: String
    }

    /// The folder holding every file.
    public let directory: String
    /// The CA that signed the server certificates.
    public let serverCA: Files
    /// A server certificate for `127.0.0.1` and `localhost` (subjectAltName
    /// `IP:127.0.0.1`, `DNS:localhost`), valid from a day ago for a year.
    public let server: Files
    /// The same names, signed by the same CA, but valid only from 60 to 30
    /// days ago: clients must refuse it as expired.
    public let expiredServer: Files
    /// Signed by the same CA, valid now, but only for `wrong.example`
    /// (subjectAltName `DNS:wrong.example`): clients reaching `127.0.0.1`
    /// or `localhost` must refuse it.
    public let wrongNameServer: Files
    /// The CA that signed the client certificate: what a server requiring
    /// client certificates trusts. Distinct from ``serverCA`` so that no
    /// server certificate passes as a client's.
    public let clientCA: Files
    /// A client certificate (extendedKeyUsage `clientAuth`) signed by
    /// ``clientCA``.
    public let client: Files
    /// The client's certificate followed by its key in one PEM, for tools
    /// that take both in one file.
    public let clientIdentity: String
    /// The server CA's certificate as a trust bundle, for `curl --cacert`
    /// or a client's trust roots. The only certificate in it is
    /// ``serverCA``'s: no intermediate stands between it and the servers.
    public let serverCABundle: String

    private let folder: TemporaryFolder?

    /// The certificates every test of this process shares, made on the
    /// first call.
    ///
    /// - Throws: ``FixtureError`` with openssl's own message when a step
    ///   fails, or when openssl is not installed.
    public static func shared() throws -> TestCertificates {
        try sharedResult.get()
    }

    private static let sharedResult: Result<TestCertificates, any Error> = {
        let made = Result { () throws -> TestCertificates in
            let folder = try TemporaryFolder()
            return try TestCertificates(folder: folder, directory: folder.path)
        }
        // Statics are never released, so the folder would outlive the
        // process without this.
        atexit { TestCertificates.removeSharedFolder() }
        return made
    }()

    private static func removeSharedFolder() {
        if case .success(let certificates) = sharedResult {
            try? FileManager.default.removeItem(atPath: certificates.directory)
        }
    }

    /// Makes a new set of certificates in `directory`, which must exist;
    /// the caller removes it. Most tests want ``shared()``.
    public convenience init(directory: String) throws {
        try self.init(folder: nil, directory: directory)
    }

    private init(folder: TemporaryFolder?, directory: String) throws {
        self.folder = folder
        self.directory = directory
        let maker = try Maker(directory: directory)
        let now = Date()
        let day: TimeInterval = 24 * 3600
        let validNow = (now - day, now + 365 * day)

        serverCA = try maker.certificateAuthority("server-ca", subject: "/CN=swift-tus test server CA")
        server = try maker.leaf(
            "server", subject: "/CN=localhost", signedBy: serverCA, extensions: "server", valid: validNow)
        expiredServer = try maker.leaf(
            "expired-server", subject: "/CN=localhost", signedBy: serverCA, extensions: "server",
            valid: (now - 60 * day, now - 30 * day))
        wrongNameServer = try maker.leaf(
            "wrong-name-server", subject: "/CN=wrong.example", signedBy: serverCA, extensions: "wrong_name",
            valid: validNow)
        clientCA = try maker.certificateAuthority("client-ca", subject: "/CN=swift-tus test client CA")
        client = try maker.leaf(
            "client", subject: "/CN=swift-tus test client", signedBy: clientCA, extensions: "client",
            valid: validNow)

        clientIdentity = maker.path("client-identity.pem")
        try maker.concatenate([client.certificate, client.key], into: clientIdentity)
        serverCABundle = maker.path("server-ca-bundle.pem")
        try maker.concatenate([serverCA.certificate], into: serverCABundle)
    }
}

/// Runs openssl for ``TestCertificates``.
private struct Maker {
    let directory: String
    let openssl: String

    init(directory: String) throws {
        self.directory = directory
        openssl = try Executables.find("openssl", candidates: ["/usr/bin/openssl"])
    }

    func path(_ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    /// A self-signed CA with its own `openssl ca` database (index, serial,
    /// config), so that each CA numbers its certificates on its own.
    func certificateAuthority(_ name: String, subject: String) throws -> TestCertificates.Files {
        let files = TestCertificates.Files(certificate: path("\(name).pem"), key: path("\(name).key"))
        try run(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", files.key, "-out", files.certificate, "-days", "3650", "-subj", subject,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        let database = path("\(name)-db")
        try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: "\(database)/index.txt"))
        // A random first serial: certificates from two runs never share one.
        let serial = (0..<8).map { _ in String(format: "%02X", UInt8.random(in: 1...0x7f)) }.joined()
        try Data("\(serial)\n".utf8).write(to: URL(fileURLWithPath: "\(database)/serial"))
        try Data(configuration(database: database).utf8).write(to: URL(fileURLWithPath: "\(database)/ca.cnf"))
        return files
    }

    /// A key and a certificate for `subject`, signed by `ca` with the
    /// extensions of the config section `extensions`, valid between the
    /// two dates. `openssl ca` rather than `openssl x509 -req`, because only
    /// it takes a start date (OpenSSL 3.0's x509 has no `-not_before`), and
    /// the expired certificate needs one in the past.
    func leaf(
        _ name: String, subject: String, signedBy ca: TestCertificates.Files, extensions: String,
        valid: (from: Date, until: Date)
    ) throws -> TestCertificates.Files {
        let files = TestCertificates.Files(certificate: path("\(name).pem"), key: path("\(name).key"))
        let request = path("\(name).csr")
        try run(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", files.key, "-out", request, "-subj", subject)
        let database = (ca.certificate as NSString).deletingPathExtension + "-db"
        try run(
            "ca", "-config", "\(database)/ca.cnf", "-batch", "-notext", "-in", request, "-out", files.certificate,
            "-cert", ca.certificate, "-keyfile", ca.key, "-extensions", extensions,
            "-startdate", Self.asn1Time(valid.from), "-enddate", Self.asn1Time(valid.until))
        return files
    }

    func concatenate(_ paths: [String], into destination: String) throws {
        var combined = Data()
        for path in paths { combined.append(try Data(contentsOf: URL(fileURLWithPath: path))) }
        try combined.write(to: URL(fileURLWithPath: destination))
    }

    private func run(_ arguments: String...) throws {
        let result = try runProcess(openssl, arguments, timeout: 60)
        guard result.status == 0 else {
            throw FixtureError(
                "openssl \(arguments.prefix(2).joined(separator: " ")) failed (status \(result.status)): "
                    + result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// The minimal `openssl ca` configuration: where the database is, any
    /// subject accepted, and the extensions each kind of certificate gets.
    private func configuration(database: String) -> String {
        """
        [ ca ]
        default_ca = test_ca

        [ test_ca ]
        database = \(database)/index.txt
        new_certs_dir = \(database)
        serial = \(database)/serial
        default_md = sha256
        policy = any_subject
        unique_subject = no
        email_in_dn = no

        [ any_subject ]
        commonName = supplied

        [ server ]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = serverAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid
        subjectAltName = IP:127.0.0.1,DNS:localhost

        [ wrong_name ]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = serverAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid
        subjectAltName = DNS:wrong.example

        [ client ]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = clientAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid

        """
    }

    /// `YYYYMMDDHHMMSSZ` in UTC, the form `openssl ca -startdate` takes.
    private static func asn1Time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }
}
