import Foundation
import TusCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file-system steps around SQLite: the store file's creation with mode
/// 0600, and what its first bytes say it is. Foundation cannot create a file
/// with an exact mode, and SQLite itself would create it with mode 0644 and
/// turn any file it is given into a database on its first write.
///
/// Neither step may close a descriptor of a file that SQLite connections of
/// this process may hold: POSIX record locks belong to the process, and
/// closing any descriptor of a file drops every lock the process holds on
/// it, those of its SQLite connections included. Another process could then
/// take the write lock while one of ours writes, or, closing as it thinks
/// the last user, delete the write-ahead log that ours still use. So the file
/// is made under a temporary name and linked into place once its descriptor
/// is closed, and its first bytes are read through the SQLite connection's
/// own file handle (``SQLiteConnection/fileStart(count:)``), whose closing
/// SQLite defers while other connections hold locks.
enum StoreFile {
    /// What the first bytes of the file say it is.
    enum Contents: Equatable {
        /// Zero bytes: a new store.
        case empty
        /// Starts with SQLite's header.
        case sqlite
        /// Anything else.
        case other
    }

    /// The 16 bytes every SQLite 3 database file starts with.
    private static let magic = Array("SQLite format 3\0".utf8)
    /// The size of SQLite's file header; a shorter file is not a database.
    static let headerSize = 100

    /// What a file of `size` bytes that starts with `header` (its first
    /// ``headerSize`` bytes, or all of a shorter file) is.
    static func contents(size: Int64, header: [UInt8]) -> Contents {
        if size == 0 { return .empty }
        if size >= headerSize && header.count >= magic.count && Array(header[0..<magic.count]) == magic { return .sqlite }
        return .other
    }

    /// Creates an empty file at `path` with mode 0600 whatever the umask;
    /// an existing file is left as it is.
    ///
    /// The file is created under a temporary name beside `path`
    /// (`<path>.<pid>-<random>.new`), closed, then hard-linked to `path`,
    /// which fails harmlessly when another process or instance made it first;
    /// the temporary name is removed either way. On a file system without
    /// hard links the file is created in place instead, where another
    /// instance of this process that opens it in the moment before its
    /// descriptor closes can lose its locks.
    /// A file's device and inode: which file a path named at some moment.
    struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
    }

    /// The identity of the file at `path` now, or nil when it cannot be
    /// read.
    static func identity(_ path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    static func createIfMissing(_ path: String) throws(SystemError) {
        removeAbandonedTemporaries(of: path)
        var status = stat()
        if stat(path, &status) == 0 { return }
        if errno != ENOENT { throw SystemError(call: "stat", errno: errno) }

        let temporary = "\(path).\(getpid())-\(UInt32.random(in: 0...UInt32.max)).new"
        try createPrivate(temporary)
        defer { _ = unlink(temporary) }
        if link(temporary, path) == 0 { return }
        let error = errno
        if error == EEXIST { return }
        // No hard links here (FAT, exFAT, some network file systems).
        guard [EPERM, EOPNOTSUPP, ENOTSUP].contains(error) else { throw SystemError(call: "link", errno: error) }
        try createPrivate(path, existingIsFine: true)
    }

    /// Removes the temporary names (`<path>.<pid>-<n>.new`) that a process
    /// killed between creating and removing one left behind, so they cannot
    /// pile up: those whose process no longer exists. A live process's
    /// name is never touched.
    static func removeAbandonedTemporaries(of path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let prefix = (path as NSString).lastPathComponent + "."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".new") {
            let middle = name.dropFirst(prefix.count).dropLast(".new".count)
            guard let dash = middle.firstIndex(of: "-"), let pid = pid_t(middle[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH {
                _ = unlink((folder as NSString).appendingPathComponent(name))
            }
        }
    }

    /// Creates an empty file at `path` with mode 0600 and closes it.
    private static func createPrivate(_ path: String, existingIsFine: Bool = false) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd == -1 {
            if existingIsFine && errno == EEXIST { return }
            throw SystemError(call: "open", errno: errno)
        }
        let changed = fchmod(fd, 0o600)
        let error = errno
        _ = close(fd)
        if changed == -1 { throw SystemError(call: "fchmod", errno: error) }
    }
}
