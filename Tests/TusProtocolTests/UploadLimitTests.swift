import Testing
import TusProtocol

@Suite struct UploadLimitTests {
    private let all = UploadLimit(maxSize: 1_000_000_000, minSize: 0, maxAppendSize: 50_000_000, minAppendSize: 1024, maxAge: 3600)

    @Test func everyLimitIsWrittenInTheDraftsOrderWithTheVersionsLifetimeKey() throws {
        #expect(try all.headerValue(version: .v8)
            == "max-size=1000000000, min-size=0, max-append-size=50000000, min-append-size=1024, max-age=3600")
        #expect(try all.headerValue(version: .v6)
            == "max-size=1000000000, min-size=0, max-append-size=50000000, min-append-size=1024, expires=3600")
    }

    @Test(arguments: DraftInteropVersion.allCases)
    func limitsRoundTrip(version: DraftInteropVersion) throws {
        for limit in [all, UploadLimit(maxSize: 5), UploadLimit(maxAge: 0), UploadLimit(minSize: 0, maxAppendSize: 1)] {
            #expect(try UploadLimit(headerValue: limit.headerValue(version: version), version: version) == limit)
        }
    }

    @Test func noLimitIsWrittenAsMinSizeZeroNeverEmpty() throws {
        #expect(try UploadLimit().headerValue(version: .v8) == "min-size=0")
        #expect(try UploadLimit(headerValue: "min-size=0", version: .v8) == UploadLimit(minSize: 0))
        #expect(try UploadLimit(headerValue: "", version: .v8) == UploadLimit())
    }

    @Test func theLifetimeKeyOfTheOtherVersionIsUnknownAndSoIgnored() throws {
        #expect(try UploadLimit(headerValue: "max-age=60", version: .v8) == UploadLimit(maxAge: 60))
        #expect(try UploadLimit(headerValue: "expires=60", version: .v8) == UploadLimit())
        #expect(try UploadLimit(headerValue: "expires=60", version: .v6) == UploadLimit(maxAge: 60))
        #expect(try UploadLimit(headerValue: "max-age=60", version: .v6) == UploadLimit())
        #expect(DraftInteropVersion.v6.limitLifetimeKey == "expires")
        #expect(DraftInteropVersion.v8.limitLifetimeKey == "max-age")
    }

    @Test func unknownKeysAndParametersAreIgnored() throws {
        let limit = try UploadLimit(headerValue: "max-size=10;unit=bytes, colour=blue, future=(1 2), min-size=1", version: .v8)
        #expect(limit == UploadLimit(maxSize: 10, minSize: 1))
        // An unknown key may even hold what a known one must not.
        #expect(try UploadLimit(headerValue: "max-sizes=-1, max-size=2", version: .v8) == UploadLimit(maxSize: 2))
    }

    @Test(arguments: [
        ("max-size", "Upload-Limit \"max-size\" gives max-size as a boolean, not an integer"),
        ("max-size=?1", "Upload-Limit \"max-size=?1\" gives max-size as a boolean, not an integer"),
        ("min-size=\"10\"", "Upload-Limit \"min-size=\\\"10\\\"\" gives min-size as a string, not an integer"),
        ("max-append-size=1.5", "Upload-Limit \"max-append-size=1.5\" gives max-append-size as a decimal, not an integer"),
        ("min-append-size=(1 2)", "Upload-Limit \"min-append-size=(1 2)\" gives min-append-size as a list, not an integer"),
        ("max-age=soon", "Upload-Limit \"max-age=soon\" gives max-age as a token, not an integer"),
        ("max-size=-1", "Upload-Limit \"max-size=-1\" gives max-size as negative"),
        ("max-size=10 min-size=0",
         "Upload-Limit \"max-size=10 min-size=0\" is not a structured-field dictionary: expected keys with integers, such as max-size=1000000, max-age=3600"),
        ("Max-Size=10",
         "Upload-Limit \"Max-Size=10\" is not a structured-field dictionary: expected keys with integers, such as max-size=1000000, max-age=3600"),
    ])
    func aMalformedLimitIsSaidInWords(value: String, message: String) {
        do {
            let limit = try UploadLimit(headerValue: value, version: .v8)
            Issue.record("\(value) read as \(limit)")
        } catch {
            #expect(error.header == "Upload-Limit")
            #expect(error.description == message)
        }
    }

    @Test func aVersion6MessageShowsVersion6sKey() {
        do {
            _ = try UploadLimit(headerValue: "expires=later", version: .v6)
            Issue.record("a token read as seconds")
        } catch {
            #expect(error.description == "Upload-Limit \"expires=later\" gives expires as a token, not an integer")
        }
        do {
            _ = try UploadLimit(headerValue: "=", version: .v6)
            Issue.record("= read as a dictionary")
        } catch {
            #expect(error.description.hasSuffix("such as max-size=1000000, expires=3600"))
        }
    }

    @Test func aLimitTheHeaderCannotCarryIsNotWritten() {
        #expect(throws: DraftHeaderError(
            header: "Upload-Limit max-age", value: "-5", problem: "is negative; it cannot be sent")) {
            try UploadLimit(maxAge: -5).headerValue(version: .v8)
        }
        #expect(throws: DraftHeaderError(
            header: "Upload-Limit expires", value: "-5", problem: "is negative; it cannot be sent")) {
            try UploadLimit(maxAge: -5).headerValue(version: .v6)
        }
        #expect(throws: DraftHeaderError.self) { try UploadLimit(maxSize: .max).headerValue(version: .v8) }
    }
}
