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
        if case .chunkSizeReduced(_, _, .bodyTooLarge) = event {
            let first = lock.withLock { () -> Bool in
                defer { toldBodyLimit = true }
                return !toldBodyLimit
            }
            if !first { return }
        }
        if let text = Self.words(for: event) { reporter.say(text) }
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
