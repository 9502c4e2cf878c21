import CTusSQLite
import TusCore

extension UnwritableDisk {
    /// The disk problem behind SQLite's `error` on the store at `path`, or
    /// nil when the failure is of another kind.
    ///
    /// `SQLITE_FULL` is a full disk. An I/O error, a file SQLite cannot
    /// open or a database it may not write is one when the `errno` behind
    /// it says so, or when the file system holding the store is mounted
    /// read-only.
    init?(_ error: SQLiteError, path: String) {
        let primary = error.primaryResultCode
        if primary == SQLITE_FULL {
            self = .full
            return
        }
        guard primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY else { return nil }
        if let problem = UnwritableDisk(errno: error.systemErrno) {
            self = problem
        } else if UnwritableDisk.isOnReadOnlyFileSystem(path) {
            self = .readOnly
        } else {
            return nil
        }
    }
}
