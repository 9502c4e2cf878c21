// Compiled into every fuzz target (see scripts/fuzz): what a property check
// does when it fails, and the inputs' bytes as Swift sees them.
import Foundation

/// Stops the run when `condition` is false: prints `message` and aborts, so
/// libFuzzer keeps the input as a crash (`Fuzz/Corpus/…` seeds never are).
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String, line: UInt = #line) {
    if !condition { propertyFailed(message(), line: line) }
}

func propertyFailed(_ message: String, line: UInt = #line) -> Never {
    FileHandle.standardError.write(Data("\nproperty failed (line \(line)): \(message)\n".utf8))
    abort()
}

/// The input as text, when it is UTF-8 (header values and command-line
/// arguments are strings by the time a parser sees them).
func text(_ bytes: UnsafeRawBufferPointer) -> String? {
    String(validating: bytes, as: UTF8.self)
}

/// Whether `text` holds `part`, by the standard library's search.
/// Foundation's `contains(_:)` and `range(of:)` stop the process on some
/// strings with NULs (`"\0\0&\u{351}.0.0.1".contains("1\0\0\0\0\0\0\0")`:
/// "String index is out of bounds"), and the targets search for input.
func holds(_ text: some StringProtocol, _ part: some StringProtocol) -> Bool {
    part.isEmpty || String(text).firstRange(of: String(part)) != nil
}

/// The parts of a message between double quotes (a backslash escapes a
/// quote), where messages quote their input; the rest is the message's own
/// words, which may hold anything ("redis", "password") by chance.
func quotedParts(_ message: String) -> [String] {
    var parts: [String] = []
    var current: String?
    var escaped = false
    for character in message {
        if var part = current {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                parts.append(part)
                current = nil
                continue
            }
            part.append(character)
            current = part
        } else if character == "\"" {
            current = ""
        }
    }
    return parts
}

/// How a message may not read: a Swift type or a debug dump where a person
/// expects words.
func looksLikeADump(_ message: String) -> Bool {
    ["Optional(", "Swift.", "Substring(", "TusError(", "Configuration(", "Foundation.", "Error Domain=", "NSError", "nil)", "Kind."]
        .contains { message.contains($0) }
}
