import Foundation

/// A file's media type from its extension, for the `filetype` metadata.
enum MediaType {
    private static let types: [String: String] = [
        "txt": "text/plain", "csv": "text/csv", "html": "text/html", "json": "application/json",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
        "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
        "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/x-matroska",
        "mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac",
    ]

    /// The `filename` and `filetype` metadata sent for the file at `path`.
    static func metadata(forPath path: String) -> [String: String] {
        ["filename": (path as NSString).lastPathComponent, "filetype": guess(forPath: path)]
    }

    static func guess(forPath path: String) -> String {
        types[(path as NSString).pathExtension.lowercased()] ?? "application/octet-stream"
    }
}
