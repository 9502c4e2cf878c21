public import Foundation
public import TusCore

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
///   ``TusError/Code/unavailable``. Readers never wait for writers.
/// - **Private.** Upload URLs are bearer capabilities: a new database file is
///   created with mode 0600, whatever the umask, and SQLite gives its `-wal`
///   and `-shm` files the same mode. A missing parent folder is created with
///   mode 0700. An existing file keeps its mode.
/// - **Never overwrites what it cannot read.** A file that is not an SQLite
///   database, an SQLite database of another program, or a store of a newer
///   schema version makes ``init(path:busyTimeout:)`` throw
///   ``TusError/Code/corruptStore`` naming the file; the file is left byte
///   for byte as it was.
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
/// Every method is safe to call from many tasks at once: the instance owns
/// one SQLite connection for its calls and serialises its use with a lock.
/// Calls run synchronously on the calling thread and can wait up to
/// `busyTimeout` while another process writes. Open several instances to
/// write in parallel; each has its own connection.
///
/// Checkpoints, where SQLite copies the log into the database file and
/// `fsync`s both, mostly run on a background queue over a second connection
/// the instance opens once its writes have filled 250 log pages. A call
/// checkpoints itself only when the log reaches 2,000 pages (about 8 MB),
/// which keeps the `-wal` file near that size. ``close()`` waits for a
/// background checkpoint under way. When the second connection cannot be
/// opened, calls checkpoint at SQLite's default of 1,000 pages instead.
public final class SQLiteStorage: ListableStorage, @unchecked Sendable {
    /// The database file, as an absolute path with symbolic links resolved.
    public let path: String

    /// The schema version (`PRAGMA user_version`) this store creates; it
    /// also reads and writes version 1. Databases of a newer version are
    /// refused.
    public static let schemaVersion: Int32 = 2

    // Guards `table`, which is nil once the store is closed.
    private let lock = NSLock()
    private var table: UploadTable?

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
    ///     ``TusError/Code/unavailable``. Zero fails at once.
    /// - Throws: ``TusError`` with ``TusError/Code/invalidArgument`` when
    ///   `path` is empty or names a directory; ``TusError/Code/corruptStore``
    ///   when the file is not a store of this or an older schema version
    ///   (the file is left unchanged); ``TusError/Code/io`` when the file or
    ///   its folder cannot be created or opened.
    public init(path: String, busyTimeout: Duration = .seconds(5)) throws {
        let absolute = try FilePaths.storePath(path, kind: "an SQLite store")
        self.path = absolute

        let folder = (absolute as NSString).deletingLastPathComponent
        do {
            try FilePaths.makeDirectories(folder)
        } catch {
            throw TusError(.io, "cannot open the SQLite store \(absolute): cannot create the folder \(folder): \(error.reason)", cause: error)
        }
        do {
            try StoreFile.createIfMissing(absolute)
        } catch {
            throw TusError(.io, "cannot create the SQLite store \(absolute): \(error.reason)", cause: error)
        }
        table = try UploadTable(path: absolute, busyTimeoutMilliseconds: Self.milliseconds(busyTimeout))
    }

    /// Opens the store in the database file at `url`, as
    /// ``init(path:busyTimeout:)`` does.
    public convenience init(url: URL, busyTimeout: Duration = .seconds(5)) throws {
        try self.init(path: url.path, busyTimeout: busyTimeout)
    }

    deinit {
        table?.close()
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
        try withTable("cannot read the URL of \(key.debugDescription) from \(path)") { try $0.url(forKey: key) }
    }

    /// Stores `url` under `key` with the present time, in one transaction.
    public func setURL(_ url: String, forKey key: String) async throws {
        let now = Date()
        try withTable("cannot store the URL of \(key.debugDescription) in \(path)") {
            try $0.setURL(url, forKey: key, at: now)
        }
    }

    /// Stores `url` under `key` with `storedAt` as its time; `nil` records
    /// the present time, since every row has one.
    public func setURL(_ url: String, forKey key: String, storedAt: Date?) async throws {
        let date = storedAt ?? Date()
        try withTable("cannot store the URL of \(key.debugDescription) in \(path)") {
            try $0.setURL(url, forKey: key, at: date)
        }
    }

    /// Removes the row of `key`, if any.
    public func removeURL(forKey key: String) async throws {
        try withTable("cannot remove the URL of \(key.debugDescription) from \(path)") { try $0.removeURL(forKey: key) }
    }

    /// Waits for a background checkpoint under way, finalizes the prepared
    /// statements and closes the database; the last connection to the file
    /// copies the log into it and deletes the `-wal` file. Later calls throw
    /// ``TusError/Code/closed``; closing again does nothing.
    public func close() async throws {
        lock.withLock {
            table?.close()
            table = nil
        }
    }

    // MARK: ListableStorage

    /// Every row of the store.
    public func entries() async throws -> [StoredUpload] {
        try withTable("cannot list the entries of \(path)") { try $0.entries() }
    }

    /// Removes the rows stored before `date`, in one statement.
    @discardableResult
    public func removeEntries(storedBefore date: Date) async throws -> Int {
        try withTable("cannot remove old entries from \(path)") { try $0.removeEntries(storedBefore: date) }
    }

    // MARK: Running

    /// Runs `body` on the table under the lock; an SQLite failure becomes a
    /// ``TusError`` whose message starts with `operation`.
    private func withTable<Result>(
        _ operation: @autoclosure () -> String,
        _ body: (UploadTable) throws -> Result
    ) throws -> Result {
        lock.lock()
        defer { lock.unlock() }
        guard let table else { throw TusError(.closed, "the SQLite store \(path) is closed") }
        do {
            return try body(table)
        } catch let error as SQLiteError {
            throw TusError.sqlite(error, operation())
        }
    }
}
