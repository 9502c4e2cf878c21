import Foundation

/// The reason a file cannot be used, for the error message.
struct FormatError: Error {
    var reason: String
}

/// Where a string's characters are.
struct TextRef: Equatable {
    enum Kind: UInt8 {
        /// In the file, as they are: the JSON text has no escape.
        case plain
        /// In the file, as JSON text with escapes, decoded when used.
        case escaped
        /// Decoded, in the index's `decoded` buffer.
        case decoded
    }

    /// Offset of the first byte; -1 when there is no such string.
    var offset: Int
    /// How many bytes, there (for `escaped`, of JSON text).
    var count: Int
    var kind: Kind

    static let absent = TextRef(offset: -1, count: 0, kind: .plain)
    var isPresent: Bool { offset >= 0 }
    /// Whether `offset` is into the file, and so moves with it.
    var isInFile: Bool { kind != .decoded }
}

/// What a scan of a TinyDB file found: the place of every structure a change
/// touches, and each document of the `_default` table with its `key`, `url`
/// and `stored_at`. Offsets are into the bytes that were scanned; everything
/// else in the file is known only to be valid JSON and is copied verbatim.
///
/// The index holds plain values only (no strings), so a change copies its
/// arrays with `memcpy` and no reference counting.
struct TinyDBIndex {
    /// TinyDB's default table, where tuspy keeps its URLs.
    static let defaultTable = "_default"
    /// This store's own field: when the entry was stored, in seconds since
    /// 1970. tuspy and TinyDB ignore it.
    static let storedAtField = "stored_at"

    /// One member of the `_default` table.
    struct Document {
        /// The TinyDB document id; -1 when the member's name is not an id
        /// TinyDB could have made (the document is kept but is never an entry).
        var id: Int
        /// Offset of the opening quote of the member's name.
        var memberStart: Int
        /// Offset of the document's `{`.
        var valueStart: Int
        /// Offset just after the document's `}`.
        var valueEnd: Int
        /// The `key` field, when it is a string.
        var key: TextRef
        /// The `url` field, when it is a string.
        var url: TextRef
        /// The `stored_at` field as a number, when it is a finite one.
        var storedAt: Double?
        /// Whether the document has a `stored_at` field of any type.
        var hasStoredAt: Bool
        /// The hash of the key's UTF-8 (valid when `key` is present).
        var keyHash: Int
    }

    /// Whether the file holds nothing but white space (or nothing).
    var isBlank = true
    /// 3 when the file starts with a UTF-8 byte-order mark, else 0.
    var byteOrderMark = 0
    /// Offset of the top-level object's `{` and `}`.
    var topOpen = -1
    var topClose = -1
    /// Offset just after the value of the top-level object's last member;
    /// -1 when it has none.
    var topLastEnd = -1
    /// Offset of the `_default` table's `{` and `}`; -1 when there is none.
    var tableOpen = -1
    var tableClose = -1
    /// The members of `_default`, in file order.
    var documents: [Document] = []
    /// The documents with a string `key` and an integer id, by id: indexes
    /// into `documents`.
    var order: [Int32] = []
    /// For each position in `order`, the next position holding the same key,
    /// or -1.
    var nextSameKey: [Int32] = []
    /// Open-addressing hash table of keys: position in `order` + 1 of the
    /// first (lowest id) document of each key, 0 when the slot is free.
    var slots: [Int32] = []
    /// The highest integer id in `_default`, 0 when there is none.
    var maxID = 0
    /// UTF-8 of the strings that had escapes in the file.
    var decoded: [UInt8] = []

    /// The largest document id this store counts from: ids at or above it
    /// (or negative, or not numbers) are kept but never used for new ids.
    static let idLimit = Int(Int32.max) * 1024

    // MARK: Keys

    /// This process's seed for key hashes, so that no file can be made to
    /// collide in every process.
    private static let seed = UInt64.random(in: .min ... .max)

    /// The hash of a key's UTF-8: a multiply-rotate over 8-byte words with
    /// a final mix (`Hasher`'s SipHash costs more than the rest of a scan).
    static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var state = seed ^ (UInt64(bytes.count) &* multiplier)
        var offset = 0
        let count = bytes.count
        if let base = bytes.baseAddress {
            while offset + 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                state = ((state ^ word) &* multiplier).rotatedLeft(by: 29)
                offset += 8
            }
            if offset < count {
                var word: UInt64 = 0
                for index in offset..<count { word = word << 8 | UInt64(base.load(fromByteOffset: index, as: UInt8.self)) }
                state = ((state ^ word) &* multiplier).rotatedLeft(by: 29)
            }
        }
        // splitmix64's finaliser, so the low bits (the table slot) mix well.
        state = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
        state = (state ^ (state >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int(truncatingIfNeeded: state ^ (state >> 31))
    }

    /// Calls `body` with the UTF-8 of `ref`.
    @inline(__always)
    func withBytes<R>(of ref: TextRef, in file: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch ref.kind {
        case .plain:
            return body(UnsafeRawBufferPointer(rebasing: file[ref.offset..<(ref.offset + ref.count)]))
        case .decoded:
            return decoded.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[ref.offset..<(ref.offset + ref.count)])) }
        case .escaped:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(ref.count)
            JSONText.decode(file.baseAddress!.assumingMemoryBound(to: UInt8.self), from: ref.offset, to: ref.offset + ref.count, into: &bytes)
            return bytes.withUnsafeBytes(body)
        }
    }

    /// The string `ref` points at, or nil when it is absent.
    func string(_ ref: TextRef, in file: UnsafeRawBufferPointer) -> String? {
        guard ref.isPresent else { return nil }
        return withBytes(of: ref, in: file) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `ref` holds exactly the bytes `other`.
    func equals(_ ref: TextRef, _ other: UnsafeRawBufferPointer, in file: UnsafeRawBufferPointer) -> Bool {
        // Escaped text is longer than what it stands for.
        guard ref.isPresent, ref.kind == .escaped ? ref.count > other.count : ref.count == other.count else { return false }
        return withBytes(of: ref, in: file) { bytes in
            bytes.count == other.count && (other.isEmpty || memcmp(bytes.baseAddress!, other.baseAddress!, other.count) == 0)
        }
    }

    /// The position in `order` of the lowest-id document stored under the
    /// key whose UTF-8 is `key`, or nil.
    func firstPosition(ofKey key: UnsafeRawBufferPointer, hash: Int, in file: UnsafeRawBufferPointer) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var slot = hash & mask
        while true {
            let stored = Int(slots[slot])
            if stored == 0 { return nil }
            let document = documents[Int(order[stored - 1])]
            if document.keyHash == hash && equals(document.key, key, in: file) { return stored - 1 }
            slot = (slot + 1) & mask
        }
    }

    /// Rebuilds `slots` and `nextSameKey` from `order`.
    mutating func buildKeyTable(in file: UnsafeRawBufferPointer) {
        var size = 16
        while size < order.count * 2 { size *= 2 }
        slots = [Int32](repeating: 0, count: size)
        nextSameKey = [Int32](repeating: -1, count: order.count)
        // The last position seen of each key, to chain duplicates in order.
        var lastOfKey: [Int: Int] = [:]
        for position in order.indices {
            insertKey(at: position, in: file, lastOfKey: &lastOfKey)
        }
    }

    /// Adds the document at `position` of `order` to the key table; keys seen
    /// before get the position chained after their last one.
    private mutating func insertKey(at position: Int, in file: UnsafeRawBufferPointer, lastOfKey: inout [Int: Int]) {
        let document = documents[Int(order[position])]
        let mask = slots.count - 1
        var slot = document.keyHash & mask
        while true {
            let stored = Int(slots[slot])
            if stored == 0 {
                slots[slot] = Int32(position + 1)
                return
            }
            let other = documents[Int(order[stored - 1])]
            if other.keyHash == document.keyHash,
               withBytes(of: document.key, in: file, { equals(other.key, $0, in: file) }) {
                // A key held by several documents: append to its chain.
                var last = lastOfKey[stored - 1] ?? (stored - 1)
                while nextSameKey[last] != -1 { last = Int(nextSameKey[last]) }
                nextSameKey[last] = Int32(position)
                lastOfKey[stored - 1] = position
                return
            }
            slot = (slot + 1) & mask
        }
    }

    /// Adds a document appended at the end of `order` (a new, highest id)
    /// whose key no other document has.
    mutating func appendNewKey(in file: UnsafeRawBufferPointer) {
        nextSameKey.append(-1)
        if order.count * 2 > slots.count {
            buildKeyTable(in: file)
            return
        }
        var unused: [Int: Int] = [:]
        insertKey(at: order.count - 1, in: file, lastOfKey: &unused)
    }

    // MARK: Reading

    /// The URL of the lowest-id document stored under `key`.
    func url(forKey key: String, in file: UnsafeRawBufferPointer) -> String? {
        Self.withUTF8(key) { keyBytes in
            let hash = Self.hash(keyBytes)
            guard let position = firstPosition(ofKey: keyBytes, hash: hash, in: file) else { return nil }
            return string(documents[Int(order[position])].url, in: file)
        }
    }

    /// Every document with a string `key` and `url`, in id order.
    func entries(in file: UnsafeRawBufferPointer) -> [(key: String, url: String, storedAt: Date?)] {
        var result: [(key: String, url: String, storedAt: Date?)] = []
        result.reserveCapacity(order.count)
        for index in order {
            let document = documents[Int(index)]
            guard document.url.isPresent, let key = string(document.key, in: file),
                  let url = string(document.url, in: file) else { continue }
            result.append((key, url, document.storedAt.map(Date.init(timeIntervalSince1970:))))
        }
        return result
    }

    /// Calls `body` with the UTF-8 of `string`.
    static func withUTF8<R>(_ string: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let result = string.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        var copy = string
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable { body(UnsafeRawBufferPointer($0)) }!
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotatedLeft(by count: UInt64) -> UInt64 {
        self << count | self >> (64 - count)
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes`, keeping the type of the error `body` throws.
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withUnsafeBytes { buffer in Result { () throws(E) in try body(buffer) } }.get()
    }
}
