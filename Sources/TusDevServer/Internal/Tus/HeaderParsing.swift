import Foundation

/// What the server reads from request headers beyond the tus wire format
/// (which is in `TusProtocol`).
enum HeaderParsing {
    /// Whether a `Content-Type` value names `application/offset+octet-stream`
    /// (parameters after `;` are ignored).
    static func isOffsetOctetStream(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/offset+octet-stream"
    }
}
