public import Foundation
import TusThreads

/// The threads that read and hash files for ``Fingerprint``'s `async` entry
/// points: as many as the machine has processors, and at least two, so that
/// one slow disk does not hold up every other file; started when first
/// needed.
private let fingerprintThreads = ThreadExecutor(
    name: "tus-fingerprint",
    threads: max(2, ProcessInfo.processInfo.activeProcessorCount)
)

extension Fingerprint {
    /// The key of the file at `path`, read and hashed on a thread of this
    /// package's own.
    ///
    /// It is ``fingerprint(ofFileAtPath:)``'s result, but the calling task
    /// only waits: its thread stays free for other tasks while the file is
    /// read, which for a whole-file fingerprint of a large file takes
    /// seconds. Use it from `async` code, a server's above all.
    ///
    /// ```swift
    /// let key = try await SHA256Fingerprint(scope: .wholeFile).fingerprintInBackground(ofFileAtPath: "video.mp4")
    /// ```
    ///
    /// The work is not cancelled with the task; it runs to its end.
    ///
    /// - Throws: ``TusError`` naming the file, as
    ///   ``fingerprint(ofFileAtPath:)`` does.
    public func fingerprintInBackground(ofFileAtPath path: String) async throws -> String {
        try await fingerprintThreads.run({ try fingerprint(ofFileAtPath: path) }, ifStopped: Self.stopped)
    }

    /// The key of the file at `url`, read and hashed on a thread of this
    /// package's own; see ``fingerprintInBackground(ofFileAtPath:)``.
    public func fingerprintInBackground(ofFileAt url: URL) async throws -> String {
        try await fingerprintInBackground(ofFileAtPath: url.path)
    }

    /// The key of the content of `handle`, from its first byte to its end,
    /// read and hashed on a thread of this package's own; see
    /// ``fingerprintInBackground(ofFileAtPath:)``.
    ///
    /// As with ``fingerprint(of:)-(FileHandle)``, the handle is neither
    /// closed nor moved. Do not use it elsewhere until this returns.
    public func fingerprintInBackground(of handle: FileHandle) async throws -> String {
        try await fingerprintThreads.run({ try fingerprint(of: handle) }, ifStopped: Self.stopped)
    }

    /// Never thrown: the fingerprint threads are never stopped.
    private static func stopped() -> any Error {
        TusError(.unavailable, "cannot fingerprint the file: the fingerprint threads have stopped")
    }
}
