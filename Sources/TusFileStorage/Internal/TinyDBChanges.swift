/// The result of a change: the file's new bytes and their index.
struct TinyDBChange {
    var bytes: [UInt8]
    var index: TinyDBIndex
}

/// Text that replaces a range of the old bytes; an empty range inserts.
struct Splice {
    var range: Range<Int>
    var text: [UInt8]

    /// The new bytes: `old` with `splices` (sorted, not overlapping) made.
    static func apply(_ splices: [Splice], to old: UnsafeRawBufferPointer) -> [UInt8] {
        let count = old.count + splices.reduce(0) { $0 + $1.text.count - $1.range.count }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let output = UnsafeMutableRawPointer(buffer.baseAddress!)
            var written = 0, from = 0
            func copy(_ source: UnsafeRawBufferPointer) {
                guard !source.isEmpty else { return }
                (output + written).copyMemory(from: source.baseAddress!, byteCount: source.count)
                written += source.count
            }
            for splice in splices {
                copy(UnsafeRawBufferPointer(rebasing: old[from..<splice.range.lowerBound]))
                splice.text.withUnsafeBytes { copy($0) }
                from = splice.range.upperBound
            }
            copy(UnsafeRawBufferPointer(rebasing: old[from...]))
            initialized = written
        }
    }

    /// Where an offset into the old bytes lands in the new ones. An `end`
    /// offset (just after something) stays before text inserted right at
    /// it; a start offset moves after it. Offsets inside a replaced range
    /// have no place and must not be asked for.
    static func map(_ offset: Int, isEnd: Bool, through splices: [Splice]) -> Int {
        var delta = 0
        for splice in splices {
            let lower = splice.range.lowerBound, upper = splice.range.upperBound
            guard offset >= upper && (offset > lower || !isEnd) else { break }
            delta += splice.text.count - splice.range.count
        }
        return offset + delta
    }
}

extension TinyDBIndex {
    // MARK: Changes

    /// Sets the URL (and time) of every document stored under `key`, as
    /// TinyDB's update does, or adds a document at the highest id + 1.
    /// Nil when nothing changes.
    func settingURL(_ url: String, forKey key: String, storedAt stamp: Double?, in file: UnsafeRawBufferPointer) throws(FormatError) -> TinyDBChange? {
        if isBlank {
            var text = Array("{\"\(Self.defaultTable)\": {".utf8)
            Self.appendMember(id: 1, key: key, url: url, storedAt: stamp, to: &text)
            text.append(contentsOf: "}}".utf8)
            return try Self.reindexed(text)
        }
        if tableOpen == -1 {
            var text: [UInt8] = []
            if topLastEnd != -1 { JSONText.appendComma(to: &text) }
            text.append(contentsOf: "\"\(Self.defaultTable)\": {".utf8)
            Self.appendMember(id: 1, key: key, url: url, storedAt: stamp, to: &text)
            text.append(UInt8(ascii: "}"))
            // Inserted, so that white space inside an empty object is kept.
            let range = topLastEnd != -1 ? topLastEnd..<topLastEnd : (topOpen + 1)..<(topOpen + 1)
            return try reindexed(file, byteOrderMarkSplice + [Splice(range: range, text: text)])
        }

        let positions = Self.withUTF8(key) { keyBytes in
            var positions: [Int] = []
            var next = firstPosition(ofKey: keyBytes, hash: Self.hash(keyBytes), in: file) ?? -1
            while next != -1 {
                positions.append(next)
                next = Int(nextSameKey[next])
            }
            return positions
        }
        if positions.isEmpty {
            return try appending(url, forKey: key, storedAt: stamp, in: file)
        }

        // Rewrite each document that changes; their other fields are kept
        // byte for byte.
        var changed: [(document: Int, text: [UInt8], key: TextRef, url: TextRef)] = []
        let urlBytes = Array(url.utf8)
        for position in positions {
            let documentIndex = Int(order[position])
            let document = documents[documentIndex]
            let sameURL = urlBytes.withUnsafeBytes { equals(document.url, $0, in: file) }
            let sameTime = stamp == nil ? !document.hasStoredAt : document.storedAt == stamp
            if sameURL && sameTime { continue }
            let (text, keyOffset, urlRef) = try rewritten(document, url: url, storedAt: stamp, in: file)
            var keyRef = document.key
            if keyRef.isInFile { keyRef.offset = keyOffset }
            changed.append((documentIndex, text, keyRef, urlRef))
        }
        if changed.isEmpty { return nil }
        changed.sort { $0.document < $1.document }

        var splices = byteOrderMarkSplice
        for change in changed {
            let document = documents[change.document]
            splices.append(Splice(range: document.valueStart..<document.valueEnd, text: change.text))
        }
        let bytes = Splice.apply(splices, to: file)
        var index = shifted(through: splices)
        for change in changed {
            var document = index.documents[change.document]
            let start = Splice.map(documents[change.document].valueStart, isEnd: false, through: splices)
            document.valueStart = start
            document.valueEnd = start + change.text.count
            document.key = change.key
            if change.key.isInFile { document.key.offset += start }
            document.url = change.url
            document.url.offset += start
            document.storedAt = stamp
            document.hasStoredAt = stamp != nil
            index.documents[change.document] = document
        }
        return TinyDBChange(bytes: bytes, index: index)
    }

    /// Adds a document for `key` at the highest id + 1.
    private func appending(_ url: String, forKey key: String, storedAt stamp: Double?, in file: UnsafeRawBufferPointer) throws(FormatError) -> TinyDBChange {
        let id = maxID + 1
        if id >= Self.idLimit {
            // A document at that id is one no read counts as an entry (and
            // it may clash with one already there under that name): refuse
            // rather than store a URL no read finds.
            throw FormatError(reason: "its document ids have reached \(maxID), the highest this store gives a new entry")
        }
        var text: [UInt8] = []
        let range: Range<Int>
        if let last = documents.last {
            JSONText.appendComma(to: &text)
            range = last.valueEnd..<last.valueEnd
        } else {
            range = (tableOpen + 1)..<(tableOpen + 1)
        }
        let memberOffset = text.count
        let (keyRef, urlRef, valueOffset) = Self.appendMember(
            id: id, key: key, url: url, storedAt: stamp, to: &text)
        var splices = byteOrderMarkSplice
        splices.append(Splice(range: range, text: text))
        let bytes = Splice.apply(splices, to: file)
        var index = shifted(through: splices)
        let start = Splice.map(range.lowerBound, isEnd: true, through: splices)
        var document = Document(
            id: id, memberStart: start + memberOffset, valueStart: start + valueOffset, valueEnd: start + text.count,
            key: keyRef, url: urlRef, storedAt: stamp, hasStoredAt: stamp != nil, keyHash: 0)
        document.url.offset += start
        if keyRef.kind == .escaped {
            // Keys are kept decoded.
            document.key = TextRef(offset: index.decoded.count, count: key.utf8.count, kind: .decoded)
            index.decoded.append(contentsOf: key.utf8)
        } else {
            document.key.offset += start
        }
        document.keyHash = Self.withUTF8(key) { Self.hash($0) }
        index.documents.append(document)
        index.order.append(Int32(index.documents.count - 1))
        index.maxID = id
        bytes.withUnsafeBytes { index.appendNewKey(in: $0) }
        return TinyDBChange(bytes: bytes, index: index)
    }

    /// Removes every document stored under `key`; returns how many.
    func removingURL(forKey key: String, in file: UnsafeRawBufferPointer) throws(FormatError) -> (TinyDBChange?, Int) {
        let removed: [Int] = Self.withUTF8(key) { keyBytes in
            var removed: [Int] = []
            var next = firstPosition(ofKey: keyBytes, hash: Self.hash(keyBytes), in: file) ?? -1
            while next != -1 {
                removed.append(Int(order[next]))
                next = Int(nextSameKey[next])
            }
            return removed
        }
        return (try removing(removed, in: file), removed.count)
    }

    /// Removes the entries whose stored time is known and before `cutoff`
    /// (seconds since 1970); returns how many.
    func removingEntries(storedBefore cutoff: Double, in file: UnsafeRawBufferPointer) throws(FormatError) -> (TinyDBChange?, Int) {
        var removed: [Int] = []
        for index in order {
            if let stamp = documents[Int(index)].storedAt, stamp < cutoff { removed.append(Int(index)) }
        }
        return (try removing(removed, in: file), removed.count)
    }

    /// Removes the members of `_default` at `removed` (indexes into
    /// `documents`), with one comma each.
    private func removing(_ removed: [Int], in file: UnsafeRawBufferPointer) throws(FormatError) -> TinyDBChange? {
        guard !removed.isEmpty else { return nil }
        let gone = Set(removed)
        var splices = byteOrderMarkSplice
        if gone.count == documents.count {
            splices.append(Splice(range: documents[0].memberStart..<documents[documents.count - 1].valueEnd, text: []))
        } else {
            let lastKept = documents.indices.last { !gone.contains($0) }!
            for index in gone.sorted() where index < lastKept {
                // The member, its comma and the space up to the next member.
                splices.append(Splice(range: documents[index].memberStart..<documents[index + 1].memberStart, text: []))
            }
            if lastKept < documents.count - 1 {
                // The trailing members, with the comma before the first.
                splices.append(Splice(range: documents[lastKept].valueEnd..<documents[documents.count - 1].valueEnd, text: []))
            }
        }
        return try reindexed(file, splices)
    }

    // MARK: Helpers

    /// The splice that drops a byte-order mark, which Python's `json`
    /// refuses; none when there is none.
    private var byteOrderMarkSplice: [Splice] {
        byteOrderMark == 0 ? [] : [Splice(range: 0..<byteOrderMark, text: [])]
    }

    /// `file` with `splices` made, indexed by a new scan.
    private func reindexed(_ file: UnsafeRawBufferPointer, _ splices: [Splice]) throws(FormatError) -> TinyDBChange {
        try Self.reindexed(Splice.apply(splices, to: file))
    }

    private static func reindexed(_ bytes: [UInt8]) throws(FormatError) -> TinyDBChange {
        let index = try bytes.withBytes { (buffer) throws(FormatError) in try TinyDBParser.index(buffer) }
        return TinyDBChange(bytes: bytes, index: index)
    }

    /// This index with every offset moved to where `splices` put it.
    /// Documents inside a replaced range must be fixed by the caller.
    private func shifted(through splices: [Splice]) -> TinyDBIndex {
        var index = self
        index.byteOrderMark = 0
        index.topOpen = Splice.map(topOpen, isEnd: false, through: splices)
        index.topClose = Splice.map(topClose, isEnd: false, through: splices)
        if topLastEnd != -1 { index.topLastEnd = Splice.map(topLastEnd, isEnd: true, through: splices) }
        index.tableOpen = Splice.map(tableOpen, isEnd: false, through: splices)
        index.tableClose = Splice.map(tableClose, isEnd: false, through: splices)
        index.documents.withUnsafeMutableBufferPointer { documents in
            for position in documents.indices {
                var document = documents[position]
                document.memberStart = Splice.map(document.memberStart, isEnd: false, through: splices)
                document.valueStart = Splice.map(document.valueStart, isEnd: false, through: splices)
                document.valueEnd = Splice.map(document.valueEnd, isEnd: true, through: splices)
                if document.key.isPresent && document.key.isInFile {
                    document.key.offset = Splice.map(document.key.offset, isEnd: false, through: splices)
                }
                if document.url.isPresent && document.url.isInFile {
                    document.url.offset = Splice.map(document.url.offset, isEnd: false, through: splices)
                }
                documents[position] = document
            }
        }
        return index
    }

    /// `document` written again with `url` and `stamp` (none: no
    /// `stored_at`), its other fields copied byte for byte. Returns the text,
    /// where the key's characters start in it, and where the URL is in it.
    private func rewritten(_ document: Document, url: String, storedAt stamp: Double?, in file: UnsafeRawBufferPointer) throws(FormatError) -> (text: [UInt8], keyOffset: Int, url: TextRef) {
        let members = try TinyDBParser.members(ofDocumentAt: document.valueStart, in: file)
        var text: [UInt8] = [UInt8(ascii: "{")]
        var keyOffset = -1, urlRef = TextRef.absent
        var wroteURL = false, wroteStamp = false
        func separate() {
            if text.count > 1 { JSONText.appendComma(to: &text) }
        }
        func appendURL() {
            urlRef = Self.appendString(url, to: &text)
            wroteURL = true
        }
        for member in members {
            if member.field == .storedAt && stamp == nil { continue }
            separate()
            text.append(contentsOf: UnsafeRawBufferPointer(rebasing: file[member.nameStart..<member.nameEnd]))
            JSONText.appendColon(to: &text)
            switch member.field {
            case .url where !wroteURL:
                appendURL()
            case .storedAt where !wroteStamp:
                JSONText.appendNumber(stamp!, to: &text)
                wroteStamp = true
            default:
                if member.field == .key {
                    keyOffset = text.count + 1
                }
                text.append(contentsOf: UnsafeRawBufferPointer(rebasing: file[member.valueStart..<member.valueEnd]))
            }
        }
        if !wroteURL {
            separate()
            text.append(contentsOf: "\"url\"".utf8)
            JSONText.appendColon(to: &text)
            appendURL()
        }
        if let stamp, !wroteStamp {
            separate()
            JSONText.appendString(Self.storedAtField, to: &text)
            JSONText.appendColon(to: &text)
            JSONText.appendNumber(stamp, to: &text)
        }
        text.append(UInt8(ascii: "}"))
        return (text, keyOffset, urlRef)
    }

    /// Appends `string` as JSON; returns where its characters are in `text`.
    private static func appendString(_ string: String, to text: inout [UInt8]) -> TextRef {
        let start = text.count
        JSONText.appendString(string, to: &text)
        let count = text.count - start - 2
        return TextRef(offset: start + 1, count: count, kind: count == string.utf8.count ? .plain : .escaped)
    }

    /// Appends `"id": {"key": …, "url": …, "stored_at": …}`. Returns where
    /// the key and URL are in `text`, and where the document starts.
    @discardableResult
    private static func appendMember(id: Int, key: String, url: String, storedAt stamp: Double?, to text: inout [UInt8]) -> (key: TextRef, url: TextRef, valueOffset: Int) {
        text.append(contentsOf: "\"\(id)\": ".utf8)
        let valueOffset = text.count
        text.append(contentsOf: "{\"key\": ".utf8)
        let keyRef = appendString(key, to: &text)
        text.append(contentsOf: ", \"url\": ".utf8)
        let urlRef = appendString(url, to: &text)
        if let stamp {
            text.append(contentsOf: ", \"\(storedAtField)\": ".utf8)
            JSONText.appendNumber(stamp, to: &text)
        }
        text.append(UInt8(ascii: "}"))
        return (keyRef, urlRef, valueOffset)
    }
}
