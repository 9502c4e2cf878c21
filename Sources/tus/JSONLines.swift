import Foundation

/// `tus upload --progress json`: every line on standard error is one JSON
/// object, for programs to read. Each has `"v": 1` (the format's version,
/// raised only for a change that breaks a reader) and `"event"`, one of:
///
/// - `started`: `file`, `size` (absent for a stream), `url` and
///   `resumed_from` when a stored upload goes on;
/// - `progress`: `file`, `bytes` (confirmed by the server), `sent` (gone
///   out, the request under way's included), `size`, `rate` (bytes a
///   second); at most one a second, and one when done;
/// - `retry`: `file`, `message`, `delay` (seconds), `waiting` (true while
///   the server still holds an abandoned request);
/// - `part`: `file`, `index` (from 0), `message`: a part created again;
/// - `finished`: `file`, `url`;
/// - `interrupted`: `file`; for a single file, `bytes` and `resumable` too;
/// - `message`: `text`, and `file` when it is about one: what the tool
///   would otherwise say in words (a warning, a smaller request size, a
///   request with `-v`);
/// - `error`: `message`: the failure that ends the run (as `tus: …` says
///   it otherwise); with several files, one per failed file, with `file`.
enum JSONLines {
    /// The format's version.
    static let version = 1

    private static let isOn = LockedFlag()

    /// Whether standard error speaks JSON lines.
    static var enabled: Bool {
        get { isOn.value }
        set { isOn.value = newValue }
    }

    /// Writes one event as a line of JSON on standard error.
    static func emit(_ event: String, _ fields: [String: Any?]) {
        FileHandle.standardError.write(Data((line(event, fields) + "\n").utf8))
    }

    /// One event as a line of JSON, its keys sorted; nil fields left out.
    static func line(_ event: String, _ fields: [String: Any?]) -> String {
        var object: [String: Any] = ["v": version, "event": event]
        for (key, value) in fields {
            if let value { object[key] = value }
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{\"event\":\"error\",\"message\":\"unencodable event\",\"v\":\(version)}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A flag read and written from any thread.
private final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
