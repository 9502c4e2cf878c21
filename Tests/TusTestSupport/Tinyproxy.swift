public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Debian's tinyproxy as the HTTP proxy between a client and its server:
/// plain requests (`GET http://…`) and `CONNECT` tunnels for `https://`.
///
/// It runs as a child of the test in the foreground (`-d`) on a free
/// loopback port, with its own configuration and log in a temporary
/// folder. It accepts only 127.0.0.1, adds no `Via` header, and logs every
/// request so a test can check the client really went through it. By
/// default it tunnels to any port (the configuration has no `ConnectPort`
/// line, which tinyproxy reads as "all ports"; `ConnectPort 0` would forbid
/// `CONNECT` altogether); `connectPorts: [443]` allows tunnels to port 443
/// only, as squid's default configuration does. With `credentials`, it
/// serves only requests that carry them (`BasicAuth`, answered 407
/// otherwise).
///
/// ```swift
/// try await Tinyproxy.withTinyproxy { proxy in
///     _ = try runProcess("/usr/bin/curl", ["-x", proxy.url.absoluteString, server.endpoint.absoluteString])
///     #expect(proxy.requestLog().contains { $0.hasPrefix("GET http://127.0.0.1:") })
/// }
/// ```
public final class Tinyproxy: Sendable {
    /// The address tinyproxy listens on: always the loopback address.
    public let host = "127.0.0.1"
    /// The port tinyproxy listens on.
    public let port: Int
    /// The proxy's URL, `http://127.0.0.1:<port>`, as clients take it
    /// (`curl -x`, `HTTPClient.Configuration.Proxy`).
    public let url: URL
    /// The configuration file tinyproxy was started with.
    public let configurationFile: String

    private let folder: TemporaryFolder
    private let process: ChildProcess
    private let logPath: String

    private init(port: Int, configurationFile: String, folder: TemporaryFolder, process: ChildProcess, logPath: String) {
        self.port = port
        self.url = URL(string: "http://127.0.0.1:\(port)")!
        self.configurationFile = configurationFile
        self.folder = folder
        self.process = process
        self.logPath = logPath
    }

    /// A user name and password the proxy requires (`BasicAuth`). tinyproxy
    /// reads only letters, digits, `-`, `.` and `_` in them.
    public struct Credentials: Sendable {
        public var user: String
        public var password: String

        /// Credentials of `user` with `password`.
        public init(user: String, password: String) {
            self.user = user
            self.password = password
        }
    }

    /// Starts tinyproxy and returns once it accepts connections. Call
    /// ``stop()`` when done; ``withTinyproxy(connectPorts:credentials:_:)``
    /// does it for you.
    ///
    /// - Parameters:
    ///   - connectPorts: the only ports `CONNECT` may tunnel to (one
    ///     `ConnectPort` line each); nil, or none, for every port.
    ///   - credentials: the user and password every request must carry
    ///     (`Proxy-Authorization: Basic …`); nil for none.
    /// - Throws: ``FixtureError`` with tinyproxy's own message if it is not
    ///   installed or does not start.
    public static func start(connectPorts: [Int]? = nil, credentials: Credentials? = nil) async throws -> Tinyproxy {
        let tinyproxy = try Executables.find("tinyproxy", candidates: ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"])
        let folder = try TemporaryFolder()
        let log = "\(folder.path)/tinyproxy.log"
        let file = "\(folder.path)/tinyproxy.conf"
        // Started as root, tinyproxy becomes `nobody` once it listens, and
        // only then opens its log: the log is made beforehand and given to
        // `nobody` (the folder is already open to all for reading and
        // passing through, not for writing).
        let account = geteuid() == 0 ? unprivilegedAccount() : nil
        let (process, port) = try await ForegroundServer.start(
            "tinyproxy",
            launch: { port in
                _ = FileManager.default.createFile(atPath: log, contents: nil)
                if let account {
                    guard chown(log, account.uid, account.gid) == 0 else {
                        throw FixtureError("cannot give \(log) to uid \(account.uid): \(String(cString: strerror(errno)))")
                    }
                }
                try Data(configurationText(
                    port: port, log: log, account: account, connectPorts: connectPorts, credentials: credentials).utf8)
                    .write(to: URL(fileURLWithPath: file))
                return try ChildProcess(tinyproxy, ["-d", "-c", file], outputPath: "\(folder.path)/output.log")
            },
            diagnostics: { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        )
        return Tinyproxy(port: port, configurationFile: file, folder: folder, process: process, logPath: log)
    }

    /// Runs `body` with tinyproxy running, and stops it however `body` ends.
    /// The parameters are those of ``start(connectPorts:credentials:)``.
    public static func withTinyproxy<T>(
        connectPorts: [Int]? = nil, credentials: Credentials? = nil, _ body: (Tinyproxy) async throws -> T
    ) async throws -> T {
        try await withStarted(try await start(connectPorts: connectPorts, credentials: credentials), stop: { await $0.stop() }, body)
    }

    /// tinyproxy's whole log so far (`LogLevel Info`).
    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// The request line of every request tinyproxy has received so far, in
    /// order: `GET http://127.0.0.1:8080/files/ HTTP/1.1` for a plain
    /// request, `CONNECT 127.0.0.1:8443 HTTP/1.1` for a tunnel.
    public func requestLog() -> [String] {
        let marker = ": Request (file descriptor "
        return log().split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: marker), let end = line[range.upperBound...].range(of: "): ") else {
                return nil
            }
            return String(line[end.upperBound...])
        }
    }

    /// Stops tinyproxy (SIGTERM, then SIGKILL after five seconds).
    public func stop() async {
        await process.stop()
    }

    /// The whole configuration. Without `connectPorts`, no `ConnectPort`
    /// line: every port may be tunnelled to.
    static func configurationText(
        port: Int, log: String, account: (uid: uid_t, gid: gid_t)?, connectPorts: [Int]? = nil, credentials: Credentials? = nil
    ) -> String {
        var lines = ["# Written by TusTestSupport's Tinyproxy fixture."]
        if let account { lines += ["User \(account.uid)", "Group \(account.gid)"] }
        lines += [
            "Port \(port)",
            "Listen 127.0.0.1",
            "Timeout 600",
            "LogFile \"\(log)\"",
            "LogLevel Info",
            "MaxClients 100",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
        ]
        lines += (connectPorts ?? []).map { "ConnectPort \($0)" }
        if let credentials { lines.append("BasicAuth \(credentials.user) \(credentials.password)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `nobody` account tinyproxy runs as when started by root.
    private static func unprivilegedAccount() -> (uid: uid_t, gid: gid_t)? {
        guard let entry = getpwnam("nobody") else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }
}
