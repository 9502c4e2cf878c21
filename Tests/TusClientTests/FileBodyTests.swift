import Foundation
import Testing
@testable import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// A file's chunks go out with `sendfile` over plain HTTP; these tests take
/// the other way, a chunk read into memory, which TLS connections use.
@Suite struct BufferedFileBodyTests {
    private func bufferedClient(_ server: TusDevServer) -> TusClient {
        var client = TusClient(url: server.endpoint)
        client.allowsSendfile = false
        return client
    }

    @Test func theSendfileWayIsTakenOnlyForPlainHTTP() {
        let client = TusClient(url: URL(string: "http://127.0.0.1:1080/files/")!)
        #expect(client.sendsFromFile(to: URL(string: "http://127.0.0.1:1080/files/abc")!))
        #expect(!client.sendsFromFile(to: URL(string: "https://tus.example/files/abc")!))
        var buffered = client
        buffered.allowsSendfile = false
        #expect(!buffered.sendsFromFile(to: URL(string: "http://127.0.0.1:1080/files/abc")!))
    }

    @Test func uploadsAFileInChunksByteForByte() async throws {
        try await withDevServer { server, folder in
            let data = randomData(300_001)
            let path = try file(data, in: folder)
            let uploader = try await bufferedClient(server).uploader(forFileAtPath: path, options: testOptions(chunkSize: 100_000))
            let log = ProgressLog()
            let url = try await uploader.upload { log.record($0) }
            #expect(server.uploadedData(for: url) == data)
            #expect(log.reports.map(\.bytesUploaded) == [0, 100_000, 200_000, 300_000, 300_001])
        }
    }

    @Test(arguments: ChecksumAlgorithm.allCases)
    func sendsChecksums(algorithm: ChecksumAlgorithm) async throws {
        try await withDevServer { server, folder in
            let data = randomData(200_000)
            var options = testOptions(chunkSize: 64 * 1024)
            options.checksum = algorithm
            server.inject(.checksumMismatch)
            let url = try await bufferedClient(server).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.pendingFaults.isEmpty)
        }
    }

    @Test func aFileShortenedDuringTheUploadIsAnError() async throws {
        try await withDevServer { server, folder in
            let path = try file(randomData(300_000), in: folder)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            let uploader = try await bufferedClient(server).uploader(forFileAtPath: path, options: options)
            let error = try await #require(throws: TusError.self) {
                try await uploader.upload { progress in
                    if progress.bytesUploaded == 100_000 {
                        try? FileHandle(forWritingAtPath: path)?.truncate(atOffset: 150_000)
                    }
                }
            }
            #expect(error.code == .io)
            #expect(error.message.contains("changed while uploading"))
        }
    }
}

/// Chunks sent with `sendfile` while the server misbehaves.
@Suite struct SendfileBodyTests {
    @Test(arguments: ChecksumAlgorithm.allCases)
    func checksumsOfFileChunksMatchTheBytesSent(algorithm: ChecksumAlgorithm) async throws {
        try await withDevServer { server, folder in
            // Several pieces of the checksum's reading per chunk, and a short last chunk.
            let data = randomData(5 * 1024 * 1024 + 12_345)
            var options = testOptions(chunkSize: 3 * 1024 * 1024)
            options.checksum = algorithm
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count == 1)
        }
    }

    @Test func aConnectionCutDuringAChunkIsResumedFromTheServersOffset() async throws {
        try await withDevServer { server, folder in
            let data = randomData(2 * 1024 * 1024)
            server.inject(.dropConnectionDuringPatch(afterBytes: 300_000))
            var options = testOptions(chunkSize: 1024 * 1024)
            options.uploadsDuringCreation = false
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.requestLog.filter { $0.hasPrefix("HEAD") }.count == 1)
        }
    }
}

@Suite struct HTTPDateTests {
    private func formatterDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "Tue, 29 Feb 2000 23:59:59 GMT",
        "Wed, 31 Dec 2025 12:00:01 GMT", "Mon, 01 Mar 2100 06:07:08 GMT", "Fri, 28 Feb 1969 10:11:12 GMT",
    ])
    func imfFixdatesReadAsADateFormatterReadsThem(text: String) throws {
        let expected = try #require(formatterDate(text))
        #expect(HTTPDate.parse(text) == expected)
        #expect(HTTPDate.parseIMFFixdate(text) == expected)
    }

    @Test func theObsoleteFormsStillParse() {
        let expected = Date(timeIntervalSince1970: 784_111_777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == expected)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == expected)
    }

    @Test(arguments: [
        "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nev 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT", "tomorrow",
    ])
    func malformedDatesAreNotIMFFixdates(text: String) {
        #expect(HTTPDate.parseIMFFixdate(text) == nil)
    }
}
