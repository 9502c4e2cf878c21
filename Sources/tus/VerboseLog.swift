import Foundation
import Logging

/// What `tus upload -v` and `-vv` (or `TUS_LOG_LEVEL`) show on standard
/// error: a line per request with `-v`; each request's and answer's headers,
/// as curl's `-v` shows them, and the library's other debug lines with
/// `-vv`. Secrets never show: the library masks them before they are
/// logged.
struct VerboseLog {
    /// 0: nothing; 1: a line per request; 2: headers and debug lines too.
    var level: Int

    /// The level `-v` flags (counted) and `TUS_LOG_LEVEL` ask for: the
    /// higher of the two. `TUS_LOG_LEVEL` takes `debug` (as `-v`) or `trace`
    /// (as `-vv`); anything else, or nothing, asks for nothing.
    init(flags: Int, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let fromEnvironment = switch environment["TUS_LOG_LEVEL"]?.lowercased() {
        case "trace": 2
        case "debug": 1
        default: 0
        }
        level = max(min(flags, 2), fromEnvironment)
    }

    /// A logger that prints what this level shows through `say` (which
    /// keeps a progress bar intact), or nil at level 0.
    func logger(say: @escaping @Sendable (String) -> Void) -> Logger? {
        guard level > 0 else { return nil }
        var logger = Logger(label: "tus") { _ in VerboseLogHandler(say: say) }
        logger.logLevel = level >= 2 ? .trace : .debug
        return logger
    }
}

/// Prints the client's log lines in words.
struct VerboseLogHandler: LogHandler {
    let say: @Sendable (String) -> Void
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }
        func field(_ key: String) -> String? { fields[key].map { "\($0)" } }
        let method = field("http.request.method") ?? "?"
        let url = field("url.full") ?? "?"
        switch event.message.description {
        case "tus request":
            var line = "\(method) \(url) "
            if let status = field("http.response.status_code") {
                line += "→ \(status)"
            } else {
                line += "→ no answer: \(field("error.message") ?? "the request failed")"
            }
            var details: [String] = []
            if let body = field("tus.request.body_bytes"), body != "0" { details.append("\(body) bytes sent") }
            if let seconds = field("tus.request.seconds") { details.append("\(seconds) s") }
            if let offset = field("tus.upload.offset") { details.append("offset \(offset)") }
            if !details.isEmpty { line += " (" + details.joined(separator: ", ") + ")" }
            say(line)
        case "tus request headers":
            say((["> \(method) \(url)"] + lines(field("http.request.headers")).map { "> " + $0 }).joined(separator: "\n"))
        case "tus response headers":
            say((["< \(field("http.response.status_code") ?? "?")"] + lines(field("http.response.headers")).map { "< " + $0 })
                .joined(separator: "\n"))
        default:
            guard logLevel == .trace else { return }
            let extra = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            say("debug: \(event.message)" + (extra.isEmpty ? "" : " " + extra))
        }
    }

    private func lines(_ text: String?) -> [String] {
        (text ?? "").split(separator: "\n").map(String.init)
    }
}
