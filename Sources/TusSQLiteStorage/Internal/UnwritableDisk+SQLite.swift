import CTusSQLite
import TusCore
import TusStoreSupport

extension UnwritableDisk {
    /// The disk problem behind SQLite's `error` on the store at `path`, or
    /// nil when the failure is of another kind.
    ///
    /// `SQLITE_FULL` is a full disk. An I/O error, a file SQLite cannot
    /// open or a database it may not write is one when the `errno` behind
    /// it says so, or when the file system holding the store is mounted
    /// read-only, or has no room left: on a full disk SQLite may report
    /// that it could not grow the `-shm` file as an I/O error without the
    /// `errno`, or, once it reads the log without that file, refuse writes
    /// with `SQLITE_READONLY_CANTINIT`.
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
        } else if UnwritableDisk.isOnFullFileSystem(path) {
            self = .full
        } else {
            return nil
        }
    }
}
