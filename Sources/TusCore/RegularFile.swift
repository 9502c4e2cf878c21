import Foundation

/// Opening a file to read it whole, for the fingerprints and the client's
/// uploads.
package enum RegularFile {
    /// Opens the regular file at `path` for reading, and returns its
    /// descriptor (the caller closes it) and its size.
    ///
    /// Throws `.invalidArgument` naming `path` when it is a directory, a pipe
    /// or a device — anything that reading as a file would block on or never
    /// finish — and `.notFound` or `.io` with the system's reason when it
    /// cannot be opened. `O_NONBLOCK` keeps the open of a FIFO from waiting
    /// for a writer; the type check then refuses it. A symbolic link is
    /// followed, and its target checked.
    ///
    /// - Parameter what: the start of the type errors' message, such as
    ///   "cannot upload".
    package static func openForReading(
        _ path: String, _ what: String, hint: String = ""
    ) throws -> (descriptor: Int32, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd == -1 {
            let number = errno
            throw TusError(
                number == ENOENT ? .notFound : .io, "cannot open \(path): \(String(cString: strerror(number)))",
                cause: SystemError(call: "open", errno: number)
            )
        }
        var status = stat()
        if fstat(fd, &status) == -1 {
            let number = errno
            _ = close(fd)
            throw TusError(
                .io, "cannot read \(path): \(String(cString: strerror(number)))", cause: SystemError(call: "fstat", errno: number)
            )
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            // Reads that block on a slow disk are what a caller expects.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            return (fd, Int64(status.st_size))
        case S_IFDIR:
            _ = close(fd)
            throw TusError(.invalidArgument, "\(what) \(path): it is a directory")
        default:
            _ = close(fd)
            throw TusError(.invalidArgument, "\(what) \(path): it is not a regular file\(hint)")
        }
    }
}
