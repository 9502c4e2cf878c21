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

    public func fingerprint(of source: inout FingerprintSource) throws -> String {
        try hashKey(Insecure.MD5.self, name: "md5", scope: scope, source: &source)
    }
}

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

    public func fingerprint(of source: inout FingerprintSource) throws -> String {
        try hashKey(SHA256.self, name: "sha256", scope: scope, source: &source)
    }
}

/// Which bytes of a file a fingerprint hashes.
public enum FingerprintScope: Sendable, Hashable, CaseIterable {
    /// The first 65,536 bytes (all of a smaller file), as tuspy does. Fast
    /// whatever the file's size; files that share their size and first
    /// 64 KiB share a key.
    case firstBlock
    /// Every byte, read in 1 MiB pieces so memory stays bounded. The label in
    /// the key gains `-whole`, so the two scopes never produce the same key
    /// for different content.
    case wholeFile

    /// How many bytes tuspy hashes: its `Fingerprint.BLOCK_SIZE`.
    public static let firstBlockSize = 65_536
}

private let wholeFileReadSize = 1 << 20

private func hashKey<H: HashFunction>(
    _ type: H.Type,
    name: String,
    scope: FingerprintScope,
    source: inout FingerprintSource
) throws -> String {
    var hasher = H()
    let label: String
    switch scope {
    case .firstBlock:
        label = name
        hasher.update(data: try source.read(upToCount: FingerprintScope.firstBlockSize))
    case .wholeFile:
        label = name + "-whole"
        while true {
            let piece = try source.read(upToCount: wholeFileReadSize)
            if piece.isEmpty { break }
            hasher.update(data: piece)
        }
    }
    return "size:\(source.size)--\(label):\(hex(hasher.finalize()))"
}

private func hex<D: Digest>(_ digest: D) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(D.byteCount * 2)
    for byte in digest {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
