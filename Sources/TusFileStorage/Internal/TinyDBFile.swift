import Foundation

/// The content of a TinyDB database file, as tuspy's `FileStorage` writes it:
/// `{"_default": {"1": {"key": K, "url": U}, ...}, "other table": {...}}`.
///
/// Everything that is not an entry of ours — other tables, unknown fields,
/// documents without a key — is kept as it was and written back unchanged.
struct TinyDBFile: Equatable {
    /// TinyDB's default table, where tuspy keeps its URLs.
    static let defaultTable = "_default"
    /// Our own field: when the entry was stored, in seconds since 1970.
    /// tuspy and TinyDB ignore it.
    static let storedAtField = "stored_at"

    /// Every table but the default one, untouched.
    private var otherTables: [String: JSONValue]
    /// The default table: document id → document.
    private(set) var documents: [(id: Int, fields: [String: JSONValue])]
    /// Ids of the default table that are not integers; TinyDB cannot read
    /// them, we keep them.
    private var oddDocuments: [String: JSONValue]

    static func == (lhs: TinyDBFile, rhs: TinyDBFile) -> Bool {
        lhs.otherTables == rhs.otherTables && lhs.oddDocuments == rhs.oddDocuments
            && lhs.documents.elementsEqual(rhs.documents) { $0.id == $1.id && $0.fields == $1.fields }
    }

    /// An empty database, as a new or 0-byte file is.
    init() {
        otherTables = [:]
        documents = []
        oddDocuments = [:]
    }

    /// The reason a file cannot be used, for the error message.
    struct FormatError: Error {
        var reason: String
    }

    /// Parses a file's bytes. An empty file is an empty database.
    init(contents: Data) throws(FormatError) {
        self.init()
        if contents.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            return
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: contents)
        } catch {
            throw FormatError(reason: "it is not valid JSON")
        }
        guard case .object(var tables) = value else {
            throw FormatError(reason: "it is JSON but not a TinyDB database (the top level is not an object)")
        }
        for (name, table) in tables {
            guard case .object = table else {
                throw FormatError(reason: "it is JSON but not a TinyDB database (table \"\(name)\" is not an object)")
            }
        }
        if case .object(let table) = tables.removeValue(forKey: Self.defaultTable) {
            for (id, document) in table {
                guard case .object(let fields) = document else {
                    throw FormatError(
                        reason: "it is JSON but not a TinyDB database (document \"\(id)\" of table \"_default\" is not an object)"
                    )
                }
                // Ids TinyDB could make, with room to add one.
                if let number = Int(id), number >= 0, number < Int(Int32.max) * 1024 {
                    documents.append((number, fields))
                } else {
                    oddDocuments[id] = document
                }
            }
            documents.sort { $0.id < $1.id }
        }
        otherTables = tables
    }

    /// The file's bytes: UTF-8 JSON, keys sorted, one line, as compact as
    /// TinyDB reads it.
    func encoded() -> Data {
        var table = oddDocuments
        for document in documents {
            table[String(document.id)] = .object(document.fields)
        }
        var tables = otherTables
        tables[Self.defaultTable] = .object(table)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a tree of plain JSON values cannot fail.
        return (try? encoder.encode(JSONValue.object(tables))) ?? Data("{}".utf8)
    }

    /// Whether `fields` is an entry stored under `key`. Keys compare byte for
    /// byte, not by Unicode equivalence, as in every other backend.
    private static func matches(_ fields: [String: JSONValue], key: String) -> Bool {
        guard let stored = fields["key"]?.stringValue else { return false }
        return stored.utf8.elementsEqual(key.utf8)
    }

    /// The URL of the first entry (lowest id) stored under `key`.
    func url(forKey key: String) -> String? {
        for document in documents where Self.matches(document.fields, key: key) {
            return document.fields["url"]?.stringValue
        }
        return nil
    }

    /// Every document that has a string `key` and a string `url`.
    var entries: [(key: String, url: String, storedAt: Date?)] {
        documents.compactMap { document in
            guard let key = document.fields["key"]?.stringValue,
                  let url = document.fields["url"]?.stringValue else { return nil }
            let storedAt = document.fields[Self.storedAtField]?.numberValue.map(Date.init(timeIntervalSince1970:))
            return (key, url, storedAt)
        }
    }

    /// Sets the URL of every document stored under `key`, as TinyDB's update
    /// does, or inserts a new document at the highest id + 1. The stored
    /// time is kept to the millisecond; `nil` leaves the document without one.
    mutating func setURL(_ url: String, forKey key: String, at date: Date?) {
        let stamp = date.map { JSONValue.double(($0.timeIntervalSince1970 * 1000).rounded() / 1000) }
        var found = false
        for index in documents.indices where Self.matches(documents[index].fields, key: key) {
            documents[index].fields["url"] = .string(url)
            documents[index].fields[Self.storedAtField] = stamp
            found = true
        }
        if !found {
            let id = (documents.last?.id ?? 0) + 1
            var fields: [String: JSONValue] = ["key": .string(key), "url": .string(url)]
            fields[Self.storedAtField] = stamp
            documents.append((id, fields))
        }
    }

    /// Removes every document stored under `key`; returns how many.
    @discardableResult
    mutating func removeURL(forKey key: String) -> Int {
        let before = documents.count
        documents.removeAll { Self.matches($0.fields, key: key) }
        return before - documents.count
    }

    /// Removes every entry whose stored time is known and before `date`.
    mutating func removeEntries(storedBefore date: Date) -> Int {
        let cutoff = date.timeIntervalSince1970
        let before = documents.count
        documents.removeAll { document in
            guard document.fields["key"]?.stringValue != nil,
                  let stamp = document.fields[Self.storedAtField]?.numberValue else { return false }
            return stamp < cutoff
        }
        return before - documents.count
    }
}
