public import Foundation
public import Logging
public import CoreMetrics

extension TusDevServer {
    /// How a ``TusDevServer`` listens, where it keeps uploads and which
    /// limits it announces.
    ///
    /// ```swift
    /// var configuration = TusDevServer.Configuration(directory: tempDir)
    /// configuration.expiration = 2          // seconds
    /// configuration.maxUploadSize = 1 << 20 // 1 MiB
    /// let server = try await TusDevServer.start(configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The address to bind. The loopback address by default; the server
        /// is not meant to face a network.
        public var host: String = "127.0.0.1"
        /// The TCP port; `0` lets the system pick a free one (read it back
        /// from ``TusDevServer/port``).
        public var port: Int = 0
        /// Where each upload's data file (`<id>.bin`) and info file
        /// (`<id>.info`, JSON) are kept. Created if missing. A server started
        /// again on the same directory knows the uploads it held.
        public var directory: URL
        /// The path of the creation endpoint; upload URLs are
        /// `<basePath><id>`. Leading and trailing slashes are added if missing.
        public var basePath: String = "/files/"
        /// The largest `Upload-Length` accepted, announced as `Tus-Max-Size`
        /// to tus requests and as `Upload-Limit`'s `max-size` to the IETF
        /// draft's. A larger upload is answered with `413`.
        public var maxUploadSize: Int64 = 1 << 40
        /// How long an unfinished upload lives after its creation or its last
        /// `PATCH`, announced as `Upload-Expires` on tus `POST` and `PATCH`
        /// responses, and as the seconds left in `Upload-Limit` (`max-age`,
        /// `expires` in interop version 6) to the IETF draft's requests. An upload past its expiry is deleted, and requests for
        /// it get `410 Gone` (`404` after a restart). `nil`: uploads never
        /// expire. Finished uploads never expire.
        public var expiration: TimeInterval? = 24 * 3600
        /// The checksum algorithms accepted in `Upload-Checksum` and announced
        /// in `Tus-Checksum-Algorithm`. Known: `sha1`, `sha256`, `md5`;
        /// unknown names are ignored.
        public var checksumAlgorithms: [String] = ["sha1", "sha256", "md5"]
        /// What time it is, for uploads' creation and expiry: the system's
        /// clock by default. Tests set a clock they move, to expire an upload
        /// without waiting for it. (A PATCH still refreshes an upload's
        /// expiry from its data file's modification time, as a restart does.)
        public var clock: @Sendable () -> Date = { Date() }
        /// Whether the server implements the `concatenation` extension
        /// (partial and final uploads) and announces it. Off, it behaves as a
        /// server that does not know the extension: `Upload-Concat` is
        /// ignored, so a partial upload is an ordinary one. Default: on.
        public var concatenation = true
        /// How long, at most, a request for an upload that another request
        /// holds waits for that request to let go, in seconds.
        ///
        /// A newer request for an upload (`HEAD`, `PATCH`, `DELETE`, or a
        /// final `POST` naming it as a part) asks the request writing to it
        /// to stop, as tusd does: that request's body ends where it is, the
        /// bytes it wrote are kept (dropped if it carries `Upload-Checksum`,
        /// which they cannot match), it is answered and its connection
        /// closed, and the newer request goes on, within moments. So a
        /// client that gave up on a stalled `PATCH` resumes at once, instead
        /// of meeting `423 Locked` until the stalled connection ends. A hold
        /// that cannot be stopped (the parts of a final upload being joined)
        /// is waited for; if it is not let go within this time, a `PATCH`,
        /// `DELETE` or final `POST` is answered `423 Locked`, and a `HEAD`
        /// with the upload as it stands. Default: 3 seconds.
        public var takeoverTimeout: TimeInterval = 3
        /// Where the server's metrics go: `http.server.request.duration`,
        /// by `http.request.method` and `http.response.status_code`. Nil (the
        /// default) is the factory the application bootstrapped with
        /// `MetricsSystem.bootstrap`.
        public var metricsFactory: (any MetricsFactory)?
        /// Where the server logs: each request at `.info` once answered (its
        /// method, path, status and seconds; no query, header or body),
        /// failures to read or write its files at `.error`. Quiet
        /// (`.warning`) by default; set `logger.logLevel = .info` to see every
        /// request.
        public var logger: Logger = {
            var logger = Logger(label: "tus.devserver")
            logger.logLevel = .warning
            return logger
        }()

        /// A configuration keeping uploads in `directory`, with every other
        /// setting at its default.
        public init(directory: URL) {
            self.directory = directory
        }
    }
}
