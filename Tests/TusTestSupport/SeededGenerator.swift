public import Foundation

/// A seeded generator (SplitMix64), so a failing run can be replayed: every
/// test that draws numbers prints its seed; set `TUS_TEST_SEED` to reuse one.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    /// A generator that draws the numbers of `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator seeded from `TUS_TEST_SEED` or at random, after printing
    /// the seed with `test`'s name.
    public static func forTest(_ test: String = #function) -> SeededGenerator {
        let seed = ProcessInfo.processInfo.environment["TUS_TEST_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        print("\(test): seed \(seed) (TUS_TEST_SEED=\(seed) replays it)")
        return SeededGenerator(seed: seed)
    }

    /// The next number.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` bytes from the generator.
    public mutating func bytes(_ count: Int) -> Data {
        var data = Data(count: count)
        data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            var index = 0
            while index < count {
                var word = next()
                for _ in 0..<8 where index < count {
                    buffer[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
        }
        return data
    }
}
