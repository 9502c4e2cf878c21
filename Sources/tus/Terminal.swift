import Foundation

/// What standard error is, for output that redraws itself.
///
/// Progress is redrawn in place (a carriage return, erasing to the end of the
/// line, moving the cursor up) only when standard error is a terminal that
/// takes it. It is written as plain lines, a line at a time, when standard
/// error is a file or a pipe, when `NO_COLOR` is set to anything but the empty
/// string (<https://no-color.org>: no escape sequences wanted), and when
/// `TERM` is `dumb` (Emacs's shell, some CI logs), whose terminals cannot
/// move the cursor.
struct Terminal: Sendable {
    /// Whether output on standard error may redraw itself.
    let redraws: Bool

    /// Standard error, as the environment describes it.
    static let standardError = Terminal(
        isTerminal: isatty(STDERR_FILENO) == 1,
        environment: ProcessInfo.processInfo.environment
    )

    init(isTerminal: Bool, environment: [String: String]) {
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let dumb = environment["TERM"] == "dumb"
        redraws = isTerminal && !noColor && !dumb
    }

    /// How many columns the terminal has now (it can be resized while an
    /// upload runs); 80 when it does not say.
    func columns() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// The columns `text` takes on a terminal: two for East Asian wide
    /// characters and most emoji, none for combining marks and zero-width
    /// characters, one for the rest.
    static func width(of text: some StringProtocol) -> Int {
        text.unicodeScalars.reduce(0) { $0 + width(of: $1) }
    }

    /// `text` cut to at most `columns` columns, whole characters only.
    static func prefix(_ text: String, columns: Int) -> String {
        var used = 0
        var end = text.startIndex
        for character in text {
            let width = Self.width(of: String(character))
            if used + width > columns { break }
            used += width
            end = text.index(after: end)
        }
        return String(text[..<end])
    }

    private static func width(of scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return 0
        default: break
        }
        if value == 0x200B { return 0 }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(value) } ? 2 : 1
    }
}
