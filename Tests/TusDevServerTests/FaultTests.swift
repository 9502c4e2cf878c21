import Crypto
import Foundation
import Testing
import TusDevServer
import TusTestSupport

@Suite struct FaultTests {
    @Test func dropConnectionDuringPatchKeepsExactlyTheAcceptedBytes() async throws {
        try await withDevServer { server, _ in
            let bytes = sampleBytes(100_000)
            let url = try await server.create(length: bytes.count)
            server.inject(.dropConnectionDuringPatch(afterBytes: 30_000))
            let cut = try await server.patch(url, offset: 0, bytes)
            #expect(cut.status == 0, "no response")
            #expect(cut.exitCode != 0)
            #expect(server.pendingFaults.isEmpty)

            #expect(try await server.headOffset(url) == 30_000)
            #expect(server.uploadedData(for: url) == bytes.prefix(30_000))

            // The fault played once: the client resumes normally.
            let rest = try await server.patch(url, offset: 30_000, bytes.dropFirst(30_000))
            #expect(rest.status == 204)
            #expect(server.uploadedData(for: url) == bytes)
        }
    }

    @Test func dropConnectionWithAShortBodyKeepsItAllAndStillSaysNothing() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 10)
            server.inject(.dropConnectionDuringPatch(afterBytes: 50))
            let cut = try await server.patch(url, offset: 0, Data("abcd".utf8))
            #expect(cut.status == 0)
            #expect(try await server.headOffset(url) == 4)
        }
    }

    @Test func dropConnectionWithAChecksumDiscardsTheBytes() async throws {
        try await withDevServer { server, _ in
            let bytes = sampleBytes(1000)
            let url = try await server.create(length: bytes.count)
            server.inject(.dropConnectionDuringPatch(afterBytes: 500))
            let digest = Data(Insecure.SHA1.hash(data: bytes)).base64EncodedString()
            let cut = try await server.patch(url, offset: 0, bytes, headers: ["Upload-Checksum": "sha1 \(digest)"])
            #expect(cut.status == 0)
            #expect(try await server.headOffset(url) == 0)
        }
    }

    @Test func statusFaultAnswersOnceAndDoesNothingElse() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 6)
            server.inject(.status(500, method: "PATCH"))
            server.inject(.status(423, method: "head"))

            let failed = try await server.patch(url, offset: 0, Data("abc".utf8))
            #expect(failed.status == 500)
            #expect(server.uploadInfo(for: url)?.offset == 0, "the failed PATCH wrote nothing")

            let locked = try await Curl.request("HEAD", url)
            #expect(locked.status == 423)
            #expect(server.pendingFaults.isEmpty)

            #expect(try await server.headOffset(url) == 0)
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 204)

            server.inject(.status(503, method: "POST"))
            let post = try await Curl.request("POST", server.endpoint, headers: ["Upload-Length": "1"])
            #expect(post.status == 503)
            #expect(post["location"] == nil)
        }
    }

    @Test func statusFaultWaitsForItsMethod() async throws {
        try await withDevServer { server, _ in
            server.inject(.status(409, method: "PATCH"))
            let url = try await server.create(length: 3)
            #expect(try await server.headOffset(url) == 0)
            #expect(server.pendingFaults == [.status(409, method: "PATCH")])
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 409)
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 204)
        }
    }

    @Test func checksumMismatchFaultRejectsAGoodChecksumOnce() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 6)
            server.inject(.checksumMismatch)
            // A PATCH without a checksum does not consume it.
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 204)
            #expect(server.pendingFaults == [.checksumMismatch])

            let bytes = Data("def".utf8)
            let digest = Data(Insecure.SHA1.hash(data: bytes)).base64EncodedString()
            let first = try await server.patch(url, offset: 3, bytes, headers: ["Upload-Checksum": "sha1 \(digest)"])
            #expect(first.status == 460)
            #expect(try await server.headOffset(url) == 3)
            #expect(server.uploadedData(for: url) == Data("abc".utf8))

            let retry = try await server.patch(url, offset: 3, bytes, headers: ["Upload-Checksum": "sha1 \(digest)"])
            #expect(retry.status == 204)
            #expect(server.uploadedData(for: url) == Data("abcdef".utf8))
        }
    }

    @Test func stallOutlastingTheClientTimeoutHasNoEffect() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 3)
            server.inject(.stall(seconds: 30, method: "PATCH"))
            let stalled = try await server.patch(url, offset: 0, Data("abc".utf8), timeout: 1)
            #expect(stalled.status == 0)
            #expect(stalled.exitCode == 28, "curl timed out")
            #expect(try await server.headOffset(url) == 0)
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 204)
        }
    }

    @Test func aPatchThatTakesAStalledOneOverStillMeetsItsFault() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 10)
            let stalled = try RawConnection(port: server.port)
            defer { stalled.close() }
            stalled.send(
                "PATCH \(url.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                    + "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 10\r\n\r\nabc")
            try await waitUntil("the stalled PATCH has written 3 bytes") { server.uploadInfo(for: url)?.offset == 3 }

            // Queued after the stalled PATCH was accepted: the next PATCH,
            // which first waits for the stalled one to let go, plays it.
            server.inject(.dropConnectionDuringPatch(afterBytes: 2))
            let cut = try await server.patch(url, offset: 3, Data("defghij".utf8))
            #expect(cut.status == 0, "no response")
            #expect(server.pendingFaults.isEmpty)
            #expect(try await server.headOffset(url) == 5)
            #expect(server.uploadedData(for: url) == Data("abcde".utf8))
        }
    }

    @Test func shortStallIsThenHandledAsUsual() async throws {
        try await withDevServer { server, _ in
            let bytes = sampleBytes(200_000)
            let url = try await server.create(length: bytes.count)
            server.inject(.stall(seconds: 0.3, method: "PATCH"))
            let response = try await server.patch(url, offset: 0, bytes)
            #expect(response.status == 204)
            #expect(server.pendingFaults.isEmpty)
            #expect(server.uploadedData(for: url) == bytes)
        }
    }
}
