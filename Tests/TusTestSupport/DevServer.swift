public import Foundation
public import TusDevServer

/// Random bytes, so that every test file has its own fingerprint.
public func randomData(_ count: Int) -> Data {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        var word = generator.next()
        for _ in 0..<8 where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return Data(bytes)
}

/// Runs `body` with a development server on a free loopback port, its
/// uploads in a temporary folder, and a temporary folder for the test.
public func withDevServer<T: Sendable>(
    _ configure: (inout TusDevServer.Configuration) -> Void = { _ in },
    _ body: (TusDevServer, TemporaryFolder) async throws -> T
) async throws -> T {
    let folder = try TemporaryFolder()
    var configuration = TusDevServer.Configuration(directory: URL(fileURLWithPath: folder.newPath("server")))
    configure(&configuration)
    return try await TusDevServer.withServer(configuration) { server in try await body(server, folder) }
}
