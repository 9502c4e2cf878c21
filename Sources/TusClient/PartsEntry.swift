public import TusCore

/// The store entry of a parallel upload's parts, as another tool sees it.
///
/// A parallel upload (``UploadOptions/parallelUploads``) keeps its parts
/// under the file's key followed by `#partials`, as a JSON list of
/// `{"url", "start", "length"}` objects, until the final upload replaces
/// them. `tus store list` shows such an entry as its parts' URLs.
public struct PartsEntry: Sendable, Equatable {
    /// One part: its URL (nil until the server has created it) and its
    /// range of the file.
    public struct Part: Sendable, Equatable {
        /// The part's upload URL, nil until the server has created it.
        public var url: String?
        /// Where in the file the part starts.
        public var start: Int64
        /// How many bytes of the file the part holds.
        public var length: Int64
    }

    /// The key of the file whose parts these are.
    public var fileKey: String
    /// The parts, in the file's order.
    public var parts: [Part]

    /// The key a parts entry is stored under: `fileKey` and `#partials`.
    public static func key(forFileKey fileKey: String) -> String { fileKey + suffix }

    /// The entry stored under `key` with `value`, or nil when it is not a
    /// parts entry.
    public init?(key: String, value: String) {
        guard key.hasSuffix(Self.suffix), let stored = ParallelUpload.decodeAny(value) else { return nil }
        fileKey = String(key.dropLast(Self.suffix.count))
        parts = stored.map { Part(url: $0.url, start: $0.start, length: $0.length) }
    }

    /// The keys of the parts entries among `entries` that no later upload
    /// goes on from: those whose file's key also holds a URL (the final
    /// upload exists, stored before a run stopped short of removing its
    /// parts), and those whose value is not a list of parts. `tus store
    /// prune` removes them; an upload of the file removes the first kind
    /// itself.
    public static func orphanedKeys(in entries: [StoredUpload]) -> [String] {
        let keys = Set(entries.map(\.key))
        return entries.compactMap { entry in
            guard entry.key.hasSuffix(suffix) else { return nil }
            guard let parts = PartsEntry(key: entry.key, value: entry.url) else { return entry.key }
            return keys.contains(parts.fileKey) ? entry.key : nil
        }
    }

    private static let suffix = "#partials"
}
