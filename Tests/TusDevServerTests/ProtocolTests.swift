import Crypto
import Foundation
import Testing
import TusTestSupport
import TusDevServer

@Suite struct ProtocolTests {
    @Test func optionsAnnouncesVersionExtensionsAndLimits() async throws {
        try await withDevServer({ $0.maxUploadSize = 12345 }) { server, _ in
            let response = try await Curl.request("OPTIONS", server.endpoint, tus: false)
            #expect(response.status == 204)
            #expect(response["tus-resumable"] == "1.0.0")
            #expect(response["tus-version"] == "1.0.0")
            let extensions = Set((response["tus-extension"] ?? "").split(separator: ",").map(String.init))
            #expect(
                extensions == [
                    "creation", "creation-defer-length", "creation-with-upload", "termination", "checksum",
                    "expiration", "concatenation",
                ])
            #expect(response["tus-max-size"] == "12345")
            #expect(response["tus-checksum-algorithm"] == "sha1,sha256,md5")
        }
    }

    @Test func createPatchInTwoChunksAndHead() async throws {
        try await withDevServer { server, _ in
            let bytes = Data("hello, tus!".utf8)
            let url = try await server.create(length: bytes.count)
            #expect(url.absoluteString.hasPrefix(server.endpoint.absoluteString))
            #expect(url.absoluteString.hasPrefix("http://127.0.0.1:\(server.port)/files/"))

            let head = try await Curl.request("HEAD", url)
            #expect(head.status == 200)
            #expect(head["upload-offset"] == "0")
            #expect(head["upload-length"] == "11")
            #expect(head["upload-metadata"] == "filename YS50eHQ=,filetype dGV4dC9wbGFpbg==")
            #expect(head["cache-control"] == "no-store")

            let first = try await server.patch(url, offset: 0, bytes.prefix(5))
            #expect(first.status == 204)
            #expect(first["upload-offset"] == "5")
            #expect(try await server.headOffset(url) == 5)

            let second = try await server.patch(url, offset: 5, bytes.dropFirst(5))
            #expect(second.status == 204)
            #expect(second["upload-offset"] == "11")
            #expect(second["upload-expires"] == nil, "a finished upload does not expire")
            #expect(try await server.headOffset(url) == 11)

            #expect(server.uploadedData(for: url) == bytes)
            let info = try #require(server.uploadInfo(for: url))
            #expect(info.isComplete)
            #expect(info.length == 11)
            #expect(info.metadata == ["filename": "a.txt", "filetype": "text/plain"])
            // A path works as well as an absolute URL.
            #expect(server.uploadInfo(for: URL(string: url.path)!)?.offset == 11)

            let path = url.path
            #expect(
                server.requestLog == [
                    "POST /files/", "HEAD \(path)", "PATCH \(path)", "HEAD \(path)", "PATCH \(path)", "HEAD \(path)",
                ])
        }
    }

    @Test func requestsWithoutTusResumableGet412() async throws {
        try await withDevServer { server, _ in
            let post = try await Curl.request("POST", server.endpoint, headers: ["Upload-Length": "5"], tus: false)
            #expect(post.status == 412)
            #expect(post["tus-version"] == "1.0.0")
            let wrong = try await Curl.request(
                "POST", server.endpoint, headers: ["Upload-Length": "5", "Tus-Resumable": "0.2.2"], tus: false)
            #expect(wrong.status == 412)
            let url = try await server.create(length: 5)
            let head = try await Curl.request("HEAD", url, tus: false)
            #expect(head.status == 412)
        }
    }

    @Test func wrongOffsetGets409AndChangesNothing() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 10)
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 204)
            let response = try await server.patch(url, offset: 1, Data("xyz".utf8))
            #expect(response.status == 409)
            #expect(try await server.headOffset(url) == 3)
            #expect(server.uploadedData(for: url) == Data("abc".utf8))
        }
    }

    @Test func patchWithOtherContentTypeGets415() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 3)
            let response = try await server.patch(
                url, offset: 0, Data("abc".utf8), headers: ["Content-Type": "application/octet-stream"])
            #expect(response.status == 415)
            #expect(try await server.headOffset(url) == 0)
        }
    }

    @Test(arguments: [
        ["Upload-Length": "10", "Upload-Metadata": "filename not*base64"],
        ["Upload-Length": "10", "Upload-Metadata": "a YQ==,a Yg=="],
        ["Upload-Length": "10", "Upload-Metadata": "a YQ==,,b Yg=="],
        ["Upload-Length": "10", "Upload-Metadata": "a YQ== extra"],
        ["Upload-Length": "abc"],
        ["Upload-Length": "-1"],
        ["Upload-Length": "1.5"],
        ["Upload-Length": "99999999999999999999999"],
        ["Upload-Length": "10", "Upload-Defer-Length": "1"],
        ["Upload-Defer-Length": "2"],
        ["Upload-Metadata": "a YQ=="],
        ["Upload-Length": "10", "Upload-Concat": "partial;"],
    ])
    func malformedCreationGets400(headers: [String: String]) async throws {
        try await withDevServer { server, _ in
            let response = try await Curl.request("POST", server.endpoint, headers: headers)
            #expect(response.status == 400, "\(headers)")
            #expect(response["location"] == nil)
        }
    }

    @Test func metadataKeyWithoutValueIsAccepted() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 1, metadata: "is_confidential,filename YS50eHQ=")
            #expect(server.uploadInfo(for: url)?.metadata == ["is_confidential": "", "filename": "a.txt"])
        }
    }

    @Test(arguments: ["abc", "-5", "", "1e3", " "])
    func malformedUploadOffsetGets400(offset: String) async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 10)
            let response = try await Curl.request(
                "PATCH", url,
                headers: ["Upload-Offset": offset, "Content-Type": "application/offset+octet-stream"],
                body: Data("abc".utf8))
            #expect(response.status == 400)
            #expect(try await server.headOffset(url) == 0)
        }
    }

    @Test func uploadsLargerThanTheMaximumGet413() async throws {
        try await withDevServer({ $0.maxUploadSize = 100 }) { server, _ in
            let tooBig = try await Curl.request("POST", server.endpoint, headers: ["Upload-Length": "101"])
            #expect(tooBig.status == 413)
            let exact = try await Curl.request("POST", server.endpoint, headers: ["Upload-Length": "100"])
            #expect(exact.status == 201)

            // A body that goes past the upload's length.
            let url = try await server.create(length: 5)
            let response = try await server.patch(url, offset: 0, Data("abcdef".utf8))
            #expect(response.status == 413)
            #expect(try await server.headOffset(url) == 0)

            // A deferred length above the maximum.
            let deferred = try await server.create(length: nil)
            let late = try await server.patch(deferred, offset: 0, Data(), headers: ["Upload-Length": "101"])
            #expect(late.status == 413)
        }
    }

    @Test func deferredLengthIsSetOnceByAPatch() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: nil)
            let head = try await Curl.request("HEAD", url)
            #expect(head["upload-defer-length"] == "1")
            #expect(head["upload-length"] == nil)
            #expect(server.uploadInfo(for: url)?.length == nil)

            let first = try await server.patch(url, offset: 0, Data("abc".utf8), headers: ["Upload-Length": "6"])
            #expect(first.status == 204)
            let after = try await Curl.request("HEAD", url)
            #expect(after["upload-length"] == "6")
            #expect(after["upload-defer-length"] == nil)

            let different = try await server.patch(url, offset: 3, Data("d".utf8), headers: ["Upload-Length": "7"])
            #expect(different.status == 400)
            let same = try await server.patch(url, offset: 3, Data("def".utf8), headers: ["Upload-Length": "6"])
            #expect(same.status == 204)
            #expect(server.uploadInfo(for: url)?.isComplete == true)
            #expect(server.uploadedData(for: url) == Data("abcdef".utf8))
        }
    }

    @Test func deferredLengthSmallerThanTheOffsetGets400() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: nil)
            #expect(try await server.patch(url, offset: 0, Data("abcd".utf8)).status == 204)
            let response = try await server.patch(url, offset: 4, Data(), headers: ["Upload-Length": "2"])
            #expect(response.status == 400)
            #expect(server.uploadInfo(for: url)?.length == nil)
        }
    }

    @Test func creationWithUploadStoresTheFirstBytes() async throws {
        try await withDevServer { server, _ in
            let response = try await Curl.request(
                "POST", server.endpoint,
                headers: ["Upload-Length": "10", "Content-Type": "application/offset+octet-stream"],
                body: Data("0123".utf8))
            #expect(response.status == 201)
            #expect(response["upload-offset"] == "4")
            #expect(response["upload-expires"] != nil)
            let url = try #require(response["location"].flatMap(URL.init(string:)))
            #expect(try await server.headOffset(url) == 4)
            #expect(try await server.patch(url, offset: 4, Data("456789".utf8)).status == 204)
            #expect(server.uploadedData(for: url) == Data("0123456789".utf8))
        }
    }

    @Test func creationWithUploadVerifiesItsChecksum() async throws {
        try await withDevServer { server, _ in
            let body = Data("0123".utf8)
            let wrong = Data(Insecure.SHA1.hash(data: Data("nope".utf8))).base64EncodedString()
            let response = try await Curl.request(
                "POST", server.endpoint,
                headers: [
                    "Upload-Length": "10", "Content-Type": "application/offset+octet-stream",
                    "Upload-Checksum": "sha1 \(wrong)",
                ],
                body: body)
            #expect(response.status == 460)
            let url = try #require(response["location"].flatMap(URL.init(string:)))
            #expect(try await server.headOffset(url) == 0)
        }
    }

    @Test func terminationDeletesTheUpload() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 10)
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 204)
            let file = try #require(server.uploadedDataFile(for: url))
            let delete = try await Curl.request("DELETE", url)
            #expect(delete.status == 204)
            #expect(try await Curl.request("HEAD", url).status == 404)
            #expect(try await server.patch(url, offset: 3, Data("d".utf8)).status == 404)
            #expect(try await Curl.request("DELETE", url).status == 404)
            #expect(server.uploadInfo(for: url) == nil)
            #expect(!FileManager.default.fileExists(atPath: file.path))
        }
    }

    @Test func unknownUploadsGet404() async throws {
        try await withDevServer { server, _ in
            let url = server.endpoint.appendingPathComponent("0123456789abcdef")
            let head = try await Curl.request("HEAD", url)
            #expect(head.status == 404)
            #expect(try await server.patch(url, offset: 0, Data("a".utf8)).status == 404)
            #expect(try await Curl.request("DELETE", url).status == 404)
            let outside = URL(string: "http://127.0.0.1:\(server.port)/elsewhere")!
            #expect(try await Curl.request("HEAD", outside).status == 404)
        }
    }

    @Test(arguments: ["sha1", "sha256", "md5"])
    func matchingChecksumIsAccepted(algorithm: String) async throws {
        try await withDevServer { server, _ in
            let bytes = sampleBytes(1000)
            let digest: Data =
                switch algorithm {
                case "sha1": Data(Insecure.SHA1.hash(data: bytes))
                case "sha256": Data(SHA256.hash(data: bytes))
                default: Data(Insecure.MD5.hash(data: bytes))
                }
            let url = try await server.create(length: 1000)
            let response = try await server.patch(
                url, offset: 0, bytes, headers: ["Upload-Checksum": "\(algorithm) \(digest.base64EncodedString())"])
            #expect(response.status == 204)
            #expect(server.uploadedData(for: url) == bytes)
        }
    }

    @Test func mismatchingChecksumGets460AndKeepsTheOffset() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 10)
            #expect(try await server.patch(url, offset: 0, Data("abc".utf8)).status == 204)
            let wrong = Data(SHA256.hash(data: Data("something else".utf8))).base64EncodedString()
            let response = try await server.patch(
                url, offset: 3, Data("defg".utf8), headers: ["Upload-Checksum": "sha256 \(wrong)"])
            #expect(response.status == 460)
            #expect(try await server.headOffset(url) == 3)
            #expect(server.uploadedData(for: url) == Data("abc".utf8))
            let size = try FileManager.default.attributesOfItem(atPath: server.uploadedDataFile(for: url)!.path)[.size]
            #expect((size as? NSNumber)?.intValue == 3, "the discarded chunk is cut from the data file")
        }
    }

    @Test(arguments: ["crc32 AAAAAA==", "sha1", "sha1 !!!notbase64", "SHA512 AAAA"])
    func unsupportedOrMalformedChecksumGets400(header: String) async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 10)
            let response = try await server.patch(url, offset: 0, Data("abc".utf8), headers: ["Upload-Checksum": header])
            #expect(response.status == 400)
            #expect(try await server.headOffset(url) == 0)
        }
    }

    @Test func checksumAlgorithmsCanBeNarrowed() async throws {
        try await withDevServer({ $0.checksumAlgorithms = ["sha256"] }) { server, _ in
            let options = try await Curl.request("OPTIONS", server.endpoint, tus: false)
            #expect(options["tus-checksum-algorithm"] == "sha256")
            let url = try await server.create(length: 3)
            let sha1 = Data(Insecure.SHA1.hash(data: Data("abc".utf8))).base64EncodedString()
            let response = try await server.patch(url, offset: 0, Data("abc".utf8), headers: ["Upload-Checksum": "sha1 \(sha1)"])
            #expect(response.status == 400)
        }
    }

    @Test func expiredUploadsGet410() async throws {
        // Long enough that the PATCH lands before expiry even on a loaded
        // machine; the wait below is bounded.
        try await withDevServer({ $0.expiration = 4 }) { server, _ in
            let created = try await Curl.request("POST", server.endpoint, headers: ["Upload-Length": "10"])
            #expect(created.status == 201)
            let expires = try #require(created["upload-expires"])
            #expect(expires.hasSuffix(" GMT"))
            #expect(expires.count == 29, "an IMF-fixdate such as 'Sun, 06 Nov 1994 08:49:37 GMT': \(expires)")
            let url = try #require(created["location"].flatMap(URL.init(string:)))

            let patch = try await server.patch(url, offset: 0, Data("abc".utf8))
            #expect(patch.status == 204)
            #expect(patch["upload-expires"] != nil)
            #expect(server.uploadInfo(for: url)?.expiresAt != nil)

            try await waitUntil("the upload expires", timeout: .seconds(20)) { try await Curl.request("HEAD", url).status == 410 }
            #expect(try await server.patch(url, offset: 3, Data("d".utf8)).status == 410)
            #expect(server.uploadInfo(for: url) == nil)
        }
    }

    @Test func withoutExpirationNoUploadExpiresIsSent() async throws {
        try await withDevServer({ $0.expiration = nil }) { server, _ in
            let created = try await Curl.request("POST", server.endpoint, headers: ["Upload-Length": "10"])
            #expect(created.status == 201)
            #expect(created["upload-expires"] == nil)
        }
    }

    @Test func methodOverrideIsHonoured() async throws {
        try await withDevServer { server, _ in
            let url = try await server.create(length: 6)
            let patch = try await Curl.request(
                "POST", url,
                headers: [
                    "X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                ],
                body: Data("abc".utf8))
            #expect(patch.status == 204)
            #expect(patch["upload-offset"] == "3")
            let head = try await Curl.request("POST", url, headers: ["X-HTTP-Method-Override": "HEAD"])
            #expect(head.status == 200)
            #expect(head["upload-offset"] == "3")
            let delete = try await Curl.request("POST", url, headers: ["X-HTTP-Method-Override": "DELETE"])
            #expect(delete.status == 204)
            #expect(server.uploadInfo(for: url) == nil)
            #expect(server.requestLog.suffix(3) == ["PATCH \(url.path)", "HEAD \(url.path)", "DELETE \(url.path)"])
        }
    }

    @Test func emptyUploadIsCompleteAtOnce() async throws {
        try await withDevServer { server, _ in
            let created = try await Curl.request("POST", server.endpoint, headers: ["Upload-Length": "0"])
            #expect(created.status == 201)
            #expect(created["upload-expires"] == nil)
            let url = try #require(created["location"].flatMap(URL.init(string:)))
            #expect(server.uploadInfo(for: url)?.isComplete == true)
            #expect(server.uploadedData(for: url) == Data())
        }
    }
}
