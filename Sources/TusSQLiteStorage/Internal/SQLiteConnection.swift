import CTusSQLite
import Foundation

/// One open SQLite handle and the statements prepared on it.
///
/// It is not thread-safe: the handle is opened in SQLite's multi-thread mode
/// (`SQLITE_OPEN_NOMUTEX`), so one connection must never be used by two
/// threads at once. Each has one owner that serialises its use: the store's
/// thread (the table), the checkpoints' queue, or ``FastLane``'s lock.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [SQLiteStatement] = []

    /// Opens the existing database file at `path` for reading and writing.
    /// Nothing is read or written until the first statement runs.
    convenience init(path: String, busyTimeoutMilliseconds: Int32) throws(SQLiteError) {
        try self.init(name: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    /// Opens the database file at `path` for reading only, with SQLite's
    /// URI `options` (such as `readonly_shm=1` or `immutable=1`), for a
    /// store on a disk that takes no writes.
    convenience init(readOnlyPath path: String, options: String, busyTimeoutMilliseconds: Int32) throws(SQLiteError) {
        // In a URI, `?`, `#` and `%` of the path must be escaped.
        var uri = "file:"
        for character in path.unicodeScalars {
            switch character {
            case "?": uri += "%3f"
            case "#": uri += "%23"
            case "%": uri += "%25"
            default: uri.unicodeScalars.append(character)
            }
        }
        uri += "?mode=ro" + (options.isEmpty ? "" : "&" + options)
        try self.init(
            name: uri, flags: SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
            busyTimeoutMilliseconds: busyTimeoutMilliseconds
        )
    }

    private init(name: String, flags: Int32, busyTimeoutMilliseconds: Int32) throws(SQLiteError) {
        var handle: OpaquePointer?
        let result = sqlite3_open_v2(name, &handle, flags, nil)
        guard result == SQLITE_OK, let handle else {
            let error = SQLiteError(
                resultCode: handle.map { sqlite3_extended_errcode($0) } ?? result,
                message: handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(result)),
                systemErrno: handle.map { sqlite3_system_errno($0) } ?? 0
            )
            sqlite3_close_v2(handle)
            throw error
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
    }

    deinit {
        close()
    }

    var isOpen: Bool { handle != nil }

    /// Finalizes every prepared statement and closes the handle. Closing a
    /// closed connection does nothing.
    func close() {
        for statement in statements { statement.finalize() }
        statements = []
        if let handle {
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    /// The error SQLite recorded for the last failed call.
    func lastError(_ result: Int32) -> SQLiteError {
        guard let handle else {
            return SQLiteError(resultCode: result, message: String(cString: sqlite3_errstr(result)))
        }
        return SQLiteError(
            resultCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)),
            systemErrno: sqlite3_system_errno(handle)
        )
    }

    /// Compiles `sql` once; the statement lives until ``close()``.
    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else {
            throw lastError(result)
        }
        let prepared = SQLiteStatement(statement, connection: self)
        statements.append(prepared)
        return prepared
    }

    /// Runs `sql`, which has no parameters, with a statement prepared for
    /// this one use, and returns the first column of each row as text.
    @discardableResult
    func execute(_ sql: String) throws(SQLiteError) -> [String] {
        var statement: OpaquePointer?
        var result = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard result == SQLITE_OK, let statement else { throw lastError(result) }
        defer { sqlite3_finalize(statement) }
        var rows: [String] = []
        while true {
            result = sqlite3_step(statement)
            if result == SQLITE_DONE { return rows }
            guard result == SQLITE_ROW else { throw lastError(result) }
            rows.append(sqlite3_column_count(statement) > 0 ? SQLiteStatement.text(statement, column: 0) : "")
        }
    }

    /// Runs `sql`, one or more statements without parameters, ignoring
    /// any rows.
    func executeScript(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard result == SQLITE_OK else {
            throw SQLiteError(
                resultCode: handle.map { sqlite3_extended_errcode($0) } ?? result,
                message: message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(result)),
                systemErrno: handle.map { sqlite3_system_errno($0) } ?? 0
            )
        }
    }

    /// The size of the database file and up to `count` of its first bytes,
    /// read through the connection's own file handle without starting a
    /// transaction: nothing is written, no journal is rolled back, and no
    /// descriptor of the file is opened or closed beside SQLite's.
    func fileStart(count: Int) throws(SQLiteError) -> (size: Int64, bytes: [UInt8]) {
        guard let handle else { throw SQLiteError(resultCode: SQLITE_MISUSE, message: "the connection is closed") }
        var file: UnsafeMutablePointer<sqlite3_file>?
        var result = withUnsafeMutablePointer(to: &file) {
            sqlite3_file_control(handle, "main", SQLITE_FCNTL_FILE_POINTER, $0)
        }
        guard result == SQLITE_OK, let file, let methods = file.pointee.pMethods?.pointee,
              let fileSize = methods.xFileSize, let read = methods.xRead
        else {
            throw SQLiteError(resultCode: SQLITE_CANTOPEN, message: "SQLite has no open handle of the database file")
        }
        var size: sqlite3_int64 = 0
        result = fileSize(file, &size)
        guard result == SQLITE_OK else {
            throw SQLiteError(resultCode: result, message: String(cString: sqlite3_errstr(result)))
        }
        if size == 0 {
            // SQLite reports a 1-byte file as empty (a work-around of its
            // own for one file system): look for a first byte.
            var byte: UInt8 = 0
            result = read(file, &byte, 1, 0)
            if result == SQLITE_OK {
                size = 1
            } else if result != SQLITE_IOERR | (2 << 8) {  // SQLITE_IOERR_SHORT_READ: no byte
                throw SQLiteError(resultCode: result, message: String(cString: sqlite3_errstr(result)))
            }
        }
        let length = Int(min(Int64(count), max(size, 0)))
        var bytes = [UInt8](repeating: 0, count: length)
        if length > 0 {
            result = bytes.withUnsafeMutableBytes { read(file, $0.baseAddress, Int32(length), 0) }
            guard result == SQLITE_OK else {
                throw SQLiteError(resultCode: result, message: String(cString: sqlite3_errstr(result)))
            }
        }
        return (size, bytes)
    }

    /// Runs `sql` as ``execute(_:)`` does, trying again while it fails with
    /// `SQLITE_BUSY`, for up to `timeoutMilliseconds` in all.
    ///
    /// For statements that SQLite's busy handler does not cover. Switching a
    /// file into write-ahead-log mode takes a read lock, then upgrades it to
    /// a write lock; when another connection holds the write lock at that
    /// moment, SQLite answers `SQLITE_BUSY` at once instead of waiting, since
    /// waiting while holding a read lock could deadlock. Each try here starts
    /// with no lock held, so waiting between tries cannot.
    @discardableResult
    func executeWaitingWhileBusy(_ sql: String, timeoutMilliseconds: Int32) throws(SQLiteError) -> [String] {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
        var pause = Duration.milliseconds(1)
        while true {
            do {
                return try execute(sql)
            } catch where error.primaryResultCode == SQLITE_BUSY && ContinuousClock.now < deadline {
                // A store is opened on the caller's thread, where
                // sqlite3_busy_timeout waits too. The last try comes at the
                // deadline.
                let wait = min(pause, deadline - ContinuousClock.now)
                let microseconds = wait.components.seconds * 1_000_000 + wait.components.attoseconds / 1_000_000_000_000
                usleep(useconds_t(max(microseconds, 0)))
                pause = min(pause * 2, .milliseconds(50))
            }
        }
    }

    /// The number of rows the last INSERT, UPDATE or DELETE changed.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` with the open handle; nil when the connection is closed.
    func withHandle<Result>(_ body: (OpaquePointer) -> Result) -> Result? {
        handle.map(body)
    }

    /// Hands every commit's log size to `checkpointer`, which takes over
    /// SQLite's automatic checkpoints; nil gives them back to SQLite. The
    /// connection does not retain `checkpointer`: its owner keeps it alive
    /// until it removes it or closes the connection.
    ///
    /// With `mayWait` false the connection's commits never checkpoint on
    /// the committing thread (see ``Checkpointer/committed(pages:on:mayWait:)``).
    func setCheckpointer(_ checkpointer: Checkpointer?, mayWait: Bool = true) {
        guard let handle else { return }
        guard let checkpointer else {
            sqlite3_wal_autocheckpoint(handle, Checkpointer.fallbackPages)
            return
        }
        let context = Unmanaged.passUnretained(checkpointer).toOpaque()
        if mayWait {
            sqlite3_wal_hook(handle, { context, handle, _, pages in
                if let context, let handle {
                    Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().committed(pages: pages, on: handle)
                }
                return SQLITE_OK
            }, context)
        } else {
            sqlite3_wal_hook(handle, { context, handle, _, pages in
                if let context, let handle {
                    Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue()
                        .committed(pages: pages, on: handle, mayWait: false)
                }
                return SQLITE_OK
            }, context)
        }
    }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}

/// A prepared statement, reused across calls: ``run(_:)`` binds the values,
/// steps through the rows, then resets it and clears its bindings.
final class SQLiteStatement {
    private var handle: OpaquePointer?
    private unowned let connection: SQLiteConnection

    fileprivate init(_ handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    fileprivate func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// A value bound to a statement parameter.
    enum Value {
        case text(String)
        case real(Double)
    }

    /// Binds `values` to parameters 1, 2, …, then calls `row` for each row
    /// the statement yields. The statement is reset whether this returns or
    /// throws.
    func run(_ values: [Value], row: (Row) throws(SQLiteError) -> Void = { _ in }) throws(SQLiteError) {
        guard let handle else { throw SQLiteError(resultCode: SQLITE_MISUSE, message: "the statement was finalized") }
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .text(var text):
                result = text.withUTF8 { bytes in
                    ctus_sqlite3_bind_text(handle, index, bytes.baseAddress, sqlite3_uint64(bytes.count))
                }
            case .real(let number):
                result = sqlite3_bind_double(handle, index, number)
            }
            guard result == SQLITE_OK else { throw connection.lastError(result) }
        }
        try steps(handle, row: row)
    }

    /// Steps the bound statement to its end, calling `row` for each row.
    private func steps(_ handle: OpaquePointer, row: (Row) throws(SQLiteError) -> Void) throws(SQLiteError) {
        while true {
            let result = sqlite3_step(handle)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw connection.lastError(result) }
            try row(Row(handle: handle))
        }
    }

    /// ``run(_:row:)`` for a statement whose one parameter is `text`, bound
    /// without a copy and cleared before the bytes go away: a look-up or a
    /// removal by key (a get is the store's most frequent call) spares
    /// SQLite an allocation and a copy of the key, and itself an array of
    /// values.
    func run(text: String, row: (Row) throws(SQLiteError) -> Void = { _ in }) throws(SQLiteError) {
        guard let handle else { throw SQLiteError(resultCode: SQLITE_MISUSE, message: "the statement was finalized") }
        var text = text
        let outcome: Result<Void, SQLiteError> = text.withUTF8 { bytes in
            defer {
                sqlite3_reset(handle)
                sqlite3_clear_bindings(handle)
            }
            let bound = ctus_sqlite3_bind_text_static(handle, 1, bytes.baseAddress, sqlite3_uint64(bytes.count))
            guard bound == SQLITE_OK else { return .failure(connection.lastError(bound)) }
            return Result { () throws(SQLiteError) in try steps(handle, row: row) }
        }
        try outcome.get()
    }

    /// The current row of a running statement.
    struct Row {
        fileprivate let handle: OpaquePointer

        /// Column `column` as text, every byte kept, embedded NULs included.
        func text(_ column: Int32) -> String { SQLiteStatement.text(handle, column: column) }

        /// Column `column` as a number, or nil when it is NULL.
        func real(_ column: Int32) -> Double? {
            sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_double(handle, column)
        }
    }

    fileprivate static func text(_ handle: OpaquePointer, column: Int32) -> String {
        // sqlite3_column_text first, then sqlite3_column_bytes: the order
        // SQLite documents for an exact byte count.
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }
}

@available(*, unavailable)
extension SQLiteStatement: Sendable {}
