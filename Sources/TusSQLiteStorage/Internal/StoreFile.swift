import Foundation
import TusCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file-system steps taken before SQLite sees the store's file: its
/// folder, its creation with mode 0600, and a look at its first bytes.
/// Foundation cannot create a file with an exact mode, and SQLite itself
/// would create it with mode 0644 and turn any file it is given into a
/// database on its first write.
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
    private static let headerSize = 100

    /// Creates an empty file at `path` with mode 0600 whatever the umask;
    /// an existing file is left as it is.
    static func createIfMissing(_ path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd == -1 {
            if errno == EEXIST { return }
            throw SystemError(call: "open", errno: errno)
        }
        defer { _ = close(fd) }
        if fchmod(fd, 0o600) == -1 { throw SystemError(call: "fchmod", errno: errno) }
    }

    /// Reads the start of the file at `path`, without changing it.
    static func contents(of path: String) throws(SystemError) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd == -1 { throw SystemError(call: "open", errno: errno) }
        defer { _ = close(fd) }
        var header = [UInt8](repeating: 0, count: headerSize)
        var filled = 0
        while filled < headerSize {
            let got = header.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress! + filled, headerSize - filled)
            }
            if got == -1 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", errno: errno)
            }
            if got == 0 { break }
            filled += got
        }
        if filled == 0 { return .empty }
        if filled == headerSize && Array(header[0..<magic.count]) == magic { return .sqlite }
        return .other
    }
}
