import CTusSQLite
import Dispatch
import Foundation

/// Copies the write-ahead log back into the database file (a checkpoint),
/// mostly off the thread that commits.
///
/// By default SQLite checkpoints on the thread whose commit brings the log
/// to 1,000 pages. That commit pays for the copy and for two fsyncs, and then
/// the next commit restarts the log and pays a third. A store instead:
///
/// - starts a passive checkpoint on a queue of its own, over a second
///   connection, once its commits leave ``backgroundPages`` pages in the log
///   that no checkpoint has copied. Writers go on meanwhile: a passive
///   checkpoint takes no lock that a writer waits for.
/// - checkpoints on the committing thread, as SQLite would, once the log
///   holds ``inlinePages`` pages. Under steady writes a background
///   checkpoint never reaches the log's end, and only a log copied to its
///   end starts over from its beginning; without this step the log would
///   grow for as long as the writes go on. By then the background
///   checkpoints have copied and synced most of the log.
///
/// When the second connection cannot be opened, the next checkpoint runs on
/// the committing thread at SQLite's own 1,000 pages, and the one after that
/// tries the second connection again.
///
/// Several instances in one process, or processes, sharing a file each run
/// their own checkpoints; two at once make one fail busy, which costs a
/// wasted try and nothing else. The log restarts only when a checkpoint
/// copies all of it: a long read or a checkpoint of another connection at
/// that moment postpones the restart, and the log grows meanwhile.
///
/// Durability is SQLite's with `synchronous=NORMAL` either way: a commit is
/// written to the log before it returns; fsyncs happen at checkpoints.
final class Checkpointer: @unchecked Sendable {
    /// Pages not yet copied that start a background checkpoint.
    static let backgroundPages: Int32 = 250
    /// The log size, in pages, at which the committing thread checkpoints:
    /// with 4 KiB pages, about 8 MiB.
    static let inlinePages: Int32 = 2000
    /// SQLite's own threshold, used when there is no background connection.
    static let fallbackPages: Int32 = 1000

    private let path: String
    private let busyTimeoutMilliseconds: Int32
    private let queue = DispatchQueue(label: "swift-tus.sqlite-checkpoint")

    // Guarded by `lock`.
    private let lock = NSLock()
    private var scheduled = false
    private var stopped = false
    private var unavailable = false
    /// How many pages of the log the last checkpoint copied.
    private var copied: Int32 = 0
    /// Whether the last commit left the log at the size where the
    /// committing thread checkpoints.
    private var inlineDue = false
    /// Whether the next commit may start the log over, which syncs its
    /// header (`synchronous=NORMAL` syncs there and at checkpoints only):
    /// true from the start (the first commit may write a new log) and after
    /// a checkpoint that copied the whole log, until a commit on a
    /// connection that may wait.
    private var restartDue = true

    /// True when the next commit may wait for the disk: the log has reached
    /// the size where the committing thread checkpoints, or may start over
    /// and sync its header. A caller's thread must then leave its change to
    /// the store's thread.
    var commitMayWait: Bool { lock.withLock { inlineDue || restartDue } }

    // Used on `queue` only.
    private var connection: SQLiteConnection?

    /// A checkpointer for the database file at `path`; it opens its own
    /// connection when it first needs one.
    init(path: String, busyTimeoutMilliseconds: Int32) {
        self.path = path
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
    }

    private enum Step {
        case nothing, background
        /// A checkpoint on the committing thread, after the background one
        /// under way, if any, has finished.
        case inline(afterBackground: Bool)
    }

    /// Called on the committing thread, inside the commit's `sqlite3_step`,
    /// by the connection's write-ahead-log hook: `pages` is the log's size
    /// after the commit, and `handle` the committing connection.
    ///
    /// With `mayWait` false (a commit on a caller's thread, see
    /// ``FastLane``) nothing runs inline: a checkpoint that would is left to
    /// the next commit on the store's thread, and ``commitMayWait`` says so
    /// until then.
    func committed(pages: Int32, on handle: OpaquePointer, mayWait: Bool = true) {
        let step: Step = lock.withLock {
            if pages < copied { copied = 0 }  // the log started over
            inlineDue = pages >= (unavailable ? Self.fallbackPages : Self.inlinePages)
            if mayWait { restartDue = false }
            if stopped { return .nothing }
            if !mayWait {
                guard !unavailable, !scheduled, pages - copied >= Self.backgroundPages else { return .nothing }
                scheduled = true
                return .background
            }
            if unavailable {
                guard pages >= Self.fallbackPages else { return .nothing }
                // Try the second connection again after this checkpoint:
                // what stopped it (too many open files, a recovery under
                // way in another process) may have passed.
                unavailable = false
                return .inline(afterBackground: false)
            }
            if pages >= Self.inlinePages { return .inline(afterBackground: scheduled) }
            guard !scheduled, pages - copied >= Self.backgroundPages else { return .nothing }
            scheduled = true
            return .background
        }
        switch step {
        case .nothing:
            break
        case .inline(let afterBackground):
            // Two checkpoints of one file cannot run at once: waiting for
            // ours keeps the log from growing past the limit meanwhile. A
            // checkpoint of another process makes this one fail busy, and
            // the next commit tries again.
            if afterBackground { queue.sync {} }
            checkpointAndRecord(handle)
        case .background:
            queue.async { self.checkpointInBackground() }
        }
    }

    private func checkpointInBackground() {
        if connection == nil && !lock.withLock({ stopped }) {
            do {
                let opened = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
                try opened.execute("PRAGMA synchronous = NORMAL")
                connection = opened
            } catch {
                lock.withLock {
                    unavailable = true
                    scheduled = false
                }
                return
            }
        }
        _ = connection?.withHandle { handle in checkpointAndRecord(handle) }
        lock.withLock { scheduled = false }
    }

    /// Stops starting background checkpoints, waits for the one under way,
    /// and closes the second connection. Call it before closing the
    /// committing connection, so that its close, as the last one, copies the
    /// whole log and deletes it.
    func stop() {
        lock.withLock { stopped = true }
        queue.sync {
            connection?.close()
            connection = nil
        }
    }

    /// A passive checkpoint on `handle`; records how much it copied, and
    /// that the next commit may start the log over when it copied all.
    private func checkpointAndRecord(_ handle: OpaquePointer) {
        guard let result = Self.checkpoint(handle) else { return }
        lock.withLock {
            copied = result.copied
            if result.copied == result.pages { restartDue = true }
        }
    }

    /// A passive checkpoint on `handle`: the log's size and the number of
    /// its pages copied, or nil when it failed or another checkpoint was
    /// under way.
    private static func checkpoint(_ handle: OpaquePointer) -> (pages: Int32, copied: Int32)? {
        var pages: Int32 = 0
        var copied: Int32 = 0
        let result = sqlite3_wal_checkpoint_v2(handle, "main", SQLITE_CHECKPOINT_PASSIVE, &pages, &copied)
        return result == SQLITE_OK && copied >= 0 ? (pages, copied) : nil
    }
}
