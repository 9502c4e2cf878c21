import Foundation
import TusProtocol

/// HTTP dates, read by ``TusProtocol/HTTPDate`` (IMF-fixdate by hand, the
/// obsolete forms with date formatters); under this name so the client's
/// files need not import `TusProtocol`.
enum HTTPDate {
    /// The date `text` names in any of the three forms, or nil.
    static func parse(_ text: String) -> Date? {
        TusProtocol.HTTPDate.parse(text)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` exactly, or nil.
    static func parseIMFFixdate(_ text: String) -> Date? {
        TusProtocol.HTTPDate.parseIMFFixdate(text)
    }
}
