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

    let base: UnsafePointer<UInt8>
    let end: Int
    var position = 0
    /// The first way the file is valid JSON but not a TinyDB database; thrown
    /// once the whole file is known to be JSON.
    var shapeError: String?
    var index = TinyDBIndex()
    /// Ids of `_default` that are not TinyDB ids, to find duplicates.
    var oddIDs: Set<[UInt8]> = []
    /// Scratch space for decoding names.
    var scratch: [UInt8] = []

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

    func invalid(_ what: String) -> FormatError {
        if position >= end {
            return FormatError(reason: "it is not valid JSON (the file ends in the middle of \(what))")
        }
        return FormatError(reason: "it is not valid JSON (\(what) at byte \(position))")
    }

    mutating func notTinyDB(_ what: String) {
        if shapeError == nil { shapeError = what }
    }

    static let namesShownUpTo = 80

    /// A decoded name as messages show it.
    static func shown(_ bytes: some Collection<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.count <= namesShownUpTo ? text : String(text.prefix(namesShownUpTo - 3)) + "…"
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
