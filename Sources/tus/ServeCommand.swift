import ArgumentParser
import Foundation
import Logging
import TusDevServer

/// `tus serve --dir DIR`: the development tus server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the development tus server until Ctrl-C.",
        discussion: """
            It implements tus 1.0 with creation, creation-defer-length, creation-with-upload, \
            termination, checksum, expiration and concatenation, and keeps uploads in DIR, so a restarted server \
            still knows them. It is meant for development and tests: it binds 127.0.0.1 by default \
            and has no authentication.
            """
    )

    @Option(help: ArgumentHelp("Where uploads are kept; created when missing.", valueName: "dir"))
    var dir: String

    @Option(help: "The port to listen on; 0 picks a free one.")
    var port: Int = 1080

    @Option(help: "The address to bind.")
    var host: String = "127.0.0.1"

    @Option(help: ArgumentHelp("The largest upload accepted.", valueName: "size"))
    var maxSize: ByteCount?

    func run() async throws {
        guard (0...65535).contains(port) else {
            throw CommandFailure(message: "--port \(port) is not a port number (0...65535)")
        }
        var configuration = TusDevServer.Configuration(directory: URL(fileURLWithPath: dir))
        configuration.port = port
        configuration.host = host
        if let maxSize { configuration.maxUploadSize = Int64(maxSize.bytes) }
        // A line per request on standard error (method and path: no header,
        // no body), and the server's own failures.
        var logger = Logger(label: "tus.serve") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = .info
        configuration.logger = logger
        let server = try await TusDevServer.start(configuration)
        FileHandle.standardError.write(Data("tus development server: \(server.endpoint.absoluteString) (uploads in \(configuration.directory.path)); Ctrl-C stops it\n".utf8))
        FileHandle.standardOutput.write(Data((server.endpoint.absoluteString + "\n").utf8))

        let (stopped, continuation) = AsyncStream<Int32>.makeStream()
        let interruption = Interruption { continuation.yield(0) }
        for await _ in stopped { break }
        interruption.stop()
        try await server.shutdown()
        FileHandle.standardError.write(Data("tus development server stopped\n".utf8))
    }
}
