public import Foundation

/// What curl did: the status of the last response, its headers and body,
/// curl's exit code and its error message.
public struct CurlResult: Sendable {
    /// curl's exit code: 0, 28 (timeout), 52 (empty reply) …
    public var exitCode: Int32
    /// The last response's status; 0 when no response came.
    public var status: Int
    /// Header names lowercased; the last value wins.
    public var headers: [String: String]
    /// The last response's body.
    public var body: Data
    /// curl's own message on failure (`curl: (60) SSL certificate problem: …`).
    public var stderr: String
    /// `-w '%{time_total}'`: the whole transfer, in seconds.
    public var timeTotal: Double
    /// The interim answers (`1xx`: `100 Continue`, `104 Upload Resumption
    /// Supported` …) that came before the last one, in order.
    public var interim: [Interim] = []

    /// An interim (`1xx`) answer: its status and headers.
    public struct Interim: Sendable {
        /// The status, such as 104.
        public var status: Int
        /// Header names lowercased; the last value wins.
        public var headers: [String: String]

        /// The value of the header `name`, whatever its case.
        public subscript(_ name: String) -> String? { headers[name.lowercased()] }
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The value of the header `name`, whatever its case.
    public subscript(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Runs `/usr/bin/curl` (the stand-in client the tests drive) with
/// `arguments` plus the URL, without blocking the test's thread, and parses
/// what it says: the one way the tests run curl.
public func curl(_ arguments: [String], _ url: URL, timeout: Double = 20) async throws -> CurlResult {
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
    var interim: [CurlResult.Interim] = []
    let rawHeaders = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
    for line in rawHeaders.components(separatedBy: "\r\n") {
        if line.hasPrefix("HTTP/") {
            // A new block (after `100 Continue`, or a proxy's `200
            // Connection established`): keep the last, and the interim
            // answers before it.
            if (100..<200).contains(status) { interim.append(.init(status: status, headers: headers)) }
            headers = [:]
            let fields = line.split(separator: " ")
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
        } else if let colon = line.firstIndex(of: ":") {
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return CurlResult(
        exitCode: exitCode, status: status, headers: headers,
        body: (try? Data(contentsOf: URL(fileURLWithPath: bodyFile))) ?? Data(),
        stderr: (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "",
        timeTotal: Double(written.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
        interim: interim)
}

/// One HTTP request through ``curl(_:_:timeout:)``, for tests that speak tus
/// by hand.
public enum Curl {
    /// Sends one request. `Tus-Resumable: 1.0.0` is added unless `tus` is
    /// false; `Expect: 100-continue` is suppressed unless `allowExpect`. A
    /// header with an empty value is sent empty (`Name;`).
    public static func request(
        _ method: String,
        _ url: URL,
        headers: [String: String] = [:],
        body: Data? = nil,
        bodyFile: URL? = nil,
        tus: Bool = true,
        allowExpect: Bool = false,
        timeout: Double = 20
    ) async throws -> CurlResult {
        let scratch = try TemporaryFolder()
        var arguments = method == "HEAD" ? ["-I"] : ["-X", method]
        if tus { arguments += ["-H", "Tus-Resumable: 1.0.0"] }
        if !allowExpect { arguments += ["-H", "Expect:"] }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            arguments += ["-H", value.isEmpty ? "\(name);" : "\(name): \(value)"]
        }
        if let body {
            let file = scratch.url.appendingPathComponent("request")
            try body.write(to: file)
            arguments += ["--data-binary", "@\(file.path)"]
        } else if let bodyFile {
            arguments += ["--data-binary", "@\(bodyFile.path)"]
        }
        return try await curl(arguments, url, timeout: timeout)
    }
}
