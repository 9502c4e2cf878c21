import CTusSQLite
import Foundation
import TusCore
import TusStoreSupport

/// The store's table on one connection, with its statements prepared once.
///
/// Schema version 2 (`PRAGMA user_version = 2`):
///
/// ```sql
/// CREATE TABLE tus_uploads (
///     key       TEXT PRIMARY KEY NOT NULL,  -- compared as bytes (BINARY)
///     url       TEXT NOT NULL,
///     stored_at REAL NOT NULL               -- seconds since 1970
/// ) WITHOUT ROWID;
/// CREATE INDEX tus_uploads_stored_at ON tus_uploads (stored_at);
/// ```
///
/// Version 1, which earlier versions created, is the same table with a
/// rowid (a look-up walks the key's index, then the table). Its files are
/// read and written as they are: the columns and statements are the same.
///
/// Like its connection, it is not thread-safe.
final class UploadTable {
    /// The schema version this code creates; it reads and writes version 1
    /// too.
    static let schemaVersion: Int32 = 2

    /// The schema versions this code reads and writes.
    static let knownVersions: ClosedRange<Int32> = 1...2

    private static let schema = """
        CREATE TABLE tus_uploads (
            key TEXT PRIMARY KEY NOT NULL,
            url TEXT NOT NULL,
            stored_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX tus_uploads_stored_at ON tus_uploads (stored_at);
        PRAGMA user_version = 2;
        """

    /// The statements of a look-up, a change and a removal, which
    /// ``FastLane`` prepares too.
    static let selectSQL = "SELECT url FROM tus_uploads WHERE key = ?1"
    static let upsertSQL = """
        INSERT INTO tus_uploads (key, url, stored_at) VALUES (?1, ?2, ?3)
        ON CONFLICT (key) DO UPDATE SET url = excluded.url, stored_at = excluded.stored_at
        """
    static let deleteSQL = "DELETE FROM tus_uploads WHERE key = ?1"

    private let connection: SQLiteConnection
    // Nil in a read-only table without the schema (a new, empty file).
    private let select: SQLiteStatement?
    private let list: SQLiteStatement?
    // Nil in a read-only table.
    private let upsert: SQLiteStatement?
    private let delete: SQLiteStatement?
    private let prune: SQLiteStatement?
    /// Runs the log's checkpoints; nil in a read-only table.
    let checkpointer: Checkpointer?

    /// The file the table opened, as its path named it just after the open.
    let file: StoreFile.Identity?

    /// Why the table is read-only, with SQLite's error from the read-write
    /// open; nil when it takes writes.
    let unwritable: (problem: UnwritableDisk, cause: SQLiteError)?

    /// Opens the database file at `path`, which exists, checks that it is
    /// empty or starts with SQLite's header, gives a new one the schema, and
    /// checks an old one is a store of a schema version this code knows.
    ///
    /// Nothing is written to a file that turns out not to be a store: the
    /// checks only read, and write-ahead logging, which rewrites the header,
    /// is switched on after them.
    init(path: String, busyTimeoutMilliseconds: Int32) throws(TusError) {
        let checkpointer = Checkpointer(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        self.checkpointer = checkpointer
        unwritable = nil
        let opening = "cannot open the SQLite store \(path)"
        do {
            connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        } catch {
            throw TusError.sqlite(error, opening, path: path)
        }
        file = StoreFile.identity(path)
        do {
            let start = try connection.fileStart(count: StoreFile.headerSize)
            if StoreFile.contents(size: start.size, header: start.bytes) == .other {
                throw TusError(.corruptStore, "cannot use \(path) as an SQLite store: it is not an SQLite database; it was left unchanged")
            }
            // A store holds no views or triggers of its own: never run any
            // SQL a crafted file puts in its schema.
            try connection.execute("PRAGMA trusted_schema = OFF")
            try Self.checkOrCreateSchema(connection, path: path)
            do {
                select = try connection.prepare(Self.selectSQL)
                upsert = try connection.prepare(Self.upsertSQL)
                delete = try connection.prepare(Self.deleteSQL)
                list = try connection.prepare("SELECT key, url, stored_at FROM tus_uploads")
                prune = try connection.prepare("DELETE FROM tus_uploads WHERE stored_at < ?1")
            } catch {
                throw TusError(
                    .corruptStore,
                    "cannot use \(path) as an SQLite store: its tus_uploads table is not the one swift-tus writes (\(error.message)); it was left unchanged",
                    cause: error
                )
            }
            let mode = try connection.executeWaitingWhileBusy(
                "PRAGMA journal_mode = WAL", timeoutMilliseconds: busyTimeoutMilliseconds
            ).first ?? ""
            guard mode.lowercased() == "wal" else {
                throw TusError(.unsupported, "cannot use the SQLite store \(path): SQLite cannot keep a write-ahead log there (journal mode \(mode))")
            }
            try connection.execute("PRAGMA synchronous = NORMAL")
        } catch let error as TusError {
            connection.close()
            throw error
        } catch let error as SQLiteError {
            connection.close()
            switch error.primaryResultCode {
            case SQLITE_NOTADB:
                throw TusError(.corruptStore, "cannot use \(path) as an SQLite store: it is not an SQLite database (\(error.message)); it was left unchanged", cause: error)
            case SQLITE_CORRUPT:
                throw TusError(.corruptStore, "cannot use the SQLite store \(path): it is damaged (\(error.message)); it was left unchanged", cause: error)
            default:
                throw TusError.sqlite(error, opening, path: path)
            }
        } catch {
            connection.close()
            throw TusError(.io, "\(opening): \(error)", cause: error)
        }
        connection.setCheckpointer(checkpointer)
    }

    /// Opens the store at `path` for reading only, because a read-write
    /// open failed with `cause`: the disk is full or read-only (`problem`).
    /// Its reads work; its writes throw.
    ///
    /// A database in write-ahead-log mode is read through its `-shm` file,
    /// which a full or read-only disk may not let SQLite create or grow.
    /// So it tries, in turn: a plain read-only open (the `-shm` and `-wal`
    /// files are there); `readonly_shm=1`, where SQLite reads the log into
    /// its own memory when it cannot write the `-shm` file; and, when there
    /// is no log or an empty one, so that nothing can be missed,
    /// `immutable=1`, which reads the database file alone, without locks:
    /// safe because nothing can write to that disk. The file is checked as
    /// the read-write open checks it, and never written.
    ///
    /// - Throws: `.corruptStore` as ``init(path:busyTimeoutMilliseconds:)``
    ///   does; otherwise, when no way of reading works, `cause` as a
    ///   ``TusError``.
    init(
        readOnlyAt path: String, busyTimeoutMilliseconds: Int32, because problem: UnwritableDisk, cause: SQLiteError
    ) throws(TusError) {
        var attempts = ["", "readonly_shm=1"]
        var log = stat()
        if stat(path + "-wal", &log) != 0 || log.st_size == 0 { attempts.append("immutable=1") }
        for options in attempts {
            let connection: SQLiteConnection
            do {
                connection = try SQLiteConnection(
                    readOnlyPath: path, options: options, busyTimeoutMilliseconds: busyTimeoutMilliseconds
                )
            } catch {
                continue
            }
            let select: SQLiteStatement?
            let list: SQLiteStatement?
            do {
                let start = try connection.fileStart(count: StoreFile.headerSize)
                if StoreFile.contents(size: start.size, header: start.bytes) == .other {
                    throw TusError(.corruptStore, "cannot use \(path) as an SQLite store: it is not an SQLite database; it was left unchanged")
                }
                try connection.execute("PRAGMA trusted_schema = OFF")
                let hasSchema = try Self.checkVersion(connection, path: path)
                select = hasSchema ? try connection.prepare(Self.selectSQL) : nil
                list = hasSchema ? try connection.prepare("SELECT key, url, stored_at FROM tus_uploads") : nil
            } catch let error as TusError {
                connection.close()
                throw error
            } catch {
                // This way of reading does not work on this disk: try the next.
                connection.close()
                continue
            }
            self.connection = connection
            self.file = StoreFile.identity(path)
            self.select = select
            self.list = list
            upsert = nil
            delete = nil
            prune = nil
            checkpointer = nil
            unwritable = (problem, cause)
            return
        }
        throw TusError.sqlite(cause, "cannot open the SQLite store \(path)", path: path)
    }

    /// Checks the schema version, and creates the schema in a database
    /// with no tables. Another process may be creating it at the same
    /// time: the creation happens in an immediate (write) transaction that
    /// looks again before it writes.
    private static func checkOrCreateSchema(_ connection: SQLiteConnection, path: String) throws {
        if try checkVersion(connection, path: path) { return }
        try connection.execute("BEGIN IMMEDIATE")
        do {
            if try !checkVersion(connection, path: path) {
                try connection.executeScript(schema)
            }
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// True when the database holds a store of the known version, false
    /// when it is empty; throws when it is something else.
    private static func checkVersion(_ connection: SQLiteConnection, path: String) throws -> Bool {
        // One statement, so one snapshot: read apart, the version could come
        // from before another process created the schema and the table count
        // from after.
        let row = try connection.execute(
            "SELECT (SELECT user_version FROM pragma_user_version) || ' ' || (SELECT count(*) FROM sqlite_master)"
        ).first ?? ""
        let fields = row.split(separator: " ")
        let version = fields.first.flatMap { Int32($0) } ?? 0
        let objects = fields.count > 1 ? String(fields[1]) : ""
        if knownVersions.contains(version) { return true }
        if version > schemaVersion {
            throw TusError(
                .corruptStore,
                "cannot use the SQLite store \(path): its schema version is \(version), and this version of swift-tus knows only version \(schemaVersion) or older; it was left unchanged"
            )
        }
        if version == 0 && objects == "0" { return false }
        throw TusError(
            .corruptStore,
            "cannot use \(path) as an SQLite store: it is an SQLite database but not a swift-tus store (it holds other tables); it was left unchanged"
        )
    }

    /// Stops the background checkpoints, then closes the connection; as the
    /// last connection to the file, it copies the log into the database and
    /// deletes it.
    func close() {
        if let checkpointer {
            checkpointer.stop()
            connection.setCheckpointer(nil)
        }
        connection.close()
    }

    func url(forKey key: String) throws(SQLiteError) -> String? {
        guard let select else { return nil }
        var url: String?
        try select.run(text: key) { row in url = row.text(0) }
        return url
    }

    func setURL(_ url: String, forKey key: String, at date: Date) throws(SQLiteError) {
        guard let upsert else { throw readOnlyError }
        try upsert.run([.text(key), .text(url), .real(date.timeIntervalSince1970)])
    }

    func removeURL(forKey key: String) throws(SQLiteError) {
        guard let delete else { throw readOnlyError }
        try delete.run(text: key)
    }

    func entries() throws(SQLiteError) -> [StoredUpload] {
        guard let list else { return [] }
        var entries: [StoredUpload] = []
        try list.run([]) { row in
            entries.append(StoredUpload(
                key: row.text(0),
                url: row.text(1),
                storedAt: row.real(2).map(Date.init(timeIntervalSince1970:))
            ))
        }
        return entries
    }

    /// Deletes the entries stored before `date` in one statement, which is
    /// its own write transaction, and returns how many it deleted.
    func removeEntries(storedBefore date: Date) throws(SQLiteError) -> Int {
        guard let prune else { throw readOnlyError }
        try prune.run([.real(date.timeIntervalSince1970)])
        return connection.changes
    }

    /// What a write to a read-only table throws: the error that made it
    /// read-only.
    private var readOnlyError: SQLiteError {
        unwritable?.cause ?? SQLiteError(resultCode: SQLITE_READONLY, message: "the store is open for reading only")
    }
}

@available(*, unavailable)
extension UploadTable: Sendable {}

extension TusError {
    /// An error for a failed SQLite call on the store at `path` while doing
    /// `what` (a phrase that names the operation and the file), with
    /// SQLite's message after it, or, when the disk is full or read-only,
    /// a sentence that says so.
    static func sqlite(_ error: SQLiteError, _ what: String, path: String) -> TusError {
        if let problem = UnwritableDisk(error, path: path) {
            return TusError(.io, "\(what): \(problem.explanation); the store was left unchanged", cause: error)
        }
        let code: TusError.Code = switch error.primaryResultCode {
        case SQLITE_BUSY, SQLITE_LOCKED: .unavailable
        case SQLITE_CORRUPT, SQLITE_NOTADB: .corruptStore
        default: .io
        }
        return TusError(code, "\(what): \(error.message)", cause: error)
    }
}
