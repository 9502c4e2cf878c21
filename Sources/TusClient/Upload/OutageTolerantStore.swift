import Foundation
import Logging
import Tracing
public import TusCore

/// The store as one upload sees it: an upload goes on while its store
/// cannot be reached.
///
/// When the store fails with an error that says it is out of reach — a
/// refused or broken connection, a timeout, a busy or full or read-only
/// disk (``TusError/Code/unavailable``, ``TusError/Code/connectionFailed``,
/// ``TusError/Code/timeout``, ``TusError/Code/io``) — the upload is told
/// once (``UploadEvent/storeUnreachable(_:)``) and goes on without it:
/// a read finds nothing, and a change is remembered, not tried. From then
/// on the store is not asked again until ``settle()``, which the uploader
/// calls when the upload ends, finished or not: it tries each remembered
/// change once, so that a finished upload's URL is removed and an
/// unfinished one's is kept when the store is back.
///
/// Any other error (a corrupt store, refused credentials, a closed store)
/// is thrown as it is: it will not pass by waiting.
///
/// With ``UploadOptions/requiresStore``, every failure is thrown and stops
/// the upload.
///
/// It also times each call (``UploadMetrics/storeOperation(_:backend:since:)``).
final class OutageTolerantStore: Storage {
    private let base: any Storage
    /// Whether an outage lets the upload go on (false with
    /// ``UploadOptions/requiresStore``: every error is thrown).
    private let tolerates: Bool
    private let onEvent: (@Sendable (UploadEvent) -> Void)?
    private let logger: Logger
    private let metrics: UploadMetrics
    private let tracer: any Tracer
    /// How metrics name the store: its type's name, such as `RedisStorage`.
    private let backend: String
    private let state = LockedValue(State())

    private struct State {
        /// The first outage, once there was one.
        var outage: TusError?
        /// The changes to make once the store is back, by key: a URL to
        /// store, or nil to remove the key; in the order they were made.
        var pending: [(key: String, url: String?)] = []
        /// The keys whose read failed: what the store holds there is not
        /// known, so ``settle()`` overwrites none of them.
        var unread: Set<String> = []
    }

    init(
        _ base: any Storage, tolerates: Bool, onEvent: (@Sendable (UploadEvent) -> Void)?, logger: Logger, metrics: UploadMetrics,
        tracer: any Tracer
    ) {
        self.base = base
        self.tolerates = tolerates
        self.onEvent = onEvent
        self.logger = logger
        self.metrics = metrics
        self.tracer = tracer
        backend = String(describing: type(of: base))
    }

    /// Runs one call of the store, timed, in a span of its own.
    private func timed<Result: Sendable>(_ operation: String, _ body: () async throws -> Result) async throws -> Result {
        let start = ContinuousClock.now
        defer { metrics.storeOperation(operation, backend: backend, since: start) }
        return try await tracer.withSpan("tus.store.\(operation)", ofKind: .client) { span in
            span.attributes["tus.store.backend"] = backend
            return try await body()
        }
    }

    /// Whether the store has been out of reach during this upload.
    var hadOutage: Bool { state.value.outage != nil }

    func url(forKey key: String) async throws -> String? {
        if hadOutage {
            state.withLock { _ = $0.unread.insert(key) }
            return nil
        }
        do {
            return try await timed("get") { try await base.url(forKey: key) }
        } catch let error as TusError where tolerates && error.isStoreOutage {
            wentDown(error)
            state.withLock { _ = $0.unread.insert(key) }
            return nil
        }
    }

    func setURL(_ url: String, forKey key: String) async throws {
        try await change(key, to: url)
    }

    func removeURL(forKey key: String) async throws {
        try await change(key, to: nil)
    }

    /// The store belongs to the caller, who closes it.
    func close() async throws {}

    private func change(_ key: String, to url: String?) async throws {
        if !hadOutage {
            do {
                if let url {
                    try await timed("set") { try await base.setURL(url, forKey: key) }
                } else {
                    try await timed("remove") { try await base.removeURL(forKey: key) }
                }
                return
            } catch let error as TusError where tolerates && error.isStoreOutage {
                wentDown(error)
            }
        }
        state.withLock { $0.pending.append((key, url)) }
    }

    private func wentDown(_ error: TusError) {
        let first = state.withLock { state -> Bool in
            guard state.outage == nil else { return false }
            state.outage = error
            return true
        }
        guard first else { return }
        logger.debug("the store cannot be reached; the upload goes on without it", metadata: ["tus.reason": "\(error.message)"])
        onEvent?(.storeUnreachable(error))
    }

    /// Tries once each change the outage held back, latest per key, and
    /// says whether the store now holds what the upload left there. A key
    /// whose read failed is changed only where it holds no other URL, or
    /// where the change removes it after the upload finished: its earlier
    /// URL may be the user's progress.
    @discardableResult
    func settle() async -> Bool {
        let (pending, unread) = state.withLock { state in
            defer { state.pending = [] }
            return (state.pending, state.unread)
        }
        var latest: [String: String?] = [:]
        var order: [String] = []
        for (key, url) in pending {
            if latest[key] == nil { order.append(key) }
            latest[key] = url
        }
        var settled = true
        for key in order {
            guard let url = latest[key] else { continue }
            do {
                if let url {
                    if unread.contains(key), let held = try await base.url(forKey: key), held != url {
                        logger.debug("the store holds another URL under the key; kept", metadata: ["key": "\(key)"])
                        continue
                    }
                    try await base.setURL(url, forKey: key)
                } else {
                    try await base.removeURL(forKey: key)
                }
            } catch {
                logger.debug("the store is still out of reach", metadata: ["reason": "\((error as? TusError)?.message ?? "\(error)")"])
                settled = false
                break
            }
        }
        return settled
    }
}

extension TusError {
    /// Whether the error says a store is out of reach for now — a refused or
    /// broken connection, a timeout, a busy, full or read-only disk — rather
    /// than wrong (corrupt, closed, refused credentials). An upload goes on
    /// through such an error unless ``UploadOptions/requiresStore`` is set.
    public var isStoreOutage: Bool {
        switch code {
        case .unavailable, .connectionFailed, .timeout, .io: true
        default: false
        }
    }
}
