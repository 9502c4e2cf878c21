import Testing
import TusProtocol

/// Which protocol a message speaks, from `Tus-Resumable` and
/// `Upload-Draft-Interop-Version`.
@Suite struct UploadDialectTests {
    @Test func tusResumableMakesItTusEvenBesideTheInteropVersion() {
        #expect(UploadDialect(tusResumable: "1.0.0", uploadDraftInteropVersion: nil) == .tus)
        #expect(UploadDialect(tusResumable: "1.0.0", uploadDraftInteropVersion: "8") == .tus)
        // Any value: a tus server answers a wrong one with 412, in tus.
        #expect(UploadDialect(tusResumable: "0.2.2", uploadDraftInteropVersion: "6") == .tus)
    }

    @Test func theInteropVersionAloneMakesItTheDraft() {
        #expect(UploadDialect(tusResumable: nil, uploadDraftInteropVersion: "6") == .draft(.v6))
        #expect(UploadDialect(tusResumable: nil, uploadDraftInteropVersion: " 8 ") == .draft(.v8))
        #expect(UploadDialect(tusResumable: nil, uploadDraftInteropVersion: "8")?.isDraft == true)
        #expect(UploadDialect(tusResumable: "1.0.0", uploadDraftInteropVersion: "8")?.isDraft == false)
    }

    @Test func aVersionNotSpokenIsTheDraftStillWithTheErrorInWords() throws {
        guard case .unsupportedDraft(let error)? = UploadDialect(tusResumable: nil, uploadDraftInteropVersion: "7")
        else {
            Issue.record("7 read as a version spoken, or not as the draft")
            return
        }
        #expect(error.isUnsupportedVersion)
        #expect(error.description.contains("expected 6 or 8"))
        guard case .unsupportedDraft(let malformed)? = UploadDialect(tusResumable: nil, uploadDraftInteropVersion: "x")
        else {
            Issue.record("x read as a version")
            return
        }
        #expect(!malformed.isUnsupportedVersion)
        #expect(UploadDialect(tusResumable: nil, uploadDraftInteropVersion: "7")?.isDraft == true)
    }

    @Test func neitherHeaderIsNeitherProtocol() {
        #expect(UploadDialect(tusResumable: nil, uploadDraftInteropVersion: nil) == nil)
    }
}
