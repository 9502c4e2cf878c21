import Testing
import TusProtocol

@Suite struct NonNegativeIntegerTests {
    @Test(arguments: [
        ("0", 0), ("7", 7), ("007", 7), ("1048576", 1_048_576), ("9223372036854775807", Int64.max),
    ] as [(String, Int64)])
    func decimalDigitsAreAByteCount(text: String, value: Int64) {
        #expect(NonNegativeInteger.parse(text) == value)
    }

    @Test(arguments: [
        "", "+1", "-1", "-0", " 1", "1 ", "1 2", "1.5", "1e3", "0x10", "abc",
        "9223372036854775808",  // Int64.max + 1
        "99999999999999999999",  // 20 digits
        "00000000000000000001",  // 20 digits, small value: too long all the same
        "١٢",  // digits, but not ASCII ones
    ])
    func anythingElseIsNot(text: String) {
        #expect(NonNegativeInteger.parse(text) == nil)
    }
}
