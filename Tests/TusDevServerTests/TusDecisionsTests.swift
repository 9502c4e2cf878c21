import Crypto
import Foundation
import Testing
import TusTestSupport

@testable import TusDevServer

/// `Upload-Offset` and the tus `Content-Type`, for a PATCH.
private func patchHeaders(offset: Int) -> [(String, String)] {
    [("Upload-Offset", String(offset)), ("Content-Type", "application/offset+octet-stream")]
}

/// The server's stages driven directly: no sockets, no event loop.
@Suite struct TusDecisionsTests {
    /// A server's shared state on a fresh directory, and its decisions.
    struct Fixture {
        /// Removed when the fixture is released.
        let directory: TemporaryFolder
        let server: ServerContext
        var decisions: TusDecisions { TusDecisions(server: server) }

        init(_ configure: (inout TusDevServer.Configuration) -> Void = { _ in }) throws {
            directory = try TemporaryFolder()
            var configuration = TusDevServer.Configuration(directory: directory.url)
            configure(&configuration)
            server = try ServerContext(configuration: configuration)
        }

        /// A tus request (with `Tus-Resumable` unless `tus` is false).
        func request(
            _ method: String, _ target: String, _ headers: [(String, String)] = [], tus: Bool = true
        ) -> Request {
            var fields = headers.map { (name: $0.0, value: $0.1) }
            if tus { fields.append((name: "Tus-Resumable", value: "1.0.0")) }
            return Request(method: method, target: target, headers: Headers(fields), localAuthority: "127.0.0.1:1080")
        }

        /// The answer `decide` gives, failing the test if it is not an
        /// answer.
        func answer(
            _ request: Request, mayTakeOver: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> Response {
            guard case .respond(let response) = decisions.decide(request, mayTakeOver: mayTakeOver) else {
                Issue.record(
                    "expected an answer to \(request.method) \(request.target)", sourceLocation: sourceLocation)
                throw CancellationError()
            }
            return response
        }

        /// Creates an upload and returns its path.
        func create(_ headers: [(String, String)]) throws -> String {
            let response = try answer(request("POST", "/files/", headers))
            try #require(response.status == 201, "\(response.body ?? "")")
            let location = try #require(response.header("Location").flatMap(URL.init(string:)))
            return location.path
        }

        /// The upload `decide` would take over, or `nil` if it decides
        /// anything else.
        func takenOver(_ request: Request) -> String? {
            if case .takeOver(let id) = decisions.decide(request) { return id }
            return nil
        }

        /// Writes `bytes` into the upload at `path` through a PATCH's plan
        /// and the body sink, and returns the answer.
        func patch(_ path: String, offset: Int, _ bytes: Data) throws -> Response {
            let decision = decisions.decide(
                request(
                    "PATCH", path,
                    [("Upload-Offset", String(offset)), ("Content-Type", "application/offset+octet-stream")]))
            guard case .writeBody(let plan) = decision else {
                if case .respond(let response) = decision { return response }
                throw CancellationError()
            }
            let sink = try UploadBodySink(plan: plan, server: server)
            #expect(bytes.withUnsafeBytes { sink.write($0) } == .written)
            let record = sink.commit()
            return decisions.bodyStored(plan, offset: sink.offset, record: record)
        }
    }

    @Test func optionsNeedsNoVersionAndAnnouncesConcatenation() throws {
        let fixture = try Fixture { $0.maxUploadSize = 999 }
        let response = try fixture.answer(fixture.request("OPTIONS", "/anything", tus: false))
        #expect(response.status == 204)
        let extensions = (response.header("Tus-Extension") ?? "").split(separator: ",").map(String.init)
        #expect(extensions.contains("concatenation"))
        #expect(extensions.contains("creation-with-upload"))
        #expect(response.header("Tus-Max-Size") == "999")
    }

    @Test(arguments: [
        ("POST", "/files/", false, 412),
        ("GET", "/files/", true, 405),
        ("PUT", "/files/abc", true, 405),
        ("HEAD", "/elsewhere", true, 404),
        ("HEAD", "/files/../etc/passwd", true, 404),
        ("HEAD", "/files/0123456789abcdef", true, 404),
        ("DELETE", "/files/0123456789abcdef", true, 404),
    ])
    func routing(method: String, target: String, tus: Bool, status: Int) throws {
        let fixture = try Fixture()
        let response = try fixture.answer(fixture.request(method, target, [("Upload-Length", "1")], tus: tus))
        #expect(response.status == status)
        if status == 405 {
            #expect(response.header("Allow") != nil)
        }
    }

    @Test func theLocationFollowsTheHostHeaderOrTheServersAddress() throws {
        let fixture = try Fixture()
        let viaHost = try fixture.answer(
            fixture.request("POST", "/files/", [("Upload-Length", "5"), ("Host", "uploads.example:8080")]))
        #expect(viaHost.status == 201)
        let location = try #require(viaHost.header("Location"))
        #expect(location.hasPrefix("http://uploads.example:8080/files/"))
        #expect(viaHost.header("Upload-Expires") != nil)

        let badHost = try fixture.answer(fixture.request("POST", "/files/", [("Upload-Length", "5"), ("Host", "a b")]))
        #expect(badHost.header("Location")?.hasPrefix("http://127.0.0.1:1080/files/") == true)
    }

    @Test func aPatchIsAPlanThatHoldsTheUpload() throws {
        let fixture = try Fixture()
        let path = try fixture.create([("Upload-Length", "10")])
        let headers = [
            ("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream"), ("Content-Length", "4"),
            ("Upload-Checksum", "sha1 \(Data(count: 20).base64EncodedString())"),
        ]
        guard case .writeBody(let plan) = fixture.decisions.decide(fixture.request("PATCH", path, headers)) else {
            Issue.record("expected a body plan")
            return
        }
        #expect(plan.uploadID == String(path.dropFirst("/files/".count)))
        #expect(plan.offset == 0)
        #expect(plan.maxBytes == 10)
        #expect(!plan.lengthIsDeferred)
        #expect(plan.checksum?.algorithm.rawValue == "sha1")
        #expect(plan.createdLocation == nil)

        // Held: another PATCH, a DELETE or a HEAD takes it over (asks the
        // holder to stop and waits for it); once that wait is over, a PATCH
        // or DELETE gets 423 and a HEAD the upload as it stands.
        #expect(fixture.takenOver(fixture.request("PATCH", path, headers)) == plan.uploadID)
        #expect(fixture.takenOver(fixture.request("DELETE", path)) == plan.uploadID)
        #expect(fixture.takenOver(fixture.request("HEAD", path)) == plan.uploadID)
        #expect(try fixture.answer(fixture.request("PATCH", path, headers), mayTakeOver: false).status == 423)
        #expect(try fixture.answer(fixture.request("DELETE", path), mayTakeOver: false).status == 423)
        let head = try fixture.answer(fixture.request("HEAD", path), mayTakeOver: false)
        #expect(head.status == 200)
        #expect(head.header("Upload-Offset") == "0")

        // The sink checks the digest: all zeros is not the digest of "abcd".
        let sink = try UploadBodySink(plan: plan, server: fixture.server)
        #expect(Data("abcd".utf8).withUnsafeBytes { sink.write($0) } == .written)
        #expect(!sink.checksumMatches())
        sink.rollBack()
        #expect(try fixture.answer(fixture.request("HEAD", path)).header("Upload-Offset") == "0")

        // Let go: a PATCH goes through.
        let stored = try fixture.patch(path, offset: 0, Data("abcd".utf8))
        #expect(stored.status == 204)
        #expect(stored.header("Upload-Offset") == "4")
    }

    @Test func aBodyPastTheLengthIsRefusedWhole() throws {
        let fixture = try Fixture()
        let path = try fixture.create([("Upload-Length", "4")])
        let tooLong = try fixture.answer(
            fixture.request(
                "PATCH", path,
                [("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream"), ("Content-Length", "5")]))
        #expect(tooLong.status == 413)

        // Chunked: only the sink can tell.
        guard case .writeBody(let plan) = fixture.decisions.decide(
            fixture.request("PATCH", path, patchHeaders(offset: 0)))
        else {
            Issue.record("expected a body plan")
            return
        }
        let sink = try UploadBodySink(plan: plan, server: fixture.server)
        #expect(Data("abc".utf8).withUnsafeBytes { sink.write($0) } == .written)
        #expect(Data("de".utf8).withUnsafeBytes { sink.write($0) } == .pastLimit)
        sink.rollBack()
        #expect(fixture.decisions.bodyPastLimit(plan).status == 413)
        #expect(try fixture.answer(fixture.request("HEAD", path)).header("Upload-Offset") == "0")
    }

    @Test(arguments: [
        ([("Content-Type", "text/plain"), ("Upload-Offset", "0")], 415),
        ([("Content-Type", "application/offset+octet-stream")], 400),
        ([("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "+0")], 400),
        ([("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "2")], 409),
        (patchHeaders(offset: 0) + [("Upload-Checksum", "crc32 AAAA")], 400),
    ])
    func patchValidation(headers: [(String, String)], status: Int) throws {
        let fixture = try Fixture()
        let path = try fixture.create([("Upload-Length", "10")])
        let response = try fixture.answer(fixture.request("PATCH", path, headers))
        #expect(response.status == status)
        if status == 409 {
            #expect(response.header("Upload-Offset") == "0")
        }
        // Refused requests let the upload go.
        #expect(try fixture.answer(fixture.request("DELETE", path)).status == 204)
    }

    @Test func aFinalUploadIsCheckedPlannedThenJoined() throws {
        let fixture = try Fixture()
        let first = try fixture.create([("Upload-Length", "3"), ("Upload-Concat", "partial")])
        #expect(try fixture.patch(first, offset: 0, Data("abc".utf8)).status == 204)
        let second = try fixture.create([("Upload-Defer-Length", "1"), ("Upload-Concat", "partial")])
        let ordinary = try fixture.create([("Upload-Length", "0")])
        let missing = "/files/ffffffffffffffffffffffffffffffff"

        func final(_ parts: String, _ extra: [(String, String)] = []) -> TusDecisions.Decision {
            fixture.decisions.decide(fixture.request("POST", "/files/", [("Upload-Concat", "final;" + parts)] + extra))
        }
        func refusal(_ decision: TusDecisions.Decision) -> Response? {
            if case .respond(let response) = decision { return response }
            return nil
        }

        #expect(refusal(final("\(first) \(missing)"))?.status == 404)
        #expect(refusal(final("\(first) \(second)"))?.status == 400)
        #expect(refusal(final("\(ordinary)"))?.status == 400)
        #expect(refusal(final("\(first)", [("Upload-Length", "3")]))?.status == 400)
        #expect(refusal(final("/other/\(first)"))?.status == 404)

        // The first part was let go after each refusal.
        #expect(try fixture.patch(first, offset: 3, Data()).status == 204)

        guard case .concatenate(let plan) = final("http://elsewhere:1/files/\(first.dropFirst(7)) \(first)") else {
            Issue.record("expected a plan to join the parts")
            return
        }
        #expect(plan.length == 6)
        #expect(plan.heldIDs == [String(first.dropFirst(7))])
        // Held during the join: a DELETE waits for it (a join cannot be
        // stopped), then gets 423; a HEAD answers at once, since a join
        // does not change its parts.
        #expect(fixture.takenOver(fixture.request("DELETE", first)) == plan.heldIDs.first)
        #expect(try fixture.answer(fixture.request("DELETE", first), mayTakeOver: false).status == 423)
        #expect(try fixture.answer(fixture.request("HEAD", first)).header("Upload-Offset") == "3")

        let joined = fixture.decisions.concatenate(plan)
        #expect(joined.status == 201)
        let location = try #require(joined.header("Location").flatMap(URL.init(string:)))
        let head = try fixture.answer(fixture.request("HEAD", location.path))
        #expect(head.header("Upload-Concat") == "final;http://elsewhere:1\(first) \(first)")
        #expect(head.header("Upload-Length") == "6")
        #expect(head.header("Upload-Offset") == "6")
        #expect(try fixture.patch(location.path, offset: 6, Data()).status == 403)
        #expect(try fixture.answer(fixture.request("HEAD", first)).header("Upload-Concat") == "partial")
        #expect(try fixture.answer(fixture.request("DELETE", first)).status == 204)
    }

    // MARK: The whole pipeline, without sockets

    /// What a client would see.
    enum Exchange {
        case answered(Response)
        case hungUp

        var status: Int? {
            if case .answered(let response) = self { return response.status }
            return nil
        }
    }

    /// Runs `request` through `responder`, its body in pieces of `piece`
    /// bytes, as the channel handler would (waits are not waited).
    func exchange(_ responder: any Responder, _ request: Request, body: Data = Data(), piece: Int = 2) -> Exchange {
        var outcome = responder.respond(to: request)
        while true {
            switch outcome {
            case .respond(let response):
                return .answered(response)
            case .wait(_, let then):
                outcome = then()
            case .waitForWakeUp(_, let register, let then):
                // Nobody stops a holder here: woken only if nobody holds it.
                let woken = Locked(false)
                register { woken.withLock { $0 = true } }
                outcome = then(woken.withLock { $0 })
            case .offload(let work):
                return .answered(work())
            case .receive(let receiver):
                var start = body.startIndex
                while start < body.endIndex {
                    let chunk = body[start..<min(start + piece, body.endIndex)]
                    start = chunk.endIndex
                    switch chunk.withUnsafeBytes({ receiver.receive($0) }) {
                    case .more: continue
                    case .answer(let response): return .answered(response)
                    case .hangUp: return .hungUp
                    }
                }
                switch receiver.end() {
                case .answer(let response): return .answered(response)
                case .hangUp: return .hungUp
                }
            }
        }
    }

    @Test func faultsAreAStageAroundTheDecisions() throws {
        let fixture = try Fixture()
        let responder = fixture.server.makeResponder()
        let path = try fixture.create([("Upload-Length", "6")])

        // A status fault answers before the decisions see the request.
        fixture.server.faults.withLock { $0 = [.status(503, method: "patch")] }
        let failed503 = exchange(responder, fixture.request("PATCH", path, patchHeaders(offset: 0)), body: Data("abc".utf8))
        #expect(failed503.status == 503)
        #expect(try fixture.answer(fixture.request("HEAD", path)).header("Upload-Offset") == "0")

        // A stall is a wait, then the request goes on.
        fixture.server.faults.withLock { $0 = [.stall(seconds: 1e9, method: "HEAD")] }
        guard case .wait(let seconds, let then) = responder.respond(to: fixture.request("HEAD", path)) else {
            Issue.record("expected a wait")
            return
        }
        #expect(seconds == FaultInjection.longestStall)
        guard case .respond(let head) = then() else {
            Issue.record("expected an answer after the wait")
            return
        }
        #expect(head.status == 200)

        // A cut keeps what passed, and answers nothing.
        fixture.server.faults.withLock { $0 = [.dropConnectionDuringPatch(afterBytes: 3)] }
        let cut = exchange(
            responder, fixture.request("PATCH", path, patchHeaders(offset: 0)), body: Data("abcdef".utf8))
        guard case .hungUp = cut else {
            Issue.record("expected no answer, got \(String(describing: cut.status))")
            return
        }
        #expect(try fixture.answer(fixture.request("HEAD", path)).header("Upload-Offset") == "3")

        // A checksum fault waits for a PATCH with a checksum.
        fixture.server.faults.withLock { $0 = [.checksumMismatch] }
        let sha1 = "sha1 \(Data(Insecure.SHA1.hash(data: Data())).base64EncodedString())"
        let empty = exchange(responder, fixture.request("PATCH", path, patchHeaders(offset: 3)))
        #expect(empty.status == 204)
        #expect(fixture.server.faults.withLock { $0 } == [.checksumMismatch])
        let failed = exchange(
            responder, fixture.request("PATCH", path, patchHeaders(offset: 3) + [("Upload-Checksum", sha1)]))
        #expect(failed.status == 460)
        #expect(fixture.server.faults.withLock { $0 }.isEmpty)

        // Every request is in the log, faults or not.
        #expect(fixture.server.requestLog.withLock { $0 }.count == 5)
    }

    // MARK: Taking over a held upload

    @Test func aFinalPostWhosePartIsBeingWrittenTakesItOverHoldingNothingMeanwhile() throws {
        let fixture = try Fixture()
        let first = try fixture.create([("Upload-Length", "3"), ("Upload-Concat", "partial")])
        #expect(try fixture.patch(first, offset: 0, Data("abc".utf8)).status == 204)
        let second = try fixture.create([("Upload-Length", "3"), ("Upload-Concat", "partial")])
        guard case .writeBody(let writing) = fixture.decisions.decide(
            fixture.request("PATCH", second, patchHeaders(offset: 0)))
        else {
            Issue.record("expected a body plan")
            return
        }
        let final = fixture.request("POST", "/files/", [("Upload-Concat", "final;\(first) \(second)")])
        #expect(fixture.takenOver(final) == writing.uploadID)
        #expect(!fixture.server.store.isHeld(String(first.dropFirst(7))), "the first part was let go")
        #expect(try fixture.answer(final, mayTakeOver: false).status == 423)

        let sink = try UploadBodySink(plan: writing, server: fixture.server)
        #expect(Data("def".utf8).withUnsafeBytes { sink.write($0) } == .written)
        sink.commit()
        guard case .concatenate(let plan) = fixture.decisions.decide(final) else {
            Issue.record("expected a plan to join the parts")
            return
        }
        #expect(fixture.decisions.concatenate(plan).status == 201)
    }

    /// What the channel handler does when a newer request asks a body to
    /// stop: it ends the body where it is. Without a checksum the bytes are
    /// kept; with one they cannot match the whole body's digest.
    @Test(arguments: [false, true])
    func aStoppedBodyEndsWhereItIsAndLetsGo(withChecksum: Bool) throws {
        let fixture = try Fixture()
        let responder = fixture.server.makeResponder()
        let path = try fixture.create([("Upload-Length", "10")])
        let id = String(path.dropFirst(7))
        var headers = patchHeaders(offset: 0) + [("Content-Length", "10")]
        if withChecksum {
            let digest = Data(Insecure.SHA1.hash(data: Data("abcdefghij".utf8))).base64EncodedString()
            headers.append(("Upload-Checksum", "sha1 \(digest)"))
        }
        guard case .receive(let body) = responder.respond(to: fixture.request("PATCH", path, headers)) else {
            Issue.record("expected a body to receive")
            return
        }
        let stops = Locked(0)
        body.started(stop: { stops.withLock { $0 += 1 } })
        guard case .more = Data("abc".utf8).withUnsafeBytes({ body.receive($0) }) else {
            Issue.record("expected the body to go on")
            return
        }
        #expect(stops.withLock { $0 } == 0)

        let woken = Locked(false)
        let held = fixture.server.store.askToLetGo(id, wake: { woken.withLock { $0 = true } })
        #expect(held)
        #expect(stops.withLock { $0 } == 1)
        // Asked again: the holder is not stopped twice.
        let stillHeld = fixture.server.store.askToLetGo(id, wake: {})
        #expect(stillHeld)
        #expect(stops.withLock { $0 } == 1)
        #expect(!woken.withLock { $0 })

        guard case .answer(let answer) = body.end() else {
            Issue.record("expected an answer")
            return
        }
        #expect(woken.withLock { $0 }, "letting go woke the request waiting")
        #expect(!fixture.server.store.isHeld(id))
        #expect(answer.status == (withChecksum ? 460 : 204))
        #expect(answer.header("Upload-Offset") == (withChecksum ? "0" : "3"))
        #expect(try fixture.answer(fixture.request("HEAD", path)).header("Upload-Offset") == (withChecksum ? "0" : "3"))
    }

    @Test func aRequestForAHeldUploadWaitsForTheHolderThenGoesOnWithItsFault() throws {
        let fixture = try Fixture()
        let responder = fixture.server.makeResponder()
        let path = try fixture.create([("Upload-Length", "6")])
        guard case .receive(let holder) = responder.respond(to: fixture.request("PATCH", path, patchHeaders(offset: 0)))
        else {
            Issue.record("expected a body to receive")
            return
        }
        let stops = Locked(0)
        holder.started(stop: { stops.withLock { $0 += 1 } })
        _ = Data("abc".utf8).withUnsafeBytes { holder.receive($0) }

        // Queued now, so only the waiting PATCH can play it, once accepted.
        fixture.server.faults.withLock { $0 = [.dropConnectionDuringPatch(afterBytes: 1)] }
        let next = responder.respond(to: fixture.request("PATCH", path, patchHeaders(offset: 3)))
        guard case .waitForWakeUp(let seconds, let register, let then) = next else {
            Issue.record("expected a wait for the holder")
            return
        }
        #expect(seconds > 0 && seconds <= 3, "the default takeover timeout")
        let woken = Locked(false)
        register { woken.withLock { $0 = true } }
        #expect(stops.withLock { $0 } == 1, "the holder was asked to stop")
        #expect(!woken.withLock { $0 })
        #expect(fixture.server.faults.withLock { $0 }.count == 1)

        _ = holder.end()
        #expect(woken.withLock { $0 })
        guard case .receive(let taker) = then(true) else {
            Issue.record("expected the waiting PATCH's body to be received")
            return
        }
        #expect(taker is CutBody, "the fault plays after the wait")
        #expect(fixture.server.faults.withLock { $0 }.isEmpty)
        taker.connectionLost()
        #expect(try fixture.answer(fixture.request("HEAD", path)).header("Upload-Offset") == "3")
    }

    @Test func aHolderThatDoesNotLetGoInTimeMeansLocked() throws {
        let fixture = try Fixture()
        let responder = fixture.server.makeResponder()
        let path = try fixture.create([("Upload-Length", "6")])
        // Never started, so never stopped: it holds the upload throughout.
        guard case .receive(let holder) = responder.respond(to: fixture.request("PATCH", path, patchHeaders(offset: 0)))
        else {
            Issue.record("expected a body to receive")
            return
        }
        let wakes = Locked(0)
        for (method, status) in [("PATCH", 423), ("DELETE", 423), ("HEAD", 200)] {
            let headers = method == "PATCH" ? patchHeaders(offset: 0) : []
            guard case .waitForWakeUp(_, let register, let then) = responder.respond(
                to: fixture.request(method, path, headers))
            else {
                Issue.record("expected a wait for the holder")
                return
            }
            register { wakes.withLock { $0 += 1 } }
            #expect(wakes.withLock { $0 } == 0)
            guard case .respond(let answer) = then(false) else {
                Issue.record("expected an answer once the time is up")
                return
            }
            #expect(answer.status == status, "\(method)")
        }
        // When it lets go at last, the requests that gave up are woken too
        // (the channel handler ignores a wake after the wait).
        holder.connectionLost()
        #expect(wakes.withLock { $0 } == 3)
    }

    @Test func aTakeoverTimeoutOfZeroAnswersAtOnce() throws {
        let fixture = try Fixture { $0.takeoverTimeout = 0 }
        let responder = fixture.server.makeResponder()
        let path = try fixture.create([("Upload-Length", "6")])
        guard case .receive(let holder) = responder.respond(to: fixture.request("PATCH", path, patchHeaders(offset: 0)))
        else {
            Issue.record("expected a body to receive")
            return
        }
        guard case .respond(let locked) = responder.respond(to: fixture.request("PATCH", path, patchHeaders(offset: 0)))
        else {
            Issue.record("expected an answer without a wait")
            return
        }
        #expect(locked.status == 423)
        holder.connectionLost()
    }
}
