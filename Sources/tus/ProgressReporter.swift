import Foundation
import TusClient

/// Shows an upload's progress on standard error: a bar that redraws itself
/// on a terminal, fitted to its width; a plain line at most once a second
/// otherwise, and with `NO_COLOR` or `TERM=dumb` (see ``Terminal``).
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64?
    private let terminal = Terminal.standardError
    private let started = Date()
    private var firstBytes: Int64?
    private var lastLine = Date.distantPast
    private var latest: UploadProgress?
    private var drewBar = false

    /// The file the events of `--progress json` name.
    private let file: String?

    init(total: Int64?, file: String? = nil) {
        self.total = total
        self.file = file
    }

    /// Sets the size once it is known.
    func setTotal(_ total: Int64?) {
        lock.withLock { self.total = total }
    }

    /// Prints a message on its own line (a `message` event with
    /// `--progress json`).
    func say(_ message: String) {
        if JSONLines.enabled {
            JSONLines.emit("message", ["file": file, "text": message])
            return
        }
        lock.withLock {
            if drewBar { write("\n"); drewBar = false }
            write(message + "\n")
        }
    }

    /// Writes a `--progress json` event about this file.
    func emit(_ event: String, _ fields: [String: Any?]) {
        JSONLines.emit(event, fields.merging(["file": file]) { given, _ in given })
    }

    func update(_ progress: UploadProgress) {
        lock.withLock {
            latest = progress
            if firstBytes == nil { firstBytes = progress.bytesUploaded }
            if progress.totalBytes != nil { total = progress.totalBytes }
            let now = Date()
            let done = total.map { progress.bytesUploaded >= $0 } ?? false
            if JSONLines.enabled {
                if now.timeIntervalSince(lastLine) >= 1 || done {
                    let elapsed = now.timeIntervalSince(started)
                    let rate = elapsed > 0 ? Double(progress.bytesUploaded - (firstBytes ?? 0)) / elapsed : 0
                    emit("progress", ["bytes": progress.bytesUploaded, "sent": progress.bytesSent, "size": total, "rate": Int(rate)])
                    lastLine = now
                }
            } else if terminal.redraws {
                if now.timeIntervalSince(lastLine) >= 0.1 || done {
                    let fitted = Self.fitted(fraction: fraction(progress), fields: fields(progress, now: now), columns: terminal.columns())
                    write("\r" + fitted + "\u{1B}[K")
                    drewBar = true
                    lastLine = now
                }
            } else if progress.bytesSent != firstBytes && (progress.bytesUploaded != firstBytes || now.timeIntervalSince(started) >= 1)
                        && now.timeIntervalSince(lastLine) >= 1 || done {
                // Plain lines start once the server confirms bytes, or once
                // bytes have been going out for a second: a quick refusal
                // is one line, a slow first request shows its bytes.
                write(fields(progress, now: now).joined(separator: "  ") + "\n")
                lastLine = now
            }
        }
    }

    /// Ends the bar's line.
    func finish() {
        lock.withLock {
            if drewBar { write("\n"); drewBar = false }
        }
    }

    /// How much is done, when the size is known. Call with the lock.
    private func fraction(_ progress: UploadProgress) -> Double? {
        total.map { $0 == 0 ? 1 : Double(progress.bytesSent) / Double($0) }
    }

    /// What a progress line says, most important first: the share done, the
    /// bytes, the rate, the time left. Call with the lock.
    private func fields(_ progress: UploadProgress, now: Date) -> [String] {
        // What went out moves the bar; what the server holds shows beside
        // it while a request is under way.
        let sent = progress.bytesSent
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(sent - (firstBytes ?? 0)) / elapsed : 0
        var parts: [String] = []
        if let total, let fraction = fraction(progress) {
            parts.append(String(format: "%3.0f%%", fraction * 100))
            parts.append("\(Self.bytes(sent)) / \(Self.bytes(total))")
            parts.append("\(Self.bytes(Int64(rate)))/s")
            if rate > 0 && sent < total {
                parts.append("ETA " + Self.duration(Double(total - sent) / rate))
            }
        } else {
            parts.append("\(Self.bytes(sent)) sent")
            parts.append("\(Self.bytes(Int64(rate)))/s")
        }
        if progress.bytesSent > progress.bytesUploaded {
            parts.append("server has \(Self.bytes(progress.bytesUploaded))")
        }
        return parts
    }

    /// The widest bar, and the narrowest worth drawing.
    static let barWidths = (most: 24, least: 8)

    /// A progress line that fits in `columns` less one (a line that reaches
    /// the last column wraps on some terminals), so that redrawing it never
    /// scrolls: the bar and every field when they fit; else a shorter bar;
    /// else without the time left, then the rate; then without the bar; at
    /// last the share done alone, cut to the width.
    static func fitted(fraction: Double?, fields: [String], columns: Int) -> String {
        let room = max(1, columns - 1)
        if let fraction {
            for count in stride(from: fields.count, through: min(2, fields.count), by: -1) {
                let text = fields.prefix(count).joined(separator: "  ")
                let barWidth = min(barWidths.most, room - Terminal.width(of: text) - 4)
                if barWidth >= barWidths.least {
                    let filled = min(barWidth, max(0, Int(fraction * Double(barWidth))))
                    let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]"
                    return bar + "  " + text
                }
            }
        }
        for count in stride(from: fields.count, through: 1, by: -1) {
            let text = fields.prefix(count).joined(separator: "  ")
            if Terminal.width(of: text) <= room { return text }
        }
        return Terminal.prefix(fields.first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "", columns: room)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
