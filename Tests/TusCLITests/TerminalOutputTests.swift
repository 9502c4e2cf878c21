import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// What a run of `tus` showed on a terminal, and what it printed on standard
/// output (kept off the terminal, in a file).
private struct TerminalRun {
    var status: Int32
    /// Everything written to the terminal, its CR LF turned back into LF.
    var screen: String
    var stdout: String

    /// The screen's lines as they were drawn: split at every line feed and
    /// carriage return, escape sequences removed.
    var drawnLines: [String] {
        screen.replacing(#/\u{1B}\[[0-9;]*[A-Za-z]/#, with: "")
            .split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map(String.init)
    }
}

/// Runs `tus` with standard error on a pseudo-terminal `columns` wide, as in
/// a shell (`script` makes the terminal, `stty` sets its width).
private func runOnTerminal(_ arguments: [String], columns: Int = 80, environment: [String: String?]) throws -> TerminalRun {
    let folder = try TemporaryFolder()
    let output = folder.newPath("stdout")
    let quoted = ([TestPaths.tusBinary] + arguments)
        .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        .joined(separator: " ")
    let command = "stty cols \(columns) rows 24; exec \(quoted) > '\(output)'"
    #if os(Linux)
    let result = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"], environment: environment)
    #else
    let result = try runProcess("/usr/bin/script", ["-q", "/dev/null", "/bin/sh", "-c", command], environment: environment)
    #endif
    return TerminalRun(
        status: result.status,
        screen: result.stdout.replacingOccurrences(of: "\r\n", with: "\n"),
        stdout: (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    )
}

/// The environment of a terminal that takes redrawing, whatever the tests'
/// own environment says.
private let colorTerminal: [String: String?] = ["TERM": "xterm-256color", "NO_COLOR": nil]

/// How `tus upload` draws progress: redrawn in place on a terminal that takes
/// it, fitted to its width; plain lines with `NO_COLOR` or `TERM=dumb`.
@Suite struct TerminalOutputTests {
    private func upload(_ server: TusDevServer, _ folder: TemporaryFolder, count: Int = 1, columns: Int = 80,
                        environment: [String: String?]) throws -> (TerminalRun, [Data]) {
        var paths: [String] = [], contents: [Data] = []
        for index in 0..<count {
            let path = folder.newPath("file\(index).bin")
            let data = randomData(3_000_000)
            try data.write(to: URL(fileURLWithPath: path))
            paths.append(path)
            contents.append(data)
        }
        let run = try runOnTerminal(
            ["upload"] + paths + ["--endpoint", server.endpoint.absoluteString, "--no-store", "--chunk-size", "100KiB"],
            columns: columns, environment: environment)
        return (run, contents)
    }

    @Test(arguments: [
        ["NO_COLOR": "1", "TERM": "xterm-256color"],
        ["NO_COLOR": "yes please", "TERM": "xterm-256color"],
        ["NO_COLOR": nil, "TERM": "dumb"],
    ] as [[String: String?]])
    func noColorAndADumbTerminalGetPlainLines(environment: [String: String?]) async throws {
        try await withDevServer { server, folder in
            let (run, contents) = try upload(server, folder, environment: environment)
            #expect(run.status == 0, "\(run.screen)")
            // No escape sequence, no carriage return: lines a log can keep.
            #expect(!run.screen.contains("\u{1B}"), "\(run.screen.debugDescription)")
            #expect(!run.screen.contains("\r"), "\(run.screen.debugDescription)")
            #expect(run.screen.contains("100%  2.9 MiB / 2.9 MiB"), "\(run.screen.debugDescription)")
            #expect(!run.screen.contains("[#"), "a bar on a plain terminal: \(run.screen.debugDescription)")
            let url = try #require(URL(string: run.stdout.trimmingCharacters(in: .newlines)))
            #expect(server.uploadedData(for: url) == contents[0])
        }
    }

    @Test func anEmptyNoColorIsNotSet() async throws {
        // no-color.org: set to anything but the empty string.
        try await withDevServer { server, folder in
            let (run, _) = try upload(server, folder, environment: ["TERM": "xterm-256color", "NO_COLOR": ""])
            #expect(run.status == 0, "\(run.screen)")
            #expect(run.screen.contains("\r[########################]  100%"), "\(run.screen.debugDescription)")
            #expect(run.screen.contains("\u{1B}[K"), "\(run.screen.debugDescription)")
        }
    }

    @Test func manyFilesWithNoColorGetPlainLines() async throws {
        try await withDevServer { server, folder in
            let (run, contents) = try upload(server, folder, count: 3, environment: ["TERM": "xterm-256color", "NO_COLOR": "1"])
            #expect(run.status == 0, "\(run.screen)")
            #expect(!run.screen.contains("\u{1B}"), "\(run.screen.debugDescription)")
            #expect(!run.screen.contains("\r"), "\(run.screen.debugDescription)")
            #expect(run.screen.contains("3 of 3 files done"), "\(run.screen.debugDescription)")
            #expect(run.stdout.split(separator: "\n").count == contents.count, "\(run.stdout)")
        }
    }

    /// On a narrow terminal the bar gets shorter, then the line drops the
    /// rate and the bar; no line reaches the last column, where it would
    /// wrap and leave a trail of half lines instead of one redrawn line.
    @Test(arguments: [80, 48, 40, 30, 24, 12])
    func theBarFitsTheTerminalsWidth(columns: Int) async throws {
        try await withDevServer { server, folder in
            let (run, contents) = try upload(server, folder, columns: columns, environment: colorTerminal)
            #expect(run.status == 0, "\(run.screen)")
            #expect(run.screen.contains("\u{1B}[K"), "not redrawn: \(run.screen.debugDescription)")
            let lines = run.drawnLines
            #expect(!lines.isEmpty)
            for line in lines {
                #expect(line.count < columns, "\(columns) columns: \(line.debugDescription) is \(line.count) wide")
            }
            let last = try #require(lines.last)
            #expect(last.contains("100%"), "\(columns) columns: \(last.debugDescription)")
            if columns >= 40 {
                #expect(last.hasPrefix("[#"), "\(columns) columns: no bar in \(last.debugDescription)")
            }
            if columns >= 80 {
                #expect(last.hasPrefix("[########################]  100%  2.9 MiB / 2.9 MiB  "), "\(last.debugDescription)")
                #expect(last.hasSuffix("/s"), "\(last.debugDescription)")
            }
            if columns <= 24 {
                #expect(!last.contains("["), "\(columns) columns: \(last.debugDescription)")
            }
            let url = try #require(URL(string: run.stdout.trimmingCharacters(in: .newlines)))
            #expect(server.uploadedData(for: url) == contents[0])
        }
    }

    @Test(arguments: [30, 16])
    func manyFilesFitTheTerminalsWidth(columns: Int) async throws {
        try await withDevServer { server, folder in
            let (run, _) = try upload(server, folder, count: 3, columns: columns, environment: colorTerminal)
            #expect(run.status == 0, "\(run.screen)")
            #expect(run.screen.contains("\u{1B}[K"), "not redrawn: \(run.screen.debugDescription)")
            for line in run.drawnLines {
                #expect(line.count < columns, "\(columns) columns: \(line.debugDescription) is \(line.count) wide")
            }
        }
    }
}
