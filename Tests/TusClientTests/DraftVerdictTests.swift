import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TusCore
@testable import TusClient
import TusProtocol

/// How the client reads the IETF draft's answers, with no server: what
/// each answer of a draft server means for the upload, and how a draft
/// upload's URL is kept in a store.
@Suite struct DraftVerdictTests {
    static let endpoint = URL(string: "http://draft.example/uploads/photo")!
    static let resource = URL(string: "http://draft.example/resumable_upload/1-2")!

    static func sent(_ kind: RequestKind, speech: Speech = .only(.draft(.v6)), body: Int = 100, offset: Int64 = 0) -> SentRequest {
        var sent = SentRequest(kind: kind, url: kind == .create ? endpoint : resource, offset: offset, bodyCount: body, size: 1000)
        sent.speech = speech
        return sent
    }

    static func exchange(_ code: Int, _ headers: [String: String], interim: [[String: String]] = []) -> Exchange {
        Exchange(
            status: HTTPResponseStatus(statusCode: code), headers: HTTPHeaders(headers.map { ($0.key, $0.value) }), body: ByteBuffer(),
            interim: interim.map {
                HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: 104), headers: HTTPHeaders($0.map { ($0.key, $0.value) }))
            })
    }

    /// The 104's Location names the upload resource, even when the final
    /// answer (the target resource's, once complete) has another Location
    /// or none; a 2xx without `Upload-Offset` took every byte sent.
    @Test func theCreationsURLComesFromThe104() {
        let interim = [["Location": Self.resource.absoluteString, "Upload-Draft-Interop-Version": "6"]]
        let complete = Verdict.decide(Self.sent(.create), .answer(Self.exchange(201, ["Location": "/photos/9", "Upload-Incomplete": "?0"], interim: interim)))
        guard case .created(let url, 100, .draft(.v6)) = complete else { Issue.record("\(complete)"); return }
        #expect(url == Self.resource)
        // Without a 104, the final Location is the resource's.
        let partial = Verdict.decide(Self.sent(.create), .answer(Self.exchange(201, ["Location": "/resumable_upload/1-2", "Upload-Offset": "60", "Upload-Complete": "?0"])))
        guard case .created(let same, 60, .draft(.v6)) = partial else { Issue.record("\(partial)"); return }
        #expect(same == Self.resource)
        // A 104 of another interop version is ignored.
        let other = Verdict.decide(Self.sent(.create), .answer(Self.exchange(201, [:], interim: [["Location": "/x", "Upload-Draft-Interop-Version": "8"]])))
        guard case .stop(let error) = other else { Issue.record("\(other)"); return }
        #expect(error.message.contains("no 104 and no usable Location"))
    }

    /// In `auto`, `Tus-Resumable` in the answer means tus; a 104 or the
    /// draft's headers without it mean the draft.
    @Test func theFirstAnswerDecidesTheProtocolInAuto() {
        var either = Self.sent(.create, speech: .either(draft: .v6))
        // Its bytes go unasked, as auto's first POST sends them.
        either.unasked = true
        let tus = Verdict.decide(either, .answer(Self.exchange(201, ["Tus-Resumable": "1.0.0", "Location": "/files/a", "Upload-Offset": "100"])))
        guard case .created(_, 100, .tus) = tus else { Issue.record("\(tus)"); return }
        let draft = Verdict.decide(either, .answer(Self.exchange(201, ["Upload-Incomplete": "?0"], interim: [["Location": Self.resource.absoluteString]])))
        guard case .created(Self.resource, 100, .draft(.v6)) = draft else { Issue.record("\(draft)"); return }
        // Neither: tus, as before the draft (a server that ignored the bytes).
        let plain = Verdict.decide(either, .answer(Self.exchange(201, ["Location": "/files/b"])))
        guard case .created(_, nil, .tus) = plain else { Issue.record("\(plain)"); return }
    }

    /// A 409 asks the server's offset; a 2xx without `Upload-Offset` moves
    /// past every byte sent; one with it moves where it says; 404 forgets.
    @Test func appendsMoveResyncOrForget() {
        let sent = Self.sent(.append, body: 300, offset: 200)
        #expect(VerdictTests.name(Verdict.decide(sent, .answer(Self.exchange(409, ["Upload-Offset": "100", "Upload-Complete": "?0"])))) == "retry+resync")
        guard case .moved(500) = Verdict.decide(sent, .answer(Self.exchange(201, ["Upload-Incomplete": "?0"]))) else { Issue.record(); return }
        guard case .moved(350) = Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "350", "Upload-Complete": "?0"]))) else { Issue.record(); return }
        #expect(VerdictTests.name(Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "200"])))) == "retry+resync")
        #expect(VerdictTests.name(Verdict.decide(sent, .answer(Self.exchange(404, [:])))) == "forget")
        #expect(VerdictTests.name(Verdict.decide(sent, .answer(Self.exchange(413, [:])))) == "sendSmaller")
    }

    /// A 409 with the server's offset goes on from there, without a HEAD;
    /// one without asks.
    @Test func a409WithTheServersOffsetResyncsWithoutAsking() {
        let sent = Self.sent(.append, body: 300, offset: 200)
        func state(after answer: Exchange) -> UploadState {
            var state = UploadState(sizer: ChunkSizer(ceiling: 1 << 20))
            state.url = Self.resource
            state.dialect = .draft(.v6)
            state.offset = 200
            let verdict = Verdict.decide(sent, .answer(answer))
            _ = state.willRetry(after: Attempt(sent: sent, outcome: .answer(answer), verdict: verdict), resync: true)
            return state
        }
        let told = state(after: Self.exchange(409, ["Upload-Offset": "150", "Upload-Complete": "?0"]))
        #expect(told.offset == 150)
        #expect(told.nextStep(size: 1000) == .append)
        let untold = state(after: Self.exchange(409, ["Upload-Complete": "?0"]))
        #expect(untold.nextStep(size: 1000) == .askOffset)
    }

    /// A stored URL resumes at the server's offset, unless it is another
    /// file's, complete at another size, or out of time by `Upload-Limit`.
    @Test func aStoredDraftURLResumesOrIsForgotten() {
        let sent = Self.sent(.resume, body: 0)
        guard case .resumable(400, false) = Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "400", "Upload-Complete": "?0"]))) else { Issue.record(); return }
        let names = [
            ["Upload-Offset": "400", "Upload-Length": "999"],
            ["Upload-Offset": "1001"],
            ["Upload-Offset": "400", "Upload-Complete": "?1"],
            ["Upload-Offset": "400", "Upload-Limit": "expires=0"],
        ].map { VerdictTests.name(Verdict.decide(sent, .answer(Self.exchange(204, $0)))) }
        #expect(names == ["forget", "forget", "forget", "forget"])
        // Version 8 reads max-age.
        var eight = sent
        eight.speech = .only(.draft(.v8))
        #expect(VerdictTests.name(Verdict.decide(eight, .answer(Self.exchange(204, ["Upload-Offset": "4", "Upload-Limit": "max-age=0"])))) == "forget")
        #expect(VerdictTests.name(Verdict.decide(eight, .answer(Self.exchange(204, ["Upload-Offset": "4", "Upload-Limit": "max-age=60"])))) == "resumable")
    }

    /// `HEAD` while the upload runs: the server's offset, unless its
    /// `Upload-Limit` says no time is left (forget) or it claims more than
    /// the upload (stop).
    @Test func anOffsetDuringTheUploadMovesExpiresOrStops() {
        let sent = Self.sent(.offset, body: 0)
        guard case .moved(400) = Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "400", "Upload-Limit": "expires=60"]))) else { Issue.record(); return }
        #expect(VerdictTests.name(Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "400", "Upload-Limit": "expires=0"])))) == "forget")
        #expect(VerdictTests.name(Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "1001"])))) == "stop")
    }

    /// A 400 naming another interop version stops, saying which.
    @Test func anotherInteropVersionStopsInWords() {
        let verdict = Verdict.decide(Self.sent(.create), .answer(Self.exchange(400, ["Upload-Draft-Interop-Version": "3"])))
        guard case .stop(let error) = verdict else { Issue.record("\(verdict)"); return }
        #expect(error.code == .unsupported)
        #expect(error.message.contains("interop version 3 of the IETF draft, not 6"))
    }

    /// `Upload-Limit`'s `max-append-size` and `min-append-size` bound the
    /// next requests.
    @Test func maxAppendSizeBoundsTheRequests() {
        var state = UploadState(sizer: ChunkSizer(ceiling: 1 << 30))
        let created = Attempt(
            sent: Self.sent(.create),
            outcome: .answer(Self.exchange(201, ["Location": Self.resource.absoluteString, "Upload-Offset": "100", "Upload-Limit": "max-append-size=4096"])),
            verdict: .created(url: Self.resource, offset: 100, dialect: .draft(.v6)))
        let effects = state.apply(created)
        #expect(state.sizer.size == 4096)
        #expect(effects.contains { if case .shrunk(_, 4096, .serverLimit) = $0 { true } else { false } })
        // min-append-size: a request cut in its middle halves the size,
        // but not below the server's least.
        var least = UploadState(sizer: ChunkSizer(ceiling: 1 << 30, start: 1 << 20))
        _ = least.apply(Attempt(
            sent: Self.sent(.create),
            outcome: .answer(Self.exchange(201, ["Location": Self.resource.absoluteString, "Upload-Offset": "100", "Upload-Limit": "min-append-size=800000"])),
            verdict: .created(url: Self.resource, offset: 100, dialect: .draft(.v6))))
        let cut = Attempt(
            sent: Self.sent(.append, body: 1 << 20, offset: 100),
            outcome: .noAnswer(TransportFailure(error: TusError(.io, "cut"), bytesSent: 1000, stalled: false)),
            verdict: .retry(Verdict.Failure(statusCode: nil, error: TusError(.io, "cut")), resync: true))
        _ = least.willRetry(after: cut, resync: true)
        #expect(least.sizer.size == 800_000)
    }

    /// A tus URL is stored as it is (what tuspy stores); a draft URL with a
    /// fragment naming its interop version, read back the same.
    @Test func aDraftURLIsStoredWithItsInteropVersion() throws {
        #expect(StoredUploadURL.value(Self.resource, dialect: .tus) == Self.resource.absoluteString)
        let stored = StoredUploadURL.value(Self.resource, dialect: .draft(.v6))
        #expect(stored == Self.resource.absoluteString + "#upload-draft-interop-version=6")
        let read = try #require(StoredUploadURL.parse(stored))
        #expect(read.url == Self.resource && read.dialect == .draft(.v6))
        #expect(StoredUploadURL.parse(Self.resource.absoluteString + "#upload-draft-interop-version=5") == nil)
        #expect(StoredUploadURL.parse("http://h/files/a#other")?.dialect == .tus)
    }
}
