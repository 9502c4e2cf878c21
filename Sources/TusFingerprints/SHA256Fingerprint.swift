public import TusCore
import Crypto

/// The SHA-256 fingerprint of the tuspy documentation's custom-fingerprint
/// example: `size:<bytes>--sha256:<hex sha256 of the first 65536 bytes>`.
///
/// ``FingerprintScope/wholeFile`` hashes every byte in bounded memory and gives
/// `size:<bytes>--sha256-whole:<hex>`.
public struct SHA256Fingerprint: Fingerprint {
    /// Which bytes are hashed.
    public var scope: FingerprintScope

    /// Creates a fingerprint over `scope`, by default the first 64 KiB.
    public init(scope: FingerprintScope = .firstBlock) {
        self.scope = scope
    }

    /// `size:<bytes>--sha256:<hex>` (or `--sha256-whole:` for the whole file).
    public func fingerprint(of source: inout FingerprintSource) throws -> String {
        try hashKey(SHA256.self, name: "sha256", scope: scope, source: &source)
    }
}
