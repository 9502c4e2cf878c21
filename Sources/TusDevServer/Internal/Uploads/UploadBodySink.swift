import Foundation
import Logging
import TusProtocol

/// Writes one request's body into an upload's data file as it arrives, and
/// then keeps it or takes it back.
///
/// It carries out a ``BodyPlan``: bytes go to the data file at the plan's
/// offset, a buffer at a time, and feed the checksum if the request has
/// one. Without a checksum each buffer counts at once (a `HEAD` meanwhile
/// sees the offset move, and a cut connection keeps what arrived); with one,
/// nothing counts until ``commit()`` after the digest matched. Exactly one of
/// ``commit()``, ``rollBack()`` or ``abandon()`` ends its work and lets the
/// upload go; later calls do nothing.
///
/// A newer request for the upload may ask it to stop
/// (``whenAskedToStop(_:)``): the request's body then ends where it is, and
/// the sink commits or rolls back as for any body that ended.
///
/// It knows files and the store, not HTTP: the answers are the protocol's
/// decisions' (``TusDecisions``, ``DraftDecisions``).
final class UploadBodySink {
    /// What a write did.
    enum WriteResult {
        /// The bytes are in the data file.
        case written
        /// The bytes would go past the plan's limit; none of them was written.
        case pastLimit
        /// The data file could not be written.
        case failed
    }

    let plan: BodyPlan
    /// Where the next byte goes: the plan's offset plus the bytes written.
    private(set) var offset: Int64
    private let file: DataFile
    private let store: UploadStore
    private let expiration: TimeInterval?
    private let logger: Logger
    private var hasher: UploadChecksum.Hasher?
    private var finished = false

    /// Opens the upload's data file for `plan`; the upload is held already.
    ///
    /// - Throws: ``TusError`` when the data file cannot be opened; the
    ///   upload is let go.
    init(plan: BodyPlan, server: ServerContext) throws {
        self.plan = plan
        offset = plan.offset
        store = server.store
        expiration = server.expiration
        logger = server.logger
        do {
            file = try DataFile(path: server.store.dataPath(plan.uploadID))
        } catch {
            server.store.release(plan.uploadID)
            throw error
        }
        hasher = plan.checksum.map { UploadChecksum.Hasher($0.algorithm) }
    }

    deinit {
        // A sink dropped without an end behaves as a cut connection.
        abandon()
    }

    /// Has `stop` called (from any thread) when a newer request for the
    /// upload asks this one to let it go, or at once if one asked already.
    /// `stop` should end the body where it is, so the sink commits or rolls
    /// back and lets the upload go. Nothing happens once the sink has ended.
    func whenAskedToStop(_ stop: @escaping @Sendable () -> Void) {
        guard !finished else { return }
        store.onStopRequest(plan.uploadID, stop)
    }

    /// Whether the bytes count as they are written (there is no checksum to
    /// check first).
    var commitsAsItGoes: Bool { plan.checksum == nil }

    /// Writes `bytes` at ``offset`` and feeds the checksum.
    func write(_ bytes: UnsafeRawBufferPointer) -> WriteResult {
        guard !finished else { return .failed }
        let count = Int64(bytes.count)
        if count > plan.limit - offset {
            return .pastLimit
        }
        if count > 0 {
            do {
                try file.write(bytes, at: offset)
            } catch {
                logger.error("\(error)")
                return .failed
            }
            hasher?.update(bytes)
        }
        offset += count
        if commitsAsItGoes {
            let offset = self.offset
            store.update(plan.uploadID) { $0.offset = offset }
        }
        return .written
    }

    /// Whether the bytes written match the request's `Upload-Checksum`;
    /// `true` when it has none.
    func checksumMatches() -> Bool {
        guard let expected = plan.checksum, let hasher else { return true }
        return hasher.finalize().digest == expected.digest
    }

    /// Keeps the bytes written, refreshes the expiry and lets the upload go.
    /// Returns the upload as it is now.
    ///
    /// Nothing but the data file is written: after a restart the offset is
    /// the data file's size and the expiry its modification time plus the
    /// expiration, which is what the record gets here too. Except when
    /// `markingComplete` completes a draft upload: then its length (the
    /// offset, if it had none) and completeness go to its info file too,
    /// before the upload is let go.
    ///
    /// - Parameter markingComplete: the body ended a draft request that
    ///   said `Upload-Complete: ?1`. The upload is complete unless its known
    ///   length differs from the offset reached.
    @discardableResult
    func commit(markingComplete: Bool = false) -> UploadStore.Record? {
        guard !finished else { return nil }
        finished = true
        let modified = file.modificationDate()
        // How far the configuration's clock is from the system's (none but
        // in tests that move it), so a moved clock moves expiries too.
        let skew = store.clock().timeIntervalSinceNow
        file.close()
        let offset = self.offset
        let expiration = self.expiration
        var result: UploadStore.Record?
        var completed = false
        store.update(plan.uploadID) { record in
            record.offset = offset
            if markingComplete, record.draft != nil, (record.length ?? offset) == offset {
                record.length = offset
                record.draft?.complete = true
                completed = true
            }
            if record.isComplete {
                record.expiresAt = nil
            } else if let expiration {
                record.expiresAt = (modified ?? Date()).addingTimeInterval(expiration + skew)
            }
            result = record
        }
        if completed { store.persist(plan.uploadID) }
        store.release(plan.uploadID)
        return result
    }

    /// Drops the bytes this request wrote and lets the upload go. Cutting
    /// the file changes it, so the expiry follows, as after a restart.
    func rollBack() {
        guard !finished else { return }
        do {
            try file.truncate(to: plan.offset)
        } catch {
            logger.error("\(error)")
        }
        offset = plan.offset
        commit()
    }

    /// The body will not end (the connection was lost or cut): keeps what
    /// arrived when there is no checksum, as tusd does, since it cannot be
    /// verified otherwise drops it.
    func abandon() {
        if commitsAsItGoes {
            commit()
        } else {
            rollBack()
        }
    }
}
