import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TusCore
@testable import TusClient

/// The verdict function, driven with every status code against every kind
/// of request, with no server: what each answer means for the upload.
@Suite struct VerdictTests {
    static let endpoint = URL(string: "http://tus.example/files/")!
    static let upload = URL(string: "http://tus.example/files/abc")!

    /// The codes every kind is driven with.
    static let codes = [200, 201, 204, 301, 400, 401, 403, 404, 405, 407, 408, 409, 410, 412, 413, 415, 423, 429, 460, 500, 502, 503, 504]

    /// What each code means for each kind of request: the expected
    /// verdict's name, written out by hand (a 2xx answer carries the
    /// headers its kind needs).
    static let table: [RequestKind: [Int: String]] = [
        .options: [
            200: "capabilities", 201: "capabilities", 204: "capabilities", 301: "stop", 400: "stop", 401: "auth", 403: "auth",
            404: "stop", 405: "stop", 407: "auth", 408: "stop", 409: "stop", 410: "stop", 412: "stop", 413: "stop", 415: "stop",
            423: "wait", 429: "stop", 460: "stop", 500: "stop", 502: "stop", 503: "stop", 504: "stop",
        ],
        .create: [
            200: "created", 201: "created", 204: "created", 301: "retry", 400: "createWithoutBody", 401: "auth", 403: "auth",
            404: "retry", 405: "retry", 407: "auth", 408: "retry", 409: "retry", 410: "retry", 412: "stop", 413: "sendSmaller",
            415: "createWithoutBody", 423: "wait", 429: "retry", 460: "retry", 500: "retry", 502: "retry", 503: "retry", 504: "retry",
        ],
        .append: [
            200: "moved", 201: "moved", 204: "moved", 301: "retry+resync", 400: "retry+resync", 401: "auth+resync", 403: "auth+resync",
            404: "forget", 405: "retry+resync", 407: "auth+resync", 408: "retry+resync", 409: "retry+resync", 410: "forget",
            412: "stop", 413: "sendSmaller", 415: "retry+resync", 423: "wait", 429: "retry+resync", 460: "retry",
            500: "retry+resync", 502: "retry+resync", 503: "retry+resync", 504: "retry+resync",
        ],
        .offset: [
            200: "moved", 201: "moved", 204: "moved", 301: "retry+resync", 400: "retry+resync", 401: "auth+resync", 403: "auth+resync",
            404: "forget", 405: "retry+resync", 407: "auth+resync", 408: "retry+resync", 409: "retry+resync", 410: "forget",
            412: "stop", 413: "retry+resync", 415: "retry+resync", 423: "wait", 429: "retry+resync", 460: "retry+resync",
            500: "retry+resync", 502: "retry+resync", 503: "retry+resync", 504: "retry+resync",
        ],
        .resume: [
            200: "resumable", 201: "resumable", 204: "resumable", 301: "retry", 400: "retry", 401: "auth+resync", 403: "auth+resync",
            404: "forget", 405: "retry", 407: "auth+resync", 408: "retry", 409: "retry", 410: "forget", 412: "stop", 413: "retry",
            415: "retry", 423: "wait", 429: "retry", 460: "retry", 500: "retry", 502: "retry", 503: "retry", 504: "retry",
        ],
        .concatenate: [
            200: "joined", 201: "joined", 204: "joined", 301: "retry", 400: "retry", 401: "auth", 403: "auth", 404: "retry",
            405: "retry", 407: "auth", 408: "retry", 409: "retry", 410: "retry", 412: "stop", 413: "retry", 415: "retry",
            423: "wait", 429: "retry", 460: "retry", 500: "retry", 502: "retry", 503: "retry", 504: "retry",
        ],
        .terminate: [
            200: "terminated", 201: "terminated", 204: "terminated", 301: "retry", 400: "retry", 401: "auth+resync",
            403: "auth+resync", 404: "terminated", 405: "retry", 407: "auth+resync", 408: "retry", 409: "retry", 410: "terminated",
            412: "retry", 413: "retry", 415: "retry", 423: "wait", 429: "retry", 460: "retry", 500: "retry", 502: "retry",
            503: "retry", 504: "retry",
        ],
    ]

    static let kinds: [RequestKind] = [.options, .create, .append, .offset, .resume, .concatenate, .terminate]

    @Test(arguments: kinds)
    func everyStatusCodeHasTheVerdictOfTheTable(kind: RequestKind) throws {
        let expected = try #require(Self.table[kind])
        for code in Self.codes {
            let verdict = Verdict.decide(Self.sent(kind), .answer(Self.answer(code, for: kind)))
            #expect(Self.name(verdict) == expected[code], "\(kind.method) answered \(code)")
        }
    }

    @Test(arguments: kinds)
    func credentialsRefusedNeverForgetTheUpload(kind: RequestKind) {
        for code in [401, 403, 407] {
            let verdict = Verdict.decide(Self.sent(kind), .answer(Self.answer(code, for: kind)))
            guard case .retry(let failure, _) = verdict else {
                Issue.record("\(kind.method) answered \(code): \(Self.name(verdict))")
                continue
            }
            #expect(failure.error.code == .authenticationFailed)
            #expect(failure.error.message.contains("refused the credentials"))
            // The default policy does not retry them: the upload stops,
            // its URL kept.
            #expect(!RetryPolicy.isTransient(RequestFailure(method: kind.method, statusCode: code, error: failure.error, attempt: 1)))
        }
    }

    @Test func a503AfterAnAbandonedRequestIsWaitedOutOnlyForTheUploadsOwnURL() {
        for kind in Self.kinds {
            var sent = Self.sent(kind)
            sent.afterAbandoned = true
            let verdict = Verdict.decide(sent, .answer(Self.answer(503, for: kind)))
            let expected = kind.hasURL ? "wait" : (kind == .options ? "stop" : "retry")
            #expect(Self.name(verdict) == expected, "\(kind.method)")
        }
    }

    @Test func noAnswerIsRetriedAndAsksTheOffsetOnlyForTheUploadsOwnURL() {
        for kind in Self.kinds {
            let failure = TransportFailure(error: TusError(.connectionFailed, "cut"), bytesSent: 10, stalled: false)
            let verdict = Verdict.decide(Self.sent(kind), .noAnswer(failure))
            #expect(Self.name(verdict) == (kind.hasURL ? "retry+resync" : "retry"), "\(kind.method)")
        }
    }

    // MARK: Creation

    @Test func bytesSentUnaskedAreRefusedOrIgnoredOrTaken() {
        var sent = Self.sent(.create)
        sent.unasked = true
        sent.bodyCount = 1000
        let ignored = Verdict.decide(sent, .answer(Self.exchange(201, ["Location": "/files/x"])))
        guard case .created(let url, nil, .tus) = ignored else { Issue.record("\(ignored)"); return }
        #expect(url.absoluteString == "http://tus.example/files/x")
        let taken = Verdict.decide(sent, .answer(Self.exchange(201, ["Location": "x", "Upload-Offset": "600"])))
        guard case .created(let relative, 600, .tus) = taken else { Issue.record("\(taken)"); return }
        #expect(relative.absoluteString == "http://tus.example/files/x")
        // More than was sent is not believed.
        let tooMany = Verdict.decide(sent, .answer(Self.exchange(201, ["Location": "x", "Upload-Offset": "1001"])))
        guard case .created(_, 0, .tus) = tooMany else { Issue.record("\(tooMany)"); return }
        sent.unasked = false
        #expect(Self.name(Verdict.decide(sent, .answer(Self.exchange(400, [:])))) == "retry")
        sent.bodyCount = 0
        #expect(Self.name(Verdict.decide(sent, .answer(Self.exchange(413, [:])))) == "stop")
        #expect(Self.name(Verdict.decide(sent, .answer(Self.exchange(201, [:])))) == "stop", "no Location")
    }

    // MARK: Appending

    @Test func anOffsetOutsideWhatWasSentAsksTheServerAgain() {
        var sent = Self.sent(.append)
        sent.offset = 100
        sent.bodyCount = 50
        #expect(Self.name(Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "150"])))) == "moved")
        #expect(Self.name(Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": "120"])))) == "moved")
        for offset in ["100", "151", "99", "x", "-1"] {
            #expect(Self.name(Verdict.decide(sent, .answer(Self.exchange(204, ["Upload-Offset": offset])))) == "retry+resync", "\(offset)")
        }
        #expect(Self.name(Verdict.decide(sent, .answer(Self.exchange(204, [:])))) == "retry+resync")
    }

    // MARK: Resuming a stored URL

    @Test func aStoredURLIsForgottenOnlyForAnotherFileOrTheServersWord() {
        var sent = Self.sent(.resume)
        sent.size = 1000
        sent.fileCheck = "1000 sha256:AAAA"
        func verdict(_ headers: [String: String]) -> String {
            Self.name(Verdict.decide(sent, .answer(Self.exchange(200, headers))))
        }
        let mine = "swift-tus-file-check " + Data("1000 sha256:AAAA".utf8).base64EncodedString()
        let theirs = "swift-tus-file-check " + Data("1000 sha256:BBBB".utf8).base64EncodedString()
        #expect(verdict(["Upload-Offset": "10", "Upload-Length": "1000", "Upload-Metadata": mine]) == "resumable")
        #expect(verdict(["Upload-Offset": "10", "Upload-Length": "1000", "Upload-Metadata": theirs]) == "forget")
        // A server that echoes no metadata cannot tell: the URL is trusted.
        #expect(verdict(["Upload-Offset": "10", "Upload-Length": "1000"]) == "resumable")
        #expect(verdict(["Upload-Offset": "10", "Upload-Length": "999"]) == "forget")
        #expect(verdict(["Upload-Offset": "1001"]) == "forget")
        #expect(verdict(["Upload-Offset": "x"]) == "stop")
    }

    @Test func expiryIsJudgedByTheServersClockAlone() {
        var sent = Self.sent(.resume)
        sent.size = 1000
        func verdict(_ headers: [String: String]) -> String {
            Self.name(Verdict.decide(sent, .answer(Self.exchange(200, headers))))
        }
        let expires = "Wed, 09 Dec 2026 10:00:00 GMT"
        // Whatever the client's clock says, the server's Date decides.
        #expect(verdict(["Upload-Offset": "1", "Upload-Expires": expires, "Date": "Tue, 08 Dec 2026 10:00:00 GMT"]) == "resumable")
        #expect(verdict(["Upload-Offset": "1", "Upload-Expires": expires, "Date": "Thu, 10 Dec 2026 10:00:00 GMT"]) == "forget")
        // Without a Date, the server's 404 or 410 says when it is gone.
        #expect(verdict(["Upload-Offset": "1", "Upload-Expires": "Thu, 01 Jan 1970 00:00:00 GMT"]) == "resumable")
        var offset = Self.sent(.offset)
        offset.size = 1000
        let during = Verdict.decide(offset, .answer(Self.exchange(200, ["Upload-Offset": "5", "Upload-Expires": expires, "Date": "Thu, 10 Dec 2026 10:00:00 GMT"])))
        #expect(Self.name(during) == "forget")
    }

    @Test func nginxsPageForAMissingClientCertificateStops() {
        var answer = Self.exchange(400, [:])
        answer.body = ByteBuffer(string: "<html><center>No required SSL certificate was sent</center></html>")
        let verdict = Verdict.decide(Self.sent(.append), .answer(answer))
        guard case .stop(let error) = verdict else { Issue.record("\(verdict)"); return }
        #expect(error.code == .authenticationFailed)
        #expect(error.message.contains("requires a client certificate"))
    }

    // MARK: Helpers

    static func sent(_ kind: RequestKind) -> SentRequest {
        switch kind {
        case .options, .create, .concatenate:
            SentRequest(kind: kind, url: endpoint, bodyCount: kind == .create ? 100 : 0, unasked: kind == .create, size: 1000)
        case .append:
            SentRequest(kind: kind, url: upload, offset: 0, bodyCount: 100, size: 1000)
        case .offset, .resume, .terminate:
            SentRequest(kind: kind, url: upload, size: 1000)
        }
    }

    /// An answer with `code` and, for a 2xx, the headers its kind needs.
    static func answer(_ code: Int, for kind: RequestKind) -> Exchange {
        guard (200..<300).contains(code) else { return exchange(code, [:]) }
        switch kind {
        case .options: return exchange(code, ["Tus-Version": "1.0.0", "Tus-Extension": "creation, termination"])
        case .create, .concatenate: return exchange(code, ["Location": "/files/new", "Upload-Offset": "100"])
        case .append: return exchange(code, ["Upload-Offset": "100"])
        case .offset, .resume: return exchange(code, ["Upload-Offset": "100", "Upload-Length": "1000"])
        case .terminate: return exchange(code, [:])
        }
    }

    static func exchange(_ code: Int, _ headers: [String: String]) -> Exchange {
        Exchange(status: HTTPResponseStatus(statusCode: code), headers: HTTPHeaders(headers.map { ($0.key, $0.value) }), body: ByteBuffer())
    }

    /// A verdict's name, as the table writes it.
    static func name(_ verdict: Verdict) -> String {
        switch verdict {
        case .capabilities: "capabilities"
        case .created: "created"
        case .moved: "moved"
        case .resumable: "resumable"
        case .joined: "joined"
        case .terminated: "terminated"
        case .sendSmaller: "sendSmaller"
        case .createWithoutBody: "createWithoutBody"
        case .retry(let failure, let resync):
            (failure.error.code == .authenticationFailed ? "auth" : "retry") + (resync ? "+resync" : "")
        case .waitForRelease: "wait"
        case .forget: "forget"
        case .stop: "stop"
        }
    }
}
