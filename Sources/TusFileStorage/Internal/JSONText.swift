/// New JSON text, written the way Python's `json.dumps` writes it with its
/// defaults (TinyDB's and so tuspy's): `", "` and `": "` between items, and
/// every character outside printable ASCII escaped (`ensure_ascii`), so that
/// any reader, in any locale encoding, reads it.
enum JSONText {
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
