public import TusCore
import Crypto

/// tuspy's fingerprint: the file's size and the MD5 of its first 64 KiB.
///
/// In the default ``FingerprintScope/firstBlock`` scope the key is
/// byte-identical to tuspy 1.1.0's default fingerprint,
/// `size:<bytes>--md5:<hex md5 of the first 65536 bytes>`, so a tuspy process
/// and this package find each other's uploads in a shared store:
///
/// ```swift
/// let key = try MD5Fingerprint().fingerprint(ofFileAtPath: "video.mp4")
/// // "size:1048576--md5:0f343b0931126a20f133d67c2b018a3b"
/// ```
///
/// Two files with the same size and the same first 64 KiB get the same key.
/// Where that is not acceptable, ``FingerprintScope/wholeFile`` hashes every
/// byte and gives `size:<bytes>--md5-whole:<hex>`.
///
/// MD5 is used here as tuspy uses it, to tell files apart, not to resist an
/// attacker. ``SHA256Fingerprint`` has the same two scopes.
public struct MD5Fingerprint: Fingerprint {
    /// Which bytes are hashed.
    public var scope: FingerprintScope

    /// Creates a fingerprint over `scope`, by default tuspy's first 64 KiB.
    public init(scope: FingerprintScope = .firstBlock) {
        self.scope = scope
    }

    /// `size:<bytes>--md5:<hex>` (or `--md5-whole:` for the whole file).
    public func fingerprint(of source: inout FingerprintSource) throws -> String {
        try hashKey(Insecure.MD5.self, name: "md5", scope: scope, source: &source)
    }
}
