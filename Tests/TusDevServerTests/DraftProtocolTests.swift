import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// The IETF draft "Resumable Uploads for HTTP" on the development server,
/// beside tus 1.0 on the same endpoint, spoken by curl over real HTTP.
@Suite struct DraftProtocolTests {
    /// One draft request: `Upload-Draft-Interop-Version` and no
    /// `Tus-Resumable`.
    static func draft(
        _ method: String, _ url: URL, version: Int = 8, headers: [String: String] = [:], body: Data? = nil,
        allowExpect: Bool = false
    ) async throws -> CurlResult {
        var headers = headers
        headers["Upload-Draft-Interop-Version"] = String(version)
        return try await Curl.request(method, url, headers: headers, body: body, tus: false, allowExpect: allowExpect)
    }

    /// An append: `PATCH` with `application/partial-upload`.
    static func append(
        _ url: URL, offset: Int, complete: Bool, _ bytes: Data, version: Int = 8
    ) async throws -> CurlResult {
        try await draft(
            "PATCH", url, version: version,
            headers: [
                "Content-Type": "application/partial-upload", "Upload-Offset": String(offset),
                "Upload-Complete": complete ? "?1" : "?0",
            ], body: bytes)
    }

    /// Creates a draft upload with `Upload-Complete: ?0` and `bytes` as
    /// its first content; its URL.
    static func create(
        on server: TusDevServer, length: Int? = nil, _ bytes: Data = Data(), version: Int = 8
    ) async throws -> URL {
        var headers = ["Upload-Complete": "?0"]
        if let length { headers["Upload-Length"] = String(length) }
        let response = try await draft("POST", server.endpoint, version: version, headers: headers, body: bytes)
        try #require(response.status == 201, "POST answered \(response.status): \(response.text)")
        return try #require(response["location"].flatMap(URL.init(string:)))
    }

    @Test(arguments: [6, 8])
    func aCreationGetsA104WithItsLocationThenA201(version: Int) async throws {
        try await withDevServer { server, _ in
            let bytes = randomData(100_000)
            let response = try await Self.draft(
                "POST", server.endpoint, version: version, headers: ["Upload-Complete": "?1"], body: bytes)
            #expect(response.status == 201, "\(response.text)")
            let interim = try #require(response.interim.first { $0.status == 104 }, "no 104 before the answer")
            let location = try #require(response["location"])
            #expect(interim["location"] == location, "the 104 names the upload the answer names")
            #expect(interim["upload-draft-interop-version"] == String(version))
            #expect(interim["upload-limit"]?.contains("max-size=") == true)
            #expect(interim["tus-resumable"] == nil)
            #expect(response["upload-draft-interop-version"] == String(version))
            #expect(response["tus-resumable"] == nil, "a draft answer does not speak tus")
            #expect(response["upload-complete"] == "?1")
            #expect(response["upload-offset"] == "100000")
            #expect(response["upload-limit"]?.contains("max-size=") == true)

            let url = try #require(URL(string: location))
            #expect(location.hasPrefix(server.endpoint.absoluteString))
            #expect(server.uploadedData(for: url) == bytes)
            let info = try #require(server.uploadInfo(for: url))
            #expect(info.isComplete)
            #expect(info.length == 100_000)
            #expect(info.madeWith == .ietfDraft(interopVersion: version, complete: true))

            // Complete, it stays readable.
            let head = try await Self.draft("HEAD", url, version: version)
            #expect(head.status == 204)
            #expect(head["upload-complete"] == "?1")
            #expect(head["upload-offset"] == "100000")
            #expect(head["upload-length"] == "100000")
        }
    }

    @Test func aCreationCutMidBodyKeepsTheBytesThatArrived() async throws {
        try await withDevServer { server, _ in
            let bytes = randomData(400_000)
            // Slow enough that the 104 is back long before the cut.
            let link = Relay.Behaviour(cut: .init(afterBytes: 150_000, times: 1), rate: .init(bytesPerSecond: 400_000))
            try await Relay.withRelay(to: server.endpoint, link) { relay in
                let cut = try await Self.draft(
                    "POST", relay.url(for: server.endpoint), headers: ["Upload-Complete": "?1"], body: bytes)
                #expect(cut.exitCode != 0 && cut.status != 201, "the creation was cut, so it has no final answer")
                // The 104 is the last answer curl saw, or an interim one
                // before another.
                let location = try #require(
                    (cut.status == 104 ? cut["location"] : cut.interim.first { $0.status == 104 }?["location"])
                        .flatMap(URL.init(string:)), "no 104 before the cut")
                _ = try await relay.waitUntil { $0.connectionsClosed >= 1 }

                let url = try #require(URL(string: location.path, relativeTo: server.endpoint)?.absoluteURL)
                let head = try await Self.draft("HEAD", url)
                #expect(head.status == 204)
                #expect(head["upload-complete"] == "?0")
                #expect(head["upload-length"] == "400000", "Upload-Complete: ?1 with Content-Length gave the length")
                let offset = try #require(head["upload-offset"].flatMap(Int.init))
                #expect(offset > 0 && offset < bytes.count, "kept \(offset) bytes")
                #expect(server.uploadedData(for: url) == bytes.prefix(offset))

                let rest = try await Self.append(url, offset: offset, complete: true, bytes.dropFirst(offset))
                #expect(rest.status == 200, "\(rest.text)")
                #expect(rest["upload-complete"] == "?1")
                #expect(rest["upload-offset"] == "400000")
                #expect(server.uploadedData(for: url) == bytes)
            }
        }
    }

    @Test func appendsWithAWrongOffsetGet409WithTheRightOneAndTheUploadIsKept() async throws {
        try await withDevServer { server, _ in
            let bytes = randomData(1000)
            let url = try await Self.create(on: server)

            let first = try await Self.append(url, offset: 0, complete: false, bytes.prefix(400))
            #expect(first.status == 204)
            #expect(first["upload-offset"] == "400")
            #expect(first["upload-complete"] == "?0")

            let wrong = try await Self.append(url, offset: 100, complete: false, bytes.dropFirst(100))
            #expect(wrong.status == 409)
            #expect(wrong["upload-offset"] == "400")
            #expect(wrong["upload-complete"] == "?0")
            #expect(wrong.text.contains("400"), "\(wrong.text)")
            #expect(server.uploadedData(for: url) == bytes.prefix(400), "the upload is kept as it was")

            let last = try await Self.append(url, offset: 400, complete: true, bytes.dropFirst(400))
            #expect(last.status == 200)
            #expect(last["upload-offset"] == "1000")
            #expect(last["upload-complete"] == "?1")
            #expect(server.uploadedData(for: url) == bytes)
            #expect(server.uploadInfo(for: url)?.isComplete == true)
            #expect(server.uploadInfo(for: url)?.length == 1000)

            // Nothing more goes into a complete upload (the draft's Upload
            // Append, server behaviour).
            let more = try await Self.append(url, offset: 1000, complete: true, Data("x".utf8))
            #expect(more.status == 400)
            #expect(more["upload-complete"] == "?1")
            #expect(more.text.contains("complete"), "\(more.text)")
            #expect(server.uploadedData(for: url) == bytes)
        }
    }

    @Test func anUploadThatReachesItsLengthWaitsForUploadComplete() async throws {
        try await withDevServer { server, _ in
            let bytes = randomData(500)
            let url = try await Self.create(on: server, length: 500, bytes)
            let head = try await Self.draft("HEAD", url)
            #expect(head["upload-offset"] == "500")
            #expect(head["upload-complete"] == "?0", "only Upload-Complete: ?1 completes a draft upload")
            let done = try await Self.append(url, offset: 500, complete: true, Data())
            #expect(done.status == 200)
            #expect(done["upload-complete"] == "?1")
            #expect(server.uploadInfo(for: url)?.isComplete == true)
        }
    }

    @Test func headSaysTheOffsetCompletenessLengthAndLimits() async throws {
        try await withDevServer({ $0.expiration = 3600 }) { server, _ in
            let url = try await Self.create(on: server, length: 1000, randomData(200))
            let head = try await Self.draft("HEAD", url)
            #expect(head.status == 204)
            #expect(head["upload-offset"] == "200")
            #expect(head["upload-complete"] == "?0")
            #expect(head["upload-length"] == "1000")
            #expect(head["cache-control"] == "no-store")
            #expect(head["upload-draft-interop-version"] == "8")
            #expect(head["tus-resumable"] == nil)
            let limit = try #require(head["upload-limit"])
            #expect(limit.hasPrefix("max-size=\(1 << 40), max-age="), "\(limit)")
            let maxAge = try #require(limit.split(separator: "=").last.flatMap { Int($0) })
            #expect(maxAge > 3500 && maxAge <= 3600)

            let version6 = try await Self.draft("HEAD", url, version: 6)
            #expect(version6["upload-limit"]?.contains("expires=") == true, "version 6 says expires")
            #expect(version6["upload-draft-interop-version"] == "6")

            let unknown = try await Self.draft("HEAD", server.endpoint.appendingPathComponent("0123abcd"))
            #expect(unknown.status == 404)
        }
    }

    @Test func deleteCancelsTheUpload() async throws {
        try await withDevServer { server, _ in
            let url = try await Self.create(on: server, randomData(100))
            let delete = try await Self.draft("DELETE", url)
            #expect(delete.status == 204)
            #expect(server.uploadInfo(for: url) == nil)
            #expect(server.uploadedData(for: url) == nil)
            let head = try await Self.draft("HEAD", url)
            #expect(head.status == 404)
            let append = try await Self.append(url, offset: 100, complete: true, Data("x".utf8))
            #expect(append.status == 404)
            #expect(append.text.contains(url.absoluteString), "\(append.text)")
        }
    }

    @Test func optionsAnnouncesAppendsAndLimitsInTheVersionAsked() async throws {
        try await withDevServer({ $0.maxUploadSize = 5000; $0.expiration = 60 }) { server, _ in
            let eight = try await Self.draft("OPTIONS", server.endpoint)
            #expect(eight.status == 204)
            #expect(eight["accept-patch"] == "application/partial-upload")
            #expect(eight["upload-limit"] == "max-size=5000, max-age=60")
            #expect(eight["upload-draft-interop-version"] == "8")
            #expect(eight["tus-version"] == nil)
            let six = try await Self.draft("OPTIONS", server.endpoint, version: 6)
            #expect(six["upload-limit"] == "max-size=5000, expires=60")
            #expect(six["upload-draft-interop-version"] == "6")
        }
    }

    @Test(arguments: ["7", "5", "abc"])
    func anInteropVersionNotSpokenGets400NamingTheVersionsSpoken(value: String) async throws {
        try await withDevServer { server, _ in
            let response = try await Curl.request(
                "POST", server.endpoint, headers: ["Upload-Draft-Interop-Version": value, "Upload-Complete": "?1"],
                body: Data("abc".utf8), tus: false)
            #expect(response.status == 400)
            #expect(response["upload-draft-interop-version"] == "8")
            #expect(response.text.contains("6 and 8"), "\(response.text)")
            #expect(response.interim.isEmpty, "no 104 for a version not spoken")
        }
    }

    @Test func aRequestWithBothHeadersIsTus() async throws {
        try await withDevServer { server, _ in
            let post = try await Curl.request(
                "POST", server.endpoint,
                headers: ["Upload-Draft-Interop-Version": "8", "Upload-Complete": "?1", "Upload-Length": "3"])
            #expect(post.status == 201)
            #expect(post["tus-resumable"] == "1.0.0")
            #expect(post["upload-draft-interop-version"] == nil)
            #expect(post["upload-complete"] == nil)
            #expect(post.interim.isEmpty, "no 104 from tus")
            let url = try #require(post["location"].flatMap(URL.init(string:)))
            #expect(server.uploadInfo(for: url)?.madeWith == .tus)

            let options = try await Curl.request(
                "OPTIONS", server.endpoint, headers: ["Upload-Draft-Interop-Version": "8"])
            #expect(options["tus-version"] == "1.0.0")
            #expect(options["upload-limit"] == nil)
        }
    }

    @Test func draftAndTusUploadsLiveSideBySide() async throws {
        try await withDevServer { server, _ in
            let tus = try await server.create(length: 3)
            let draft = try await Self.create(on: server, Data("ab".utf8), version: 6)
            #expect(server.uploadInfo(for: tus)?.madeWith == .tus)
            #expect(server.uploadInfo(for: draft)?.madeWith == .ietfDraft(interopVersion: 6, complete: false))
            #expect(server.uploadInfo(for: draft)?.offset == 2)
            #expect(server.uploadInfo(for: draft)?.isComplete == false)
        }
    }

    @Test func creationNeedsUploadCompleteInWords() async throws {
        try await withDevServer { server, _ in
            let missing = try await Self.draft("POST", server.endpoint, body: Data("abc".utf8))
            #expect(missing.status == 400)
            #expect(missing.text.contains("Upload-Complete is required"), "\(missing.text)")
            #expect(missing.text.contains(server.endpoint.absoluteString), "\(missing.text)")
            let malformed = try await Self.draft(
                "POST", server.endpoint, headers: ["Upload-Complete": "yes"], body: Data("abc".utf8))
            #expect(malformed.status == 400)
            #expect(malformed.text.contains("Upload-Complete \"yes\""), "\(malformed.text)")
            #expect(malformed.interim.isEmpty, "no upload, so no 104")
        }
    }

    /// The same faults, queued the same way, do the same to a tus upload and
    /// to a draft one.
    @Test(arguments: [false, true])
    func faultsHitDraftRequestsAsTusOnes(draft: Bool) async throws {
        try await withDevServer { server, _ in
            let bytes = randomData(1000)
            let url: URL
            if draft {
                url = try await Self.create(on: server)
            } else {
                url = try await server.create(length: 1000)
            }
            func patch(_ offset: Int) async throws -> CurlResult {
                if draft {
                    return try await Self.append(url, offset: offset, complete: true, bytes.dropFirst(offset))
                }
                return try await server.patch(url, offset: offset, bytes.dropFirst(offset))
            }
            func offset() async throws -> Int? {
                let head: CurlResult
                if draft {
                    head = try await Self.draft("HEAD", url)
                } else {
                    head = try await Curl.request("HEAD", url)
                }
                return head["upload-offset"].flatMap(Int.init)
            }

            server.inject(.status(500, method: "PATCH"))
            let failed = try await patch(0)
            #expect(failed.status == 500)
            #expect(failed["upload-draft-interop-version"] == (draft ? "8" : nil))
            #expect(try await offset() == 0)

            server.inject(.dropConnectionDuringPatch(afterBytes: 300))
            let cut = try await patch(0)
            #expect(cut.status == 0, "no answer after the cut")
            #expect(try await offset() == 300)
            #expect(server.uploadedData(for: url) == bytes.prefix(300))
            #expect(server.pendingFaults.isEmpty)

            let rest = try await patch(300)
            #expect((200..<300).contains(rest.status), "\(rest.text)")
            #expect(server.uploadedData(for: url) == bytes)
            #expect(server.uploadInfo(for: url)?.isComplete == true)
        }
    }

    @Test func theServersLimitsRefuseDraftUploadsToo() async throws {
        try await withDevServer({ $0.maxUploadSize = 1000 }) { server, _ in
            let tooLong = try await Self.draft(
                "POST", server.endpoint, headers: ["Upload-Complete": "?0", "Upload-Length": "2000"])
            #expect(tooLong.status == 413)
            #expect(tooLong["upload-limit"] == "max-size=1000, max-age=86400")
            #expect(tooLong.interim.isEmpty)

            let body = try await Self.draft(
                "POST", server.endpoint, headers: ["Upload-Complete": "?1"], body: randomData(1500))
            #expect(body.status == 413)
            #expect(body.text.contains("1000"), "\(body.text)")

            // A body of no announced size goes past the largest upload: its
            // bytes are dropped, the upload stays.
            let url = try await Self.create(on: server)
            let chunked = try await Self.draft(
                "PATCH", url,
                headers: [
                    "Content-Type": "application/partial-upload", "Upload-Offset": "0", "Upload-Complete": "?0",
                    "Transfer-Encoding": "chunked",
                ], body: randomData(1500))
            #expect(chunked.status == 413)
            #expect(chunked["upload-limit"]?.hasPrefix("max-size=1000") == true)
            #expect(server.uploadInfo(for: url)?.offset == 0)

            // An append past the length it was given is lengths that disagree.
            let sized = try await Self.create(on: server, length: 10)
            let past = try await Self.append(sized, offset: 0, complete: false, randomData(20))
            #expect(past.status == 400)
            #expect(past.text.contains("inconsistent upload length"), "\(past.text)")
        }
    }
}
