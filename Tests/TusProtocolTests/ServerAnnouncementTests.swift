import Testing
import TusProtocol

/// The `OPTIONS` answer both sides agree on: what the server writes, the
/// client reads back the same.
@Suite struct ServerAnnouncementTests {
    @Test func whatIsWrittenIsReadBack() {
        let announced = ServerAnnouncement(
            versions: ["1.0.0"], extensions: ["creation", "checksum", "concatenation"], maxSize: 1 << 40, checksumAlgorithms: ["sha1", "md5"])
        let headers = announced.headers
        #expect(headers.map(\.name) == ["Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm"])
        let read = ServerAnnouncement(reading: { name in headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value) })
        #expect(read == announced)
    }

    @Test func listsSpreadOverSeveralHeadersAndSpacesAreRead() {
        let headers = [
            "Tus-Version": ["1.0.0, 0.2.2"], "Tus-Extension": ["creation , termination", "expiration"],
            "Tus-Max-Size": [" 1000 "], "Tus-Checksum-Algorithm": ["SHA1,md5"],
        ]
        let read = ServerAnnouncement(reading: { headers[$0] ?? [] })
        #expect(read.versions == ["1.0.0", "0.2.2"])
        #expect(read.extensions == ["creation", "termination", "expiration"])
        #expect(read.maxSize == 1000)
        #expect(read.checksumAlgorithms == ["sha1", "md5"])
        // A size that is not a byte count is not announced; nothing to say
        // leaves the optional headers out.
        #expect(ServerAnnouncement(reading: { $0 == "Tus-Max-Size" ? ["-1"] : [] }).maxSize == nil)
        #expect(ServerAnnouncement(versions: ["1.0.0"], extensions: [], maxSize: nil, checksumAlgorithms: []).headers.count == 2)
    }
}
