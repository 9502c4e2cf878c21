import Foundation

extension URL {
    /// The URL as messages and logs show it: a password in it is replaced
    /// by `***`, so no message ever holds one.
    var forMessages: String {
        guard password != nil, var parts = URLComponents(url: self, resolvingAgainstBaseURL: true) else { return absoluteString }
        parts.password = "***"
        return parts.string ?? absoluteString
    }
}
