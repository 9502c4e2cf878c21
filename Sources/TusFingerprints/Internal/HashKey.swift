import Crypto
import TusCore

/// How much a whole-file fingerprint reads at a time.
private let wholeFileReadSize = 1 << 20

/// `size:<bytes>--<name>:<hex digest>` of the bytes `scope` selects.
func hashKey<H: HashFunction>(
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
