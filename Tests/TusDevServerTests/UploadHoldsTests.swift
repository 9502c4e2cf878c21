import Testing

@testable import TusDevServer

/// The bookkeeping behind taking an upload over: who holds it, who asked the
/// holder to stop, who waits.
@Suite struct UploadHoldsTests {
    @Test func oneHolderAtATime() {
        var holds = UploadHolds()
        let first = holds.take("a", for: .writing)
        let second = holds.take("a", for: .joining)
        let other = holds.take("b", for: .joining)
        #expect(first && !second && other)
        #expect(holds.isHeld("a", for: .writing))
        #expect(!holds.isHeld("a", for: .joining))
        #expect(holds.isHeld("b"))
        let waiters = holds.release("a")
        #expect(waiters.isEmpty)
        #expect(!holds.isHeld("a"))
        let again = holds.take("a", for: .joining)
        #expect(again)
    }

    @Test func aWriterIsAskedOnceAndEveryWaiterIsWokenWhenItLetsGo() {
        var holds = UploadHolds()
        let calls = Locked<[String]>([])
        _ = holds.take("a", for: .writing)
        let early = holds.onStopRequest("a", { calls.withLock { $0.append("stop") } })
        #expect(early == nil, "nobody asked yet")

        guard case .waiting(let stop) = holds.askToLetGo("a", wake: { calls.withLock { $0.append("wake 1") } })
        else {
            Issue.record("expected to wait")
            return
        }
        stop?()
        guard case .waiting(let again) = holds.askToLetGo("a", wake: { calls.withLock { $0.append("wake 2") } })
        else {
            Issue.record("expected to wait")
            return
        }
        #expect(again == nil, "asked once only")
        #expect(calls.withLock { $0 } == ["stop"])

        for wake in holds.release("a") { wake() }
        #expect(calls.withLock { $0 } == ["stop", "wake 1", "wake 2"])
        guard case .notHeld = holds.askToLetGo("a", wake: {}) else {
            Issue.record("expected nothing to wait for")
            return
        }
    }

    @Test func aWriterAskedBeforeItSaysHowIsStoppedWhenItDoes() {
        var holds = UploadHolds()
        _ = holds.take("a", for: .writing)
        guard case .waiting(let stop) = holds.askToLetGo("a", wake: {}) else {
            Issue.record("expected to wait")
            return
        }
        #expect(stop == nil, "it has not said how yet")
        let now = holds.onStopRequest("a", {})
        #expect(now != nil, "to call at once")
    }

    @Test func aJoinIsNeverStoppedButItsWaitersAreWoken() {
        var holds = UploadHolds()
        _ = holds.take("b", for: .joining)
        let stop = holds.onStopRequest("b", { Issue.record("a join was stopped") })
        #expect(stop == nil)
        guard case .waiting(let asked) = holds.askToLetGo("b", wake: {}) else {
            Issue.record("expected to wait")
            return
        }
        #expect(asked == nil)
        let waiters = holds.release("b")
        #expect(waiters.count == 1)
    }
}
