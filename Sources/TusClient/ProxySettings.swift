public import Foundation

/// Which proxy, if any, a request goes through.
///
/// By default the client reads the environment as curl does: `http_proxy`
/// for `http://` URLs (the lower-case name only), `https_proxy` or
/// `HTTPS_PROXY` for `https://` URLs, `all_proxy` or `ALL_PROXY` for both
/// when the other is unset, and `no_proxy` or `NO_PROXY` for the hosts that
/// are reached directly.
///
/// Requests to `https://` URLs go through the proxy in a tunnel
/// (`CONNECT`); TLS then runs end to end, so the proxy sees neither the
/// bytes nor the headers of an HTTPS upload. Requests to `http://` URLs go
/// to an `http://` proxy as curl sends them, as plain requests in absolute
/// form (`PATCH http://host:port/files/abc HTTP/1.1`), so a proxy that
/// tunnels to port 443 only still carries them. A proxy URL is
/// `http://[user:password@]host[:port]` (port 1080 by default, as curl
/// assumes) or `socks5://host[:port]`.
///
/// ```swift
/// let client = TusClient(
///     url: URL(string: "https://tus.example/files/")!,
///     proxy: ProxySettings(httpsProxy: URL(string: "http://proxy.corp:3128")!, noProxy: ["localhost", ".internal"]))
/// ```
public struct ProxySettings: Sendable, Hashable {
    /// The proxy for `http://` URLs.
    public var httpProxy: URL?
    /// The proxy for `https://` URLs.
    public var httpsProxy: URL?
    /// Hosts reached without a proxy: a name matches itself and the names
    /// under it (`example.com` and `.example.com` both match
    /// `tus.example.com`), an IPv4 address or `a.b.c.d/bits` block matches
    /// the addresses in it, and `*` matches every host.
    public var noProxy: [String]

    /// Creates settings that send requests through the given proxies.
    public init(httpProxy: URL? = nil, httpsProxy: URL? = nil, noProxy: [String] = []) {
        self.httpProxy = httpProxy
        self.httpsProxy = httpsProxy
        self.noProxy = noProxy
    }

    /// No proxy: every request goes straight to its server.
    public static let none = ProxySettings()

    /// The proxies the environment names, read as curl reads them (see
    /// ``ProxySettings``). A proxy URL without a scheme, such as
    /// `proxy.corp:3128`, is taken as `http://`.
    public static func environment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ProxySettings {
        func value(_ names: String...) -> String? {
            for name in names {
                if let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty { return text }
            }
            return nil
        }
        func url(_ text: String?) -> URL? {
            guard let text else { return nil }
            return URL(string: text.contains("://") ? text : "http://" + text)
        }
        let all = value("all_proxy", "ALL_PROXY")
        return ProxySettings(
            httpProxy: url(value("http_proxy") ?? all),
            httpsProxy: url(value("https_proxy", "HTTPS_PROXY") ?? all),
            noProxy: (value("no_proxy", "NO_PROXY") ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty }
        )
    }

    /// The proxy a request to `url` goes through, or nil to go straight.
    public func proxy(for url: URL) -> URL? {
        guard let host = url.host?.lowercased() else { return nil }
        let proxy: URL? = switch url.scheme?.lowercased() {
        case "https": httpsProxy
        case "http": httpProxy
        default: nil
        }
        guard let proxy else { return nil }
        return bypasses(host) ? nil : proxy
    }

    /// Whether `host` is in ``noProxy``.
    private func bypasses(_ host: String) -> Bool {
        let host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        for entry in noProxy {
            var pattern = entry.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if pattern == "*" { return true }
            if let slash = pattern.firstIndex(of: "/") {
                if let block = IPv4Block(address: String(pattern[..<slash]), bits: String(pattern[pattern.index(after: slash)...])),
                   block.contains(host) {
                    return true
                }
                continue
            }
            // A port in the entry is not compared, as curl does not.
            if pattern.filter({ $0 == ":" }).count == 1, let colon = pattern.firstIndex(of: ":") {
                pattern = String(pattern[..<colon])
            }
            while pattern.hasPrefix(".") { pattern.removeFirst() }
            if pattern.isEmpty { continue }
            if host == pattern || host.hasSuffix("." + pattern) { return true }
        }
        return false
    }
}

/// An IPv4 address block, `a.b.c.d/bits`.
private struct IPv4Block {
    var base: UInt32
    var mask: UInt32

    init?(address: String, bits: String) {
        guard let base = Self.parse(address), let bits = Int(bits), (0...32).contains(bits) else { return nil }
        mask = bits == 0 ? 0 : UInt32.max << (32 - bits)
        self.base = base & mask
    }

    func contains(_ host: String) -> Bool {
        guard let address = Self.parse(host) else { return false }
        return address & mask == base
    }

    static func parse(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }
}
