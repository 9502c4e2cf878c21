import Foundation
import TusCore

/// Parses `redis://` and `redis-cluster://` URLs by hand: `URLComponents`
/// differs between platforms on user-info edge cases such as
/// `redis://:password@host`, and takes no list of hosts.
struct RedisURLParser {
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
        let expected = text.lowercased().hasPrefix("redis-cluster:")
            ? "redis-cluster://[[user]:password@]host[:port][,host[:port]...][/][?prefix=P&ttl=SECONDS]"
            : "redis://[[user]:password@]host[:port][/db][?prefix=P&ttl=SECONDS]"
        return TusError(.invalidArgument, "invalid Redis URL \(shown): \(why); expected \(expected)")
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
        guard scheme == "redis" || scheme == "redis-cluster" else {
            throw invalid("the scheme is \(scheme.debugDescription), not redis or redis-cluster")
        }
        let isCluster = scheme == "redis-cluster"

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

        // Host and port, or the cluster's nodes.
        if isCluster {
            var nodes: [RedisStorage.ClusterNode] = []
            for node in authority.split(separator: ",", omittingEmptySubsequences: false) {
                if node.isEmpty {
                    throw invalid(authority.isEmpty ? "it names no cluster node" : "a cluster node in the list is empty")
                }
                let (host, port) = try hostAndPort(node)
                nodes.append(RedisStorage.ClusterNode(host: host, port: port ?? RedisStorage.Configuration.defaultPort))
            }
            configuration.clusterNodes = nodes
            configuration.host = nodes[0].host
            configuration.port = nodes[0].port
        } else {
            let (host, port) = try hostAndPort(authority)
            configuration.host = host
            if let port { configuration.port = port }
        }

        // Database.
        if isCluster, !path.isEmpty, path != "0" {
            throw invalid("a Redis Cluster has database 0 only, not \(shown(path))")
        }
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

    /// The host and port of `authority`, `host[:port]` or `[IPv6][:port]`;
    /// the port is `nil` when not given.
    private func hostAndPort(_ authority: Substring) throws -> (host: String, port: Int?) {
        var authority = authority
        var host: String
        var portText: Substring?
        var hostText = authority
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("the IPv6 address has no closing ]") }
            hostText = authority[authority.index(after: authority.startIndex)..<close]
            host = String(hostText)
            let afterClose = authority[authority.index(after: close)...]
            if !afterClose.isEmpty {
                guard afterClose.hasPrefix(":") else { throw invalid("unexpected text after the IPv6 address") }
                portText = afterClose.dropFirst()
            }
            if host.isEmpty || !host.contains(":") {
                throw invalid("the bracketed host is not an IPv6 address")
            }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                portText = authority[authority.index(after: colon)...]
                authority = authority[..<colon]
            }
            hostText = authority
            host = String(authority)
        }
        if host.isEmpty { throw invalid("the host is missing") }
        // Control characters too: a NUL would otherwise reach the message
        // of `validated()`, which shows the host as it is.
        if host.contains(where: {
            $0 == "%" || $0.isWhitespace || $0 == "@" || $0.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }) {
            throw invalid("the host \(shown(hostText)) is not a host name or address")
        }
        guard let portText else { return (host, nil) }
        guard let port = decimal(portText), (1...65535).contains(port) else {
            throw invalid("the port \(shown(portText)) is not a number within 1...65535")
        }
        return (host, port)
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
