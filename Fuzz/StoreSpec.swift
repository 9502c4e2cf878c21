// Fuzz target `store-spec`: `StoreSpec`, how the `tus` tool reads
// `--store` and `$TUS_STORE` (`json:PATH`, `sqlite:PATH`, `redis://…`).
//
// For every input, as text:
// - a spec that parses prints (`description`, as `tus` shows it) a spec
//   that parses to the same store: the same kind and path, or for Redis the
//   same configuration, unless credentials are masked in what it prints;
//   what it prints never shows a password;
// - a spec that does not parse fails with a `CommandFailure` or `TusError`
//   whose message names the spec (credentials masked, quoted and escaped
//   as `debugDescription` does, so no control character), shows no
//   password, and holds no Swift type or dump.
import Foundation
@testable import TusCore
@testable import TusRedisStorage
@testable import tus

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let spec = text(UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    checkStoreSpec(spec)
    return 0
}

/// What a spec names, comparable.
enum Store: Equatable {
    case json(String)
    case sqlite(String)
    case redis(RedisStorage.Configuration)

    init(_ spec: StoreSpec) {
        switch spec.kind {
        case .json(let path): self = .json(path)
        case .sqlite(let path): self = .sqlite(path)
        case .redis(let configuration, _): self = .redis(configuration)
        }
    }
}

func parsed(_ spec: String) -> Result<StoreSpec, any Error> {
    Result { try StoreSpec(spec) }
}

func checkStoreSpec(_ spec: String) {
    let masked = StoreSpec.masked(spec)
    switch parsed(spec) {
    case .failure(let error):
        let message: String
        if let failure = error as? CommandFailure {
            message = failure.message
            require(holds(message, masked.debugDescription), "the message does not name \(spec.debugDescription): \(message)")
            require(!message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
                    "the message for \(spec.debugDescription) holds a control character: \(message.debugDescription)")
            require(message.hasPrefix("--store: "), "the message does not name the option: \(message)")
        } else if let failure = error as? TusError {
            message = failure.message
            let shown = RedisStorage.Configuration.maskingCredentials(in: spec).debugDescription
            require(holds(message, shown), "the message does not name \(spec.debugDescription): \(message)")
        } else {
            propertyFailed("\(spec.debugDescription) failed with \(error), neither a CommandFailure nor a TusError")
        }
        let withoutSpec = message.replacing(RedisStorage.Configuration.maskingCredentials(in: spec).debugDescription, with: "")
            .replacing(masked.debugDescription, with: "")
        require(!looksLikeADump(withoutSpec),
                "the message for \(spec.debugDescription) reads like a dump: \(message)")
        // What may be a password: before the last '@', after the first ':'
        // of what follows "://" (or of the whole spec, without "://").
        if let at = spec.lastIndex(of: "@") {
            let before = spec[..<at]
            let userInfo = before.range(of: "://").map { before[$0.upperBound...] } ?? before
            if let colon = userInfo.firstIndex(of: ":") {
                let password = userInfo[userInfo.index(after: colon)...]
                // The spec without that one occurrence of the user info.
                let rest = String(spec[..<userInfo.startIndex]) + String(spec[at...])
                require(password.count < 4 || holds(rest, password) || !quotedParts(message).dropFirst().contains { holds($0, password) },
                        "the message for \(spec.debugDescription) shows what may be a password: \(message)")
            }
        }
    case .success(let store):
        let printed = store.description
        switch store.kind {
        case .json(let path), .sqlite(let path):
            require(!path.isEmpty, "\(spec.debugDescription) names an empty path")
        case .redis(let configuration, let shown):
            require(shown == RedisStorage.Configuration.maskingCredentials(in: spec), "\(spec.debugDescription) is shown as \(shown.debugDescription)")
            // Credentials are masked: all between "://" and the last '@'.
            if configuration.password != nil, let schemeEnd = printed.range(of: "://"),
               let at = printed[schemeEnd.upperBound...].lastIndex(of: "@") {
                require(printed[schemeEnd.upperBound..<at] == "***", "\(spec.debugDescription) is printed with its credentials: \(printed)")
            } else {
                require(configuration.password == nil, "\(spec.debugDescription) is printed with its credentials: \(printed)")
            }
            // Masked credentials cannot be read back.
            if printed.contains("***@") { return }
        }
        switch parsed(printed) {
        case .failure(let error):
            propertyFailed("\(spec.debugDescription) is printed as \(printed.debugDescription), which fails: \(error)")
        case .success(let again):
            require(Store(again) == Store(store), "\(spec.debugDescription) is printed as \(printed.debugDescription), which names another store")
        }
    }
}
