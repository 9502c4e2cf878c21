import Testing
import TusProtocol

/// The single-value headers of the IETF draft: `Upload-Complete`,
/// `Upload-Offset`, `Upload-Length` and `Upload-Draft-Interop-Version`.
@Suite struct DraftHeaderTests {
    @Test func uploadCompleteIsABoolean() throws {
        #expect(UploadCompleteField.headerValue(true) == "?1")
        #expect(UploadCompleteField.headerValue(false) == "?0")
        for complete in [true, false] {
            #expect(try UploadCompleteField.parse(UploadCompleteField.headerValue(complete)) == complete)
        }
        // Spaces around it and parameters after it change nothing.
        #expect(try UploadCompleteField.parse(" ?1 ") == true)
        #expect(try UploadCompleteField.parse("?0;reason=later") == false)
    }

    @Test(arguments: [
        ("", "Upload-Complete \"\" is empty: expected ?1 (complete) or ?0 (more to come)"),
        ("1", "Upload-Complete \"1\" is an integer, not a boolean: expected ?1 (complete) or ?0 (more to come)"),
        ("true", "Upload-Complete \"true\" is a token, not a boolean: expected ?1 (complete) or ?0 (more to come)"),
        ("\"?1\"", "Upload-Complete \"\\\"?1\\\"\" is a string, not a boolean: expected ?1 (complete) or ?0 (more to come)"),
        ("?2", "Upload-Complete \"?2\" is not a structured-field item: expected ?1 (complete) or ?0 (more to come)"),
        ("?1, ?0", "Upload-Complete \"?1, ?0\" is not a structured-field item: expected ?1 (complete) or ?0 (more to come)"),
    ])
    func aMalformedUploadCompleteIsSaidInWords(value: String, message: String) {
        do {
            let complete = try UploadCompleteField.parse(value)
            Issue.record("\(value) read as \(complete)")
        } catch {
            #expect(error.header == "Upload-Complete")
            #expect(error.description == message)
            #expect(!error.isUnsupportedVersion)
        }
    }

    @Test(arguments: DraftByteCountField.allCases, [Int64(0), 1, 25_000_000, 999_999_999_999_999])
    func byteCountsRoundTrip(field: DraftByteCountField, count: Int64) throws {
        let text = try field.headerValue(count)
        #expect(text == String(count))
        #expect(try field.parse(text) == count)
    }

    @Test func byteCountsAreReadAsStructuredFieldsRead() throws {
        #expect(try DraftByteCountField.uploadOffset.parse(" 25 ") == 25)
        #expect(try DraftByteCountField.uploadOffset.parse("25;a=1") == 25)
        #expect(try DraftByteCountField.uploadLength.parse("007") == 7)
        #expect(DraftByteCountField.uploadOffset.name == "Upload-Offset")
        #expect(DraftByteCountField.uploadLength.name == "Upload-Length")
    }

    @Test(arguments: [
        ("-5", "Upload-Offset \"-5\" is negative: expected a byte count such as 0 or 1024"),
        ("1.5", "Upload-Offset \"1.5\" is a decimal, not an integer: expected a byte count such as 0 or 1024"),
        ("abc", "Upload-Offset \"abc\" is a token, not an integer: expected a byte count such as 0 or 1024"),
        ("12abc", "Upload-Offset \"12abc\" is not a structured-field item: expected a byte count such as 0 or 1024"),
        ("0x10", "Upload-Offset \"0x10\" is not a structured-field item: expected a byte count such as 0 or 1024"),
        ("", "Upload-Offset \"\" is empty: expected a byte count such as 0 or 1024"),
        ("1000000000000000", "Upload-Offset \"1000000000000000\" has more than 15 digits, more than a structured-field integer holds"),
        ("1, 2", "Upload-Offset \"1, 2\" is not a structured-field item: expected a byte count such as 0 or 1024"),
    ])
    func aMalformedUploadOffsetIsSaidInWords(value: String, message: String) {
        do {
            let count = try DraftByteCountField.uploadOffset.parse(value)
            Issue.record("\(value) read as \(count)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func theMessageNamesTheHeaderItWasReadFor() {
        do {
            _ = try DraftByteCountField.uploadLength.parse("?1")
            Issue.record("a boolean read as a length")
        } catch {
            #expect(error.header == "Upload-Length")
            #expect(error.description == "Upload-Length \"?1\" is a boolean, not an integer: expected a byte count such as 0 or 1024")
        }
    }

    @Test func aValueTheHeaderCannotCarryIsNotWritten() {
        #expect(throws: DraftHeaderError(
            header: "Upload-Length", value: "-1", problem: "is negative; it cannot be sent")) {
            try DraftByteCountField.uploadLength.headerValue(-1)
        }
        #expect(throws: DraftHeaderError(
            header: "Upload-Offset", value: "1000000000000000",
            problem: "is more than a structured-field integer holds (999999999999999); it cannot be sent")) {
            try DraftByteCountField.uploadOffset.headerValue(1_000_000_000_000_000)
        }
    }

    @Test func aLongOrUnprintableValueIsShownCutAndEscaped() {
        let long = String(repeating: "x", count: 100)
        do {
            _ = try DraftByteCountField.uploadOffset.parse(long)
            Issue.record("a token read as a count")
        } catch {
            #expect(error.description.hasPrefix("Upload-Offset \"\(String(repeating: "x", count: 60))…\" is a token"))
        }
        do {
            _ = try UploadCompleteField.parse("?1\u{7}\"é")
            Issue.record("a control character taken")
        } catch {
            #expect(error.description.hasPrefix("Upload-Complete \"?1\\u{7}\\\"\\u{e9}\" is not"))
        }
    }

    @Test func theInteropVersionsSpokenAreSixAndEight() throws {
        #expect(DraftInteropVersion.allCases.map(\.rawValue) == [6, 8])
        #expect(DraftInteropVersion.newest == .v8)
        #expect(DraftInteropVersion.v6 < .v8)
        for version in DraftInteropVersion.allCases {
            #expect(try DraftInteropVersion(headerValue: version.headerValue) == version)
        }
        #expect(DraftInteropVersion.v6.headerValue == "6")
        #expect(try DraftInteropVersion(headerValue: " 8 ") == .v8)
    }

    @Test func anotherInteropVersionIsUnsupportedAndAMalformedOneIsNot() {
        for other in ["7", "5", "3", "9", "0"] {
            do {
                _ = try DraftInteropVersion(headerValue: other)
                Issue.record("\(other) was taken")
            } catch {
                #expect(error.isUnsupportedVersion)
                #expect(error.description == "Upload-Draft-Interop-Version \"\(other)\" names an interop version this package does not speak: expected 6 or 8")
            }
        }
        for malformed in ["six", "-6", "6.0", ""] {
            do {
                _ = try DraftInteropVersion(headerValue: malformed)
                Issue.record("\(malformed) was taken")
            } catch {
                #expect(!error.isUnsupportedVersion, "\(malformed)")
                #expect(error.header == "Upload-Draft-Interop-Version")
                #expect(error.description.hasSuffix("expected 6 or 8"), "\(error)")
            }
        }
    }

    @Test func theHeaderNamesAreTheDraftsSpelling() {
        #expect(DraftHeaderName.uploadDraftInteropVersion == "Upload-Draft-Interop-Version")
        #expect(DraftHeaderName.uploadComplete == "Upload-Complete")
        #expect(DraftHeaderName.uploadOffset == "Upload-Offset")
        #expect(DraftHeaderName.uploadLength == "Upload-Length")
        #expect(DraftHeaderName.uploadLimit == "Upload-Limit")
        #expect(DraftStatus.uploadResumptionSupported == 104)
        #expect(DraftStatus.uploadResumptionSupportedReason == "Upload Resumption Supported")
    }

    @Test func partialUploadIsMatchedAsAMediaType() {
        #expect(PartialUploadMediaType.contentType == "application/partial-upload")
        #expect(PartialUploadMediaType.matches(contentType: "application/partial-upload"))
        #expect(PartialUploadMediaType.matches(contentType: "Application/Partial-Upload"))
        #expect(PartialUploadMediaType.matches(contentType: " application/partial-upload ; x=1"))
        #expect(!PartialUploadMediaType.matches(contentType: "application/offset+octet-stream"))
        #expect(!PartialUploadMediaType.matches(contentType: "application/partial-upload-x"))
        #expect(!PartialUploadMediaType.matches(contentType: ""))
    }
}
