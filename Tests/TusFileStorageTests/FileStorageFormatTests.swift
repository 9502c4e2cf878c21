import Foundation
import Testing
import TusCore
import TusFileStorage
import TusTestSupport

/// Writes `bytes` as the store file at `path`.
func writeStore(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func fileBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Checks that every operation on the store file holding `bytes` throws
/// `corruptStore` naming the file, and that the file is left as it was.
func expectCorrupt(_ bytes: [UInt8], in folder: TemporaryFolder, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let path = folder.newPath("corrupt.json")
    try writeStore(bytes, to: path)
    let store = try FileStorage(path: path)
    let operations: [(String, () async throws -> Void)] = [
        ("get", { _ = try await store.url(forKey: "a") }),
        ("set", { try await store.setURL("http://x/a", forKey: "a") }),
        ("remove", { try await store.removeURL(forKey: "a") }),
        ("entries", { _ = try await store.entries() }),
        ("prune", { _ = try await store.removeEntries(storedBefore: Date()) }),
    ]
    for (name, operation) in operations {
        do {
            try await operation()
            Issue.record("\(label): \(name) succeeded on a corrupt store", sourceLocation: sourceLocation)
        } catch let error as TusError {
            #expect(error.code == .corruptStore, "\(label): \(name): \(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(path), "\(label): \(name): \(error.message)", sourceLocation: sourceLocation)
        }
    }
    #expect(try fileBytes(path) == bytes, "\(label): the file changed", sourceLocation: sourceLocation)
}

/// `{"_default": {"1": {"key": "a", "url": "http://x/a"}, <document>}}`.
private func withDocument(_ document: String) -> [UInt8] {
    Array(#"{"_default": {"1": {"key": "a", "url": "http://x/a"}, "#.utf8) + Array(document.utf8) + Array("}}".utf8)
}

/// `{"_default": {"1": {"key": "a", "url": "http://x/a", "other": <value>}}}`.
private func withValue(_ value: [UInt8]) -> [UInt8] {
    Array(#"{"_default": {"1": {"key": "a", "url": "http://x/a", "other": "#.utf8) + value + Array("}}}".utf8)
}

private func withValue(_ value: String) -> [UInt8] { withValue(Array(value.utf8)) }

private func nested(_ depth: Int) -> String {
    String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
}

/// A file whose bytes are not JSON, or JSON the store refuses.
struct CorruptCase: CustomTestStringConvertible, Sendable {
    var label: String
    var bytes: [UInt8]
    var testDescription: String { label }
    init(_ label: String, _ bytes: [UInt8]) {
        self.label = label
        self.bytes = bytes
    }
    init(_ label: String, _ text: String) {
        self.init(label, Array(text.utf8))
    }
}

private let utf16: [UInt8] = Array(#"{"_default": {}}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }

let corruptCases: [CorruptCase] = [
    // Not JSON.
    CorruptCase("a trailing comma in an object", withValue("{\"x\": 1,}")),
    CorruptCase("a trailing comma in an array", withValue("[1, 2,]")),
    CorruptCase("a trailing comma in the table", #"{"_default": {"1": {"key": "a"},}}"#),
    CorruptCase("a missing comma", withValue("[1 2]")),
    CorruptCase("a missing colon", #"{"_default" {}}"#),
    CorruptCase("single quotes", #"{'_default': {}}"#),
    CorruptCase("a comment", "{\"_default\": {}} // note"),
    CorruptCase("data after the end", #"{"_default": {}} x"#),
    CorruptCase("two values", #"{} {}"#),
    CorruptCase("a NUL after the end", Array(#"{"_default": {}}"#.utf8) + [0]),
    CorruptCase("a leading zero", withValue("01")),
    CorruptCase("a bare dot", withValue("1.")),
    CorruptCase("a leading dot", withValue(".5")),
    CorruptCase("a plus sign", withValue("+1")),
    CorruptCase("a lone minus", withValue("-")),
    CorruptCase("an empty exponent", withValue("1e")),
    CorruptCase("an exponent sign alone", withValue("1e+")),
    CorruptCase("NaN", withValue("NaN")),
    CorruptCase("Infinity", withValue("Infinity")),
    CorruptCase("-Infinity", withValue("-Infinity")),
    CorruptCase("hex", withValue("0x10")),
    CorruptCase("a cut literal", withValue("tru")),
    CorruptCase("Python's True", withValue("True")),
    CorruptCase("Python's None", withValue("None")),
    CorruptCase("an unknown escape", withValue(#""\x41""#)),
    CorruptCase("a capital U escape", withValue(#""\U0041""#)),
    CorruptCase("a short \\u escape", withValue(#""\u123""#)),
    CorruptCase("a \\u escape with a non-hex digit", withValue(#""\u12G4""#)),
    CorruptCase("a backslash at the end of the file", Array(#"{"_default": {"1": {"key": "\"#.utf8)),
    CorruptCase("a lone high surrogate", withValue(#""\ud800""#)),
    CorruptCase("a lone low surrogate", withValue(#""\udc00""#)),
    CorruptCase("a high surrogate before a letter", withValue(#""\ud800A""#)),
    CorruptCase("a high surrogate before another escape", withValue(#""\ud800\u0041""#)),
    CorruptCase("two high surrogates", withValue(#""\ud800\ud800""#)),
    CorruptCase("a lone surrogate in a key", #"{"_default": {"1": {"key": "\udfff", "url": "u"}}}"#),
    CorruptCase("a lone surrogate in a table name", #"{"\ud800": {}}"#),
    CorruptCase("a control character in a string", withValue("\"a\u{01}b\"")),
    CorruptCase("a tab in a string", withValue("\"a\tb\"")),
    CorruptCase("a newline in a string", withValue("\"a\nb\"")),
    CorruptCase("an unterminated string", Array(#"{"_default": {"1": {"key": "a"#.utf8)),
    CorruptCase("a byte that is not UTF-8", withValue([0x22, 0xC3, 0x28, 0x22])),
    CorruptCase("an overlong encoding", withValue([0x22, 0xC0, 0xAF, 0x22])),
    CorruptCase("a UTF-8 surrogate", withValue([0x22, 0xED, 0xA0, 0x80, 0x22])),
    CorruptCase("a code point beyond U+10FFFF", withValue([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22])),
    CorruptCase("the byte F5", withValue([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22])),
    CorruptCase("a lone continuation byte", withValue([0x22, 0x80, 0x22])),
    CorruptCase("a cut sequence", withValue([0x22, 0xE2, 0x82, 0x22])),
    CorruptCase("a Latin-1 é outside a string", Array("{\"_default\": {}}".utf8) + [0xE9]),
    CorruptCase("513 levels of nesting", withValue(nested(513 - 3))),
    CorruptCase("a vertical tab as white space", "{\u{0B}\"_default\": {}}"),
    CorruptCase("a form feed as white space", "{\u{0C}\"_default\": {}}"),
    CorruptCase("a no-break space as white space", "{\u{A0}\"_default\": {}}"),
    CorruptCase("a byte-order mark alone", [0xEF, 0xBB, 0xBF]),
    CorruptCase("a byte-order mark and white space", [0xEF, 0xBB, 0xBF, 0x20, 0x0A]),
    CorruptCase("two byte-order marks", [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF] + Array("{}".utf8)),
    CorruptCase("UTF-16 with a byte-order mark", [0xFF, 0xFE] + utf16),
    CorruptCase("UTF-16 without one", utf16),
    // JSON, but not TinyDB-shaped.
    CorruptCase("a top-level array", "[1, 2, 3]"),
    CorruptCase("a top-level string", #""just a string""#),
    CorruptCase("a top-level number", "42"),
    CorruptCase("a top-level null", "null"),
    CorruptCase("a table that is an array", #"{"_default": [1]}"#),
    CorruptCase("another table that is a string", #"{"_default": {}, "other": "x"}"#),
    CorruptCase("a document that is a string", #"{"_default": {"1": "a string"}}"#),
    CorruptCase("a document that is null", withDocument(#""2": null"#)),
    CorruptCase("a document that is an array", withDocument(#""2": [{"key": "b"}]"#)),
    CorruptCase("an odd-id document that is a number", withDocument(#""x": 5"#)),
    CorruptCase("_default twice", #"{"_default": {"1": {"key": "a", "url": "u"}}, "_default": {}}"#),
    CorruptCase("_default twice, once escaped", #"{"_default": {}, "\u005fdefault": {}}"#),
    CorruptCase("an id twice", withDocument(#""1": {"key": "b", "url": "http://x/b"}"#)),
    CorruptCase("one id written two ways", withDocument(#""01": {"key": "b", "url": "http://x/b"}"#)),
    CorruptCase("one id, once escaped", withDocument(#""\u0031": {"key": "b", "url": "http://x/b"}"#)),
    CorruptCase("an odd id twice", withDocument(#""x": {}, "x": {}"#)),
    CorruptCase("a document with two keys", withDocument(#""2": {"key": "b", "url": "u", "key": "c"}"#)),
    CorruptCase("a document with two urls", withDocument(#""2": {"key": "b", "url": "u", "url": "v"}"#)),
    CorruptCase("a document with two times", withDocument(#""2": {"key": "b", "stored_at": 1, "stored_at": 2}"#)),
    CorruptCase("a document with a key twice, once escaped", withDocument(#""2": {"key": "b", "\u006bey": "c"}"#)),
    // Both: the JSON error is the one reported, but either way it is corrupt.
    CorruptCase("a shape error, then a syntax error", #"{"_default": [1], oops"#),
]

/// A file the store must accept, and the entries it holds.
struct AcceptedCase: CustomTestStringConvertible, Sendable {
    var label: String
    var bytes: [UInt8]
    var entries: [String: String]
    var testDescription: String { label }
    init(_ label: String, _ bytes: [UInt8], _ entries: [String: String] = ["a": "http://x/a"]) {
        self.label = label
        self.bytes = bytes
        self.entries = entries
    }
    init(_ label: String, _ text: String, _ entries: [String: String] = ["a": "http://x/a"]) {
        self.init(label, Array(text.utf8), entries)
    }
}

let acceptedCases: [AcceptedCase] = [
    AcceptedCase("an empty file", [], [:]),
    AcceptedCase("white space only", " \t\r\n ", [:]),
    AcceptedCase("an empty object", "{}", [:]),
    AcceptedCase("an empty object with white space", " {\t} \n", [:]),
    AcceptedCase("an empty default table", #"{"_default": {}}"#, [:]),
    AcceptedCase("compact", #"{"_default":{"1":{"key":"a","url":"http://x/a"}}}"#),
    AcceptedCase("pretty, with CRLF and tabs",
                 "{\r\n\t\"_default\" :\r\n\t{\r\n\t\t\"1\" : {\r\n\t\t\t\"key\" : \"a\" ,\r\n\t\t\t\"url\" : \"http://x/a\"\r\n\t\t}\r\n\t}\r\n}\r\n"),
    AcceptedCase("a byte-order mark", [0xEF, 0xBB, 0xBF] + Array(#"{"_default": {"1": {"key": "a", "url": "http://x/a"}}}"#.utf8)),
    AcceptedCase("escaped slashes, as JSONSerialization writes", #"{"_default": {"1": {"key": "a", "url": "http:\/\/x\/a"}}}"#),
    AcceptedCase("an escaped key", #"{"_default": {"1": {"key": "caf\u00e9 \"q\" \\ \/ \b\f\n\r\t", "url": "http://x/a"}}}"#,
                 ["café \"q\" \\ / \u{8}\u{C}\n\r\t": "http://x/a"]),
    AcceptedCase("a surrogate pair", #"{"_default": {"1": {"key": "\ud83d\ude00", "url": "http://x/\uD83D\uDE00"}}}"#,
                 ["😀": "http://x/😀"]),
    AcceptedCase("raw UTF-8", Array(#"{"_default": {"1": {"key": "ключ ✓ 😀", "url": "http://x/ü"}}}"#.utf8), ["ключ ✓ 😀": "http://x/ü"]),
    AcceptedCase("a NUL escape", #"{"_default": {"1": {"key": "a\u0000b", "url": "u"}}}"#, ["a\u{0}b": "u"]),
    AcceptedCase("noncharacters", #"{"_default": {"1": {"key": "\uffff\ufffe", "url": "u"}}}"#, ["\u{FFFF}\u{FFFE}": "u"]),
    AcceptedCase("an empty key", #"{"_default": {"1": {"key": "", "url": "u"}}}"#, ["": "u"]),
    AcceptedCase("escaped field and table names", #"{"\u005fdefault": {"1": {"\u006bey": "a", "\u0075rl": "http://x/a"}}}"#),
    AcceptedCase("every kind of number", withValue("[0, -0, 1.5, -1.5e-3, 1E+2, 1e400, 123456789012345678901234567890, -0.0]")),
    AcceptedCase("512 levels of nesting", withValue(nested(512 - 3))),
    AcceptedCase("every literal", withValue("[true, false, null, {}, [], \"\"]")),
    AcceptedCase("other tables before and after", #"{"a": {}, "_default": {"1": {"key": "a", "url": "http://x/a"}}, "z": {"1": [1]}}"#),
    AcceptedCase("duplicate names in an unknown object", withValue(#"{"n": 1, "n": 2}"#)),
    AcceptedCase("a document without a key", withDocument(#""2": {"url": "http://x/b"}"#)),
    AcceptedCase("a key that is not a string", withDocument(#""2": {"key": 5, "url": "http://x/b"}"#)),
    AcceptedCase("a URL that is not a string", withDocument(#""2": {"key": "b", "url": null}"#)),
    AcceptedCase("ids TinyDB cannot make", withDocument(#""-1": {"key": "m", "url": "u"}, "x": {"key": "x", "url": "u"}, "99999999999999999999": {"key": "h", "url": "u"}"#)),
    AcceptedCase("ids out of order", #"{"_default": {"10": {"key": "b", "url": "http://x/b"}, "2": {"key": "a", "url": "http://x/a"}}}"#,
                 ["a": "http://x/a", "b": "http://x/b"]),
]

@Suite struct FileStorageFormatTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    @Test(arguments: corruptCases)
    func aCorruptFileIsRefusedAndLeftAlone(_ corrupt: CorruptCase) async throws {
        try await expectCorrupt(corrupt.bytes, in: folder, corrupt.label)
    }

    @Test func everyCutOfAValidFileIsRefused() async throws {
        let whole = Array(#"{"_default": {"1": {"key": "caf\u00e9", "url": "http://x/\ud83d\ude00", "stored_at": 1.5e9, "n": [true, null]}}}"#.utf8)
        for length in 1..<whole.count {
            try await expectCorrupt(Array(whole[0..<length]), in: folder, "the first \(length) bytes")
        }
    }

    @Test func theErrorSaysWhereTheFileIsNotJSON() async throws {
        let path = folder.newPath("store.json")
        try writeStore(Array(#"{"_default": {"1": {"key": "a", "url": "u",}}}"#.utf8), to: path)
        let error = try await #require(throws: TusError.self) { try await FileStorage(path: path).url(forKey: "a") }
        #expect(error.message.contains("not valid JSON"))
        #expect(error.message.contains("byte 43"), "\(error.message)")
    }

    @Test func theErrorNamesAnIdThatAppearsTwice() async throws {
        let path = folder.newPath("store.json")
        try writeStore(withDocument(#""01": {}"#), to: path)
        let error = try await #require(throws: TusError.self) { try await FileStorage(path: path).entries() }
        #expect(error.message.contains("document id 1 appears twice"), "\(error.message)")
    }

    @Test(arguments: acceptedCases)
    func anAcceptedFileIsRead(_ accepted: AcceptedCase) async throws {
        let path = folder.newPath("store.json")
        try writeStore(accepted.bytes, to: path)
        let store = try FileStorage(path: path)
        let entries = try await store.entries()
        #expect(Dictionary(entries.map { ($0.key, $0.url) }, uniquingKeysWith: { first, _ in first }) == accepted.entries)
        for (key, url) in accepted.entries {
            #expect(try await store.url(forKey: key) == url)
        }
        // Nothing was written by reading.
        #expect(try fileBytes(path) == accepted.bytes)
    }

    @Test(arguments: acceptedCases)
    func anAcceptedFileTakesAChangeAndStaysReadable(_ accepted: AcceptedCase) async throws {
        let path = folder.newPath("store.json")
        try writeStore(accepted.bytes, to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/new", forKey: "new")
        var expected = accepted.entries
        if let key = accepted.entries.keys.sorted().first {
            try await store.setURL("http://x/changed", forKey: key)
            expected[key] = "http://x/changed"
        }
        expected["new"] = "http://x/new"
        // A fresh instance scans the written file from scratch.
        let entries = try await FileStorage(path: path).entries()
        #expect(Dictionary(entries.map { ($0.key, $0.url) }, uniquingKeysWith: { first, _ in first }) == expected)
    }

    @Test func storedAtIsReadFromAnyNumberAndIgnoredOtherwise() async throws {
        let path = folder.newPath("store.json")
        try writeStore(Array("""
            {"_default": {"1": {"key": "int", "url": "u", "stored_at": 1750000000},
                          "2": {"key": "frac", "url": "u", "stored_at": 1750000000.125},
                          "3": {"key": "exp", "url": "u", "stored_at": 1.75e9},
                          "4": {"key": "long", "url": "u", "stored_at": 1750000000.1234567890123},
                          "5": {"key": "text", "url": "u", "stored_at": "1750000000"},
                          "6": {"key": "huge", "url": "u", "stored_at": 1e400},
                          "7": {"key": "bool", "url": "u", "stored_at": true}}}
            """.utf8), to: path)
        let times = Dictionary(uniqueKeysWithValues: try await FileStorage(path: path).entries().map { ($0.key, $0.storedAt?.timeIntervalSince1970) })
        #expect(times["int"] == 1_750_000_000)
        #expect(times["frac"] == 1_750_000_000.125)
        #expect(times["exp"] == 1.75e9)
        #expect(times["long"] == 1750000000.1234567890123)
        #expect(times["text"] == .some(nil))
        #expect(times["huge"] == .some(nil))
        #expect(times["bool"] == .some(nil))
    }

    // Changes keep what is not theirs byte for byte.

    @Test func aChangeKeepsEverythingElseByteForByte() async throws {
        let path = folder.newPath("store.json")
        let before = """
            {"first":{"n":123456789012345678901234567890,"f":1.000000000000000000001,"e":1E+400},
             "_default": {
               "1" : { "key" : "a" , "url" : "http://x/a" , "note" : [ 1 ,2 ] } ,
               "7" : { "key" : "b" , "url" : "http:\\/\\/x\\/b" , "big" : -98765432109876543210 },
               "x" : { "odd" : "id" }
             },
             "last": {"s": "caf\\u00e9 \\ud83d\\ude00"}}
            """
        try writeStore(Array(before.utf8), to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/c", forKey: "c", storedAt: Date(timeIntervalSince1970: 2))
        try await store.setURL("http://x/b2", forKey: "b", storedAt: nil)
        try await store.removeURL(forKey: "a")
        let after = String(decoding: try fileBytes(path), as: UTF8.self)
        for kept in [
            #"{"first":{"n":123456789012345678901234567890,"f":1.000000000000000000001,"e":1E+400},"#,
            #""x" : { "odd" : "id" }"#,
            #""last": {"s": "caf\u00e9 \ud83d\ude00"}}"#,
        ] {
            #expect(after.contains(kept), "lost \(kept) in \(after)")
        }
        #expect(!after.contains("http://x/a"))
        #expect(after.contains(#""7" : {"key": "b", "url": "http://x/b2", "big": -98765432109876543210}"#), "\(after)")
        #expect(after.contains(#", "8": {"key": "c", "url": "http://x/c", "stored_at": 2.0}"#), "\(after)")
        #expect(try await FileStorage(path: path).entries().map(\.key) == ["b", "c"])
    }

    @Test func integersBeyond64BitsSurviveAChange() async throws {
        let path = folder.newPath("store.json")
        try writeStore(Array(#"{"_default": {"1": {"key": "a", "url": "u", "n": 18446744073709551616123}}, "t": {"m": -18446744073709551616123}}"#.utf8), to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("v", forKey: "a")
        try await store.setURL("w", forKey: "b")
        let after = String(decoding: try fileBytes(path), as: UTF8.self)
        #expect(after.contains(#""n": 18446744073709551616123"#))
        #expect(after.contains(#""m": -18446744073709551616123"#))
    }

    @Test func aByteOrderMarkIsDroppedByTheNextChange() async throws {
        let path = folder.newPath("store.json")
        let text = Array(#"{"_default": {"1": {"key": "a", "url": "http://x/a"}}}"#.utf8)
        try writeStore([0xEF, 0xBB, 0xBF] + text, to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("http://x/b", forKey: "b", storedAt: nil)
        #expect(try fileBytes(path) == Array(#"{"_default": {"1": {"key": "a", "url": "http://x/a"}, "2": {"key": "b", "url": "http://x/b"}}}"#.utf8))
    }

    @Test func removalsTakeTheirCommas() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        for key in ["a", "b", "c", "d", "e"] { try await store.setURL("u", forKey: key, storedAt: nil) }
        try await store.removeURL(forKey: "a")
        try await store.removeURL(forKey: "c")
        try await store.removeURL(forKey: "e")
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == #"{"_default": {"2": {"key": "b", "url": "u"}, "4": {"key": "d", "url": "u"}}}"#)
        try await store.removeURL(forKey: "d")
        try await store.removeURL(forKey: "b")
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == #"{"_default": {}}"#)
        try await store.setURL("u", forKey: "f", storedAt: nil)
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == #"{"_default": {"1": {"key": "f", "url": "u"}}}"#)
    }

    @Test func aTableIsAddedToAFileWithoutOne() async throws {
        let path = folder.newPath("store.json")
        try writeStore(Array(#"{"other": {"1": {}}}"#.utf8), to: path)
        try await FileStorage(path: path).setURL("u", forKey: "k", storedAt: nil)
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == #"{"other": {"1": {}}, "_default": {"1": {"key": "k", "url": "u"}}}"#)
    }

    /// Found by fuzzing (`scripts/fuzz tinydb`): the first entry replaced
    /// the white space inside an empty top-level object or table, against
    /// "every other byte of the file is kept".
    @Test(arguments: [
        ("{\r\n}", "{\"_default\": {\"1\": {\"key\": \"k\", \"url\": \"u\"}}\r\n}"),
        ("{\"_default\": {\n\t}}", "{\"_default\": {\"1\": {\"key\": \"k\", \"url\": \"u\"}\n\t}}"),
    ])
    func whiteSpaceInsideAnEmptyObjectIsKept(before: String, after: String) async throws {
        let path = folder.newPath("store.json")
        try writeStore(Array(before.utf8), to: path)
        let store = try FileStorage(path: path)
        try await store.setURL("u", forKey: "k", storedAt: nil)
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == after)
        #expect(try await store.url(forKey: "k") == "u")
    }

    @Test func settingTheSameURLAndTimeWritesNothing() async throws {
        let path = folder.newPath("store.json")
        let store = try FileStorage(path: path)
        let time = Date(timeIntervalSince1970: 1_750_000_000.5)
        try await store.setURL("u", forKey: "k", storedAt: time)
        let before = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        try await store.setURL("u", forKey: "k", storedAt: time)
        try await store.removeURL(forKey: "absent")
        #expect(try await store.removeEntries(storedBefore: Date(timeIntervalSince1970: 0)) == 0)
        // A write would have renamed a new file (a new inode) over it.
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == before)
    }

    @Test func aURLWrittenWithEscapesIsTheSameURL() async throws {
        let path = folder.newPath("store.json")
        try writeStore(Array(#"{"_default": {"1": {"key": "k", "url": "http:\/\/x\/\u00e9"}}}"#.utf8), to: path)
        let store = try FileStorage(path: path)
        #expect(try await store.url(forKey: "k") == "http://x/é")
        let before = try fileBytes(path)
        try await store.setURL("http://x/é", forKey: "k", storedAt: nil)
        #expect(try fileBytes(path) == before)
        try await store.setURL("http://x/e", forKey: "k", storedAt: nil)
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == #"{"_default": {"1": {"key": "k", "url": "http://x/e"}}}"#)
        try await store.setURL("http://x/é", forKey: "k", storedAt: nil)
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == #"{"_default": {"1": {"key": "k", "url": "http://x/\u00e9"}}}"#)
        #expect(try await store.url(forKey: "k") == "http://x/é")
    }

    @Test func aTimeOutOfRangeIsRefused() async throws {
        let store = try FileStorage(path: folder.newPath("store.json"))
        let error = try await #require(throws: TusError.self) {
            try await store.setURL("u", forKey: "k", storedAt: Date(timeIntervalSince1970: .infinity))
        }
        #expect(error.code == .invalidArgument)
    }

    /// Found by fuzzing (`scripts/fuzz tinydb`): with a document at id
    /// 2199023254527, the highest this store counts, a new entry was added
    /// at 2199023254528, an id no read counts, so its URL was never found
    /// again; and when a document already had that id, the change failed as
    /// if the file were corrupt. Now the change is refused, saying why.
    @Test func aNewEntryPastTheHighestIdIsRefusedAndTheFileLeftAlone() async throws {
        let path = folder.newPath("store.json")
        for extra in ["", #", "2199023254528": {"key": "other", "url": "u"}"#] {
            let bytes = Array(#"{"_default": {"2199023254527": {"key": "high", "url": "http://x/h"}\#(extra)}}"#.utf8)
            try writeStore(bytes, to: path)
            let store = try FileStorage(path: path)
            let error = try await #require(throws: TusError.self) { try await store.setURL("http://x/new", forKey: "new") }
            #expect(error.message.contains("ids have reached 2199023254527"), "\(error.message)")
            #expect(try fileBytes(path) == bytes)
            // A stored key still takes a new URL in place.
            try await store.setURL("http://x/changed", forKey: "high")
            #expect(try await store.url(forKey: "high") == "http://x/changed")
        }
    }

    // New text is Python's json.dumps.

    @Test func newTextIsWhatPythonsJSONDumpsWrites() async throws {
        let path = folder.newPath("store.json")
        let key = "clé \"q\" \\ / 😀 \u{7F}\u{1}\u{2028}\t"
        let url = "https://tus.example/files/ü?a=1&b=<2>"
        let store = try FileStorage(path: path)
        try await store.setURL(url, forKey: key, storedAt: Date(timeIntervalSince1970: 1_750_000_000.123))
        try await store.setURL("u2", forKey: "second", storedAt: Date(timeIntervalSince1970: 1_750_000_000))
        let script = """
            import json, sys
            doc = {"_default": {"1": {"key": sys.argv[1], "url": sys.argv[2], "stored_at": 1750000000.123},
                                "2": {"key": "second", "url": "u2", "stored_at": 1750000000.0}}}
            sys.stdout.write(json.dumps(doc))
            """
        let python = try runProcess("/usr/bin/env", ["python3", "-c", script, key, url])
        #expect(python.status == 0, "\(python.stderr)")
        #expect(String(decoding: try fileBytes(path), as: UTF8.self) == python.stdout)
    }
}
