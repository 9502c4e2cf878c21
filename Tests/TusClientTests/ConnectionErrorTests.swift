import Foundation
import Testing
import TusClient
import TusCore
import TusTestSupport

/// A request that cannot reach its server fails with one line of plain
/// words naming the host and port, and no Swift type.
@Suite struct ConnectionErrorTests {
    /// A loopback port nothing listens on.
    func closedPort() throws -> Int {
        let socket = try ServerSocketPort()
        return socket.port
    }

    @Test func aRefusedConnectionNamesTheAddressAndSaysRefused() async throws {
        let port = try closedPort()
        var options = UploadOptions()
        options.retryPolicy.retries = 0
        let client = TusClient(url: URL(string: "http://127.0.0.1:\(port)/files/")!, proxy: .none)
        let error = await #expect(throws: TusError.self) {
            try await client.uploader(for: Data("hello".utf8), options: options).upload()
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("cannot connect to 127.0.0.1:\(port): connection refused") == true, "\(error?.message ?? "")")
        expectPlainWords(error?.message)
    }

    @Test func anUnknownHostSaysSo() async throws {
        var options = UploadOptions()
        options.retryPolicy.retries = 0
        let client = TusClient(url: URL(string: "https://no-such-host.invalid/files/")!, proxy: .none)
        let error = await #expect(throws: TusError.self) {
            try await client.uploader(for: Data("hello".utf8), options: options).upload()
        }
        #expect(error?.message.contains("no-such-host.invalid:443") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("unknown host") == true, "\(error?.message ?? "")")
        expectPlainWords(error?.message)
    }

    @Test func aMissingCACertificateFileIsNamed() async throws {
        let client = TusClient(
            url: URL(string: "https://127.0.0.1:1/files/")!,
            tls: TLSSettings(trustRoots: .systemAnd(certificateFiles: ["/nonexistent/ca.pem"])), proxy: .none)
        let error = await #expect(throws: TusError.self) { try await client.capabilities() }
        #expect(error?.message.contains("/nonexistent/ca.pem") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("no such file") == true, "\(error?.message ?? "")")
    }

    @Test func aFileThatHoldsNoCertificateIsNamed() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("ca.pem")
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: path))
        let client = TusClient(
            url: URL(string: "https://127.0.0.1:1/files/")!,
            tls: TLSSettings(trustRoots: .only(certificateFiles: [path])), proxy: .none)
        let error = await #expect(throws: TusError.self) { try await client.capabilities() }
        #expect(error?.message.contains("\(path): the file holds no PEM certificate") == true, "\(error?.message ?? "")")
    }
}

/// Fails when `message` shows a Swift type or an enum dump.
func expectPlainWords(_ message: String?, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let message else { return }
    for sign in ["NIO", "Error(", "Error.", "BoringSSL", "HTTPClientError", "sslError", "([", "errnoCode"] {
        #expect(!message.contains(sign), "\"\(message)\" shows \(sign)", sourceLocation: sourceLocation)
    }
}

/// A loopback port that was free a moment ago: bound, then closed.
struct ServerSocketPort {
    let port: Int
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestError.missing("a free loopback port") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }
}
