import Foundation

/// The byte counts of tus headers (`Upload-Offset`, `Upload-Length`,
/// `Tus-Max-Size`) and of `Content-Length`.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum NonNegativeInteger {
    /// The value of `text` if it is ASCII digits only (no sign, no spaces)
    /// and fits in `Int64`; `nil` otherwise.
    ///
    /// Callers that tolerate spaces around the value trim them first.
    package static func parse(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            return nil
        }
        return Int64(text)
    }

    /// ``parse(_:)`` of `text` with the spaces and tabs around it removed,
    /// as answers' headers are read.
    package static func parseTrimmed(_ text: String) -> Int64? {
        parse(text.trimmingCharacters(in: .whitespaces))
    }
}
