import Foundation

/// A validating scanner for TinyDB files: it checks every byte against the
/// JSON grammar (RFC 8259: UTF-8, no trailing commas, strict numbers and
/// escapes, no lone surrogates, at most 512 levels of nesting) and the file
/// against TinyDB's shape, and indexes the `_default` table on the way.
///
/// Values the store does not use are validated and skipped, never decoded;
/// a change copies them verbatim, so nothing is lost to a number type.
struct TinyDBParser {
    /// The deepest nesting of arrays and objects accepted, as `JSONDecoder`.
    static let maximumDepth = 512

    private let base: UnsafePointer<UInt8>
    private let end: Int
    private var position = 0
    /// The first way the file is valid JSON but not a TinyDB database; thrown
    /// once the whole file is known to be JSON.
    private var shapeError: String?
    private var index = TinyDBIndex()
    /// Ids of `_default` that are not TinyDB ids, to find duplicates.
    private var oddIDs: Set<[UInt8]> = []
    /// Scratch space for decoding names.
    private var scratch: [UInt8] = []

    /// Scans `bytes`, the whole content of a store file.
    static func index(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> TinyDBIndex {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return TinyDBIndex() }
        var parser = TinyDBParser(base: base.assumingMemoryBound(to: UInt8.self), end: bytes.count)
        return try parser.parse(bytes)
    }

    private init(base: UnsafePointer<UInt8>, end: Int) {
        self.base = base
        self.end = end
    }

    // MARK: Errors

    private func invalid(_ what: String) -> FormatError {
        if position >= end {
            return FormatError(reason: "it is not valid JSON (the file ends in the middle of \(what))")
        }
        return FormatError(reason: "it is not valid JSON (\(what) at byte \(position))")
    }

    private mutating func notTinyDB(_ what: String) {
        if shapeError == nil { shapeError = what }
    }

    private static let namesShownUpTo = 80

    /// A decoded name as messages show it.
    private static func shown(_ bytes: some Collection<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.count <= namesShownUpTo ? text : String(text.prefix(namesShownUpTo - 3)) + "…"
    }

    // MARK: Bytes

    @inline(__always)
    private func peek() -> UInt8 {
        position < end ? base[position] : 0
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while position < end {
            let byte = base[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            position += 1
        }
    }

    @inline(__always)
    private mutating func expect(_ byte: UInt8, _ what: String) throws(FormatError) {
        guard peek() == byte else { throw invalid(what) }
        position += 1
    }

    /// After a member of an object or an element of an array: skips the
    /// whitespace and the ',' that announces another one (true), or the
    /// `closer` that ends the container (false, `position` just past it).
    /// Anything else is invalid: "',' or '<closer>' <context>".
    @inline(__always)
    private mutating func anotherFollows(closer: UInt8, _ context: String) throws(FormatError) -> Bool {
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

    // MARK: The file

    private mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> TinyDBIndex {
        if end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF {
            index.byteOrderMark = 3
            position = 3
        }
        skipWhitespace()
        if position == end {
            if index.byteOrderMark == 0 { return index }
            throw invalid("a value")
        }
        index.isBlank = false
        if peek() == UInt8(ascii: "{") {
            try parseTop()
        } else {
            notTinyDB("the top level is not an object")
            try skipValue(depth: 1)
        }
        skipWhitespace()
        if position != end { throw invalid("more data after the end of the top-level value") }
        if let shapeError { throw FormatError(reason: "it is JSON but not a TinyDB database (\(shapeError))") }
        try finishIndex(bytes)
        return index
    }

    private static let defaultTableName = Array(TinyDBIndex.defaultTable.utf8)

    private mutating func parseTop() throws(FormatError) {
        index.topOpen = position
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index.topClose = position
            position += 1
            return
        }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw invalid("a table name (a string)") }
            let name = try scanString()
            let isDefault = nameEquals(name, Self.defaultTableName)
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a table name")
            skipWhitespace()
            if peek() == UInt8(ascii: "{") {
                if isDefault {
                    if index.tableOpen != -1 { notTinyDB("table \"_default\" appears twice") }
                    try parseTable()
                } else {
                    try skipValue(depth: 2)
                }
            } else {
                notTinyDB("table \"\(Self.shown(decodedName(name)))\" is not an object")
                try skipValue(depth: 2)
            }
            index.topLastEnd = position
            if try !anotherFollows(closer: UInt8(ascii: "}"), "after a table") {
                index.topClose = position - 1
                return
            }
        }
    }

    private mutating func parseTable() throws(FormatError) {
        index.tableOpen = position
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index.tableClose = position
            position += 1
            return
        }
        while true {
            let memberStart = position
            guard peek() == UInt8(ascii: "\"") else { throw invalid("a document id (a string)") }
            let name = try scanString()
            let id = documentID(name)
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a document id")
            skipWhitespace()
            if peek() == UInt8(ascii: "{") {
                var document = TinyDBIndex.Document(
                    id: id, memberStart: memberStart, valueStart: position, valueEnd: 0,
                    key: .absent, url: .absent, storedAt: nil, hasStoredAt: false, keyHash: 0)
                try parseDocument(&document, name: name)
                document.valueEnd = position
                index.documents.append(document)
                if id < 0 {
                    let (inserted, _) = oddIDs.insert(decodedName(name))
                    if !inserted {
                        notTinyDB("document id \"\(Self.shown(decodedName(name)))\" appears twice in table \"_default\"")
                    }
                }
            } else {
                notTinyDB("document \"\(Self.shown(decodedName(name)))\" of table \"_default\" is not an object")
                try skipValue(depth: 3)
            }
            if try !anotherFollows(closer: UInt8(ascii: "}"), "after a document") {
                index.tableClose = position - 1
                return
            }
        }
    }

    enum Field { case key, url, storedAt, other }

    private static let keyName = Array("key".utf8)
    private static let urlName = Array("url".utf8)
    private static let storedAtName = Array(TinyDBIndex.storedAtField.utf8)

    private mutating func parseDocument(_ document: inout TinyDBIndex.Document, name: ScannedString) throws(FormatError) {
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        var seenKey = false, seenURL = false
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw invalid("a field name (a string)") }
            let field = try scanFieldName()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a field name")
            skipWhitespace()
            switch field {
            case .key, .url:
                let seen = field == .key ? seenKey : seenURL
                if seen {
                    notTinyDB("document \"\(Self.shown(decodedName(name)))\" of table \"_default\" has two \"\(field == .key ? "key" : "url")\" fields")
                }
                if field == .key { seenKey = true } else { seenURL = true }
                if peek() == UInt8(ascii: "\"") {
                    let value = try scanString()
                    // Keys are hashed and compared often: decoded once.
                    let ref = textRef(value, decodingEscapes: field == .key)
                    if field == .key { document.key = ref } else { document.url = ref }
                } else {
                    if field == .key { document.key = .absent } else { document.url = .absent }
                    try skipValue(depth: 4)
                }
            case .storedAt:
                if document.hasStoredAt {
                    notTinyDB("document \"\(Self.shown(decodedName(name)))\" of table \"_default\" has two \"stored_at\" fields")
                }
                document.hasStoredAt = true
                let byte = peek()
                if byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) {
                    let start = position
                    try scanNumber()
                    let value = Self.double(base + start, count: position - start)
                    document.storedAt = value.isFinite ? value : nil
                } else {
                    document.storedAt = nil
                    try skipValue(depth: 4)
                }
            case .other:
                try skipValue(depth: 4)
            }
            if try !anotherFollows(closer: UInt8(ascii: "}"), "after a field") { return }
        }
    }

    private mutating func scanFieldName() throws(FormatError) -> Field {
        let name = try scanString()
        if !name.escaped {
            let start = base + name.start
            switch name.end - name.start {
            case 3:
                if start[1] == UInt8(ascii: "e") && start[0] == UInt8(ascii: "k") && start[2] == UInt8(ascii: "y") { return .key }
                if start[1] == UInt8(ascii: "r") && start[0] == UInt8(ascii: "u") && start[2] == UInt8(ascii: "l") { return .url }
                return .other
            case 9:
                return memcmp(start, "stored_at", 9) == 0 ? .storedAt : .other
            default:
                return .other
            }
        }
        if nameEquals(name, Self.keyName) { return .key }
        if nameEquals(name, Self.urlName) { return .url }
        if nameEquals(name, Self.storedAtName) { return .storedAt }
        return .other
    }

    /// One member of a document, as found by ``members(ofDocumentAt:in:)``.
    struct Member {
        /// Offset of the name's opening quote, and just after its closing one.
        var nameStart: Int
        var nameEnd: Int
        /// Where the value's text starts and ends.
        var valueStart: Int
        var valueEnd: Int
        var field: Field
    }

    /// The members of the document whose `{` is at `offset` in `bytes`, a
    /// file this parser has already accepted.
    static func members(ofDocumentAt offset: Int, in bytes: UnsafeRawBufferPointer) throws(FormatError) -> [Member] {
        var parser = TinyDBParser(base: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), end: bytes.count)
        parser.position = offset + 1
        var members: [Member] = []
        parser.skipWhitespace()
        if parser.peek() == UInt8(ascii: "}") { return members }
        while true {
            let nameStart = parser.position
            guard parser.peek() == UInt8(ascii: "\"") else { throw parser.invalid("a field name (a string)") }
            let field = try parser.scanFieldName()
            let nameEnd = parser.position
            parser.skipWhitespace()
            try parser.expect(UInt8(ascii: ":"), "':' after a field name")
            parser.skipWhitespace()
            let valueStart = parser.position
            try parser.skipValue(depth: 4)
            members.append(Member(nameStart: nameStart, nameEnd: nameEnd, valueStart: valueStart, valueEnd: parser.position, field: field))
            if try !parser.anotherFollows(closer: UInt8(ascii: "}"), "after a field") { return members }
        }
    }

    /// Exact powers of ten as doubles.
    private static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

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

    // MARK: Document ids

    /// The TinyDB id a `_default` member's name stands for, as Swift's
    /// `Int(_:)` reads it; -1 when it is not one this store counts from.
    private mutating func documentID(_ name: ScannedString) -> Int {
        if name.escaped {
            let bytes = decodedName(name)
            return bytes.withUnsafeBufferPointer { Self.documentID($0.baseAddress!, count: $0.count) }
        }
        return Self.documentID(base + name.start, count: name.end - name.start)
    }

    static func documentID(_ start: UnsafePointer<UInt8>, count: Int) -> Int {
        var index = 0
        var negative = false
        if count > 0 && (start[0] == UInt8(ascii: "+") || start[0] == UInt8(ascii: "-")) {
            negative = start[0] == UInt8(ascii: "-")
            index = 1
        }
        guard index < count else { return -1 }
        var value = 0
        while index < count {
            let digit = Int(start[index]) - 48
            guard digit >= 0 && digit <= 9 else { return -1 }
            value = value * 10 + digit
            if value >= TinyDBIndex.idLimit { return -1 }
            index += 1
        }
        if negative && value != 0 { return -1 }
        return value
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
    private mutating func scanString() throws(FormatError) -> ScannedString {
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
    private mutating func scanEscape() throws(FormatError) {
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
    private mutating func hexUnit(at offset: Int) throws(FormatError) -> UInt32 {
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
    private mutating func scanUTF8(_ lead: UInt8) throws(FormatError) {
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
    private mutating func decodedName(_ string: ScannedString) -> [UInt8] {
        var bytes: [UInt8] = []
        Self.decode(base, string, into: &bytes)
        return bytes
    }

    /// Whether the scanned string is `name` (which has no character that
    /// needs an escape).
    private mutating func nameEquals(_ string: ScannedString, _ name: [UInt8]) -> Bool {
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
    private mutating func textRef(_ string: ScannedString, decodingEscapes: Bool) -> TextRef {
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
    private mutating func scanNumber() throws(FormatError) {
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
    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    @inline(__always)
    private mutating func skipDigits() {
        while position < end && isDigit(base[position]) { position += 1 }
    }

    private mutating func literal(_ text: StaticString) throws(FormatError) {
        let count = text.utf8CodeUnitCount
        guard position + count <= end, memcmp(base + position, text.utf8Start, count) == 0 else {
            throw invalid("an unknown word")
        }
        position += count
    }

    /// Checks and skips the value at `position`, which sits at nesting level
    /// `depth` (the top-level value is at 1).
    private mutating func skipValue(depth: Int) throws(FormatError) {
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

    // MARK: The index

    /// The entries by id when ids are dense (as TinyDB makes them: 1, 2, 3…
    /// with gaps where documents were removed), placed in one pass; nil when
    /// they are too sparse for that.
    private static func placedByID(_ documents: [TinyDBIndex.Document]) throws(FormatError) -> (order: [Int32], maxID: Int)? {
        var low = Int.max, high = -1, count = 0
        for document in documents where document.id >= 0 {
            low = min(low, document.id)
            high = max(high, document.id)
            count += 1
        }
        guard count > 0, high - low < 4 * count + 64 else { return nil }
        var slots = [Int32](repeating: -1, count: high - low + 1)
        for (position, document) in documents.enumerated() where document.id >= 0 {
            if slots[document.id - low] != -1 {
                throw FormatError(reason: "it is JSON but not a TinyDB database (document id \(document.id) appears twice in table \"_default\")")
            }
            slots[document.id - low] = Int32(position)
        }
        var order: [Int32] = []
        order.reserveCapacity(count)
        for position in slots where position != -1 && documents[Int(position)].key.isPresent {
            order.append(position)
        }
        return (order, high)
    }

    /// Orders the entries by id, checks ids are unique, and builds the key
    /// table.
    private mutating func finishIndex(_ bytes: UnsafeRawBufferPointer) throws(FormatError) {
        let documents = index.documents
        var sorted = true
        var previous = -1
        for document in documents where document.id >= 0 {
            if document.id <= previous {
                sorted = false
                break
            }
            previous = document.id
        }
        var order: [Int32] = []
        order.reserveCapacity(documents.count)
        if sorted {
            // The usual case, as TinyDB writes: ids rise through the file.
            index.maxID = max(previous, 0)
            for (position, document) in documents.enumerated() where document.id >= 0 && document.key.isPresent {
                order.append(Int32(position))
            }
        } else if let placed = try Self.placedByID(documents) {
            index.maxID = placed.maxID
            order = placed.order
        } else {
            // Sort (id, position) pairs packed into one integer: ids are
            // below 2^41, positions below 2^22.
            var packed: [Int] = []
            packed.reserveCapacity(documents.count)
            let fits = documents.count < 1 << 22
            for (position, document) in documents.enumerated() where document.id >= 0 {
                packed.append(fits ? document.id << 22 | position : position)
            }
            if fits {
                packed.sort()
            } else {
                packed.sort { (documents[$0].id, $0) < (documents[$1].id, $1) }
            }
            let id = { (value: Int) -> Int in fits ? value >> 22 : documents[value].id }
            let position = { (value: Int) -> Int in fits ? value & (1 << 22 - 1) : value }
            for (offset, value) in packed.enumerated() {
                if offset > 0 && id(packed[offset - 1]) == id(value) {
                    throw FormatError(reason: "it is JSON but not a TinyDB database (document id \(id(value)) appears twice in table \"_default\")")
                }
                if documents[position(value)].key.isPresent { order.append(Int32(position(value))) }
            }
            index.maxID = packed.last.map(id) ?? 0
        }
        for position in order {
            let key = index.documents[Int(position)].key
            index.documents[Int(position)].keyHash = index.withBytes(of: key, in: bytes) { TinyDBIndex.hash($0) }
        }
        index.order = order
        index.buildKeyTable(in: bytes)
    }
}
