import Foundation
import TusClient
import TusCore

/// Tells on standard error how the upload changes course: smaller requests
/// (once for a body limit), and each retry with its reason, so that a
/// stalled or failing link shows signs of life.
final class UploadNotices: @unchecked Sendable {
    private let reporter: ProgressReporter
    private let lock = NSLock()
    private var toldBodyLimit = false

    init(reporter: ProgressReporter) {
        self.reporter = reporter
    }

    func tell(_ event: UploadEvent) {
        if JSONLines.enabled {
            Self.emitJSON(event, file: nil)
            return
        }
        if case .chunkSizeReduced(_, _, .bodyTooLarge) = event {
            let first = lock.withLock { () -> Bool in
                defer { toldBodyLimit = true }
                return !toldBodyLimit
            }
            if !first { return }
        }
        if let text = Self.words(for: event) { reporter.say(text) }
    }

    /// `event` as a `--progress json` line: `retry` and `part` events, and
    /// the words of the others as a `message`.
    static func emitJSON(_ event: UploadEvent, file: String?) {
        switch event {
        case .retrying(let failure, let delay):
            JSONLines.emit("retry", ["file": file, "message": failure.error.message, "delay": seconds(of: delay), "waiting": false])
        case .waitingForRelease(let failure, let delay):
            JSONLines.emit("retry", ["file": file, "message": failure.error.message, "delay": seconds(of: delay), "waiting": true])
        case .partCreatedAgain(let index):
            JSONLines.emit("part", ["file": file, "index": index, "message": words(for: event)])
        default:
            if let text = words(for: event) { JSONLines.emit("message", ["file": file, "text": text]) }
        }
    }

    private static func seconds(of duration: Duration) -> Double {
        let (whole, fraction) = duration.components
        return Double(whole) + Double(fraction) / 1e18
    }

    /// What `tus upload` says of `event`, or nil for nothing.
    static func words(for event: UploadEvent) -> String? {
        switch event {
        case .chunkSizeReduced(let from, let to, .bodyTooLarge):
            "the server or a proxy refuses \(ProgressReporter.bytes(Int64(from))) in one request (413): sending at most \(ProgressReporter.bytes(Int64(to))) at a time"
        case .chunkSizeReduced:
            nil
        case .parallelUploadsUnsupported:
            "the server does not announce concatenation: uploading in one part"
        case .partCreatedAgain(let index):
            "part \(index + 1) is gone from the server: uploading it again from its start"
        case .retrying(let failure, let delay):
            "\(failure.error.message); retrying in \(seconds(delay))"
        case .waitingForRelease(let failure, let delay):
            "\(failure.error.message); the server may still hold the request this upload abandoned: waiting \(seconds(delay)) for it to let go"
        case .storedUploadForgotten(let url, let reason):
            "the stored upload \(url) is not resumed: \(reason); starting a new upload"
        case .storeUnreachable(let error):
            storeWarning(error)
        }
    }

    /// The one warning of an upload whose store cannot be reached.
    static func storeWarning(_ error: TusError) -> String {
        "warning: \(error.message); the upload goes on without the store, and a later run may not be able to resume it if this one is interrupted (--require-store makes this an error)"
    }

    private static func seconds(_ duration: Duration) -> String {
        let (whole, fraction) = duration.components
        return String(format: "%.1f s", Double(whole) + Double(fraction) / 1e18)
    }
}
