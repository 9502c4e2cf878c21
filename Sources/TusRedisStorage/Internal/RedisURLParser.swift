import Foundation
import TusCore

/// Parses `redis://`, `redis-sentinel://` and `redis-cluster://` URLs by hand: `URLComponents`
/// differs between platforms on user-info edge cases such as
/// `redis://:password@host`, and takes no list of hosts.
struct RedisURLParser {
    let text: String

    init(_ text: String) { self.text = text }

    /// The forms a message says are expected.
    static let singleForm = "redis://[[user]:password@]host[:port][/db][?prefix=P&ttl=SECONDS]"
    static let clusterForm = "redis-cluster://[[user]:password@]host[:port][,host[:port]...][/][?prefix=P&ttl=SECONDS]"
    static let sentinelForm = "redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/MASTER[/db][?prefix=P&ttl=SECONDS&wait=REPLICAS&wait_timeout=SECONDS&failover_timeout=SECONDS]"

    /// Whether the URL is a `redis-sentinel://` one, as far as can be told.
    private var isSentinel: Bool { text.lowercased().hasPrefix("redis-sentinel://") }
    /// Whether the URL is a `redis-cluster://` one, as far as can be told.
    private var isCluster: Bool { text.lowercased().hasPrefix("redis-cluster:") }

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
        let expected = isCluster ? Self.clusterForm : isSentinel ? Self.sentinelForm : Self.singleForm
        return TusError(.invalidArgument, "invalid Redis URL \(shown): \(why); expected \(expected)")
    }

    func parse() throws -> RedisStorage.Configuration {
        guard let schemeEnd = text.range(of: "://") else {
            throw invalid("it does not start with redis://, redis-sentinel:// or redis-cluster://")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        if scheme == "rediss" {
            throw TusError(
                .unsupported,
                "cannot use Redis URL \(shown): TLS (rediss://) is not supported; reach the server through a TLS tunnel or a private network and use redis://"
            )
        }
        guard scheme == "redis" || scheme == "redis-sentinel" || scheme == "redis-cluster" else {
            throw invalid("the scheme is \(scheme.debugDescription), not redis, redis-sentinel or redis-cluster")
        }
        let sentinel = scheme == "redis-sentinel"
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

        if sentinel {
            // Sentinels: host[:port], comma-separated.
            var sentinels: [RedisStorage.Configuration.Sentinel.Address] = []
            for part in authority.split(separator: ",", omittingEmptySubsequences: false) {
                if part.isEmpty {
                    throw invalid(authority.isEmpty
                        ? "it names no sentinel; list them as host[:port],host[:port]"
                        : "the list of sentinels has an empty entry")
                }
                let (host, port) = try hostAndPort(part)
                sentinels.append(.init(host: host, port: port ?? RedisStorage.Configuration.Sentinel.defaultPort))
            }
            // Path: MASTER[/db].
            let segments = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = segments.first, !first.isEmpty else {
                throw invalid("it names no master; write the name the sentinels know it by after the hosts: /MASTER")
            }
            let masterName = try decode(first, "the master name")
            if masterName.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw invalid("the master name \(shown(first)) contains a control character")
            }
            configuration.sentinel = .init(masterName: masterName, sentinels: sentinels)
            path = segments.count == 2 ? segments[1] : ""
        } else if isCluster {
            // The cluster's nodes.
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
                configuration.ttl = try seconds(value, parts[1], "the ttl")
            case "wait":
                guard let replicas = decimal(Substring(value)), replicas <= 1000 else {
                    throw invalid("wait=\(shown(parts[1])) is not a number of replicas (0 to 1000)")
                }
                configuration.waitReplicas = replicas
            case "wait_timeout":
                configuration.waitTimeout = try seconds(value, parts[1], "the wait_timeout")
            case "failover_timeout" where sentinel:
                configuration.sentinel?.failoverTimeout = try seconds(value, parts[1], "the failover_timeout")
            case "failover_timeout":
                throw invalid("the option failover_timeout is for redis-sentinel:// URLs only")
            default:
                let known = sentinel ? "prefix, ttl, wait, wait_timeout, failover_timeout" : "prefix, ttl, wait, wait_timeout"
                throw invalid("unknown option \(shown(parts[0])) (known: \(known))")
            }
        }

        if seen.contains("wait_timeout") && configuration.waitReplicas == 0 {
            throw invalid("wait_timeout is given without wait, the number of replicas to wait for")
        }

        do {
            return try configuration.validated()
        } catch let error as TusError {
            throw invalid(error.message)
        }
    }

    /// A host and an optional port: `host`, `host:port`, `[v6]` or
    /// `[v6]:port`.
    private func hostAndPort(_ authority: Substring) throws -> (host: String, port: Int?) {
        var authority = authority
        var portText: Substring?
        var hostText = authority
        let host: String
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
            $0 == "%" || $0.isWhitespace || $0 == "@" || $0 == "," || $0.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }) {
            throw invalid("the host \(shown(hostText)) is not a host name or address")
        }
        guard let portText else { return (host, nil) }
        guard let port = decimal(portText), (1...65535).contains(port) else {
            throw invalid("the port \(shown(portText)) is not a number within 1...65535")
        }
        return (host, port)
    }

    /// A number of seconds greater than zero, written with digits and a dot.
    private func seconds(_ value: String, _ raw: Substring, _ what: String) throws -> TimeInterval {
        guard let seconds = Double(value), seconds > 0, seconds.isFinite, seconds <= 1e12,
              value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
            throw invalid("\(what) \(shown(raw)) is not a number of seconds greater than zero")
        }
        return seconds
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
