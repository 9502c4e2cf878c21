import ArgumentParser
import Foundation
import TusCore

/// The `tus` command-line tool.
@main
struct Tus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tus",
        abstract: "Resumable uploads over the tus protocol, and the store of their upload URLs.",
        discussion: """
            Exit status: 0 on success; 1 when `tus store get` finds no URL for the key; \
            130 or 143 when Ctrl-C or SIGTERM stops `tus upload` (the upload stays resumable); \
            2 for every other failure (bad arguments, unreadable files, a broken store, a refusing server).
            """,
        version: swiftTusVersion,
        subcommands: [UploadCommand.self, FingerprintCommand.self, StoreCommand.self, ServeCommand.self, DemoCommand.self]
    )

    /// Runs the command, printing one line on standard error for any failure.
    static func main() async {
        // Set before parsing, so that even a usage error is a JSON line.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "upload",
           zip(arguments, arguments.dropFirst()).contains(where: { $0 == ("--progress", "json") }) || arguments.contains("--progress=json") {
            JSONLines.enabled = true
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CommandFailure {
            printError(error.message)
            Foundation.exit(error.status)
        } catch let error as TusError {
            printError(error.message)
            Foundation.exit(ExitStatus.failure)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .failure && error is ExitCode {
                exit(withError: error)
            }
            // Usage errors: one line, and where to look; exit 2.
            let message = Self.message(for: error)
            printError(message.isEmpty ? "invalid arguments; see tus --help" : message + " (see --help)")
            Foundation.exit(ExitStatus.failure)
        }
    }
}

/// The exit statuses scripts rely on.
enum ExitStatus {
    /// `tus store get` found nothing under the key.
    static let notFound: Int32 = 1
    /// Any other failure.
    static let failure: Int32 = 2
}

/// A failure that ends the command with `message` on standard error.
struct CommandFailure: Error {
    var message: String
    var status: Int32 = ExitStatus.failure
}

/// Prints `tus: <message>` on standard error, on one line; with
/// `--progress json`, an `error` event.
func printError(_ message: String) {
    let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    if JSONLines.enabled {
        JSONLines.emit("error", ["message": oneLine])
        return
    }
    FileHandle.standardError.write(Data("tus: \(oneLine)\n".utf8))
}

/// Prints a warning on standard error, on one line; with `--progress json`,
/// a `message` event.
func printWarning(_ message: String) {
    if JSONLines.enabled {
        JSONLines.emit("message", ["text": message])
        return
    }
    FileHandle.standardError.write(Data("tus: \(message)\n".utf8))
}
