/// An error SQLite reported: its result code and its message.
///
/// ``SQLiteStorage`` throws `TusError`; when SQLite itself failed, the
/// `TusError`'s `cause` is one of these, so the raw code stays reachable:
///
/// ```swift
/// do {
///     try await store.setURL(url, forKey: key)
/// } catch let error as TusError {
///     if let sqlite = error.cause as? SQLiteError, sqlite.primaryResultCode == 5 /* SQLITE_BUSY */ {
///         print("another process held the database for too long: \(error.message)")
///     }
/// }
/// ```
public struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// SQLite's extended result code, such as 5 (`SQLITE_BUSY`), 26
    /// (`SQLITE_NOTADB`) or 778 (`SQLITE_IOERR_WRITE`).
    public var resultCode: Int32
    /// SQLite's message, such as "database is locked".
    public var message: String
    /// The `errno` of the system call behind an I/O failure, as SQLite
    /// recorded it (`sqlite3_system_errno`), such as 28 (`ENOSPC`); 0 when
    /// there was none.
    public var systemErrno: Int32

    /// Creates an error from a result code, a message and, for an I/O
    /// failure, the system's `errno`.
    public init(resultCode: Int32, message: String, systemErrno: Int32 = 0) {
        self.resultCode = resultCode
        self.message = message
        self.systemErrno = systemErrno
    }

    /// The primary result code: the low 8 bits of ``resultCode``, such as 10
    /// (`SQLITE_IOERR`) for 778 (`SQLITE_IOERR_WRITE`).
    public var primaryResultCode: Int32 { resultCode & 0xFF }

    /// SQLite's message and its result code, and the `errno` when there is
    /// one.
    public var description: String {
        systemErrno == 0
            ? "\(message) (SQLite result code \(resultCode))"
            : "\(message) (SQLite result code \(resultCode), errno \(systemErrno))"
    }
}
