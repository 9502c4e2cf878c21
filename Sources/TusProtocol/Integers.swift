/// The byte counts of tus headers (`Upload-Offset`, `Upload-Length`,
/// `Tus-Max-Size`) and of `Content-Length`.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`: public only so those modules can use it, not a product and
/// not the package's API.
public enum NonNegativeInteger {
    /// The value of `text` if it is ASCII digits only (no sign, no spaces)
    /// and fits in `Int64`; `nil` otherwise.
    ///
    /// Callers that tolerate spaces around the value trim them first.
    public static func parse(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            return nil
        }
        return Int64(text)
    }
}
