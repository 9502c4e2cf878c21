import Foundation

extension URL {
    /// The URL as the tool's messages show it: a password in it as `***`.
    var shown: String {
        guard password != nil, var parts = URLComponents(url: self, resolvingAgainstBaseURL: true) else { return absoluteString }
        parts.password = "***"
        return parts.string ?? absoluteString
    }
}
