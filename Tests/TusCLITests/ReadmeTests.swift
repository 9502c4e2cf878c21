import Foundation
import Testing
import TusTestSupport

/// The README's section on the `tus` tool says what `--help` says, so the two
/// cannot drift: each command's synopsis names every option its `--help`
/// lists, and nothing else.
@Suite struct ReadmeTests {
    /// One command of the README's synopsis: `["store", "list"]` and the
    /// words of its lines.
    struct Synopsis {
        var command: [String]
        var text: String

        /// The long options it names: `--store`, `--no-store`, …
        var options: Set<String> {
            Set(text.matches(of: #/--[a-z][a-z-]*/#).map { String($0.output) })
        }
    }

    /// The synopsis block of the README's "The `tus` tool" section.
    static func readmeSynopses() throws -> [Synopsis] {
        let readme = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## The `tus` tool"))
        let rest = readme[section.upperBound...]
        let start = try #require(rest.range(of: "```text\n"))
        let end = try #require(rest[start.upperBound...].range(of: "```"))
        var synopses: [Synopsis] = []
        for line in rest[start.upperBound..<end.lowerBound].split(separator: "\n") {
            if line.hasPrefix("tus") {
                // The command is the lower-case words before the first
                // argument or option.
                let words = line.split(separator: " ").dropFirst()
                let command = words.prefix { $0.allSatisfy { $0.isLowercase } }.map(String.init)
                synopses.append(Synopsis(command: command, text: String(line)))
            } else if !synopses.isEmpty {
                synopses[synopses.count - 1].text += "\n" + line
            }
        }
        return synopses
    }

    /// What `tus COMMAND --help` lists: its long options and its arguments
    /// (`<key>`), and its subcommands.
    static func help(_ command: [String]) throws -> (options: Set<String>, arguments: [String], subcommands: [String]) {
        let result = try runTus(command + ["--help"], environment: ["COLUMNS": "200"])
        #expect(result.status == 0, "\(command): \(result.stderr)")
        var options: Set<String> = [], arguments: [String] = [], subcommands: [String] = []
        var section = ""
        for line in result.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if let heading = line.wholeMatch(of: #/([A-Z]+):/#) {
                section = String(heading.output.1)
                continue
            }
            // Entries start two spaces in; their wrapped lines further in.
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
            let entry = line.dropFirst(2)
            switch section {
            case "OPTIONS":
                if let name = entry.firstMatch(of: #/--[a-z][a-z-]*/#), entry.hasPrefix("-") {
                    options.insert(String(name.output))
                }
            case "ARGUMENTS":
                if let name = entry.firstMatch(of: #/^<([a-z-]+)>/#) { arguments.append(String(name.output.1)) }
            case "SUBCOMMANDS":
                if let name = entry.firstMatch(of: #/^[a-z]+/#) { subcommands.append(String(name.output)) }
            default:
                break
            }
        }
        return (options, arguments, subcommands)
    }

    /// Options every command has, which the synopsis leaves out.
    static let everywhere: Set<String> = ["--help", "--version"]

    @Test func everyCommandOfTheHelpIsInTheReadmeAndBack() throws {
        let readme = Set(try Self.readmeSynopses().map { $0.command.joined(separator: " ") })
        var fromHelp: Set<String> = [""]
        for name in try Self.help([]).subcommands {
            let subcommands = try Self.help([name]).subcommands
            if subcommands.isEmpty {
                fromHelp.insert(name)
            } else {
                for subcommand in subcommands { fromHelp.insert(name + " " + subcommand) }
            }
        }
        #expect(readme == fromHelp, "in the README only: \(readme.subtracting(fromHelp).sorted()); in --help only: \(fromHelp.subtracting(readme).sorted())")
    }

    @Test func eachSynopsisNamesTheOptionsAndArgumentsOfItsHelp() throws {
        for synopsis in try Self.readmeSynopses() where !synopsis.command.isEmpty {
            let help = try Self.help(synopsis.command)
            let listed = help.options.subtracting(Self.everywhere)
            let named = synopsis.options.subtracting(Self.everywhere)
            let command = "tus " + synopsis.command.joined(separator: " ")
            #expect(named == listed, "\(command): in the README only: \(named.subtracting(listed).sorted()); in --help only: \(listed.subtracting(named).sorted())")
            for argument in help.arguments {
                #expect(synopsis.text.contains(argument.uppercased()), "\(command): the README does not name the argument <\(argument)> (as \(argument.uppercased()))")
            }
        }
    }

    @Test func theToolItselfHasVersionAndCompletions() throws {
        let synopses = try Self.readmeSynopses().filter { $0.command.isEmpty }
        let named = synopses.reduce(into: Set<String>()) { $0.formUnion($1.options) }
        #expect(named == ["--version", "--generate-completion-script"], "\(named)")
        #expect(try Self.help([]).options.contains("--version"))
        for shell in ["bash", "zsh", "fish"] {
            let script = try runTus(["--generate-completion-script", shell])
            #expect(script.status == 0, "\(shell): \(script.stderr)")
            #expect(script.stdout.contains("upload") && script.stdout.contains("endpoint"), "\(shell)")
        }
    }

    /// `tus --version` prints the version of `Sources/tus/Version.swift`, and
    /// every `from:` the docs give for this package is that version.
    @Test func theVersionIsWrittenOnceAndTheDocsUseIt() throws {
        let result = try runTus(["--version"])
        #expect(result.status == 0)
        let version = result.output
        let source = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("Sources/tus/Version.swift"), encoding: .utf8)
        #expect(source.contains("let swiftTusVersion = \"\(version)\""), "\(version)")

        var documents = ["README.md"]
        let sources = TestPaths.packageRoot.appendingPathComponent("Sources")
        for case let path as String in FileManager.default.enumerator(atPath: sources.path)! where path.contains(".docc/") && path.hasSuffix(".md") {
            documents.append("Sources/" + path)
        }
        var found = 0
        for document in documents {
            let text = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent(document), encoding: .utf8)
            for match in text.matches(of: #/\.package\(url: "https://github\.com/swift-tus/swift-tus", from: "([^"]+)"\)/#) {
                found += 1
                #expect(match.output.1 == version, "\(document) depends on swift-tus \(match.output.1), tus --version says \(version)")
            }
        }
        #expect(found >= 2, "no .package(url:from:) line found in the README and the catalogs")
    }
}
