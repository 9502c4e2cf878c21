import Foundation
import Testing
import TusCore
import TusFileStorage
import TusTestSupport

/// A seeded generator, so that a failing case can be made again.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// Python's `json` module as the judge of what the store must accept and
/// what it holds: it is what tuspy (through TinyDB) reads the file with.
/// Where this store is deliberately stricter than Python (lone surrogates,
/// NaN and Infinity, more than 512 levels, names that TinyDB reads twice,
/// a byte-order mark that Python refuses but the store accepts), the judge
/// says so.
private let judge = #"""
import base64, json, math, sys

ID_LIMIT = 2147483647 * 1024

class Obj(list):
    pass

def tinydb_id(name):
    # Swift's Int(String): an optional sign, then ASCII digits.
    text, negative = name, False
    if text[:1] in ('+', '-'):
        negative, text = text[0] == '-', text[1:]
    if not text or any(c < '0' or c > '9' for c in text):
        return None
    value = int(text)
    if negative:
        value = -value
    return value if 0 <= value < ID_LIMIT else None

def walk(value, depth):
    # Returns the deepest nesting and whether a string has a surrogate.
    if isinstance(value, str):
        return depth, any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, Obj):
        deepest, bad = depth + 1, False
        for name, item in value:
            d, b = walk(item, depth + 1)
            deepest, bad = max(deepest, d), bad or b or walk(name, 0)[1]
        return deepest, bad
    if isinstance(value, list):
        deepest, bad = depth + 1, False
        for item in value:
            d, b = walk(item, depth + 1)
            deepest, bad = max(deepest, d), bad or b
        return deepest, bad
    return depth, False

def number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None

def parse(data):
    """The parsed file (Obj pairs), or None when the store must refuse it."""
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
        if not data.strip(b' \t\r\n'):
            return None
    elif not data.strip(b' \t\r\n'):
        return Obj()
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        return None
    odd = []
    try:
        value = json.loads(text, object_pairs_hook=Obj, parse_constant=lambda name: odd.append(name))
    except (ValueError, RecursionError):
        return None
    if odd:
        return None
    deepest, surrogate = walk(value, 0)
    if surrogate or deepest > 512:
        return None
    if not isinstance(value, Obj):
        return None
    defaults = 0
    for name, table in value:
        if not isinstance(table, Obj):
            return None
        if name == '_default':
            defaults += 1
    if defaults > 1:
        return None
    for name, table in value:
        if name != '_default':
            continue
        ids, odd_ids = set(), set()
        for doc_id, doc in table:
            if not isinstance(doc, Obj):
                return None
            number_id = tinydb_id(doc_id)
            if number_id is None:
                if doc_id in odd_ids:
                    return None
                odd_ids.add(doc_id)
            else:
                if number_id in ids:
                    return None
                ids.add(number_id)
            names = [n for n, _ in doc if n in ('key', 'url', 'stored_at')]
            if len(names) != len(set(names)):
                return None
    return value

def plain(value):
    if isinstance(value, Obj):
        return {name: plain(item) for name, item in value}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value

def entries(value):
    table = plain(value).get('_default', {})
    found = []
    for doc_id, doc in table.items():
        number_id = tinydb_id(doc_id)
        if number_id is None or not isinstance(doc.get('key'), str):
            continue
        found.append((number_id, doc))
    found.sort(key=lambda pair: pair[0])
    result = []
    for _, doc in found:
        if isinstance(doc.get('url'), str):
            stamp = number(doc.get('stored_at'))
            result.append([doc['key'], doc['url'], None if stamp is None else repr(stamp)])
    return result

def lookups(value):
    # For each key, the URL of the lowest-id document stored under it.
    table = plain(value).get('_default', {})
    first = {}
    for doc_id, doc in table.items():
        number_id = tinydb_id(doc_id)
        if number_id is None or not isinstance(doc.get('key'), str):
            continue
        if doc['key'] not in first or number_id < first[doc['key']][0]:
            first[doc['key']] = (number_id, doc.get('url') if isinstance(doc.get('url'), str) else None)
    return [[key, url] for key, (_, url) in first.items()]

def change(value, op):
    doc = plain(value)
    table = doc.get('_default')
    kind = op['kind']
    def matches(doc_id, item):
        return tinydb_id(doc_id) is not None and isinstance(item.get('key'), str) and item['key'] == op.get('key')
    if kind == 'set':
        hits = [doc_id for doc_id, item in (table or {}).items() if matches(doc_id, item)]
        for doc_id in hits:
            table[doc_id]['url'] = op['url']
            table[doc_id]['stored_at'] = op['stamp']
        if not hits:
            ids = [tinydb_id(doc_id) for doc_id in (table or {})]
            new_id = max([i for i in ids if i is not None], default=0) + 1
            if table is None:
                table = doc['_default'] = {}
            table[str(new_id)] = {'key': op['key'], 'url': op['url'], 'stored_at': op['stamp']}
    elif kind == 'remove':
        for doc_id in [d for d, item in (table or {}).items() if matches(d, item)]:
            del table[doc_id]
    elif kind == 'prune':
        for doc_id in list(table or {}):
            item = table[doc_id]
            stamp = number(item.get('stored_at'))
            if tinydb_id(doc_id) is not None and isinstance(item.get('key'), str) and stamp is not None and stamp < op['cutoff']:
                del table[doc_id]
    return doc

request = json.load(open(sys.argv[1]))
answers = []
for case in request:
    data = base64.b64decode(case['input'])
    value = parse(data)
    answer = {'ok': value is not None, 'entries': entries(value) if value is not None else [],
              'lookups': lookups(value) if value is not None else []}
    if value is not None and 'result' in case:
        result = base64.b64decode(case['result'])
        after = parse(result)
        if after is None or (result.startswith(b'\xef\xbb\xbf') and result != data):
            answer['change'] = 'the changed file is not valid: %r' % result[:300]
        elif plain(after) != change(value, case['op']):
            answer['change'] = 'expected %r, found %r' % (change(value, case['op']), plain(after))
        else:
            answer['change'] = 'ok'
    answers.append(answer)
json.dump(answers, open(sys.argv[2], 'w'))
"""#

private struct JudgeAnswer: Decodable {
    var ok: Bool
    var entries: [[String?]]
    var lookups: [[String?]]
    var change: String?
}

/// Valid files of many shapes, for the mutations to start from.
private let seeds: [String] = [
    #"{"_default": {"1": {"key": "size:1--md5:aa", "url": "https://tus.example/files/aa", "stored_at": 1750000000.5}, "2": {"key": "b", "url": "http:\/\/x\/b"}}}"#,
    #"{"_default":{"3":{"url":"u3","key":"k3","stored_at":1500000000},"10":{"key":"k10","url":"u10","extra":{"n":[1,2.5e3,-0,true,false,null]}},"x":{"key":"odd"}}}"#,
    "{\n  \"other\": {\"1\": {\"a\": [1, {\"b\": \"\\u00e9\\ud83d\\ude00\"}]}},\n  \"_default\": {\n    \"1\": {\"key\": \"caf\\u00e9\", \"url\": \"http://x/\\\"q\\\"\"},\n    \"2\": {\"key\": \"tab\\t\", \"url\": \"u\", \"stored_at\": 12}\n  },\n  \"z\": {}\n}\n",
    #"{"_default": {"5": {"key": "a", "url": "u", "stored_at": "not a number"}, "-1": {"key": "neg", "url": "n"}, "7": {"key": "a", "url": "second"}}}"#,
    #"{"_default": {}, "t": {"1": {"key": "not in default", "url": "u"}}}"#,
    "\u{FEFF}{\"_default\": {\"1\": {\"key\": \"ключ ✓\", \"url\": \"http://x/ü\", \"stored_at\": 1e9}}}",
    "{}",
    "",
]

private let interesting: [[UInt8]] = [
    "{", "}", "[", "]", "\"", "\\", ",", ":", " ", "\n", "\t", "0", "1", "9", "-", "+", ".", "e", "E", "u",
    "\\u", "\\ud800", "\\udc00", "\\u0041", "\\\"", "t", "f", "n", "null", "true", "false", "NaN", "1e999",
    "\"key\"", "\"url\"", "\"stored_at\"", "\"_default\"", "\"1\"", "\"01\"", "{}", "[]", "\"\": 1,",
].map { Array($0.utf8) } + [[0x00], [0x1F], [0x7F], [0x80], [0xC3], [0xA9], [0xC3, 0xA9], [0xED, 0xA0, 0x80], [0xF0, 0x9F], [0xFF], [0xEF, 0xBB, 0xBF]]

private func mutated(_ seed: [UInt8], using random: inout SplitMix64) -> [UInt8] {
    var bytes = seed
    for _ in 0..<Int.random(in: 1...3, using: &random) {
        let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<6, using: &random) {
        case 0 where !bytes.isEmpty:
            bytes[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
        case 1 where !bytes.isEmpty:
            bytes.replaceSubrange(at...at, with: interesting.randomElement(using: &random)!)
        case 2:
            bytes.insert(contentsOf: interesting.randomElement(using: &random)!, at: at)
        case 3 where !bytes.isEmpty:
            let end = min(bytes.count, at + Int.random(in: 1...8, using: &random))
            bytes.removeSubrange(at..<end)
        case 4 where !bytes.isEmpty:
            let end = min(bytes.count, at + Int.random(in: 1...24, using: &random))
            let copy = Array(bytes[at..<end])
            bytes.insert(contentsOf: copy, at: Int.random(in: 0...bytes.count, using: &random))
        default:
            bytes.removeSubrange(Int.random(in: 0...bytes.count, using: &random)...)
        }
    }
    return bytes
}

@Suite struct FileStorageOracleTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    /// Asks the judge about `cases` (each: `input`, and for a change,
    /// `result` and `op`).
    private func judged(_ cases: [[String: Any]]) throws -> [JudgeAnswer] {
        let request = folder.newPath("request.json"), answer = folder.newPath("answer.json")
        try JSONSerialization.data(withJSONObject: cases).write(to: URL(fileURLWithPath: request))
        let python = try runProcess("/usr/bin/env", ["python3", "-c", judge, request, answer], timeout: 120)
        guard python.status == 0 else { throw TestError.missing("the Python judge failed: \(python.stderr)") }
        return try JSONDecoder().decode([JudgeAnswer].self, from: Data(contentsOf: URL(fileURLWithPath: answer)))
    }

    @Test func theScannerAgreesWithPythonsJSONOnMutatedFiles() async throws {
        var random = SplitMix64(state: 0x5EED_1234)
        var inputs: [[UInt8]] = seeds.map { Array($0.utf8) }
        for index in 0..<1500 {
            inputs.append(mutated(Array(seeds[index % seeds.count].utf8), using: &random))
        }
        let accepted = try await agreeWithTheJudge(inputs)
        // The mutations must leave enough valid and invalid files to compare.
        #expect(accepted >= 200, "only \(accepted) mutated files were valid")
        #expect(accepted <= inputs.count - 200, "only \(inputs.count - accepted) mutated files were invalid")
    }

    /// The fuzz target `tinydb` (`scripts/fuzz`, `Fuzz/TinyDB.swift`) judges
    /// the scanner by `JSONSerialization`, which cannot run Python in its
    /// loop; its corpus, hand-made seeds and what fuzzing found, is judged
    /// by Python here.
    @Test func theFuzzCorpusAgreesWithPythonsJSON() async throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/Corpus/tinydb").standardizedFileURL
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        let inputs = try names.map { [UInt8](try Data(contentsOf: folder.appendingPathComponent($0))) }
        #expect(inputs.count >= 10, "the corpus at \(folder.path) has \(inputs.count) files")
        let accepted = try await agreeWithTheJudge(inputs)
        #expect(accepted >= 5 && accepted < inputs.count, "\(accepted) of \(inputs.count) files of the corpus are valid")
    }

    /// Checks that the store accepts exactly the files the judge accepts,
    /// and reads the same entries and lookups from them; returns how many
    /// it accepted.
    private func agreeWithTheJudge(_ inputs: [[UInt8]]) async throws -> Int {
        let answers = try judged(inputs.map { ["input": Data($0).base64EncodedString()] })
        // One instance reads them all, one after another in the same file,
        // so its snapshot must notice every new content.
        let path = folder.newPath("fuzz.json")
        let store = try FileStorage(path: path)
        var accepted = 0
        for (index, (input, answer)) in zip(inputs, answers).enumerated() {
            let shown = String(decoding: input.prefix(300), as: UTF8.self).debugDescription
            try writeStore(input, to: path)
            let entries: [StoredUpload]
            do {
                entries = try await store.entries()
            } catch let error as TusError where error.code == .corruptStore {
                #expect(!answer.ok, "case \(index): the store refused \(shown): \(error.message)")
                continue
            }
            #expect(answer.ok, "case \(index): the store accepted \(shown)")
            guard answer.ok else { continue }
            accepted += 1
            #expect(entries.count == answer.entries.count, "case \(index): \(shown)")
            for (mine, theirs) in zip(entries, answer.entries) {
                #expect(mine.key == theirs[0] && mine.url == theirs[1], "case \(index): \(mine) against \(theirs)")
                // As dates: `Date` keeps its time from 2001, so a time far
                // from then may not read back to the same number of seconds.
                #expect(mine.storedAt == theirs[2].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)), "case \(index): \(mine) against \(theirs)")
            }
            for lookup in answer.lookups {
                let found = try await store.url(forKey: lookup[0]!)
                #expect(found == lookup[1], "case \(index): url(forKey: \(lookup[0]!.debugDescription)) in \(shown)")
            }
        }
        return accepted
    }

    @Test func changesToMutatedFilesAreWhatTinyDBWouldMake() async throws {
        var random = SplitMix64(state: 0xC0FF_EE00)
        var cases: [[String: Any]] = []
        var attempts = 0
        while cases.count < 120 && attempts < 3000 {
            attempts += 1
            let input = attempts <= seeds.count
                ? Array(seeds[attempts - 1].utf8)
                : mutated(Array(seeds[attempts % seeds.count].utf8), using: &random)
            let path = folder.newPath("change.json")
            try writeStore(input, to: path)
            let store = try FileStorage(path: path)
            guard let entries = try? await store.entries() else { continue }
            let existing = entries.randomElement(using: &random)?.key
            var op: [String: Any]
            do {
                switch Int.random(in: 0..<4, using: &random) {
                case 0 where existing != nil:
                    op = ["kind": "set", "key": existing!, "url": "http://x/changed", "stamp": 1234.5]
                    try await store.setURL("http://x/changed", forKey: existing!, storedAt: Date(timeIntervalSince1970: 1234.5))
                case 1 where existing != nil:
                    op = ["kind": "remove", "key": existing!]
                    try await store.removeURL(forKey: existing!)
                case 2:
                    op = ["kind": "prune", "cutoff": 1.6e9]
                    _ = try await store.removeEntries(storedBefore: Date(timeIntervalSince1970: 1.6e9))
                default:
                    let key = ["new", "nouvelle clé \u{e9}", "quote\"back\\slash", "😀", ""].randomElement(using: &random)!
                    op = ["kind": "set", "key": key, "url": "http://x/ü/\(cases.count)", "stamp": 99.25]
                    try await store.setURL("http://x/ü/\(cases.count)", forKey: key, storedAt: Date(timeIntervalSince1970: 99.25))
                }
            } catch {
                Issue.record("a change to a file the store read failed: \(error); the file: \(String(decoding: input, as: UTF8.self).debugDescription)")
                continue
            }
            cases.append([
                "input": Data(input).base64EncodedString(),
                "result": Data(try fileBytes(path)).base64EncodedString(),
                "op": op,
            ])
        }
        #expect(cases.count == 120)
        for (index, answer) in try judged(cases).enumerated() {
            #expect(answer.ok, "case \(index): the judge refused a file the store accepted")
            #expect(answer.change == "ok", "case \(index): \(answer.change ?? "no change checked")")
        }
    }
}
