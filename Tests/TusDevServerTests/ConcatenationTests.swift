import Foundation
import Testing
import TusTestSupport
import TusDevServer

/// The `concatenation` extension over real sockets, with curl.
@Suite struct ConcatenationTests {
    @Test func threePartialsAreJoinedByteForByte() async throws {
        try await withDevServer { server, _ in
            // Sizes that make the join copy several 1 MiB buffers and a tail.
            let a = sampleBytes(300_000, seed: 1)
            let b = sampleBytes(1_500_000, seed: 2)
            let c = sampleBytes(2_100_001, seed: 3)

            // A: creation-with-upload, every byte in the POST.
            let createdA = try await Curl.request(
                "POST", server.endpoint,
                headers: [
                    "Upload-Concat": "partial", "Upload-Length": String(a.count),
                    "Content-Type": "application/offset+octet-stream",
                ],
                body: a)
            #expect(createdA.status == 201)
            #expect(createdA["upload-offset"] == String(a.count))
            let urlA = try #require(createdA["location"].flatMap(URL.init(string:)))

            // B: deferred length, declared with its last PATCH.
            let urlB = try await server.createPartial(length: nil)
            #expect(try await server.patch(urlB, offset: 0, b.prefix(1_000_000)).status == 204)
            let lastB = try await server.patch(
                urlB, offset: 1_000_000, b.dropFirst(1_000_000), headers: ["Upload-Length": String(b.count)])
            #expect(lastB.status == 204)

            // C: announced length, two PATCHes.
            let urlC = try await server.createPartial(length: c.count)
            #expect(try await server.patch(urlC, offset: 0, c.prefix(700_000)).status == 204)
            #expect(try await server.patch(urlC, offset: 700_000, c.dropFirst(700_000)).status == 204)

            // An absolute URL, a path, an absolute URL.
            let parts = "\(urlA.absoluteString) \(urlB.path) \(urlC.absoluteString)"
            let created = try await Curl.request(
                "POST", server.endpoint,
                headers: ["Upload-Concat": "final;\(parts)", "Upload-Metadata": "filename YWxsLmJpbg=="])
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            let urlFinal = try #require(created["location"].flatMap(URL.init(string:)))
            #expect(urlFinal.absoluteString.hasPrefix(server.endpoint.absoluteString))

            let total = a.count + b.count + c.count
            #expect(server.uploadedData(for: urlFinal) == a + b + c)
            let info = try #require(server.uploadInfo(for: urlFinal))
            #expect(info.length == Int64(total))
            #expect(info.offset == Int64(total))
            #expect(info.isComplete)
            #expect(info.expiresAt == nil)
            #expect(info.isFinal)
            #expect(!info.isPartial)
            #expect(info.partIDs == [urlA.lastPathComponent, urlB.lastPathComponent, urlC.lastPathComponent])
            #expect(info.concatenation == .final(partIDs: info.partIDs))
            #expect(info.metadata == ["filename": "all.bin"])

            let headFinal = try await Curl.request("HEAD", urlFinal)
            #expect(headFinal.status == 200)
            #expect(headFinal["upload-concat"] == "final;\(parts)")
            #expect(headFinal["upload-length"] == String(total))
            #expect(headFinal["upload-offset"] == String(total))
            #expect(headFinal["upload-metadata"] == "filename YWxsLmJpbg==")

            for (url, bytes) in [(urlA, a), (urlB, b), (urlC, c)] {
                let head = try await Curl.request("HEAD", url)
                #expect(head.status == 200)
                #expect(head["upload-concat"] == "partial")
                #expect(head["upload-length"] == String(bytes.count))
                #expect(head["upload-offset"] == String(bytes.count))
                #expect(server.uploadInfo(for: url)?.isPartial == true)
                #expect(server.uploadInfo(for: url)?.partIDs == [])
                // The parts are still there, whole.
                #expect(server.uploadedData(for: url) == bytes)
            }

            // A client may delete the parts; the final keeps its bytes.
            #expect(try await Curl.request("DELETE", urlA).status == 204)
            #expect(try await Curl.request("HEAD", urlA).status == 404)
            #expect(server.uploadedData(for: urlFinal) == a + b + c)
        }
    }

    @Test func aPartNamedTwiceIsJoinedTwice() async throws {
        try await withDevServer { server, _ in
            let bytes = Data("twice ".utf8)
            let part = try await server.createPartial(length: bytes.count)
            #expect(try await server.patch(part, offset: 0, bytes).status == 204)
            let final = try await server.createFinal("final;\(part.path)  \(part.path)")
            #expect(final.status == 201)
            let url = try #require(final["location"].flatMap(URL.init(string:)))
            #expect(server.uploadedData(for: url) == bytes + bytes)
            #expect(server.uploadInfo(for: url)?.partIDs == [part.lastPathComponent, part.lastPathComponent])
            // Both mentions were let go: the part can be deleted.
            #expect(try await Curl.request("DELETE", part).status == 204)
        }
    }

    @Test func aMissingPartGets404NamingIt() async throws {
        try await withDevServer { server, _ in
            let part = try await server.completePartial(Data("abc".utf8))
            let missing = server.endpoint.appendingPathComponent("0123456789abcdef0123456789abcdef")
            let response = try await server.createFinal("final;\(part.absoluteString) \(missing.absoluteString)")
            #expect(response.status == 404)
            #expect(response["location"] == nil)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("part 2"), "\(text)")
            #expect(text.contains(missing.absoluteString), "\(text)")
            #expect(text.contains("does not exist"), "\(text)")

            // A path outside the endpoint names no upload of this server.
            let outside = try await server.createFinal("final;\(part.path) /elsewhere/\(part.lastPathComponent)")
            #expect(outside.status == 404)
            #expect(String(decoding: outside.body, as: UTF8.self).contains("part 2"))

            // The first part was held while checking, and let go.
            #expect(try await Curl.request("DELETE", part).status == 204)
        }
    }

    @Test func anUnfinishedPartGets400NamingIt() async throws {
        try await withDevServer { server, _ in
            let done = try await server.completePartial(Data("abc".utf8))
            let unfinished = try await server.createPartial(length: 10)
            #expect(try await server.patch(unfinished, offset: 0, Data("012".utf8)).status == 204)
            let response = try await server.createFinal("final;\(done.path) \(unfinished.path)")
            #expect(response.status == 400)
            #expect(response["location"] == nil)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("part 2 (\(unfinished.path)) is unfinished"), "\(text)")
            #expect(text.contains("3 of its 10 bytes"), "\(text)")

            // A part whose length is still deferred is unfinished too.
            let deferred = try await server.createPartial(length: nil)
            let deferredAnswer = try await server.createFinal("final;\(deferred.path)")
            #expect(deferredAnswer.status == 400)
            #expect(String(decoding: deferredAnswer.body, as: UTF8.self).contains("deferred"))

            // Once finished it joins.
            #expect(try await server.patch(unfinished, offset: 3, Data("3456789".utf8)).status == 204)
            let again = try await server.createFinal("final;\(done.path) \(unfinished.path)")
            #expect(again.status == 201)
            let url = try #require(again["location"].flatMap(URL.init(string:)))
            #expect(server.uploadedData(for: url) == Data("abc0123456789".utf8))
        }
    }

    @Test func aPartThatIsNotPartialGets400NamingIt() async throws {
        try await withDevServer { server, _ in
            let part = try await server.completePartial(Data("abc".utf8))
            let ordinary = try await server.create(length: 3)
            #expect(try await server.patch(ordinary, offset: 0, Data("xyz".utf8)).status == 204)
            let response = try await server.createFinal("final;\(part.path) \(ordinary.absoluteString)")
            #expect(response.status == 400)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("part 2 (\(ordinary.absoluteString)) is not a partial upload"), "\(text)")

            // Nor is a final upload a part.
            let final = try await server.createFinal("final;\(part.path)")
            let finalURL = try #require(final["location"].flatMap(URL.init(string:)))
            let nested = try await server.createFinal("final;\(finalURL.path)")
            #expect(nested.status == 400)
            #expect(String(decoding: nested.body, as: UTF8.self).contains("is a final upload"))
        }
    }

    @Test(arguments: [
        ["Upload-Concat": "final;"],
        ["Upload-Concat": "final;   "],
        ["Upload-Concat": "final /files/abc"],
        ["Upload-Concat": "partial;"],
        ["Upload-Concat": "Partial", "Upload-Length": "3"],
        ["Upload-Concat": "final;/files/abc", "Upload-Length": "3"],
        ["Upload-Concat": "final;/files/abc", "Upload-Defer-Length": "1"],
        ["Upload-Concat": "partial"],
    ])
    func malformedConcatenationGets400(headers: [String: String]) async throws {
        try await withDevServer { server, _ in
            let response = try await Curl.request("POST", server.endpoint, headers: headers)
            #expect(response.status == 400, "\(headers)")
            #expect(response["location"] == nil)
        }
    }

    @Test func aFinalUploadRefusesPatch() async throws {
        try await withDevServer { server, _ in
            let part = try await server.completePartial(Data("abc".utf8))
            let created = try await server.createFinal("final;\(part.path)")
            let url = try #require(created["location"].flatMap(URL.init(string:)))
            for offset in [0, 3] {
                let patch = try await server.patch(url, offset: offset, Data("def".utf8))
                #expect(patch.status == 403)
            }
            #expect(server.uploadedData(for: url) == Data("abc".utf8))
            #expect(try await server.headOffset(url) == 3)

            // Nor does the final POST take bytes of its own.
            let withBody = try await Curl.request(
                "POST", server.endpoint,
                headers: ["Upload-Concat": "final;\(part.path)", "Content-Type": "application/offset+octet-stream"],
                body: Data("def".utf8))
            #expect(withBody.status == 403)
            #expect(withBody["location"] == nil)

            // A final upload can be deleted.
            #expect(try await Curl.request("DELETE", url).status == 204)
            #expect(server.uploadInfo(for: url) == nil)
        }
    }

    @Test func aFinalUploadAndItsPartsSurviveARestart() async throws {
        let directory = try TemporaryFolder()
        let configuration = TusDevServer.Configuration(directory: directory.url)
        let first = try await TusDevServer.start(configuration)
        let partA: URL, partB: URL, final: URL, concat: String
        do {
            partA = try await first.completePartial(Data("hello, ".utf8))
            partB = try await first.createPartial(length: 5)
            #expect(try await first.patch(partB, offset: 0, Data("wor".utf8)).status == 204)
            let early = try await first.createFinal("final;\(partA.path)")
            final = try #require(early["location"].flatMap(URL.init(string:)))
            concat = try #require(try await Curl.request("HEAD", final)["upload-concat"])
        } catch {
            try await first.shutdown()
            throw error
        }
        try await first.shutdown()

        var again = configuration
        again.port = first.port
        try await TusDevServer.withServer(again) { second in
            let head = try await Curl.request("HEAD", final)
            #expect(head.status == 200)
            #expect(head["upload-concat"] == concat)
            #expect(head["upload-concat"] == "final;\(partA.path)")
            #expect(head["upload-length"] == "7")
            #expect(head["upload-offset"] == "7")
            let info = try #require(second.uploadInfo(for: final))
            #expect(info.concatenation == .final(partIDs: [partA.lastPathComponent]))
            #expect(second.uploadedData(for: final) == Data("hello, ".utf8))
            #expect(try await second.patch(final, offset: 7, Data("x".utf8)).status == 403)

            // The parts are still partial, the unfinished one resumable and
            // then joinable.
            #expect(try await Curl.request("HEAD", partA)["upload-concat"] == "partial")
            #expect(second.uploadInfo(for: partB)?.isPartial == true)
            #expect(try await second.patch(partB, offset: 3, Data("ld".utf8)).status == 204)
            let joined = try await second.createFinal("final;\(partA.absoluteString) \(partB.absoluteString)")
            #expect(joined.status == 201)
            let url = try #require(joined["location"].flatMap(URL.init(string:)))
            #expect(second.uploadedData(for: url) == Data("hello, world".utf8))
        }
    }
}

extension TusDevServer {
    /// Creates a partial upload (`nil`: deferred length) and returns its URL.
    func createPartial(length: Int?) async throws -> URL {
        var headers = ["Upload-Concat": "partial"]
        if let length { headers["Upload-Length"] = String(length) } else { headers["Upload-Defer-Length"] = "1" }
        let response = try await Curl.request("POST", endpoint, headers: headers)
        try #require(response.status == 201, "POST answered \(response.status)")
        return try #require(response["location"].flatMap(URL.init(string:)))
    }

    /// Creates a partial upload holding `bytes`, complete.
    func completePartial(_ bytes: Data) async throws -> URL {
        let url = try await createPartial(length: bytes.count)
        try #require(try await patch(url, offset: 0, bytes).status == 204)
        return url
    }

    /// Sends a final `POST` with `Upload-Concat: <concat>`.
    func createFinal(_ concat: String) async throws -> CurlResult {
        try await Curl.request("POST", endpoint, headers: ["Upload-Concat": concat])
    }
}
