// Fuzz target `redis-url`: `RedisStorage.Configuration(url:)`, the Redis
// URLs of `--store` and `$TUS_STORE`.
//
// For every input, as text:
// - a URL that parses gives a configuration that `validated()` keeps, whose
//   canonical URL (every field written out, user name, password and
//   prefix percent-encoded; `canonicalURL` below) parses to the same
//   configuration; its description, debug description and mirror never
//   show the password;
// - a URL that does not parse fails with a `TusError` whose message is one
//   line (no C0 control character), names the URL (as
//   `maskingCredentials(in:)` shows it), never shows the password, and
//   holds no Swift type or dump.
import Foundation
@testable import TusCore
@testable import TusRedisStorage

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let url = text(UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    checkRedisURL(url)
    return 0
}

/// Every byte but the unreserved ones (RFC 3986) percent-encoded.
func percentEncoded(_ text: String) -> String {
    var result = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            result.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            result += String(format: "%%%02X", byte)
        }
    }
    return result
}

/// `value` in decimal digits and a point, no exponent: the shortest digits
/// that read back as `value`.
func plainDecimal(_ value: Double) -> String {
    let shortest = value.description
    guard let e = shortest.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return shortest }
    let exponent = Int(shortest[shortest.index(after: e)...])!
    let mantissa = shortest[..<e]
    let digits = mantissa.filter { $0 != "." }
    let point = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count) + exponent
    if point <= 0 { return "0." + String(repeating: "0", count: -point) + digits }
    if point >= digits.count { return digits + String(repeating: "0", count: point - digits.count) }
    return String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
}

/// The configuration as a URL with every field written out.
func canonicalURL(_ configuration: RedisStorage.Configuration) -> String {
    var url = configuration.clusterNodes == nil ? "redis://" : "redis-cluster://"
    if let password = configuration.password {
        url += (configuration.username.map(percentEncoded) ?? "") + ":" + percentEncoded(password) + "@"
    }
    if let nodes = configuration.clusterNodes {
        url += nodes.map(\.description).joined(separator: ",")
    } else {
        url += configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        url += ":\(configuration.port)"
    }
    url += "/\(configuration.database)?prefix=\(percentEncoded(configuration.keyPrefix))"
    if let ttl = configuration.ttl { url += "&ttl=\(plainDecimal(ttl))" }
    return url
}

/// The raw user information of a URL (between `://` and the last `@` of
/// the authority), when it has some.
func rawUserInfo(_ url: String) -> Substring? {
    guard let schemeEnd = url.range(of: "://") else { return nil }
    let rest = url[schemeEnd.upperBound...]
    let authority = rest[..<(rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex)]
    guard let at = authority.lastIndex(of: "@") else { return nil }
    return authority[..<at]
}

/// A secret worth looking for in text: long enough not to turn up by
/// chance, and not also written elsewhere in `elsewhere`.
func isSecret(_ secret: some StringProtocol, notIn elsewhere: [String]) -> Bool {
    secret.count >= 4 && !elsewhere.contains { holds($0, secret) }
}

func checkRedisURL(_ url: String) {
    let shownURL = RedisStorage.Configuration.maskingCredentials(in: url)
    // Everything between "://" and the last '@' is masked, as documented.
    if let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") {
        let expected = String(url[..<schemeEnd.upperBound]) + "***" + String(url[at...])
        require(shownURL == expected, "maskingCredentials(in: \(url.debugDescription)) is \(shownURL.debugDescription), not \(expected.debugDescription)")
    }
    let configuration: RedisStorage.Configuration
    do {
        configuration = try RedisStorage.Configuration(url: url)
    } catch let error as TusError {
        require(error.code == .invalidArgument || error.code == .unsupported, "\(url.debugDescription) failed with code \(error.code)")
        let message = error.message
        require(holds(message, shownURL.debugDescription), "the message does not name \(url.debugDescription): \(message)")
        // C0 controls and DEL, which a terminal acts on; C1 controls
        // (U+0080 to U+009F) are shown as they are, as `debugDescription`
        // shows them.
        require(!message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
                "the message for \(url.debugDescription) holds a control character: \(message.debugDescription)")
        require(!looksLikeADump(message.replacing(shownURL.debugDescription, with: "")),
                "the message for \(url.debugDescription) reads like a dump: \(message)")
        if let userInfo = rawUserInfo(url), let colon = userInfo.firstIndex(of: ":") {
            let password = userInfo[userInfo.index(after: colon)...]
            let outside = String(url[..<userInfo.startIndex]) + String(url[userInfo.endIndex...])
            // The parts the message quotes, but the first, the URL (masked,
            // as checked above); case aside, as the scheme is shown lowercased.
            let quoted = quotedParts(message).dropFirst()
            require(!isSecret(password.lowercased(), notIn: [outside.lowercased()])
                || !quoted.contains { holds($0.lowercased(), password.lowercased()) },
                    "the message for \(url.debugDescription) shows the password: \(message)")
        }
        return
    } catch {
        propertyFailed("\(url.debugDescription) failed with \(error), not a TusError")
    }

    do {
        _ = try configuration.validated()
    } catch {
        propertyFailed("\(url.debugDescription) parsed to a configuration that does not validate: \(error)")
    }
    let canonical = canonicalURL(configuration)
    let again: RedisStorage.Configuration
    do {
        again = try RedisStorage.Configuration(url: canonical)
    } catch let error as TusError {
        propertyFailed("\(url.debugDescription) parsed, but its canonical form \(canonical.debugDescription) does not: \(error.message)")
    } catch {
        propertyFailed("\(canonical.debugDescription) failed with \(error)")
    }
    require(again == configuration,
            "\(url.debugDescription) parsed to \(configuration.customMirror.children.map { "\($0.label!)=\($0.value)" }), its canonical form \(canonical.debugDescription) to \(again.customMirror.children.map { "\($0.label!)=\($0.value)" })")
    if let password = configuration.password {
        func shown(_ configuration: RedisStorage.Configuration) -> [String] {
            var dumped = ""
            dump(configuration, to: &dumped)
            return [configuration.description, configuration.debugDescription, String(reflecting: configuration), dumped, configuration.address]
        }
        // What is shown of the same configuration with another password:
        // the password is a secret when it is not there anyway.
        var other = configuration
        other.password = "\u{1}"
        if isSecret(password, notIn: shown(other)) {
            for text in shown(configuration) {
                require(!holds(text, password), "the configuration of \(url.debugDescription) shows its password: \(text)")
            }
        }
    }
}
