import Crypto
import Foundation
import Testing
import TusTestSupport
import TusDevServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct RobustnessTests {
    /// Runs `before` on a server keeping its uploads in a new folder (given
    /// too), shuts it down, runs `stopped`, then runs `after` on a new server
    /// on the same folder and port, with what `before` returned. Every server
    /// is shut down however the bodies end.
    private func acrossARestart<T>(
        clock: @escaping @Sendable () -> Date = { Date() },
        _ before: (TusDevServer, URL) async throws -> T,
        stopped: (T) async throws -> Void = { _ in },
        then after: (TusDevServer, T) async throws -> Void
    ) async throws {
        let directory = try TemporaryFolder()
        var configuration = TusDevServer.Configuration(directory: directory.url)
        configuration.clock = clock
        let first = try await TusDevServer.start(configuration)
        let value: T
        do {
            value = try await before(first, directory.url)
        } catch {
            try await first.shutdown()
            throw error
        }
        try await first.shutdown()
        try await stopped(value)
        var again = configuration
        again.port = first.port
        try await TusDevServer.withServer(again) { second in
            #expect(second.endpoint == first.endpoint)
            try await after(second, value)
        }
    }

    @Test func restartOnTheSameDirectoryKeepsUploads() async throws {
        try await acrossARestart { first, _ in
            let url = try await first.create(length: 10)
            #expect(try await first.patch(url, offset: 0, Data("01234".utf8)).status == 204)
            return url
        } stopped: { url in
            let answer = try await Curl.request("HEAD", url, timeout: 2)
            #expect(answer.status == 0, "the first server is gone")
        } then: { second, url in
            let head = try await Curl.request("HEAD", url)
            #expect(head.status == 200)
            #expect(head["upload-offset"] == "5")
            #expect(head["upload-length"] == "10")
            #expect(head["upload-metadata"] == "filename YS50eHQ=,filetype dGV4dC9wbGFpbg==")
            #expect(try await second.patch(url, offset: 5, Data("56789".utf8)).status == 204)
            #expect(second.uploadedData(for: url) == Data("0123456789".utf8))
        }
    }

    @Test func aPatchWritesOnlyTheDataFileAndItsExpirySurvivesARestart() async throws {
        let clock = MovableClock()
        try await acrossARestart(clock: { clock.now }) { first, directory in
            let url = try await first.create(length: 10)
            let id = url.lastPathComponent
            let infoPath = directory.appendingPathComponent("\(id).info").path
            let infoBefore = try FileManager.default.attributesOfItem(atPath: infoPath)
            let bytesBefore = FileManager.default.contents(atPath: infoPath)
            let created = first.uploadInfo(for: url)?.expiresAt
            // Ten seconds pass on the server's clock, without waiting.
            clock.move(to: clock.now.addingTimeInterval(10))
            #expect(try await first.patch(url, offset: 0, Data("01234".utf8)).status == 204)
            let refreshed = try #require(first.uploadInfo(for: url)?.expiresAt)
            #expect(refreshed != created)
            // The info file is the one written at creation, untouched.
            let infoAfter = try FileManager.default.attributesOfItem(atPath: infoPath)
            #expect(infoAfter[.systemFileNumber] as? UInt64 == infoBefore[.systemFileNumber] as? UInt64)
            #expect(FileManager.default.contents(atPath: infoPath) == bytesBefore)
            // The data and the info file, nothing half-written beside them.
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            #expect(names == ["\(id).bin", "\(id).info"])
            return (url, refreshed)
        } then: { second, upload in
            let (url, refreshed) = upload
            // The expiry the PATCH set survived the restart: it is the data
            // file's modification time plus the expiration.
            let reloaded = try #require(second.uploadInfo(for: url)?.expiresAt)
            #expect(abs(reloaded.timeIntervalSince(refreshed)) < 0.001)
            #expect(second.uploadInfo(for: url)?.offset == 5)
        }
    }

    @Test func aDeclaredLengthSurvivesARestart() async throws {
        try await acrossARestart { first, _ in
            let created = try await Curl.request("POST", first.endpoint, headers: ["Upload-Defer-Length": "1"])
            #expect(created.status == 201)
            let url = try #require(created["location"].flatMap(URL.init(string:)))
            let patch = try await Curl.request(
                "PATCH", url,
                headers: [
                    "Upload-Offset": "0", "Upload-Length": "8", "Content-Type": "application/offset+octet-stream",
                ],
                body: Data("abc".utf8))
            #expect(patch.status == 204)
            return url
        } then: { _, url in
            let head = try await Curl.request("HEAD", url)
            #expect(head["upload-length"] == "8")
            #expect(head["upload-offset"] == "3")
            #expect(head["upload-defer-length"] == nil)
        }
    }

    @Test func largeUploadThroughSeveralPatchesIsByteIdentical() async throws {
        try await withDevServer { server, _ in
            let scratch = try TemporaryFolder()
            let chunk = 10 << 20
            let chunks = 5
            var sourceHash = SHA256()
            var files: [URL] = []
            for index in 0..<chunks {
                let data = sampleBytes(chunk, seed: UInt8(index + 1))
                sourceHash.update(data: data)
                let file = scratch.url.appendingPathComponent("chunk\(index)")
                try data.write(to: file)
                files.append(file)
            }
            let url = try await server.create(length: chunk * chunks)
            for (index, file) in files.enumerated() {
                // curl sends `Expect: 100-continue` for bodies this large.
                let response = try await Curl.request(
                    "PATCH", url,
                    headers: [
                        "Upload-Offset": String(index * chunk), "Content-Type": "application/offset+octet-stream",
                    ],
                    bodyFile: file, allowExpect: true, timeout: 60)
                #expect(response.status == 204)
                #expect(response["upload-offset"] == String((index + 1) * chunk))
            }
            #expect(server.uploadInfo(for: url)?.isComplete == true)

            let stored = try #require(server.uploadedDataFile(for: url))
            let handle = try FileHandle(forReadingFrom: stored)
            defer { try? handle.close() }
            var storedHash = SHA256()
            var total = 0
            while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
                storedHash.update(data: piece)
                total += piece.count
            }
            #expect(total == chunk * chunks)
            #expect(Data(storedHash.finalize()) == Data(sourceHash.finalize()))
        }
    }

    @Test func rejectedLargeBodyWithExpectContinueIsAnswered() async throws {
        try await withDevServer { server, _ in
            let scratch = try TemporaryFolder()
            let file = scratch.url.appendingPathComponent("body")
            try sampleBytes(2 << 20).write(to: file)
            let url = try await server.create(length: 2 << 20)
            let response = try await Curl.request(
                "PATCH", url,
                headers: ["Upload-Offset": "7", "Content-Type": "application/offset+octet-stream"],
                bodyFile: file, allowExpect: true)
            #expect(response.status == 409)
            #expect(try await server.headOffset(url) == 0)
        }
    }

    /// A PATCH whose body stops coming while its connection stays open (a
    /// middlebox stopped forwarding), on a server that would make a request
    /// waiting it out wait 30 s: the client's next request, on a new
    /// connection, takes the upload over at once. The stalled PATCH keeps
    /// the bytes it wrote, is answered as if its body ended there, and its
    /// connection is closed.
    @Test(arguments: [true, false])
    func aStalledPatchIsTakenOverByTheNextRequest(headFirst: Bool) async throws {
        try await withDevServer({ $0.takeoverTimeout = 30 }) { server, _ in
            let url = try await server.create(length: 10)
            let stalled = try RawConnection(port: server.port)
            defer { stalled.close() }
            stalled.send(
                "PATCH \(url.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                    + "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 10\r\n\r\nabc")
            try await waitUntil("the stalled PATCH has written 3 bytes") { server.uploadInfo(for: url)?.offset == 3 }

            let clock = ContinuousClock()
            if headFirst {
                let start = clock.now
                let head = try await Curl.request("HEAD", url)
                #expect(head.status == 200)
                #expect(head["upload-offset"] == "3")
                #expect(clock.now - start < .seconds(10), "the HEAD waited for the stalled PATCH")
            }
            let start = clock.now
            let rest = try await server.patch(url, offset: 3, Data("defghij".utf8))
            #expect(rest.status == 204)
            #expect(rest["upload-offset"] == "10")
            #expect(clock.now - start < .seconds(10), "the PATCH waited for the stalled one")
            #expect(server.uploadedData(for: url) == Data("abcdefghij".utf8))

            // Read only now: the stalled PATCH's connection stayed open on
            // this side all along.
            let answer = stalled.receiveAll()
            #expect(answer.hasPrefix("HTTP/1.1 204"), "\(answer)")
            #expect(answer.contains("Upload-Offset: 3\r\n"), "\(answer)")
            #expect(stalled.closedByServer)
        }
    }

    /// The same with `Upload-Checksum`: the stalled PATCH's bytes cannot
    /// match the digest of the whole body, so they are dropped, and the
    /// client starts again from the offset before it.
    @Test func aStalledPatchWithAChecksumIsTakenOverAndItsBytesDropped() async throws {
        try await withDevServer({ $0.takeoverTimeout = 30 }) { server, _ in
            let bytes = Data("abcdefghij".utf8)
            let digest = "sha1 " + Data(Insecure.SHA1.hash(data: bytes)).base64EncodedString()
            let url = try await server.create(length: bytes.count)
            let stalled = try RawConnection(port: server.port)
            defer { stalled.close() }
            stalled.send(
                "PATCH \(url.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nUpload-Checksum: \(digest)\r\n"
                    + "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 10\r\n\r\nabc")
            let file = try #require(server.uploadedDataFile(for: url))
            try await waitUntil("the stalled PATCH has written 3 bytes into the data file") {
                (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) == 3
            }
            #expect(server.uploadInfo(for: url)?.offset == 0, "nothing counts before the checksum is checked")

            let head = try await Curl.request("HEAD", url)
            #expect(head.status == 200)
            #expect(head["upload-offset"] == "0")
            let whole = try await server.patch(url, offset: 0, bytes, headers: ["Upload-Checksum": digest])
            #expect(whole.status == 204)
            #expect(server.uploadedData(for: url) == bytes)

            let answer = stalled.receiveAll()
            #expect(answer.hasPrefix("HTTP/1.1 460"), "\(answer)")
            #expect(stalled.closedByServer)
        }
    }

    /// A hold that cannot be stopped: a part being copied into a final
    /// upload. The test swaps the part's data file for a named pipe, so the
    /// join waits for the test to write the part's bytes, as it would on a
    /// very slow disk. Meanwhile a HEAD of the part answers at once (a join
    /// does not change it), and a PATCH or DELETE waits out the takeover
    /// timeout, then gets 423.
    @Test func aJoinThatDoesNotLetGoLeavesThePartLockedAfterTheTimeout() async throws {
        try await withDevServer({ $0.takeoverTimeout = 2 }) { server, _ in
            let created = try await Curl.request(
                "POST", server.endpoint, headers: ["Upload-Length": "3", "Upload-Concat": "partial"])
            let part = try #require(created["location"].flatMap(URL.init(string:)))
            #expect(try await server.patch(part, offset: 0, Data("abc".utf8)).status == 204)
            let path = try #require(server.uploadedDataFile(for: part)).path
            try FileManager.default.removeItem(atPath: path)
            try #require(mkfifo(path, 0o600) == 0)

            let join = Task {
                try await Curl.request("POST", server.endpoint, headers: ["Upload-Concat": "final;\(part.path)"])
            }
            var writer: Int32 = -1
            do {
                // Opening the pipe to write succeeds once the join opened it
                // to read; the join then waits for bytes.
                try await waitUntil("the join reads the part") {
                    writer = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                    return writer >= 0
                }
                let clock = ContinuousClock()
                var start = clock.now
                let head = try await Curl.request("HEAD", part)
                #expect(head.status == 200)
                #expect(head["upload-offset"] == "3")
                #expect(clock.now - start < .seconds(2), "the HEAD waited for the join")

                start = clock.now
                let patch = try await server.patch(part, offset: 3, Data())
                #expect(patch.status == 423)
                #expect(clock.now - start >= .seconds(2))
                start = clock.now
                let delete = try await Curl.request("DELETE", part)
                #expect(delete.status == 423)
                #expect(clock.now - start >= .seconds(2))

                #expect(Data("abc".utf8).withUnsafeBytes { write(writer, $0.baseAddress, 3) } == 3)
                _ = close(writer)
                writer = -1
                let joined = try await join.value
                #expect(joined.status == 201)
                let finalURL = try #require(joined["location"].flatMap(URL.init(string:)))
                #expect(server.uploadedData(for: finalURL) == Data("abc".utf8))
                #expect(try await Curl.request("DELETE", part).status == 204)
            } catch {
                // Let the join end (it reads no bytes and fails), so the
                // server can shut down.
                if writer < 0 { writer = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC) }
                if writer >= 0 { _ = close(writer) }
                _ = try? await join.value
                throw error
            }
        }
    }

    @Test(arguments: [
        "GARBAGE\r\n\r\n",
        "PATCH /files/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        "\u{0}\u{1}\u{2}\u{ff}\r\n\r\n",
        "POST /files/ HTTP/1.1\r\nHost: a b c\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 1\r\nConnection: close\r\n\r\n",
        "HEAD /files/../../etc/passwd HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n",
        "HEAD /files/%2e%2e%2fpasswd HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n",
    ])
    func garbageIsAnsweredAndTheServerStaysUp(request: String) async throws {
        try await withDevServer { server, _ in
            let connection = try RawConnection(port: server.port)
            connection.send(request)
            let answer = connection.receiveAll()
            connection.close()
            if request.contains("Host: a b c") {
                // A Host header that cannot be used: the Location falls back
                // to the server's own address.
                #expect(answer.hasPrefix("HTTP/1.1 201"))
                #expect(answer.contains("Location: http://127.0.0.1:\(server.port)/files/"))
            } else {
                #expect(answer.hasPrefix("HTTP/1.1 4"), "\(answer.prefix(40))")
            }
            let options = try await Curl.request("OPTIONS", server.endpoint, tus: false)
            #expect(options.status == 204)
        }
    }

    @Test func startFailsOnAPortInUse() async throws {
        try await withDevServer { server, _ in
            let directory = try TemporaryFolder()
            var configuration = TusDevServer.Configuration(directory: directory.url)
            configuration.port = server.port
            await #expect(throws: (any Error).self) { try await TusDevServer.start(configuration) }
        }
    }

    @Test func shutdownIsIdempotentAndStopsAnswering() async throws {
        let directory = try TemporaryFolder()
        let server = try await TusDevServer.start(.init(directory: directory.url))
        #expect(try await Curl.request("OPTIONS", server.endpoint, tus: false).status == 204)
        try await server.shutdown()
        try await server.shutdown()
        #expect(try await Curl.request("OPTIONS", server.endpoint, tus: false, timeout: 2).status == 0)
    }
}
