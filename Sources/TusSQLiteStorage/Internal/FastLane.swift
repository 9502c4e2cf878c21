import CTusSQLite
import Foundation

/// A second connection to a store's file that answers a look-up, a change
/// or a removal on the caller's own thread when it need not wait, so that
/// such a call costs no trip to the store's thread and back.
///
/// It never waits:
/// - a call takes the lane only when no other call holds it (a try-lock);
/// - its busy timeout is zero, so a change that finds another connection
///   writing fails at once with `SQLITE_BUSY` instead of waiting, and a
///   read in write-ahead-log mode never waits for a writer at all;
/// - its commits never checkpoint (``Checkpointer/committed(pages:on:mayWait:)``
///   with `mayWait` false), and it makes no change when the next commit may
///   wait for the disk (``Checkpointer/commitMayWait``): when the log is as
///   large as the committing thread's checkpoint wants, or may start over
///   and sync its header, changes go to the store's thread until a commit
///   there has done that. (A checkpoint that copies the whole log in the
///   microseconds between that look and the commit, or another process's
///   checkpoint, can still make one commit here start the log over and
///   sync its header.)
/// - it makes no change while a change of the store's thread is pending,
///   so that a later change never overtakes an earlier one, nor any once
///   the store is closing.
///
/// Every call that cannot be answered here — the lane is held, closed or
/// broken, a change would wait, or SQLite fails — returns nil, and the
/// store runs it on its own thread as before, where failures get their
/// messages and a full or read-only disk its handling. A failure other than
/// a busy database breaks the lane until the store's thread opens it anew.
///
/// The store's thread opens and closes it (``refresh(path:table:usable:)``,
/// ``close()``), holding its lock, which only that thread may wait for.
final class FastLane: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`.
    private var connection: SQLiteConnection?
    private var select: SQLiteStatement?
    private var upsert: SQLiteStatement?
    private var delete: SQLiteStatement?
    private var checkpointer: Checkpointer?
    private var broken = false
    /// When opening last failed: the next try comes a second later at the
    /// earliest.
    private var failedOpen: ContinuousClock.Instant?
    /// Changes handed to the store's thread and not yet done, and whether
    /// the store is closing; guarded by `counts`, held for moments only.
    private let counts = NSLock()
    private var pendingChanges = 0
    private var closing = false

    // MARK: Calls, on the caller's thread

    /// The URL stored under `key` (`.some(nil)` when there is none), or nil
    /// when the call must go to the store's thread.
    func url(forKey key: String) -> String?? {
        guard lock.try() else { return nil }
        defer { lock.unlock() }
        guard !broken, let select else { return nil }
        do {
            var url: String?
            try select.run(text: key) { row in url = row.text(0) }
            return .some(url)
        } catch {
            fail(error)
            return nil
        }
    }

    /// Stores `url` under `key` at `date`; false when the change must go to
    /// the store's thread.
    func setURL(_ url: String, forKey key: String, at date: Date) -> Bool {
        change({ (upsert) throws(SQLiteError) in
            try upsert.run([.text(key), .text(url), .real(date.timeIntervalSince1970)])
        }, using: { upsert })
    }

    /// Removes the row of `key`; false when the removal must go to the
    /// store's thread.
    func removeURL(forKey key: String) -> Bool {
        change({ (delete) throws(SQLiteError) in try delete.run(text: key) }, using: { delete })
    }

    /// Runs one change with `statement`, when the lane is free, no earlier
    /// change waits on the store's thread, and the commit cannot wait for
    /// the disk.
    private func change(
        _ body: (SQLiteStatement) throws(SQLiteError) -> Void, using statement: () -> SQLiteStatement?
    ) -> Bool {
        guard lock.try() else { return false }
        defer { lock.unlock() }
        guard counts.withLock({ pendingChanges == 0 && !closing }), !broken, let statement = statement(),
              let checkpointer, !checkpointer.commitMayWait
        else { return false }
        do {
            try body(statement)
            return true
        } catch {
            fail(error)
            return false
        }
    }

    /// Called with the lock held: a busy database is passing; anything else
    /// breaks the lane until the store's thread looks at it.
    private func fail(_ error: SQLiteError) {
        let code = error.primaryResultCode
        if code != SQLITE_BUSY && code != SQLITE_LOCKED { broken = true }
    }

    // MARK: The store's side

    /// Called before a change is handed to the store's thread: changes
    /// here wait until ``changeDone()``.
    func changeHandedOver() {
        counts.withLock { pendingChanges += 1 }
    }

    /// Called when a change handed to the store's thread is done.
    func changeDone() {
        counts.withLock { pendingChanges -= 1 }
    }

    /// Makes no more change from now on: ``SQLiteStorage/close()`` calls
    /// it at once, before its turn on the store's thread comes.
    func stopChanges() {
        counts.withLock { closing = true }
    }

    /// After a call on the store's thread: opens the lane on the file at
    /// `path` when `usable` (the store's table is open and takes writes) and
    /// it is not open yet, and closes it when not `usable` or broken. The
    /// lane must open the table's own file (same device and inode) and find
    /// a schema version this code knows, or it stays closed.
    func refresh(path: String, table: UploadTable, usable: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard usable, !broken, let checkpointer = table.checkpointer else {
            closeLocked()
            return
        }
        guard connection == nil else { return }
        if let failedOpen, ContinuousClock.now - failedOpen < .seconds(1) { return }
        do {
            let opened = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 0)
            // Per connection, as on the store's own: no SQL from the file's
            // schema, and the same durability.
            try opened.execute("PRAGMA trusted_schema = OFF")
            try opened.execute("PRAGMA synchronous = NORMAL")
            let version = try opened.execute("PRAGMA user_version").first.flatMap { Int32($0) } ?? 0
            guard UploadTable.knownVersions.contains(version), let file = StoreFile.identity(path),
                  file == table.file
            else {
                opened.close()
                failedOpen = ContinuousClock.now
                return
            }
            select = try opened.prepare(UploadTable.selectSQL)
            upsert = try opened.prepare(UploadTable.upsertSQL)
            delete = try opened.prepare(UploadTable.deleteSQL)
            opened.setCheckpointer(checkpointer, mayWait: false)
            connection = opened
            self.checkpointer = checkpointer
            failedOpen = nil
        } catch {
            failedOpen = ContinuousClock.now
            closeLocked()
        }
    }

    /// Closes the lane; the next ``refresh(path:table:usable:)`` may open it
    /// again. Call it before the store's table closes, so that the table's
    /// connection is the file's last one.
    func close() {
        lock.withLock {
            closeLocked()
            failedOpen = nil
        }
    }

    private func closeLocked() {
        select = nil
        upsert = nil
        delete = nil
        connection?.setCheckpointer(nil)
        connection?.close()
        connection = nil
        checkpointer = nil
        broken = false
    }
}
