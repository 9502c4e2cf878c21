import Foundation

/// An `Upload-Concat` value (the tus `concatenation` extension): `partial`,
/// or `final;` followed by the parts' URLs, absolute or paths, in order,
/// separated by spaces.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum UploadConcat: Equatable, Sendable {
    /// `partial`: an upload meant to be joined into a final one.
    case partial
    /// `final;<url> <url> …`: the parts' URLs as the client wrote them.
    case final([String])

    /// Reads a header value; `nil` if it is neither `partial` nor `final;`
    /// with at least one URL. Whitespace around the value and runs of spaces
    /// between URLs are tolerated.
    package init?(headerValue: String) {
        let value = headerValue.trimmingCharacters(in: .whitespaces)
        if value == "partial" {
            self = .partial
            return
        }
        // Unicode scalars, not characters: a space followed by a combining
        // mark is one character, but still a space between two URLs.
        let prefix = "final;".unicodeScalars
        guard value.unicodeScalars.starts(with: prefix) else { return nil }
        let urls = value.unicodeScalars.dropFirst(prefix.count)
            .split(whereSeparator: { $0 == " " || $0 == "\t" })
            .map { String(String.UnicodeScalarView($0)) }
        guard !urls.isEmpty else { return nil }
        self = .final(urls)
    }

    /// The header value: `partial`, or `final;` and the URLs.
    package var headerValue: String {
        switch self {
        case .partial: "partial"
        case .final(let urls): "final;" + urls.joined(separator: " ")
        }
    }
}
