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
        public var url: String?
        public var start: Int64
        public var length: Int64
    }

    /// The key of the file whose parts these are.
    public var fileKey: String
    /// The parts, in the file's order.
    public var parts: [Part]

    /// The key a parts entry is stored under: `fileKey` and `#partials`.
    public static func key(forFileKey fileKey: String) -> String { fileKey + "#partials" }

    /// The entry stored under `key` with `value`, or nil when it is not a
    /// parts entry.
    public init?(key: String, value: String) {
        guard key.hasSuffix("#partials"), let stored = ParallelUpload.decodeAny(value) else { return nil }
        fileKey = String(key.dropLast("#partials".count))
        parts = stored.map { Part(url: $0.url, start: $0.start, length: $0.length) }
    }
}
