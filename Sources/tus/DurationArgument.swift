import ArgumentParser
import Foundation

/// A duration given as a whole number and a unit: `90s`, `30m`, `12h`,
/// `7d`; a number alone counts seconds.
struct DurationArgument: ExpressibleByArgument {
    var seconds: TimeInterval
    var text: String

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var number = Substring(argument)
        var scale: TimeInterval = 1
        if let unit = argument.last, let value = units[unit] {
            number = argument.dropLast()
            scale = value
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let count = UInt(number) else { return nil }
        seconds = TimeInterval(count) * scale
        text = argument
    }

    /// The duration, for the library.
    var duration: Duration { .seconds(seconds) }

    static var defaultCompletionKind: CompletionKind { .default }
}
