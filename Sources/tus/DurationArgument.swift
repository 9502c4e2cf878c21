import ArgumentParser
import Foundation

/// A duration given as a whole number and a unit: `90s`, `30m`, `12h`,
/// `7d`.
struct DurationArgument: ExpressibleByArgument {
    var seconds: TimeInterval
    var text: String

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unit = argument.last, let scale = units[unit] else { return nil }
        let number = argument.dropLast()
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let count = UInt(number) else { return nil }
        seconds = TimeInterval(count) * scale
        text = argument
    }

    /// How `--help` shows a default: as it was written.
    var defaultValueDescription: String { text }

    /// The duration, for the library.
    var duration: Duration { .seconds(seconds) }

    static var defaultCompletionKind: CompletionKind { .default }
}
