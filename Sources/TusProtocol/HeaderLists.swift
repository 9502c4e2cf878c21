package import Foundation

/// Headers whose value is a comma-separated list: `Tus-Version`,
/// `Tus-Extension`, `Tus-Checksum-Algorithm`.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum TusHeaderList {
    /// The items of every value given (a header may come several times),
    /// in order, spaces around each removed, empty items left out.
    package static func split(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// The value a list header carries for `items`: `a,b,c`.
    package static func join(_ items: [String]) -> String {
        items.joined(separator: ",")
    }
}

/// The `Location` of a created upload, which a server may give relative to
/// the creation endpoint (`/files/abc`, `abc`) or absolute.
///
/// Part of `TusProtocol`, with `package` access.
package enum TusLocation {
    /// `location` resolved against the URL the request went to, as a
    /// browser resolves a link; nil when it is not a URL.
    package static func resolve(_ location: String, against base: URL) -> URL? {
        let trimmed = location.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        return URL(string: trimmed, relativeTo: base)?.absoluteURL
    }
}
