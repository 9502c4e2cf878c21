public import Foundation
public import TusCore
public import Logging
import TusStoreSupport
import TusThreads

/// The SQLite store: upload URLs in one SQLite database file, over the
/// system's libsqlite3, shared safely by many processes.
///
/// ```swift
/// let store = try SQLiteStorage(path: "/var/lib/uploader/uploads.sqlite")
/// try await store.setURL("https://tus.example/files/24e5", forKey: key)
/// let url = try await store.url(forKey: key)
/// try await store.close()
/// ```
///
/// TusCore's `withStorage(_:_:)` closes the store however the work ends:
///
/// ```swift
/// let url = try await withStorage(try SQLiteStorage(path: "uploads.sqlite")) { store in
///     try await store.url(forKey: key)
/// }
/// ```
///
/// ## Guarantees
/// - **Durable, consistent.** The database runs in write-ahead-log mode
///   (`journal_mode=WAL`) with `synchronous=NORMAL`. A change that returned
///   survives the process crashing or being killed. A power loss or an
///   operating-system crash can undo the last changes made before it, but
///   never leaves a torn or half-written database.
/// - **Safe across processes.** Every change is one SQLite transaction.
///   Processes and instances sharing the file lose no entry; a writer waits
///   up to `busyTimeout` for another one to finish, and only then throws
///   `TusError.Code.unavailable`. Readers never wait for writers.
/// - **Private.** Upload URLs are bearer capabilities: a new database file is
///   created with mode 0600, whatever the umask, and SQLite gives its `-wal`
///   and `-shm` files the same mode. A missing parent folder is created with
///   mode 0700. An existing file keeps its mode.
/// - **Never overwrites what it cannot read.** A file that is not an SQLite
///   database, an SQLite database of another program, or a store of a newer
///   schema version makes ``init(path:busyTimeout:logger:)`` throw
///   `TusError.Code.corruptStore` naming the file; the file is left byte
///   for byte as it was.
/// - **A full or read-only disk loses nothing.** A change that the disk
///   refuses (`SQLITE_FULL`, `ENOSPC`, `SQLITE_READONLY` or `EROFS`) throws
///   `TusError.Code.io` saying that the disk is full or read-only and
///   naming the file; nothing stored before is lost, and reads go on
///   working. When the disk does not even let SQLite open the database for
///   writing (it cannot create the `-shm` file that write-ahead logging
///   needs), the store opens it read-only, reading the log into memory,
///   or, when there is no log, the database file alone: reads work, and
///   every change first tries the read-write open again, then throws.
///
/// ## Schema
/// One table, version ``schemaVersion`` in `PRAGMA user_version`:
/// `tus_uploads(key TEXT PRIMARY KEY NOT NULL, url TEXT NOT NULL, stored_at
/// REAL NOT NULL) WITHOUT ROWID`, `stored_at` in seconds since 1970, with an
/// index on `stored_at`. Keys and URLs are stored byte for byte, embedded NUL
/// characters included, and keys are compared as bytes. Version 1 files,
/// created by earlier versions (the same table with a rowid), are read and
/// written as they are.
///
/// ## Threads
/// Every method is safe to call from many tasks at once, and none waits on
/// the thread of its caller for a lock, another writer or an `fsync`. The
/// instance owns one thread of its own, started on first use, with the
/// store's connection, that runs calls one at a time, in the order they
/// were handed to it: SQLite's waits of up to `busyTimeout` while another
/// connection writes, checkpoints on the committing thread, the commits
/// that sync the log, opening the file afresh, listing, pruning and every
/// failure happen there while the calling task is suspended, so the threads
/// of Swift concurrency's pool stay free for other tasks.
///
/// A look-up, a change or a removal that need not wait is answered on the
/// caller's thread instead, over a connection of its own whose busy
/// timeout is zero, so that it costs no trip to the store's thread and
/// back. A read never waits for a writer in write-ahead-log mode (SQLite
/// may still retry a read for a few microseconds while another connection
/// starts the log over, and a page that is not in memory is read from the
/// disk there). A change goes to the store's thread when that connection
/// is in use, when the database is locked, when the next commit may sync
/// the log (it is as large as a checkpoint wants, or starts over), and while
/// an earlier change waits on the store's thread, so that a later change
/// never overtakes it. A call that returned is committed, and a call made
/// after it sees it. That connection is opened by the first call that runs
/// on the store's thread, on the same file.
///
/// A call whose task is cancelled still runs to its end and returns its
/// result. ``close()`` ends the thread; a change made once it has been
/// called waits its turn on the store's thread, and so throws
/// `TusError.Code.closed`. Open several instances to write in parallel;
/// each has its own connections and thread.
///
/// Checkpoints, where SQLite copies the log into the database file and
/// `fsync`s both, mostly run on a background Dispatch queue over a
/// connection of their own, opened once the writes have filled 250 log
/// pages. The store's thread checkpoints itself only when the log reaches
/// 2,000 pages (about 8 MB), which keeps the `-wal` file near that size.
/// ``close()`` waits for a background checkpoint under way. When the
/// checkpoints' connection cannot be opened, the store's thread checkpoints
/// at SQLite's default of 1,000 pages instead.
public final class SQLiteStorage: ListableStorage, @unchecked Sendable {
    /// The database file, as an absolute path with symbolic links resolved.
    public let path: String

    /// The schema version (`PRAGMA user_version`) this store creates; it
    /// also reads and writes version 1. Databases of a newer version are
    /// refused.
    public static let schemaVersion: Int32 = 2

    private let busyTimeoutMilliseconds: Int32
    /// Where the store logs, at `debug`: calls slower than ``slowCall``
    /// (most often a wait for another connection's write lock), and opening
    /// afresh after a full or read-only disk.
    private let logger: Logger
    /// A call that takes this long or longer is logged.
    static let slowCall = Duration.milliseconds(100)
    // Runs every call that touches `table`, one at a time.
    private let executor = ThreadExecutor(name: "tus-sqlite")
    // Touched only on `executor`'s thread, and by `init` and `deinit`. Nil
    // once the store is closed, or when opening it afresh failed: the next
    // call tries again.
    private var table: UploadTable?
    private var isClosed = false
    // When the store was last opened afresh because the disk took no
    // writes, and whether the last change failed that way.
    private var lastReopening: ContinuousClock.Instant?
    private var changeRefused = false
    // Answers the calls that need not wait on the caller's thread.
    private let fastLane = FastLane()

    /// Opens the store in the database file at `path`, creating the file and
    /// its schema when the file is missing or empty.
    ///
    /// A relative path is resolved against the current directory, and a
    /// symbolic link to the database file is followed.
    ///
    /// - Parameters:
    ///   - path: The database file.
    ///   - busyTimeout: How long an operation waits for another connection
    ///     that holds the write lock before it throws
    ///     `TusError.Code.unavailable`. Zero fails at once.
    ///   - logger: Where the store logs its slow calls, at `debug`. Nil (the
    ///     default) is the creating task's `Logger.current`.
    /// - Throws: `TusError` with `TusError.Code.invalidArgument` when
    ///   `path` is empty or names a directory; `TusError.Code.corruptStore`
    ///   when the file is not a store of this or an older schema version
    ///   (the file is left unchanged); `TusError.Code.io` when the file or
    ///   its folder cannot be created or opened. An existing store on a disk
    ///   that is full or read-only opens for reading (see above).
    public init(path: String, busyTimeout: Duration = .seconds(5), logger: Logger? = nil) throws {
        let absolute = try FilePaths.storePath(path, kind: "an SQLite store")
        self.path = absolute
        busyTimeoutMilliseconds = Self.milliseconds(busyTimeout)
        self.logger = logger ?? Logger.current

        let folder = (absolute as NSString).deletingLastPathComponent
        do {
            try FilePaths.makeDirectories(folder)
        } catch {
            if let problem = UnwritableDisk(errno: error.errno) {
                throw TusError(.io, "cannot create the SQLite store \(absolute): \(problem.explanation)", cause: error)
            }
            throw TusError(.io, "cannot open the SQLite store \(absolute): cannot create the folder \(folder): \(error.reason)", cause: error)
        }
        do {
            try StoreFile.createIfMissing(absolute)
        } catch {
            if let problem = UnwritableDisk(errno: error.errno) {
                throw TusError(.io, "cannot create the SQLite store \(absolute): \(problem.explanation)", cause: error)
            }
            throw TusError(.io, "cannot create the SQLite store \(absolute): \(error.reason)", cause: error)
        }
        table = try Self.open(absolute, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    /// The store at `path` open for reading and writing or, when the disk is
    /// full or read-only, for reading only.
    private static func open(_ path: String, busyTimeoutMilliseconds: Int32) throws(TusError) -> UploadTable {
        do {
            return try UploadTable(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        } catch {
            guard let cause = error.cause as? SQLiteError, let problem = UnwritableDisk(cause, path: path) else { throw error }
            return try UploadTable(readOnlyAt: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds, because: problem, cause: cause)
        }
    }

    /// Opens the store in the database file at `url`, as
    /// ``init(path:busyTimeout:logger:)`` does.
    public convenience init(url: URL, busyTimeout: Duration = .seconds(5), logger: Logger? = nil) throws {
        try self.init(path: url.path, busyTimeout: busyTimeout, logger: logger)
    }

    deinit {
        // Closing may checkpoint, which is disk I/O: on the store's thread.
        if let table {
            let owned = OwnedTable(table)
            let fastLane = fastLane
            executor.stop(after: {
                fastLane.close()
                owned.table.close()
            })
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        if seconds >= Int64(Int32.max / 1000) { return Int32.max }
        return Int32(seconds) * 1000 + Int32(attoseconds / 1_000_000_000_000_000)
    }

    // MARK: Storage

    /// The URL stored under `key`.
    public func url(forKey key: String) async throws -> String? {
        if let answer = fastLane.url(forKey: key) { return answer }
        return try await withTable("cannot read the URL of \(key.debugDescription) from \(self.path)", writes: false) {
            try $0.url(forKey: key)
        }
    }

    /// Stores `url` under `key` with the present time, in one transaction.
    public func setURL(_ url: String, forKey key: String) async throws {
        let now = Date()
        if fastLane.setURL(url, forKey: key, at: now) { return }
        try await withTable("cannot store the URL of \(key.debugDescription) in \(self.path)", writes: true) {
            try $0.setURL(url, forKey: key, at: now)
        }
    }

    /// Stores `url` under `key` with `storedAt` as its time; `nil` records
    /// the present time, since every row has one.
    public func setURL(_ url: String, forKey key: String, storedAt: Date?) async throws {
        let date = storedAt ?? Date()
        if fastLane.setURL(url, forKey: key, at: date) { return }
        try await withTable("cannot store the URL of \(key.debugDescription) in \(self.path)", writes: true) {
            try $0.setURL(url, forKey: key, at: date)
        }
    }

    /// Removes the row of `key`, if any.
    public func removeURL(forKey key: String) async throws {
        if fastLane.removeURL(forKey: key) { return }
        try await withTable("cannot remove the URL of \(key.debugDescription) from \(self.path)", writes: true) {
            try $0.removeURL(forKey: key)
        }
    }

    /// After the calls already made, waits for a background checkpoint under
    /// way, finalizes the prepared statements and closes the database; the
    /// last connection to the file copies the log into it and deletes the
    /// `-wal` file. Then the store's thread ends. Later calls throw
    /// `TusError.Code.closed`; closing again does nothing.
    public func close() async throws {
        fastLane.stopChanges()
        _ = try await executor.finish { [self] in
            isClosed = true
            fastLane.close()
            table?.close()
            table = nil
        }
    }

    // MARK: ListableStorage

    /// Every row of the store.
    public func entries() async throws -> [StoredUpload] {
        try await withTable("cannot list the entries of \(self.path)", writes: false) { try $0.entries() }
    }

    /// Removes the rows stored before `date`, in one statement.
    @discardableResult
    public func removeEntries(storedBefore date: Date) async throws -> Int {
        try await withTable("cannot remove old entries from \(self.path)", writes: true) {
            try $0.removeEntries(storedBefore: date)
        }
    }

    // MARK: Running

    /// Runs `body` on the table, on the store's thread; an SQLite failure
    /// becomes a ``TusError`` whose message starts with `operation`.
    ///
    /// When the disk took no writes — the table is open for reading only,
    /// or the last change failed because the disk is full or read-only —
    /// the store is opened afresh first, in case the disk takes writes once
    /// more: before every change, and at most once a second before a read
    /// of a read-only table. (A connection that SQLite opened without a
    /// writable `-shm` file cannot write even once there is room again.)
    private func withTable<Result: Sendable>(
        _ operation: @autoclosure @escaping @Sendable () -> String,
        writes: Bool,
        _ body: @escaping @Sendable (UploadTable) throws -> Result
    ) async throws -> Result {
        // Changes on the caller's thread wait for this one: none overtakes
        // it.
        if writes { fastLane.changeHandedOver() }
        defer { if writes { fastLane.changeDone() } }
        return try await executor.run({ [self] in
            if isClosed { throw closedError() }
            let due = writes ? changeRefused || table?.unwritable != nil
                : table?.unwritable != nil && lastReopening.map { ContinuousClock.now - $0 >= .seconds(1) } ?? true
            if due {
                logger.debug("opening the store afresh: the disk took no writes", metadata: [
                    "tus.store.backend": "SQLiteStorage", "tus.store.path": "\(path)",
                ])
                // Closed before the new open: connections of one process
                // share the `-shm` file's mapping, and a new one would
                // inherit the old one's read-only view of it.
                lastReopening = ContinuousClock.now
                changeRefused = false
                fastLane.close()
                table?.close()
                table = nil
            }
            let table: UploadTable
            if let open = self.table {
                table = open
            } else {
                table = try Self.open(path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
                self.table = table
            }
            if writes, let refusal = table.unwritable {
                throw TusError(.io, "\(operation()): \(refusal.problem.explanation); the store was left unchanged", cause: refusal.cause)
            }
            let started = ContinuousClock.now
            defer {
                // After the call, so that a change refused by the disk
                // closes the lane before another call takes it.
                fastLane.refresh(path: path, table: table, usable: table.unwritable == nil && !changeRefused && !isClosed)
                let elapsed = ContinuousClock.now - started
                if elapsed >= Self.slowCall {
                    let (whole, fraction) = elapsed.components
                    logger.debug("slow store call", metadata: [
                        "tus.store.backend": "SQLiteStorage", "tus.store.path": "\(path)", "tus.store.operation": "\(operation())",
                        "tus.store.seconds": "\(((Double(whole) + Double(fraction) / 1e18) * 1000).rounded() / 1000)",
                    ])
                }
            }
            do {
                return try body(table)
            } catch let error as SQLiteError {
                if writes, UnwritableDisk(error, path: path) != nil { changeRefused = true }
                throw TusError.sqlite(error, operation(), path: path)
            }
        }, ifStopped: closedError)
    }

    private func closedError() -> any Error {
        TusError(.closed, "the SQLite store \(path) is closed")
    }
}

/// A table handed to the store's thread by `deinit`, which no one else
/// reaches any more.
private struct OwnedTable: @unchecked Sendable {
    let table: UploadTable
    init(_ table: UploadTable) { self.table = table }
}
