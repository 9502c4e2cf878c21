import Testing

import TusProtocol

@Suite struct UploadConcatTests {
    @Test func partialAndFinalAreRead() {
        #expect(UploadConcat(headerValue: " partial ") == .partial)
        #expect(UploadConcat(headerValue: "final;/files/a  http://x/files/b\t/files/c") == .final(["/files/a", "http://x/files/b", "/files/c"]))
        #expect(UploadConcat(headerValue: "final;") == nil)
        #expect(UploadConcat(headerValue: "final") == nil)
        #expect(UploadConcat(headerValue: "partial;x") == nil)
    }

    /// Found by fuzzing (`scripts/fuzz server-headers`): the value was split
    /// into characters, and a space followed by a combining mark is one
    /// character, so it did not separate two URLs; one URL held a space.
    @Test func aSpaceBeforeACombiningMarkStillSeparatesURLs() throws {
        let concat = try #require(UploadConcat(headerValue: "final;/files/a \u{301}/files/b"))
        #expect(concat == .final(["/files/a", "\u{301}/files/b"]))
        #expect(UploadConcat(headerValue: concat.headerValue) == concat)
        // The first URL may start with such a mark too.
        let first = try #require(UploadConcat(headerValue: "final; \u{301}/files/a"))
        #expect(first == .final(["\u{301}/files/a"]))
        #expect(UploadConcat(headerValue: first.headerValue) == first)
    }
}
