// Fuzz target `tinydb`: the JSON store's scanner (`TinyDBParser`) and its
// changes (`TinyDBIndex.settingURL`, `removingURL`, `removingEntries`).
//
// Properties, for every input:
// - What the scanner accepts is JSON that Foundation's `JSONSerialization`
//   also reads, TinyDB-shaped, with the same entries (key, URL, time, in id
//   order) and the same answer to `url(forKey:)` for every key. What the
//   scanner refuses as not JSON, `JSONSerialization` refuses too, except
//   trailing commas, which it tolerates. Messages say which of the two.
// - Every change to an accepted file (set a stored key with and without a
//   time, set a new key, remove a key, remove an absent key, prune by time)
//   gives bytes that scan again, to an index equal to the one the change
//   worked out itself, holding exactly the entries the change should leave;
//   every byte outside the documents it rewrites, adds or removes is kept.
//
// Python's `json` module is the other judge: `FileStorageOracleTests` feeds
// this target's corpus to it.
import Foundation
@testable import TusFileStorage

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = size == 0 ? [] : Array(UnsafeBufferPointer(start: data!, count: size))
    checkScan(input)
    return 0
}

// MARK: The entries, as a model

/// An entry as the store reports it, strings as bytes (keys are compared
/// byte for byte, never normalised).
struct Entry: Equatable, CustomStringConvertible {
    var id: Int
    var key: [UInt8]
    var url: [UInt8]?
    var storedAt: Double?

    var description: String {
        "\(id): \(String(decoding: key, as: UTF8.self).debugDescription) → \(url.map { String(decoding: $0, as: UTF8.self).debugDescription } ?? "no URL") at \(storedAt.map { "\($0)" } ?? "no time")"
    }
}

/// The ids TinyDB could have made, as the store reads them (`Int(_:)`, up to
/// its limit).
func tinyDBID(_ name: String) -> Int? {
    guard let value = Int(name), name.utf8.allSatisfy({ $0 != UInt8(ascii: " ") }) else { return nil }
    return value >= 0 && value < TinyDBIndex.idLimit ? value : nil
}

/// The documents of `_default` with an id and a string key, by id, as the
/// index holds them.
func indexedEntries(_ index: TinyDBIndex, _ file: UnsafeRawBufferPointer) -> [Entry] {
    index.order.map { position in
        let document = index.documents[Int(position)]
        return Entry(
            id: document.id,
            key: index.withBytes(of: document.key, in: file) { Array($0) },
            url: document.url.isPresent ? index.withBytes(of: document.url, in: file) { Array($0) } : nil,
            storedAt: document.storedAt)
    }
}

// MARK: The oracle: JSONSerialization

enum Oracle {
    case accepted(Any)
    /// A number beyond `Double`: valid JSON that `JSONSerialization` refuses.
    case unrepresentableNumber
    case refused(String)

    init(_ bytes: [UInt8]) {
        // JSONSerialization takes NUL bytes and byte-order marks for signs
        // of UTF-16 or UTF-32, which no store file is: in UTF-8 JSON a NUL
        // is never valid, nor is 0xFE or 0xFF.
        if bytes.contains(0) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
            self = .refused("not UTF-8")
            return
        }
        do {
            self = .accepted(try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]))
        } catch {
            let reason = ((error as NSError).userInfo["NSDebugDescription"] as? String) ?? "\(error)"
            self = reason.hasPrefix("Number ") && reason.contains("is not representable") ? .unrepresentableNumber : .refused(reason)
        }
    }
}

/// `true` and `false` are `NSNumber`s too; a time must be a number.
func isBoolean(_ value: Any) -> Bool {
    String(describing: type(of: value)).contains("Boolean")
}

/// A time as the store must read it: a finite number that is not a Boolean.
func time(_ value: Any?) -> Double? {
    guard let value, !isBoolean(value), let number = value as? NSNumber else { return nil }
    let double = number.doubleValue
    return double.isFinite ? double : nil
}

/// Whether two readings of one number agree: exactly, except that Foundation
/// reads integers beyond `Int64` as `Decimal`, whose conversion to `Double`
/// may miss by an ulp or two.
func sameTime(_ mine: Double?, _ oracle: Double?, oracleValue: Any?) -> Bool {
    guard let mine, let oracle else { return mine == nil && oracle == nil }
    if mine == oracle { return true }
    return oracleValue is NSDecimalNumber && abs(mine - oracle) <= 4 * mine.ulp
}

/// The entries `JSONSerialization` sees in a TinyDB file it read (checking
/// the shape the scanner must have checked), with the raw `stored_at`
/// values beside them.
func oracleEntries(_ value: Any, _ shown: () -> String) -> [(entry: Entry, rawTime: Any?)] {
    guard let top = value as? [String: Any] else { propertyFailed("the scanner accepted a file whose top level is not an object: \(shown())") }
    for (name, table) in top {
        require(table is [String: Any], "the scanner accepted table \(name.debugDescription), which is not an object: \(shown())")
    }
    guard let table = top[TinyDBIndex.defaultTable] as? [String: Any] else { return [] }
    var found: [(entry: Entry, rawTime: Any?)] = []
    for (name, document) in table {
        guard let document = document as? [String: Any] else {
            propertyFailed("the scanner accepted document \(name.debugDescription), which is not an object: \(shown())")
        }
        guard let id = tinyDBID(name), let key = document["key"] as? String else { continue }
        let entry = Entry(id: id, key: Array(key.utf8), url: (document["url"] as? String).map { Array($0.utf8) }, storedAt: time(document["stored_at"]))
        found.append((entry, document["stored_at"]))
    }
    return found.sorted { $0.entry.id < $1.entry.id }
}

/// Whether the text has a ',' right before a ']' or '}' (white space
/// between), outside strings: `JSONSerialization` reads that, JSON does not.
func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
    var inString = false, escaped = false, afterComma = false
    for byte in bytes {
        if inString {
            if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true; afterComma = false
        case UInt8(ascii: ","): afterComma = true
        case UInt8(ascii: "]"), UInt8(ascii: "}"): if afterComma { return true }
        case 0x20, 0x09, 0x0A, 0x0D: break
        default: afterComma = false
        }
    }
    return false
}

// MARK: Scanning

func scan(_ bytes: [UInt8]) -> Result<TinyDBIndex, FormatError> {
    bytes.withUnsafeBytes { file in Result { () throws(FormatError) in try TinyDBParser.index(file) } }
}

func shownBytes(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.prefix(400), as: UTF8.self).debugDescription + (bytes.count > 400 ? "…" : "")
}

func checkScan(_ input: [UInt8]) {
    let shown = { shownBytes(input) }
    let oracle = Oracle(input)
    let index: TinyDBIndex
    switch scan(input) {
    case .failure(let error):
        let notJSON = error.reason.hasPrefix("it is not valid JSON (")
        let notTinyDB = error.reason.hasPrefix("it is JSON but not a TinyDB database (")
        require(notJSON || notTinyDB, "an unexpected message: \(error.reason)")
        if case .accepted = oracle, notJSON {
            require(hasTrailingComma(input), "the scanner refused as not JSON (\(error.reason)) what JSONSerialization reads: \(shown())")
        }
        if notTinyDB, case .refused(let reason) = oracle {
            propertyFailed("the scanner called JSON (\(error.reason)) what JSONSerialization refuses (\(reason)): \(shown())")
        }
        return
    case .success(let found):
        index = found
    }

    let blank = input.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    require(index.isBlank == blank, "isBlank is \(index.isBlank) for \(shown())")
    let entries = input.withUnsafeBytes { indexedEntries(index, $0) }
    if blank {
        require(entries.isEmpty, "a blank file has entries")
    } else {
        switch oracle {
        case .refused(let reason):
            propertyFailed("the scanner accepted what JSONSerialization refuses (\(reason)): \(shown())")
        case .unrepresentableNumber:
            break
        case .accepted(let value):
            let expected = oracleEntries(value, shown)
            require(entries.count == expected.count, "entries \(entries) where JSONSerialization sees \(expected.map(\.entry)) in \(shown())")
            for (mine, (theirs, raw)) in zip(entries, expected) {
                require(mine.id == theirs.id && mine.key == theirs.key && mine.url == theirs.url
                    && sameTime(mine.storedAt, theirs.storedAt, oracleValue: raw),
                    "entry \(mine) where JSONSerialization sees \(theirs) in \(shown())")
            }
        }
    }
    input.withUnsafeBytes { file in checkLookups(index, file, entries, shown) }
    checkChanges(input, index, entries)
}

/// `url(forKey:)` answers with the lowest-id document of each key, and
/// `entries(in:)` lists the documents with a URL.
func checkLookups(_ index: TinyDBIndex, _ file: UnsafeRawBufferPointer, _ entries: [Entry], _ shown: () -> String) {
    var first: [[UInt8]: Entry] = [:]
    for entry in entries where first[entry.key] == nil { first[entry.key] = entry }
    for (key, entry) in first {
        let url = index.url(forKey: String(decoding: key, as: UTF8.self), in: file)
        if String(validating: key, as: UTF8.self) != nil {
            require(url.map { Array($0.utf8) } == entry.url.map { String(decoding: $0, as: UTF8.self) }.map { Array($0.utf8) },
                    "url(forKey:) of \(entry) is \(url.debugDescription) in \(shown())")
        }
    }
    let listed = index.entries(in: file)
    let withURL = entries.filter { $0.url != nil }
    require(listed.count == withURL.count, "entries(in:) lists \(listed.count), not \(withURL.count), in \(shown())")
    for (mine, entry) in zip(listed, withURL) {
        require(Array(mine.key.utf8) == Array(String(decoding: entry.key, as: UTF8.self).utf8)
            && mine.storedAt == entry.storedAt.map(Date.init(timeIntervalSince1970:)), "entries(in:) lists \(mine) for \(entry) in \(shown())")
    }
}

// MARK: Changes

/// A key no document of the file holds, of several kinds.
let newKeys = ["new-key", "", "caf\u{E9}", "cafe\u{301}", "quote\"back\\slash\n", "\u{0}", "\u{1F600}", "size:1--md5:0f343b09"]
let newURL = "https://tus.example/files/\u{E9}\u{1F600}\"\\\u{7}/end"

func checkChanges(_ input: [UInt8], _ index: TinyDBIndex, _ entries: [Entry]) {
    // Valid UTF-8 keys only: a key is a Swift string.
    let keys = entries.map(\.key).filter { String(validating: $0, as: UTF8.self) != nil }
    var seed = input.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 }
    func pick<T>(_ values: [T]) -> T {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return values[Int((seed >> 33) % UInt64(values.count))]
    }
    let stamps: [Double] = [1_764_044_549.123, 0, -1.5, 0.1 + 0.2, 1e-7, 1e16, 1e300, .leastNonzeroMagnitude, 42]

    if let key = keys.isEmpty ? nil : pick(keys) {
        let text = String(decoding: key, as: UTF8.self)
        let stamp = pick(stamps)
        let documents = entries.filter { $0.key == key }
        checkSet(input, index, entries, key: text, url: newURL, stamp: stamp)
        checkSet(input, index, entries, key: text, url: newURL, stamp: nil)
        // Setting what is there changes nothing.
        if let url = documents[0].url, documents.allSatisfy({ $0.url == url && $0.storedAt == documents[0].storedAt }),
           let time = documents[0].storedAt, String(validating: url, as: UTF8.self) != nil {
            let hasOddTimes = input.withUnsafeBytes { file in
                index.order.contains { index.documents[Int($0)].hasStoredAt && index.documents[Int($0)].storedAt == nil }
            }
            if !hasOddTimes {
                let change = input.withUnsafeBytes { file in try? index.settingURL(String(decoding: url, as: UTF8.self), forKey: text, storedAt: time, in: file) }
                require(change == nil, "setting the stored URL and time of \(text.debugDescription) again changed \(shownBytes(input))")
            }
        }
        checkRemove(input, index, entries, key: text)
    }
    let absent = newKeys.first { key in !entries.contains { $0.key == Array(key.utf8) } }!
    checkSet(input, index, entries, key: absent, url: newURL, stamp: pick(stamps))
    let (removed, count) = input.withUnsafeBytes { file in (try? index.removingURL(forKey: absent, in: file)) ?? (nil, -1) }
    require(removed == nil && count == 0, "removing an absent key changed \(shownBytes(input))")
    let times = entries.compactMap(\.storedAt)
    checkPrune(input, index, entries, cutoff: times.isEmpty ? 1e9 : pick(times) + pick([0, 1e-9, 1]))
}

/// The change's own index must be what a scan of its bytes finds.
func checkIndex(_ change: TinyDBChange, _ what: String, _ input: [UInt8]) -> TinyDBIndex {
    let shown = { "\(what) in \(shownBytes(input)), giving \(shownBytes(change.bytes))" }
    let fresh: TinyDBIndex
    switch scan(change.bytes) {
    case .failure(let error): propertyFailed("the file no longer scans (\(error.reason)) after \(shown())")
    case .success(let found): fresh = found
    }
    let mine = change.index
    require(mine.isBlank == fresh.isBlank && mine.byteOrderMark == fresh.byteOrderMark && mine.topOpen == fresh.topOpen
        && mine.topClose == fresh.topClose && mine.topLastEnd == fresh.topLastEnd && mine.tableOpen == fresh.tableOpen
        && mine.tableClose == fresh.tableClose && mine.maxID == fresh.maxID && mine.order == fresh.order
        && mine.documents.count == fresh.documents.count,
        "the change's index differs from a scan's: top \(mine.topOpen)…\(mine.topClose) last \(mine.topLastEnd) table \(mine.tableOpen)…\(mine.tableClose) max id \(mine.maxID) order \(mine.order) against \(fresh.topOpen)…\(fresh.topClose) last \(fresh.topLastEnd) table \(fresh.tableOpen)…\(fresh.tableClose) max id \(fresh.maxID) order \(fresh.order), after \(shown())")
    change.bytes.withUnsafeBytes { file in
        for (a, b) in zip(mine.documents, fresh.documents) {
            require(a.id == b.id && a.memberStart == b.memberStart && a.valueStart == b.valueStart && a.valueEnd == b.valueEnd
                && a.key.isPresent == b.key.isPresent && a.url.isPresent == b.url.isPresent
                && a.hasStoredAt == b.hasStoredAt && a.storedAt == b.storedAt,
                "document \(b.id) at \(b.valueStart) is indexed as \(a) instead of \(b) after \(shown())")
            if a.key.isPresent {
                require(mine.withBytes(of: a.key, in: file) { Array($0) } == fresh.withBytes(of: b.key, in: file) { Array($0) }
                    && (b.id < 0 || a.keyHash == b.keyHash),
                    "document \(b.id)'s key is indexed wrongly after \(shown())")
            }
            if a.url.isPresent {
                require(mine.withBytes(of: a.url, in: file) { Array($0) } == fresh.withBytes(of: b.url, in: file) { Array($0) },
                        "document \(b.id)'s URL is indexed wrongly after \(shown())")
            }
        }
        // Every key leads to the same documents, in the same order.
        for position in fresh.order.indices {
            let key = fresh.withBytes(of: fresh.documents[Int(fresh.order[position])].key, in: file) { Array($0) }
            let chain = { (index: TinyDBIndex) -> [Int32] in
                key.withUnsafeBytes { bytes in
                    var found: [Int32] = []
                    var next = index.firstPosition(ofKey: bytes, hash: TinyDBIndex.hash(bytes), in: file) ?? -1
                    while next != -1 && found.count <= index.order.count {
                        found.append(index.order[next])
                        next = Int(index.nextSameKey[next])
                    }
                    return found
                }
            }
            require(chain(mine) == chain(fresh), "the documents of key \(shownBytes(key)) are \(chain(mine)), not \(chain(fresh)), after \(shown())")
        }
    }
    return fresh
}

/// The bytes that replace a byte-order mark: none.
func withoutMark(_ input: [UInt8]) -> [UInt8] {
    input.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(input.dropFirst(3)) : input
}

func checkEntries(_ change: TinyDBChange, _ expected: [Entry], _ what: String, _ input: [UInt8]) {
    let found = change.bytes.withUnsafeBytes { indexedEntries(change.index, $0) }
    require(found == expected, "after \(what) in \(shownBytes(input)) the entries are \(found), not \(expected); the file: \(shownBytes(change.bytes))")
    // And Foundation reads the new file alike.
    if case .accepted(let value) = Oracle(change.bytes) {
        let theirs = oracleEntries(value) { shownBytes(change.bytes) }.map(\.entry)
        require(theirs.map(\.key) == expected.map(\.key) && theirs.map(\.url) == expected.map(\.url),
                "after \(what) JSONSerialization sees \(theirs), not \(expected): \(shownBytes(change.bytes))")
    } else if case .accepted = Oracle(input) {
        propertyFailed("after \(what) JSONSerialization no longer reads the file: \(shownBytes(change.bytes))")
    }
}

func checkSet(_ input: [UInt8], _ index: TinyDBIndex, _ entries: [Entry], key: String, url: String, stamp: Double?) {
    let what = "setting \(key.debugDescription) to \(url.debugDescription) at \(stamp.map { "\($0)" } ?? "no time")"
    let result = input.withUnsafeBytes { file in Result { () throws(FormatError) in try index.settingURL(url, forKey: key, storedAt: stamp, in: file) } }
    let change: TinyDBChange
    switch result {
    case .failure(let error):
        // A new entry past the highest id the store gives is refused.
        let isNew = !entries.contains { $0.key == Array(key.utf8) }
        if isNew && index.maxID + 1 >= TinyDBIndex.idLimit && error.reason.contains("document ids have reached") { return }
        propertyFailed("\(what) failed (\(error.reason)) in \(shownBytes(input))")
    case .success(nil):
        // Nothing to change: every document of the key holds it already.
        let documents = entries.filter { $0.key == Array(key.utf8) }
        require(!documents.isEmpty && documents.allSatisfy { $0.url == Array(url.utf8) && $0.storedAt == stamp },
                "\(what) changed nothing in \(shownBytes(input))")
        return
    case .success(let found?):
        change = found
    }
    let fresh = checkIndex(change, what, input)
    let keyBytes = Array(key.utf8), urlBytes = Array(url.utf8)
    var expected = entries
    let old = withoutMark(input), new = change.bytes
    if entries.contains(where: { $0.key == keyBytes }) {
        for position in expected.indices where expected[position].key == keyBytes {
            expected[position].url = urlBytes
            expected[position].storedAt = stamp
        }
        checkEntries(change, expected, what, input)
        // Only the documents of the key are rewritten: the bytes between
        // them are the old ones, and each keeps its other fields.
        require(index.documents.count == fresh.documents.count, "\(what) added or removed documents")
        let shift = input.count - old.count
        var rebuilt: [UInt8] = []
        var from = 0
        for (before, after) in zip(index.documents, fresh.documents)
        where !input[before.valueStart..<before.valueEnd].elementsEqual(new[after.valueStart..<after.valueEnd]) {
            rebuilt += old[from..<(before.valueStart - shift)]
            rebuilt += new[after.valueStart..<after.valueEnd]
            from = before.valueEnd - shift
            let isTheKey = input.withUnsafeBytes { file in before.key.isPresent && before.id >= 0 && index.withBytes(of: before.key, in: file) { Array($0) } == keyBytes }
            require(isTheKey, "\(what) rewrote document \(before.id), which is not the key's: \(shownBytes(new))")
            checkRewritten(Array(input[before.valueStart..<before.valueEnd]), Array(new[after.valueStart..<after.valueEnd]), url: url, stamp: stamp, what)
        }
        rebuilt += old[from...]
        require(rebuilt == new, "\(what) changed bytes outside the key's documents: \(shownBytes(input)) became \(shownBytes(new))")
    } else {
        let id = index.maxID + 1
        require(id < TinyDBIndex.idLimit, "\(what) added a document at id \(id), which no read counts")
        expected.append(Entry(id: id, key: keyBytes, url: urlBytes, storedAt: stamp))
        checkEntries(change, expected, what, input)
        // One insertion: the old bytes before and after it are kept.
        if !index.isBlank {
            require(new.count > old.count, "\(what) made the file shorter")
            let grown = new.count - old.count
            var common = 0
            while common < old.count && old[common] == new[common] { common += 1 }
            require(old[common...].elementsEqual(new[(common + grown)...]),
                    "\(what) changed more than one place: \(shownBytes(input)) became \(shownBytes(new))")
            let last = fresh.documents.last!
            require(last.id == id, "\(what) did not add the document at the end of the table")
        }
    }
}

/// A rewritten document is the old one with the URL and time replaced.
func checkRewritten(_ before: [UInt8], _ after: [UInt8], url: String, stamp: Double?, _ what: String) {
    guard case .accepted(let old) = Oracle(before), case .accepted(let new) = Oracle(after),
          var expected = old as? [String: Any], var found = new as? [String: Any] else { return }
    expected["url"] = url
    expected["stored_at"] = nil
    let foundTime = found.removeValue(forKey: "stored_at")
    require(NSDictionary(dictionary: expected).isEqual(to: found) && (foundTime == nil) == (stamp == nil)
        && (stamp == nil || sameTime(stamp, time(foundTime), oracleValue: foundTime)),
        "\(what) rewrote \(shownBytes(before)) as \(shownBytes(after))")
}

func checkRemove(_ input: [UInt8], _ index: TinyDBIndex, _ entries: [Entry], key: String) {
    let what = "removing \(key.debugDescription)"
    let keyBytes = Array(key.utf8)
    let result = input.withUnsafeBytes { file in Result { () throws(FormatError) in try index.removingURL(forKey: key, in: file) } }
    guard case .success(let (change, count)) = result else { propertyFailed("\(what) failed in \(shownBytes(input))") }
    let removed = entries.filter { $0.key == keyBytes }
    require(count == removed.count, "\(what) removed \(count), not \(removed.count), documents")
    guard let change else { propertyFailed("\(what) changed nothing in \(shownBytes(input))") }
    checkRemoval(change, input, index, entries.filter { $0.key != keyBytes }, what)
}

func checkPrune(_ input: [UInt8], _ index: TinyDBIndex, _ entries: [Entry], cutoff: Double) {
    let what = "removing entries stored before \(cutoff)"
    let result = input.withUnsafeBytes { file in Result { () throws(FormatError) in try index.removingEntries(storedBefore: cutoff, in: file) } }
    guard case .success(let (change, count)) = result else { propertyFailed("\(what) failed in \(shownBytes(input))") }
    let kept = entries.filter { !($0.storedAt.map { $0 < cutoff } ?? false) }
    require(count == entries.count - kept.count, "\(what) removed \(count), not \(entries.count - kept.count), documents")
    guard let change else {
        require(count == 0, "\(what) removed \(count) documents without a change")
        return
    }
    checkRemoval(change, input, index, kept, what)
}

/// After a removal the file is the old one less the removed members and
/// their separators: every kept document, and everything outside the
/// table, byte for byte.
func checkRemoval(_ change: TinyDBChange, _ input: [UInt8], _ index: TinyDBIndex, _ expected: [Entry], _ what: String) {
    let fresh = checkIndex(change, what, input)
    checkEntries(change, expected, what, input)
    let old = withoutMark(input), new = change.bytes, shift = input.count - old.count
    require(old[..<(index.tableOpen - shift)].elementsEqual(new[..<fresh.tableOpen])
        && old[(index.tableClose - shift)...].elementsEqual(new[fresh.tableClose...]),
        "\(what) changed bytes outside the table: \(shownBytes(input)) became \(shownBytes(new))")
    // The kept members, in order, and only separators between them.
    var kept = index.documents.makeIterator()
    var rest: [UInt8] = []
    var from = fresh.tableOpen + 1
    for document in fresh.documents {
        rest += new[from..<document.memberStart]
        from = document.valueEnd
        var match = false
        while let before = kept.next() {
            if input[before.memberStart..<before.valueEnd].elementsEqual(new[document.memberStart..<document.valueEnd]) {
                match = true
                break
            }
        }
        require(match, "\(what) changed a kept document: \(shownBytes(Array(new[document.memberStart..<document.valueEnd])))")
    }
    rest += new[from..<fresh.tableClose]
    require(rest.allSatisfy { [0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ",")].contains($0) },
            "\(what) left more than separators between the kept documents: \(shownBytes(new))")
    var position = 0
    for byte in new {
        while position < old.count && old[position] != byte { position += 1 }
        require(position < old.count, "\(what) added bytes: \(shownBytes(input)) became \(shownBytes(new))")
        position += 1
    }
}
