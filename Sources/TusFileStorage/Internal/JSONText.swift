import Foundation

/// New JSON text, written the way Python's `json.dumps` writes it with its
/// defaults (TinyDB's and so tuspy's): `", "` and `": "` between items, and
/// every character outside printable ASCII escaped (`ensure_ascii`), so that
/// any reader, in any locale encoding, reads it.
enum JSONText {
    /// Appends the UTF-8 of the JSON string text between `start` and `end`
    /// (quotes excluded; already checked to be valid) to `output`.
    static func decode(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int, into output: inout [UInt8]) {
        var index = start
        while index < end {
            // Copy up to the next backslash in one go.
            let found = memchr(base + index, 0x5C, end - index)
            let runEnd = found.map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? end
            if runEnd > index {
                output.append(contentsOf: UnsafeBufferPointer(start: base + index, count: runEnd - index))
            }
            index = runEnd
            guard index < end else { return }
            let kind = base[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex(base + index)
                index += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = hex(base + index + 2)
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(scalar, to: &output)
            default: output.append(kind)
            }
        }
    }

    private static func hex(_ start: UnsafePointer<UInt8>) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = start[offset]
            let digit: UInt8 = byte <= UInt8(ascii: "9") ? byte - 48 : (byte | 0x20) - UInt8(ascii: "a") + 10
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case ..<0x80:
            output.append(UInt8(scalar))
        case ..<0x800:
            output.append(UInt8(0xC0 | scalar >> 6))
            output.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            output.append(UInt8(0xE0 | scalar >> 12))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        default:
            output.append(UInt8(0xF0 | scalar >> 18))
            output.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends `string` as a JSON string.
    static func appendString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for scalar in string.unicodeScalars {
            let value = scalar.value
            switch value {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: output.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x20...0x7E: output.append(UInt8(value))
            case 0x10000...:
                let offset = value - 0x10000
                appendEscape(0xD800 + (offset >> 10), to: &output)
                appendEscape(0xDC00 + (offset & 0x3FF), to: &output)
            default:
                appendEscape(value, to: &output)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    private static func appendEscape(_ unit: UInt32, to output: inout [UInt8]) {
        output.append(0x5C)
        output.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            output.append(hexDigits[Int((unit >> UInt32(shift)) & 0xF)])
        }
    }

    /// Appends a finite `number` in its shortest form that reads back
    /// exactly, as Python's `repr` does (`1750000000.123`).
    static func appendNumber(_ number: Double, to output: inout [UInt8]) {
        precondition(number.isFinite, "JSON has no text for \(number)")
        output.append(contentsOf: number.description.utf8)
    }

    /// Appends the name and value separator, `": "`.
    static func appendColon(to output: inout [UInt8]) {
        output.append(contentsOf: [UInt8(ascii: ":"), 0x20])
    }

    /// Appends the item separator, `", "`.
    static func appendComma(to output: inout [UInt8]) {
        output.append(contentsOf: [UInt8(ascii: ","), 0x20])
    }
}
