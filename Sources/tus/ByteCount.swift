import ArgumentParser

/// A byte count given as a number with an optional unit: `5MiB`, `512KiB`,
/// `1MB`, `1048576`.
struct ByteCount: ExpressibleByArgument, CustomStringConvertible {
    var bytes: Int

    /// `5MiB`, `512KiB`, or a plain count.
    var description: String {
        for (suffix, scale) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes % scale == 0 {
            return "\(bytes / scale)\(suffix)"
        }
        return String(bytes)
    }

    var defaultValueDescription: String { description }

    init(_ bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let units: [(String, Int)] = [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
            ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("kB", 1000),
            ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1),
        ]
        var number = Substring(argument)
        var scale = 1
        for (suffix, value) in units where argument.hasSuffix(suffix) {
            number = argument.dropLast(suffix.count)
            scale = value
            break
        }
        guard let count = Int(number), count > 0, count <= Int(Int32.max) / scale else { return nil }
        bytes = count * scale
    }
}
