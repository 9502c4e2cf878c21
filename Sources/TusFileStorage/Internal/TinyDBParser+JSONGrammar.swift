import Foundation

/// JSON's grammar (RFC 8259), byte by byte: whitespace and separators,
/// strings (UTF-8 and escapes checked, decoded on demand), numbers, and
/// values skipped whole. The TinyDB shape on top of it, and the index, are
/// in TinyDBParser.swift.
extension TinyDBParser {
    // MARK: Bytes

    @inline(__always)
    func peek() -> UInt8 {
        position < end ? base[position] : 0
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < end {
            let byte = base[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            position += 1
        }
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: String) throws(FormatError) {
        guard peek() == byte else { throw invalid(what) }
        position += 1
    }

    /// After a member of an object or an element of an array: skips the
    /// whitespace and the ',' that announces another one (true), or the
    /// `closer` that ends the container (false, `position` just past it).
    /// Anything else is invalid: "',' or '<closer>' <context>".
    @inline(__always)
    mutating func anotherFollows(closer: UInt8, _ context: String) throws(FormatError) -> Bool {
        skipWhitespace()
        let next = peek()
        if next == UInt8(ascii: ",") {
            position += 1
            skipWhitespace()
            return true
        }
        guard next == closer else {
            throw invalid("',' or '\(Character(Unicode.Scalar(closer)))' \(context)")
        }
        position += 1
        return false
    }

    /// Exact powers of ten as doubles.
    static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    /// A number's text as a `Double`, as `strtod` reads it.
    static func double(_ start: UnsafePointer<UInt8>, count: Int) -> Double {
        // A plain decimal with at most 15 digits is exact as digits ÷ 10^k
        // (Clinger's fast path); anything else goes to strtod.
        var index = 0
        let negative = start[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        var digits: UInt64 = 0, digitCount = 0, fractionDigits = 0, inFraction = false
        while index < count {
            let byte = start[index]
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits = digits &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
                digitCount += 1
                if inFraction { fractionDigits += 1 }
            } else {
                break
            }
            index += 1
        }
        if index == count && digitCount <= 15 && fractionDigits <= 22 {
            let value = Double(digits) / powersOfTen[fractionDigits]
            return negative ? -value : value
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
            let text = buffer.baseAddress!
            UnsafeMutableRawPointer(text).copyMemory(from: start, byteCount: count)
            text[count] = 0
            return strtod(text, nil)
        }
    }

    // MARK: Strings

    /// A string as scanned: the bytes between its quotes, and whether they
    /// hold an escape.
    struct ScannedString {
        var start: Int
        var end: Int
        var escaped: Bool
    }

    /// Scans the string at `position` (its opening quote), checking its
    /// UTF-8 and escapes; leaves `position` after the closing quote.
    @inline(__always)
    mutating func scanString() throws(FormatError) -> ScannedString {
        position += 1
        let start = position
        var escaped = false
        while true {
            // Eight bytes at a time while none is a quote, a backslash, a
            // control character or part of a multi-byte character.
            while position + 8 <= end {
                let word = UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)
                let quote = word ^ 0x2222_2222_2222_2222
                let backslash = word ^ 0x5C5C_5C5C_5C5C_5C5C
                let special = (word | ((word &- 0x2020_2020_2020_2020) & ~word)
                    | ((quote &- 0x0101_0101_0101_0101) & ~quote)
                    | ((backslash &- 0x0101_0101_0101_0101) & ~backslash)) & 0x8080_8080_8080_8080
                if special != 0 { break }
                position += 8
            }
            guard position < end else { break }
            let byte = base[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return ScannedString(start: start, end: position - 1, escaped: escaped)
            }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                try scanEscape()
            } else if byte < 0x20 {
                throw invalid("a control character in a string")
            } else if byte >= 0x80 {
                try scanUTF8(byte)
            } else {
                position += 1
            }
        }
        throw invalid("a string")
    }

    /// Checks the escape at `position` (a backslash).
    mutating func scanEscape() throws(FormatError) {
        guard position + 1 < end else {
            position = end
            throw invalid("a string")
        }
        switch base[position + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 2
        case UInt8(ascii: "u"):
            let unit = try hexUnit(at: position + 2)
            if unit >= 0xDC00 && unit <= 0xDFFF { throw invalid("a lone low surrogate escape") }
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard position + 7 < end, base[position + 6] == UInt8(ascii: "\\"), base[position + 7] == UInt8(ascii: "u") else {
                    throw invalid("a lone high surrogate escape")
                }
                let low = try hexUnit(at: position + 8)
                guard low >= 0xDC00 && low <= 0xDFFF else { throw invalid("a lone high surrogate escape") }
                position += 12
            } else {
                position += 6
            }
        default:
            throw invalid("an invalid escape")
        }
    }

    /// The four hex digits at `offset`.
    mutating func hexUnit(at offset: Int) throws(FormatError) -> UInt32 {
        guard offset + 4 <= end else {
            position = end
            throw invalid("a string")
        }
        var value: UInt32 = 0
        for index in offset..<(offset + 4) {
            let byte = base[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default:
                position = index
                throw invalid("a \\u escape that is not four hex digits")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Checks the UTF-8 sequence at `position`, which starts with `lead`.
    mutating func scanUTF8(_ lead: UInt8) throws(FormatError) {
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw invalid("a byte that is not UTF-8")
        }
        guard position + length <= end else {
            position = end
            throw invalid("a string")
        }
        let second = base[position + 1]
        guard second >= low && second <= high else {
            position += 1
            throw invalid("a byte that is not UTF-8")
        }
        for index in (position + 2)..<(position + length) where base[index] & 0xC0 != 0x80 {
            position = index
            throw invalid("a byte that is not UTF-8")
        }
        position += length
    }

    /// The UTF-8 of a scanned (and so valid) string, escapes decoded.
    mutating func decodedName(_ string: ScannedString) -> [UInt8] {
        var bytes: [UInt8] = []
        Self.decode(base, string, into: &bytes)
        return bytes
    }

    /// Whether the scanned string is `name` (which has no character that
    /// needs an escape).
    mutating func nameEquals(_ string: ScannedString, _ name: [UInt8]) -> Bool {
        if !string.escaped {
            guard string.end - string.start == name.count else { return false }
            return name.withUnsafeBufferPointer { memcmp(base + string.start, $0.baseAddress!, name.count) == 0 }
        }
        scratch.removeAll(keepingCapacity: true)
        Self.decode(base, string, into: &scratch)
        return scratch == name
    }

    /// Where the value of a scanned string is: in the file, or (when
    /// `decodingEscapes` and it has escapes) decoded into the index's buffer.
    mutating func textRef(_ string: ScannedString, decodingEscapes: Bool) -> TextRef {
        if !string.escaped {
            return TextRef(offset: string.start, count: string.end - string.start, kind: .plain)
        }
        if !decodingEscapes {
            return TextRef(offset: string.start, count: string.end - string.start, kind: .escaped)
        }
        let offset = index.decoded.count
        Self.decode(base, string, into: &index.decoded)
        return TextRef(offset: offset, count: index.decoded.count - offset, kind: .decoded)
    }

    /// Appends the UTF-8 of a valid scanned string to `output`.
    static func decode(_ base: UnsafePointer<UInt8>, _ string: ScannedString, into output: inout [UInt8]) {
        JSONText.decode(base, from: string.start, to: string.end, into: &output)
    }

    // MARK: Other values

    /// Checks the number at `position` against JSON's grammar.
    mutating func scanNumber() throws(FormatError) {
        if peek() == UInt8(ascii: "-") { position += 1 }
        let first = peek()
        if first == UInt8(ascii: "0") {
            position += 1
        } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
            position += 1
            skipDigits()
        } else {
            throw invalid("a number")
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard isDigit(peek()) else { throw invalid("a number") }
            skipDigits()
        }
        let exponent = peek()
        if exponent == UInt8(ascii: "e") || exponent == UInt8(ascii: "E") {
            position += 1
            let sign = peek()
            if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { position += 1 }
            guard isDigit(peek()) else { throw invalid("a number") }
            skipDigits()
        }
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    @inline(__always)
    mutating func skipDigits() {
        while position < end && isDigit(base[position]) { position += 1 }
    }

    mutating func literal(_ text: StaticString) throws(FormatError) {
        let count = text.utf8CodeUnitCount
        guard position + count <= end, memcmp(base + position, text.utf8Start, count) == 0 else {
            throw invalid("an unknown word")
        }
        position += count
    }

    /// Checks and skips the value at `position`, which sits at nesting level
    /// `depth` (the top-level value is at 1).
    mutating func skipValue(depth: Int) throws(FormatError) {
        switch peek() {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"):
            guard depth <= Self.maximumDepth else { throw invalid("arrays and objects nested too deeply") }
            position += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                return
            }
            while true {
                guard peek() == UInt8(ascii: "\"") else { throw invalid("a name (a string)") }
                _ = try scanString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after a name")
                skipWhitespace()
                try skipValue(depth: depth + 1)
                if try !anotherFollows(closer: UInt8(ascii: "}"), "in an object") { return }
            }
        case UInt8(ascii: "["):
            guard depth <= Self.maximumDepth else { throw invalid("arrays and objects nested too deeply") }
            position += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                position += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                if try !anotherFollows(closer: UInt8(ascii: "]"), "in an array") { return }
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try scanNumber()
        }
    }
}
