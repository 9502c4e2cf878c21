import Foundation
import Testing
@testable import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// A file's chunk is read a piece at a time while its request sends it.
@Suite struct FileChunkTests {
    @Test func chunksOfManyPiecesArriveByteForByte() async throws {
        try await withDevServer { server, folder in
            // Chunks of several pieces and a part of one, and a short last chunk.
            let data = randomData(6 * 1024 * 1024 + 1)
            let path = try file(data, in: folder)
            var options = testOptions(chunkSize: 2 * 1024 * 1024 + 100_000)
            options.uploadsDuringCreation = false
            let log = ProgressLog()
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options).upload { log.record($0) }
            #expect(server.uploadedData(for: url) == data)
            #expect(log.reports.map(\.bytesUploaded) == [0, 2_197_152, 4_394_304, 6_291_457])
        }
    }

    @Test(arguments: ChecksumAlgorithm.allCases)
    func checksumsOfChunksOfManyPiecesMatchTheBytesSent(algorithm: ChecksumAlgorithm) async throws {
        try await withDevServer { server, folder in
            let data = randomData(5 * 1024 * 1024 + 12_345)
            var options = testOptions(chunkSize: 3 * 1024 * 1024)
            options.checksum = algorithm
            server.inject(.checksumMismatch)
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            // The mismatch was answered with 460 and the chunk sent again.
            #expect(server.pendingFaults.isEmpty)
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count == 2)
        }
    }

    @Test func aConnectionCutInsideAChunkIsResumedFromTheServersOffset() async throws {
        try await withDevServer { server, folder in
            let data = randomData(2 * 1024 * 1024)
            server.inject(.dropConnectionDuringPatch(afterBytes: 700_000))
            var options = testOptions(chunkSize: 1024 * 1024 + 1)
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
