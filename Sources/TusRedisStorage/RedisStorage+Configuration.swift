public import Foundation
import TusCore

extension RedisStorage {
    /// Where a ``RedisStorage`` connects and how it names its keys.
    ///
    /// Build one field by field, or parse a `redis://` URL with
    /// ``init(url:)``:
    ///
    /// ```swift
    /// var configuration = RedisStorage.Configuration(host: "10.0.0.5", password: secret)
    /// configuration.keyPrefix = "uploader:"
    /// configuration.ttl = 7 * 24 * 3600
    /// let store = try RedisStorage(configuration: configuration)
    /// ```
    ///
    /// Its `description`, `debugDescription` and mirror never show the
    /// password.
    public struct Configuration: Sendable, Hashable {
        /// The server's host name or IP address, such as `127.0.0.1`,
        /// `redis.internal` or `::1` (without brackets).
        public var host: String
        /// The server's TCP port. The default is 6379.
        public var port: Int
        /// The user name for `AUTH user password` (Redis 6 ACLs), or `nil` to
        /// send `AUTH password` for the `default` user.
        public var username: String?
        /// The password, or `nil` to send no `AUTH`.
        public var password: String?
        /// The database number, selected with `SELECT`. The default is 0.
        public var database: Int
        /// The prefix of every key the store writes. The default is `tus:`.
        /// Stores with different prefixes on one database do not see each
        /// other's entries.
        public var keyPrefix: String
        /// How long, in seconds, Redis keeps an entry after it was stored or
        /// last replaced; `nil` (the default) keeps it until it is removed.
        public var ttl: TimeInterval?
        /// The longest wait, in seconds, for a connection to be made. The
        /// default is 5.
        public var connectTimeout: TimeInterval
        /// The longest wait, in seconds, for the server to take a command or
        /// to answer it. The default is 5.
        public var commandTimeout: TimeInterval

        /// The port Redis listens on unless told otherwise: 6379.
        public static let defaultPort = 6379
        /// The key prefix used unless told otherwise: `tus:`.
        public static let defaultKeyPrefix = "tus:"

        /// Creates a configuration; every argument has a default.
        public init(
            host: String = "127.0.0.1",
            port: Int = Configuration.defaultPort,
            username: String? = nil,
            password: String? = nil,
            database: Int = 0,
            keyPrefix: String = Configuration.defaultKeyPrefix,
            ttl: TimeInterval? = nil,
            connectTimeout: TimeInterval = 5,
            commandTimeout: TimeInterval = 5
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.keyPrefix = keyPrefix
            self.ttl = ttl
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
        }

        /// Parses a Redis URL:
        /// `redis://[[username]:password@]host[:port][/database][?prefix=P&ttl=SECONDS]`.
        ///
        /// ```swift
        /// let a = try RedisStorage.Configuration(url: "redis://127.0.0.1")
        /// let b = try RedisStorage.Configuration(url: "redis://:s3cret@cache.internal:6380/2?prefix=up:&ttl=86400")
        /// let c = try RedisStorage.Configuration(url: "redis://uploader:s3cret@[::1]/0")
        /// ```
        ///
        /// - The user name, password and prefix may be percent-encoded (a
        ///   password holding `@`, `:` or `/` must be).
        /// - An IPv6 address goes in brackets.
        /// - The port defaults to 6379, the database to 0 and the prefix to
        ///   `tus:`; `ttl` is a number of seconds greater than zero.
        ///
        /// - Throws: `TusError` with `TusError.Code.invalidArgument`
        ///   naming the URL (its credentials masked) and what is wrong with
        ///   it, or `TusError.Code.unsupported` for `rediss://` (TLS).
        public init(url: String) throws {
            self = try RedisURLParser(url).parse()
        }

        /// The server's address without credentials, `redis://host:port/db`,
        /// for messages and logs.
        public var address: String {
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "redis://\(shownHost):\(port)/\(database)"
        }

        /// Checks every field, so that a bad one fails now rather than at
        /// the first connection.
        func validated() throws -> Configuration {
            func invalid(_ why: String) -> TusError {
                TusError(.invalidArgument, "invalid Redis configuration for \(address): \(why)")
            }
            if host.isEmpty { throw invalid("the host is empty") }
            if host.utf8.contains(0) { throw invalid("the host contains a NUL character") }
            if !(1...65535).contains(port) { throw invalid("the port \(port) is not within 1...65535") }
            if database < 0 || database > Int(Int32.max) { throw invalid("the database number \(database) is negative or too large") }
            if let ttl, !(ttl > 0 && ttl.isFinite && ttl * 1000 <= Double(Int64.max / 2)) {
                throw invalid("the ttl \(ttl) is not a number of seconds greater than zero")
            }
            if !(connectTimeout > 0 && connectTimeout.isFinite && connectTimeout < 1e9) {
                throw invalid("the connect timeout \(connectTimeout) is not a number of seconds greater than zero")
            }
            if !(commandTimeout > 0 && commandTimeout.isFinite && commandTimeout < 1e9) {
                throw invalid("the command timeout \(commandTimeout) is not a number of seconds greater than zero")
            }
            if password == nil, username != nil {
                throw invalid("a user name is set without a password")
            }
            return self
        }
    }
}

extension RedisStorage.Configuration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The address, the prefix and the ttl; the password is shown as `***`.
    public var description: String {
        var text = address
        if password != nil { text += " (" + (username.map { "user \($0), " } ?? "") + "password ***)" }
        text += ", prefix \(keyPrefix.debugDescription)"
        if let ttl { text += ", ttl \(ttl) s" }
        return text
    }

    /// The same as ``description``.
    public var debugDescription: String { "RedisStorage.Configuration(\(description))" }

    /// Every field, the password shown as `***`.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "host": host,
            "port": port,
            "username": username as Any,
            "password": (password == nil ? nil : "***") as Any,
            "database": database,
            "keyPrefix": keyPrefix,
            "ttl": ttl as Any,
            "connectTimeout": connectTimeout,
            "commandTimeout": commandTimeout,
        ])
    }
}

extension RedisStorage.Configuration {
    /// `text` with everything between `://` and its last `@` replaced by
    /// `***`, so that a URL with credentials — even a malformed one — can be
    /// shown in a message: `redis://user:pw@host` becomes `redis://***@host`.
    public static func maskingCredentials(in text: String) -> String {
        guard let schemeEnd = text.range(of: "://"),
              let at = text[schemeEnd.upperBound...].lastIndex(of: "@") else { return text }
        return String(text[..<schemeEnd.upperBound]) + "***" + String(text[at...])
    }
}

/// Parses `redis://` URLs by hand: `URLComponents` differs between platforms
/// on user-info edge cases such as `redis://:password@host`.
private struct RedisURLParser {
    let text: String

    init(_ text: String) { self.text = text }

    /// The URL as messages show it, credentials masked.
    var shown: String { RedisStorage.Configuration.maskingCredentials(in: text).debugDescription }

    /// A part of the URL as messages show it, quoted: what of it lies where
    /// ``shown`` masks the credentials (before the URL's last `@`) is `***`.
    /// When a credential holds a `/`, `?` or `#` that is not
    /// percent-encoded, the part taken for the port, the database or an
    /// option can be a piece of the password.
    func shown(_ part: Substring) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].lastIndex(of: "@"),
              part.startIndex < at else { return String(part).debugDescription }
        return ("***" + (part.endIndex > at ? String(text[at..<part.endIndex]) : "")).debugDescription
    }

    func invalid(_ why: String) -> TusError {
        var why = why
        if let schemeEnd = text.range(of: "://") {
            let afterScheme = text[schemeEnd.upperBound...]
            let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
            if !afterScheme[..<authorityEnd].contains("@") && afterScheme[authorityEnd...].contains("@") {
                why += " (a /, ? or # in the user name or password must be percent-encoded)"
            }
        }
        return TusError(
            .invalidArgument,
            "invalid Redis URL \(shown): \(why); expected redis://[[user]:password@]host[:port][/db][?prefix=P&ttl=SECONDS]"
        )
    }

    func parse() throws -> RedisStorage.Configuration {
        guard let schemeEnd = text.range(of: "://") else { throw invalid("it does not start with redis://") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        if scheme == "rediss" {
            throw TusError(
                .unsupported,
                "cannot use Redis URL \(shown): TLS (rediss://) is not supported; reach the server through a TLS tunnel or a private network and use redis://"
            )
        }
        guard scheme == "redis" else { throw invalid("the scheme is \(scheme.debugDescription), not redis") }

        var rest = text[schemeEnd.upperBound...]
        if rest.contains("#") { throw invalid("it has a fragment (#)") }
        var query: Substring = ""
        if let questionMark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: questionMark)...]
            rest = rest[..<questionMark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var authority = rest

        var configuration = RedisStorage.Configuration()

        // User info: [username]:password, or a bare username (refused: it
        // would send no password).
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw invalid("the credentials have no password; write redis://user:password@host or redis://:password@host")
            }
            let username = try decode(userInfo[..<colon], "the user name")
            let password = try decode(userInfo[userInfo.index(after: colon)...], "the password")
            configuration.username = username.isEmpty ? nil : username
            configuration.password = password
        }

        // Host and port.
        var portText: Substring?
        var hostText = authority
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("the IPv6 address has no closing ]") }
            hostText = authority[authority.index(after: authority.startIndex)..<close]
            configuration.host = String(hostText)
            let afterClose = authority[authority.index(after: close)...]
            if !afterClose.isEmpty {
                guard afterClose.hasPrefix(":") else { throw invalid("unexpected text after the IPv6 address") }
                portText = afterClose.dropFirst()
            }
            if configuration.host.isEmpty || !configuration.host.contains(":") {
                throw invalid("the bracketed host is not an IPv6 address")
            }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                portText = authority[authority.index(after: colon)...]
                authority = authority[..<colon]
            }
            hostText = authority
            configuration.host = String(authority)
        }
        if configuration.host.isEmpty { throw invalid("the host is missing") }
        // Control characters too: a NUL would otherwise reach the message
        // of `validated()`, which shows the host as it is.
        if configuration.host.contains(where: {
            $0 == "%" || $0.isWhitespace || $0 == "@" || $0.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }) {
            throw invalid("the host \(shown(hostText)) is not a host name or address")
        }
        if let portText {
            guard let port = decimal(portText), (1...65535).contains(port) else {
                throw invalid("the port \(shown(portText)) is not a number within 1...65535")
            }
            configuration.port = port
        }

        // Database.
        if !path.isEmpty {
            guard let database = decimal(path), database <= Int(Int32.max) else {
                throw invalid("the database \(shown(path)) is not a number")
            }
            configuration.database = database
        }

        // Options.
        var seen: Set<String> = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard parts.count == 2 else { throw invalid("the option \(shown(parts[0])) has no value") }
            guard seen.insert(name).inserted else { throw invalid("the option \(shown(parts[0])) is given twice") }
            let value = try decode(parts[1], "the option \(shown(parts[0]))")
            switch name {
            case "prefix":
                configuration.keyPrefix = value
            case "ttl":
                guard let ttl = Double(value), ttl > 0, ttl.isFinite, ttl <= 1e12,
                      value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
                    throw invalid("the ttl \(shown(parts[1])) is not a number of seconds greater than zero")
                }
                configuration.ttl = ttl
            default:
                throw invalid("unknown option \(shown(parts[0])) (known: prefix, ttl)")
            }
        }

        do {
            return try configuration.validated()
        } catch let error as TusError {
            throw invalid(error.message)
        }
    }

    /// A non-negative decimal number made of ASCII digits only.
    private func decimal(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    private func decode(_ text: Substring, _ what: String) throws -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard utf8.count >= 2,
                      let high = hexValue(utf8[utf8.startIndex]), let low = hexValue(utf8[utf8.startIndex + 1]) else {
                    throw invalid("\(what) has a malformed percent escape")
                }
                bytes.append(high << 4 | low)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        guard let decoded = String(bytes: bytes, encoding: .utf8) else {
            throw invalid("\(what) is not UTF-8 once percent-decoded")
        }
        return decoded
    }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
