import Foundation
import TusTestSupport


/// What curl did: the status of the last response, its headers, curl's exit
/// code and its error message.
struct CurlResult: Sendable {
    var exitCode: Int32
    /// 0 when no response came.
    var status: Int
    /// Header names lowercased; the last value wins.
    var headers: [String: String]
    var body: String
    /// curl's own message on failure (`curl: (60) SSL certificate problem: …`).
    var stderr: String
    /// `-w '%{time_total}'`: the whole transfer, in seconds.
    var timeTotal: Double

    subscript(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Runs `/usr/bin/curl` (the stand-in client these tests drive) with
/// `arguments` plus the URL, off the test's thread, and parses what it says.
func curl(_ arguments: [String], _ url: URL, timeout: Double = 20) async throws -> CurlResult {
    let scratch = try TemporaryFolder()
    let headerFile = scratch.newPath("headers")
    let bodyFile = scratch.newPath("body")
    let stderrFile = scratch.newPath("stderr")
    _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments =
        ["-sS", "-D", headerFile, "-o", bodyFile, "--max-time", String(timeout), "-w", "%{time_total}"]
        + arguments + [url.absoluteString]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
    process.standardInput = FileHandle.nullDevice
    let exitCode: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let written = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    var status = 0
    var headers: [String: String] = [:]
    let rawHeaders = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
    for line in rawHeaders.components(separatedBy: "\r\n") {
        if line.hasPrefix("HTTP/") {
            // A new block (after `100 Continue`, or a proxy's `200
            // Connection established`): keep the last.
            headers = [:]
            let fields = line.split(separator: " ")
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
        } else if let colon = line.firstIndex(of: ":") {
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return CurlResult(
        exitCode: exitCode, status: status, headers: headers,
        body: (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "",
        timeTotal: Double(written.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
}
