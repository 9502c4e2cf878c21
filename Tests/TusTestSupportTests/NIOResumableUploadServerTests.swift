import Foundation
import Testing
import TusTestSupport

/// Apple's NIOResumableUpload behind `nio-resumable-upload-server`, spoken
/// to with curl in interop version 6. Where it strays from the draft, the
/// test says so; Docs/IETFDraft.md lists those quirks.
@Suite struct NIOResumableUploadServerTests {
    /// The headers of every request: the draft's interop version 6.
    private static let interop6 = ["Upload-Draft-Interop-Version": "6"]

    /// An append (`PATCH`) of `body` at `offset` in interop version 6, with
    /// `Upload-Complete` as `complete` says and the append's media type.
    private static func append(
        _ location: URL, offset: Int, complete: Bool, body: Data,
        contentType: String = "application/partial-upload"
    ) async throws -> CurlResult {
        try await Curl.request(
            "PATCH", location,
            headers: interop6.merging([
                "Upload-Complete": complete ? "?1" : "?0", "Upload-Offset": String(offset), "Content-Type": contentType,
            ]) { $1 },
            body: body, tus: false)
    }

    @Test func aWholeUploadInOnePostIsWrittenToItsFile() async throws {
        var random = SeededGenerator.forTest()
        let body = random.bytes(Int.random(in: 1...64 * 1024, using: &random))
        try await NIOResumableUploadServer.withServer { server in
            let answer = try await Curl.request(
                "POST", server.uploadURL("whole.bin"),
                headers: Self.interop6.merging(["Upload-Complete": "?1"]) { $1 }, body: body, tus: false)
            #expect(answer.exitCode == 0, "\(answer.stderr)")
            #expect(answer.status == 201, "\(server.output)")
            #expect(try Data(contentsOf: server.uploadedFile("whole.bin")) == body)
            #expect(server.output.contains("wrote whole.bin (\(body.count) bytes)"))

            // Before the answer, a 104 named the upload resource.
            let interim = try #require(answer.interim.first { $0.status == 104 }, "no 104 among \(answer.interim.map(\.status))")
            #expect(interim["upload-draft-interop-version"] == "6")
            let location = try #require(interim["location"].flatMap(URL.init(string:)))
            #expect(location.absoluteString.hasPrefix("\(server.origin.absoluteString)/resumable_upload/"))
            #expect(answer["location"] == location.absoluteString)
            #expect(answer["upload-offset"] == String(body.count))
            // Quirk: the final answer says `Upload-Incomplete: ?0` (draft -01's
            // header) instead of `Upload-Complete: ?1`.
            #expect(answer["upload-complete"] == nil)
            #expect(answer["upload-incomplete"] == "?0")

            // Quirk: once the upload is complete and its connection closed,
            // the upload resource is gone; a client that lost the final
            // answer cannot learn from a HEAD that the upload completed.
            try await waitUntil("the completed upload's resource is dropped", timeout: .seconds(10)) {
                try await Curl.request("HEAD", location, headers: Self.interop6, tus: false).status == 404
            }
        }
    }

    @Test func anUploadInTwoAppendsShowsItsOffsetOnHeadAndCompletesEmpty() async throws {
        var random = SeededGenerator.forTest()
        let first = random.bytes(Int.random(in: 1...32 * 1024, using: &random))
        let second = random.bytes(Int.random(in: 1...32 * 1024, using: &random))
        try await NIOResumableUploadServer.withServer { server in
            let created = try await Curl.request(
                "POST", server.uploadURL("parts.bin"),
                headers: Self.interop6.merging(["Upload-Complete": "?0"]) { $1 }, body: first, tus: false)
            #expect(created.status == 201, "\(created.stderr) \(server.output)")
            #expect(created["upload-complete"] == "?0")
            #expect(created["upload-offset"] == String(first.count))
            let location = try #require(created["location"].flatMap(URL.init(string:)))
            // Quirk: the 104 comes for a creation with `Upload-Complete: ?0` too.
            #expect(created.interim.contains { $0.status == 104 && $0["location"] == location.absoluteString })

            let appended = try await Self.append(location, offset: first.count, complete: false, body: second)
            // Draft -05 §6 asks for 201 here; draft -12 for any 2xx.
            #expect(appended.status == 201, "\(appended.stderr) \(server.output)")
            #expect(appended["upload-complete"] == "?0")
            #expect(appended["upload-offset"] == String(first.count + second.count))

            let head = try await Curl.request("HEAD", location, headers: Self.interop6, tus: false)
            #expect(head.status == 204)
            #expect(head["upload-offset"] == String(first.count + second.count))
            #expect(head["upload-complete"] == "?0")
            #expect(head["cache-control"] == "no-store")
            #expect(!FileManager.default.fileExists(atPath: server.uploadedFile("parts.bin").path), "not complete yet")

            // An empty append with `Upload-Complete: ?1` completes it.
            let completed = try await Self.append(location, offset: first.count + second.count, complete: true, body: Data())
            #expect(completed.status == 201, "\(completed.stderr) \(server.output)")
            #expect(try Data(contentsOf: server.uploadedFile("parts.bin")) == first + second)
        }
    }

    @Test func aMismatchedOffsetIsA409WithTheOffsetButTheUploadIsGone() async throws {
        var random = SeededGenerator.forTest()
        let first = random.bytes(Int.random(in: 1...1024, using: &random))
        try await NIOResumableUploadServer.withServer { server in
            let created = try await Curl.request(
                "POST", server.uploadURL("conflict.bin"),
                headers: Self.interop6.merging(["Upload-Complete": "?0"]) { $1 }, body: first, tus: false)
            let location = try #require(created["location"].flatMap(URL.init(string:)), "\(server.output)")

            let wrong = try await Self.append(location, offset: first.count + 5, complete: true, body: Data("late".utf8))
            #expect(wrong.status == 409)
            #expect(wrong["upload-offset"] == String(first.count))
            #expect(wrong["upload-complete"] == "?0")

            // Quirk: the 409 ended the upload; its offset cannot be resumed from.
            let head = try await Curl.request("HEAD", location, headers: Self.interop6, tus: false)
            #expect(head.status == 404)
        }
    }

    @Test func otherInteropVersionsAreRefusedAndPlainUploadsPassThrough() async throws {
        try await NIOResumableUploadServer.withServer { server in
            // Quirk: a version it does not speak is a 400, not a plain upload.
            let newest = try await Curl.request(
                "POST", server.uploadURL("v8.txt"),
                headers: ["Upload-Draft-Interop-Version": "8", "Upload-Complete": "?1"], body: Data("v8".utf8), tus: false)
            #expect(newest.status == 400)
            #expect(newest["upload-draft-interop-version"] == "6")
            #expect(newest.interim.isEmpty)

            // Without the draft's headers, a request is an ordinary upload.
            let plain = try await Curl.request("POST", server.uploadURL("plain.txt"), body: Data("plain".utf8), tus: false)
            #expect(plain.status == 201)
            #expect(plain.interim.isEmpty)
            #expect(plain["upload-offset"] == nil)
            #expect(try Data(contentsOf: server.uploadedFile("plain.txt")) == Data("plain".utf8))

            // Quirk: an append's Content-Type must be exactly the media type.
            let created = try await Curl.request(
                "POST", server.uploadURL("typed.txt"),
                headers: Self.interop6.merging(["Upload-Complete": "?0"]) { $1 }, body: Data("a".utf8), tus: false)
            let location = try #require(created["location"].flatMap(URL.init(string:)), "\(server.output)")
            let withParameter = try await Self.append(
                location, offset: 1, complete: true, body: Data("b".utf8),
                contentType: "application/partial-upload; charset=binary")
            #expect(withParameter.status == 400)
        }
    }

    @Test func givenAPortAndARelaysOriginEveryRequestGoesThroughTheRelay() async throws {
        var random = SeededGenerator.forTest()
        let first = random.bytes(Int.random(in: 1...32 * 1024, using: &random))
        let second = random.bytes(Int.random(in: 1...32 * 1024, using: &random))
        // The relay first, toward a port nothing listens on yet; then the
        // server on that port, giving the relay's origin in its URLs.
        let port = try freeLoopbackPort()
        try await Relay.withRelay(to: "127.0.0.1", port: port) { relay in
            let relayOrigin = try #require(URL(string: "http://127.0.0.1:\(relay.port)"))
            try await NIOResumableUploadServer.withServer(port: port, origin: relayOrigin) { server in
                #expect(server.port == port)
                #expect(server.origin == relayOrigin)
                #expect(server.uploadURL("relayed.bin").port == relay.port)
                let created = try await Curl.request(
                    "POST", server.uploadURL("relayed.bin"),
                    headers: Self.interop6.merging(["Upload-Complete": "?0"]) { $1 }, body: first, tus: false)
                #expect(created.status == 201, "\(created.stderr) \(server.output)")
                let location = try #require(created["location"].flatMap(URL.init(string:)))
                #expect(location.absoluteString.hasPrefix("\(relayOrigin.absoluteString)/resumable_upload/"))

                let completed = try await Self.append(location, offset: first.count, complete: true, body: second)
                #expect(completed.status == 201, "\(completed.stderr) \(server.output)")
                #expect(try Data(contentsOf: server.uploadedFile("relayed.bin")) == first + second)
                // Both requests, and so both bodies, came through the relay.
                #expect(relay.counters.connectionsAccepted >= 2)
                #expect(relay.counters.bytesToServer >= first.count + second.count)
            }
        }
    }

    @Test func theServerIsGoneOnceTheClosureReturns() async throws {
        let origin = try await NIOResumableUploadServer.withServer { $0.origin }
        let refused = try await curl([], origin)
        #expect(refused.exitCode == 7, "nothing listens any more: \(refused.stderr)")
    }
}
