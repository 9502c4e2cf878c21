// Fuzz target `http-date`: `HTTPDate`, which writes and reads
// `Upload-Expires`.
//
// - The first 8 bytes, as a number of seconds (and a fraction) within the
//   years 1 to 9999: `format` writes IMF-fixdate exactly
//   (`Sun, 06 Nov 1994 08:49:37 GMT`, 29 characters), which the fast path
//   and `parse` both read back to the same second.
// - The whole input as text: a date `parse` finds is one `format` writes
//   and `parse` reads back to the same second; what the fast path
//   (`parseIMFFixdate`) accepts is a well-formed IMF-fixdate.
import Foundation
@testable import TusProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if bytes.count >= 8 {
        let raw = bytes.loadUnaligned(as: UInt64.self)
        checkFormat(raw)
    }
    if let text = text(bytes) { checkParse(text) }
    return 0
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
let firstSecond: Int64 = -62_135_596_800
let lastSecond: Int64 = 253_402_300_799

let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/// Whether `text` is IMF-fixdate to the letter (RFC 9110, section 5.6.7).
func isIMFFixdate(_ text: String) -> Bool {
    let b = Array(text.utf8)
    guard b.count == 29 else { return false }
    func digits(_ range: Range<Int>) -> Bool { b[range].allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    return days.contains(String(decoding: b[0..<3], as: UTF8.self)) && b[3] == UInt8(ascii: ",") && b[4] == 0x20
        && digits(5..<7) && b[7] == 0x20 && months.contains(String(decoding: b[8..<11], as: UTF8.self)) && b[11] == 0x20
        && digits(12..<16) && b[16] == 0x20 && digits(17..<19) && b[19] == UInt8(ascii: ":") && digits(20..<22)
        && b[22] == UInt8(ascii: ":") && digits(23..<25) && String(decoding: b[25...], as: UTF8.self) == " GMT"
}

func checkFormat(_ raw: UInt64) {
    let span = UInt64(lastSecond - firstSecond + 1)
    let seconds = firstSecond + Int64(raw % span)
    let fraction = Double(raw >> 54) / 1024  // 0 ..< 1, in steps of 1/1024
    let date = Date(timeIntervalSince1970: Double(seconds) + fraction)
    let whole = Date(timeIntervalSince1970: Double(seconds))
    let text = HTTPDate.format(date)
    require(isIMFFixdate(text), "format(\(seconds) s) is \(text.debugDescription), not IMF-fixdate")
    let fast = HTTPDate.parseIMFFixdate(text)
    require(fast == whole, "parseIMFFixdate(\(text.debugDescription)) is \(fast.map { "\($0.timeIntervalSince1970)" } ?? "nil"), not \(seconds) s")
    let parsed = HTTPDate.parse(text)
    require(parsed == whole, "parse(\(text.debugDescription)) is \(parsed.map { "\($0.timeIntervalSince1970)" } ?? "nil"), not \(seconds) s")
}

func checkParse(_ text: String) {
    if HTTPDate.parseIMFFixdate(text) != nil {
        // The day's name is not checked, and the fields' values are read
        // leniently (31 Feb is 3 Mar), but the rest is IMF-fixdate's shape.
        let rest = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        require(rest.count == 2 && rest[0].hasSuffix(",") && isIMFFixdate("Sun, " + rest[1]),
                "parseIMFFixdate accepted \(text.debugDescription)")
    }
    guard let date = HTTPDate.parse(text) else { return }
    let interval = date.timeIntervalSince1970
    require(interval.isFinite, "parse(\(text.debugDescription)) is not a finite date")
    guard interval >= Double(firstSecond) && interval <= Double(lastSecond) else { return }
    let seconds = interval.rounded(.down)
    let again = HTTPDate.parse(HTTPDate.format(date))
    require(again == Date(timeIntervalSince1970: seconds),
            "\(text.debugDescription) is \(interval) s, written \(HTTPDate.format(date).debugDescription), read back as \(again.map { "\($0.timeIntervalSince1970)" } ?? "nil")")
}
