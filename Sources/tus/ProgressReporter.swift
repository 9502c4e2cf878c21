import Foundation
import TusClient

/// Shows an upload's progress on standard error: a bar that redraws itself
/// on a terminal, a plain line at most once a second otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64?
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let started = Date()
    private var firstBytes: Int64?
    private var lastLine = Date.distantPast
    private var latest: UploadProgress?
    private var drewBar = false

    init(total: Int64?) {
        self.total = total
    }

    /// Sets the size once it is known.
    func setTotal(_ total: Int64?) {
        lock.withLock { self.total = total }
    }

    /// Prints a message on its own line.
    func say(_ message: String) {
        lock.withLock {
            if drewBar { write("\n"); drewBar = false }
            write(message + "\n")
        }
    }

    func update(_ progress: UploadProgress) {
        lock.withLock {
            latest = progress
            if firstBytes == nil { firstBytes = progress.bytesUploaded }
            if progress.totalBytes != nil { total = progress.totalBytes }
            let now = Date()
            let done = total.map { progress.bytesUploaded >= $0 } ?? false
            if isTerminal {
                if now.timeIntervalSince(lastLine) >= 0.1 || done {
                    write("\r" + line(progress, now: now, bar: true) + "\u{1B}[K")
                    drewBar = true
                    lastLine = now
                }
            } else if progress.bytesUploaded != firstBytes && now.timeIntervalSince(lastLine) >= 1 || done {
                // Plain lines start once bytes move, so a failure is one line.
                write(line(progress, now: now, bar: false) + "\n")
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

    private func line(_ progress: UploadProgress, now: Date, bar: Bool) -> String {
        let sent = progress.bytesUploaded
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(sent - (firstBytes ?? 0)) / elapsed : 0
        var parts: [String] = []
        if let total {
            let fraction = total == 0 ? 1 : Double(sent) / Double(total)
            if bar {
                let width = 24, filled = Int(fraction * Double(width))
                parts.append("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]")
            }
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
        return parts.joined(separator: "  ")
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
