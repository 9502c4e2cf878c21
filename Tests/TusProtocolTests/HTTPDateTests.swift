import Foundation
import Testing
import TusProtocol

@Suite struct HTTPDateTests {
    /// Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example.
    private let example = Date(timeIntervalSince1970: 784_111_777)

    @Test func datesAreWrittenAsIMFFixdate() {
        #expect(HTTPDate.format(example) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        // Fractions of a second are dropped, not rounded.
        #expect(HTTPDate.format(example.addingTimeInterval(0.9)) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850
        "Sun Nov  6 08:49:37 1994",  // asctime
    ])
    func theThreeFormsParse(text: String) {
        #expect(HTTPDate.parse(text) == example)
    }

    @Test(arguments: [
        0, 784_111_777, 951_868_799, 4_107_564_428, -26_488_128, -1, 1_700_000_000,
        -30_610_224_000,  // 1000-01-01 00:00:00
        253_402_300_799,  // 9999-12-31 23:59:59
    ] as [TimeInterval])
    func datesSurviveFormatThenParse(seconds: TimeInterval) throws {
        let date = Date(timeIntervalSince1970: seconds)
        let text = HTTPDate.format(date)
        #expect(HTTPDate.parseIMFFixdate(text) == date, "\(text)")
        #expect(HTTPDate.parse(text) == date, "\(text)")
    }

    /// Found by fuzzing (`scripts/fuzz http-date`): a year before 1000 was
    /// written with fewer than four digits (`Mon, 01 Jan 1 00:00:00 GMT`),
    /// which is not IMF-fixdate; `parse` then read it with `DateFormatter`,
    /// whose Julian calendar before 1582 put it two days earlier.
    @Test(arguments: [
        (-62_135_596_800, "Mon, 01 Jan 0001 00:00:00 GMT"),
        (-46_374_377_355, "Tue, 15 Jun 0500 12:30:45 GMT"),
        (-30_610_224_001, "Tue, 31 Dec 0999 23:59:59 GMT"),
    ] as [(TimeInterval, String)])
    func yearsBeforeTheYear1000AreWrittenWithFourDigits(seconds: TimeInterval, expected: String) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(HTTPDate.format(date) == expected)
        #expect(HTTPDate.parseIMFFixdate(expected) == date)
        #expect(HTTPDate.parse(HTTPDate.format(date)) == date)
    }

    @Test func datesBeyondTheYear9999AreWrittenAsItsLastSecond() {
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 1e15)) == "Fri, 31 Dec 9999 23:59:59 GMT")
    }

    @Test(arguments: [
        "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nev 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun,  06 Nov 1994 08:49:37 GMT", "tomorrow",
        // Found by fuzzing (`scripts/fuzz http-date`): signs were taken
        // for digits.
        "Fri, 31 Dec 9999 +3:59:59 GMT", "Sun, +6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov -994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:-9:37 GMT",
    ])
    func malformedDatesAreNotIMFFixdates(text: String) {
        #expect(HTTPDate.parseIMFFixdate(text) == nil)
    }

    /// Found by fuzzing (`scripts/fuzz http-date`): `DateFormatter` stopped
    /// the process (`Fatal error: Incorrect range`) on this text, which any
    /// server could send as `Upload-Expires`.
    @Test func textThatIsNotASCIIIsNoDateAndStopsNothing() {
        #expect(HTTPDate.parse("Fri, 31\u{5BB}ec 9993 28:59:5G GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT\u{301}") == nil)
    }

    @Test(arguments: ["", "tomorrow", "Sun, 06 Nev 1994 08:49:37 GMT", "1994-11-06T08:49:37Z"])
    func whatIsNoDateIsNil(text: String) {
        #expect(HTTPDate.parse(text) == nil)
    }

    private func formatterDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "Tue, 29 Feb 2000 23:59:59 GMT",
        "Wed, 31 Dec 2025 12:00:01 GMT", "Mon, 01 Mar 2100 06:07:08 GMT", "Fri, 28 Feb 1969 10:11:12 GMT",
    ])
    func imfFixdatesReadAsADateFormatterReadsThem(text: String) throws {
        let expected = try #require(formatterDate(text))
        #expect(HTTPDate.parse(text) == expected)
        #expect(HTTPDate.parseIMFFixdate(text) == expected)
    }
}
