package import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// HTTP dates (RFC 9110, section 5.6.7), as in `Upload-Expires`: written as
/// IMF-fixdate, read in that form and the two obsolete ones.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum HTTPDate {
    /// What `parse` tries when the fast path fails: IMF-fixdate again (a
    /// date formatter is more lenient), then the obsolete forms.
    private static let formats = ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"]
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `date` as IMF-fixdate, such as `Sun, 06 Nov 1994 08:49:37 GMT`,
    /// fractions of a second dropped; dates outside the years 1 to 9999 are
    /// moved to the nearest end.
    package static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        let bounded = interval.isFinite ? min(max(interval, -62_135_596_800), 253_402_300_799) : 0
        var seconds = time_t(bounded.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        // IMF-fixdate's year is four digits: 0999, not 999, which no reader
        // takes for IMF-fixdate.
        let year = String(parts.tm_year + 1900)
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(String(repeating: "0", count: 4 - year.count))\(year) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    /// The date `text` names, in any of the three forms
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`,
    /// `Sun Nov  6 08:49:37 1994`), or `nil`.
    package static func parse(_ text: String) -> Date? {
        // Servers send IMF-fixdate; reading it by hand spares making date
        // formatters for every answer.
        if let date = parseIMFFixdate(text) { return date }
        // An HTTP date is ASCII. And Foundation's `DateFormatter` on Linux
        // stops the process (`Incorrect range`) on some text with combining
        // marks, such as a header `Fri, 31\u{5BB}ec 9993 28:59:5G GMT` from a
        // server: it never sees anything else.
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        for format in formats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` exactly (the day's name is not
    /// checked), or `nil`.
    package static func parseIMFFixdate(_ text: String) -> Date? {
        // ASCII digits only: `Int(_:)` also takes a sign (`+3`, `-999`).
        func number(_ digits: Substring) -> Int? {
            digits.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } ? Int(digits) : nil
        }
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].count == 4, parts[0].hasSuffix(","), parts[5] == "GMT",
            parts[1].count == 2, let day = number(parts[1]),
            let month = months.firstIndex(of: String(parts[2])).map({ $0 + 1 }),
            parts[3].count == 4, let year = number(parts[3])
        else { return nil }
        let time = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard time.count == 3, time.allSatisfy({ $0.count == 2 }),
            let hour = number(time[0]), let minute = number(time[1]), let second = number(time[2]),
            (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        // Days since 1970-01-01 of a proleptic Gregorian date.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3_600 + minute * 60 + second))
    }
}
