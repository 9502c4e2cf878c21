import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TusCore
@testable import TusClient

/// The upload's state machine, fed attempts without a server: which
/// request comes next, and what each verdict changes.
@Suite struct UploadStateTests {
    static let endpoint = URL(string: "http://tus.example/files/")!
    static let upload = URL(string: "http://tus.example/files/abc")!

    func attempt(_ sent: SentRequest, _ verdict: Verdict, outcome: Outcome? = nil, seconds: Double? = 0.01) -> Attempt {
        let answer = Exchange(status: .noContent, headers: [:], body: ByteBuffer())
        return Attempt(sent: sent, outcome: outcome ?? .answer(answer), verdict: verdict, seconds: seconds)
    }

    @Test func createsThenAppendsUntilTheServerHoldsEveryByte() {
        var state = UploadState(sizer: ChunkSizer(ceiling: 1000, start: 400))
        #expect(state.nextStep(size: 1000) == .create)
        let created = state.apply(attempt(
            SentRequest(kind: .create, url: Self.endpoint, bodyCount: 400, size: 1000), .created(url: Self.upload, offset: 400, dialect: .tus)))
        #expect(state.url == Self.upload)
        #expect(state.offset == 400)
        #expect(created.contains { if case .storeURL(Self.upload, .tus) = $0 { true } else { false } })
        #expect(created.contains { if case .progressed = $0 { true } else { false } })
        #expect(state.nextStep(size: 1000) == .append)
        _ = state.apply(attempt(SentRequest(kind: .append, url: Self.upload, offset: 400, bodyCount: 600, size: 1000), .moved(to: 1000)))
        #expect(state.nextStep(size: 1000) == .finished)
    }

    @Test func aServerThatIgnoresBytesWithPOSTGetsThemWithPATCH() {
        var state = UploadState(sizer: ChunkSizer(ceiling: 1000))
        let effects = state.apply(attempt(
            SentRequest(kind: .create, url: Self.endpoint, bodyCount: 400, unasked: true, size: 1000), .created(url: Self.upload, offset: nil, dialect: .tus)))
        #expect(state.offset == 0)
        #expect(state.createsWithoutBody)
        #expect(effects.contains { if case .serverTakesNoBytesWithCreation = $0 { true } else { false } })
        #expect(!effects.contains { if case .progressed = $0 { true } else { false } })
        #expect(state.nextStep(size: 1000) == .append)
    }

    @Test func aRetryWithResyncAsksTheOffsetAndAnInterruptedBodyShrinksTheNextRequest() {
        var state = UploadState(sizer: ChunkSizer(ceiling: 8 << 20, start: 4 << 20))
        state.url = Self.upload
        let sent = SentRequest(kind: .append, url: Self.upload, offset: 0, bodyCount: 4 << 20, size: 8 << 20)
        let failure = TransportFailure(error: TusError(.connectionFailed, "cut"), bytesSent: 1 << 20, stalled: false)
        let effects = state.willRetry(after: attempt(sent, .retry(.init(error: failure.error), resync: true), outcome: .noAnswer(failure)), resync: true)
        #expect(state.nextStep(size: 8 << 20) == .askOffset)
        #expect(state.sizer.size == 2 << 20)
        #expect(effects.contains { if case .shrunk(4 << 20, 2 << 20, .interrupted) = $0 { true } else { false } })
        _ = state.apply(attempt(SentRequest(kind: .offset, url: Self.upload, size: 8 << 20), .moved(to: 1 << 20)))
        #expect(state.offset == 1 << 20)
        #expect(state.nextStep(size: 8 << 20) == .append)
    }

    @Test func aBodyRefusedAsTooLargeHalvesAndAtTheFloorStopsOrCreatesWithoutBody() {
        var state = UploadState(sizer: ChunkSizer(ceiling: 1 << 20, start: 1 << 20))
        state.url = Self.upload
        let big = SentRequest(kind: .append, url: Self.upload, offset: 0, bodyCount: 1 << 20, size: 4 << 20)
        let halved = state.apply(attempt(big, .sendSmaller))
        #expect(state.sizer.size == 512 << 10)
        #expect(halved.contains { if case .shrunk(_, 512 << 10, .bodyTooLarge) = $0 { true } else { false } })
        let floor = SentRequest(kind: .append, url: Self.upload, offset: 0, bodyCount: ChunkSizer.floor, size: 4 << 20)
        #expect(state.apply(attempt(floor, .sendSmaller)).contains { if case .fail = $0 { true } else { false } })
        var creating = UploadState(sizer: ChunkSizer(ceiling: 1 << 20))
        _ = creating.apply(attempt(SentRequest(kind: .create, url: Self.endpoint, bodyCount: ChunkSizer.floor, size: 4 << 20), .sendSmaller))
        #expect(creating.createsWithoutBody)
    }

    @Test func forgettingIsAnEffectNotAStateChange() {
        var state = UploadState(sizer: ChunkSizer(ceiling: 1000))
        state.url = Self.upload
        state.offset = 10
        let effects = state.apply(attempt(SentRequest(kind: .append, url: Self.upload, offset: 10, bodyCount: 5, size: 100), .forget(reason: "gone")))
        #expect(effects.contains { if case .forget("gone") = $0 { true } else { false } })
        #expect(state.url == Self.upload)
    }
}
