import Testing
import TusProtocol

@Suite struct UploadMetadataCodecTests {
    @Test func aHeaderHasItsKeysSortedAndAnEmptyValueAsTheKeyAlone() throws {
        let header = try UploadMetadataCodec.encode(["filetype": "text/plain", "filename": "a.txt", "is_confidential": ""])
        #expect(header == "filename YS50eHQ=,filetype dGV4dC9wbGFpbg==,is_confidential")
    }

    @Test func noMetadataIsNoHeader() throws {
        #expect(try UploadMetadataCodec.encode([:]) == nil)
    }

    @Test(arguments: [
        ["filename": "a.txt", "filetype": "text/plain"],
        ["empty": "", "other": "x"],
        ["name": "Grüße, 世界 🎉", "spaces": " a value, with a comma "],
        ["k": "line one\nline two\u{0}"],
        ["~!#$%&'*+-.^_`|": "every printable ASCII that may be in a key"],
    ])
    func metadataSurvivesARoundTrip(metadata: [String: String]) throws {
        let header = try #require(try UploadMetadataCodec.encode(metadata))
        #expect(UploadMetadataCodec.decode(header) == metadata)
    }

    @Test func nonASCIIValuesAreTheBase64OfTheirUTF8() throws {
        #expect(try UploadMetadataCodec.encode(["name": "Grüße, 世界 🎉"]) == "name R3LDvMOfZSwg5LiW55WMIPCfjok=")
    }

    @Test(arguments: [
        ("", "a metadata key is empty"),
        ("a b", #"metadata key "a b" contains a space or a comma, which tus does not allow"#),
        ("a,b", #"metadata key "a,b" contains a space or a comma, which tus does not allow"#),
        ("naïve", #"metadata key "naïve" must be printable ASCII"#),
        ("tab\there", #"metadata key "tab\there" must be printable ASCII"#),
        ("bell\u{7}", #"metadata key "bell\u{07}" must be printable ASCII"#),
        ("del\u{7f}", #"metadata key "del\u{7F}" must be printable ASCII"#),
    ])
    func keysTusCannotCarryAreRefusedWithAReason(key: String, message: String) {
        let encoding = #expect(throws: UploadMetadataCodec.InvalidKey.self) {
            try UploadMetadataCodec.encode([key: "value", "fine": "value"])
        }
        #expect(encoding?.key == key)
        #expect(encoding?.message == message)
        let validating = #expect(throws: UploadMetadataCodec.InvalidKey.self) {
            try UploadMetadataCodec.validate(key: key)
        }
        #expect(validating?.message == message)
    }

    @Test func decodingToleratesWhitespaceAroundPairs() {
        #expect(UploadMetadataCodec.decode("  a YQ== ,\tb  ") == ["a": "a", "b": ""])
    }

    @Test(arguments: ["", "   "])
    func aBlankHeaderIsNoMetadata(header: String) {
        #expect(UploadMetadataCodec.decode(header) == [:])
    }

    @Test(arguments: [
        "filename not*base64",  // a value that is not base64
        "a YQ==,a Yg==",  // a key twice
        "a YQ==,,b Yg==",  // an empty pair
        "a YQ==,",  // a trailing comma
        ",a YQ==",  // a leading comma
        "a YQ== extra",  // three words
        "a  YQ==",  // two spaces make three words
        "ké YQ==",  // a key that is not ASCII
        "a\u{7f} YQ==",  // DEL in a key
        "a\tb YQ==",  // a tab inside a key
        "a YQ",  // base64 without its padding
    ])
    func decodingRefusesWhatTheServerRefuses(header: String) {
        #expect(UploadMetadataCodec.decode(header) == nil)
    }

    @Test func aValueThatIsNotUTF8IsReadWithReplacementCharacters() {
        // 0xff 0xfe: base64 "//4=".
        #expect(UploadMetadataCodec.decode("raw //4=") == ["raw": "\u{FFFD}\u{FFFD}"])
    }
}
