package import Foundation

/// Path handling shared by the modules that read files.
package enum FilePaths {
    /// `path` made absolute: `~` expanded, resolved against the current
    /// directory, and a symbolic link to a file followed once.
    package static func resolvedStorePath(_ path: String) -> String {
        var absolute = URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL.path
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: absolute) {
            absolute = URL(fileURLWithPath: resolved, relativeTo: URL(fileURLWithPath: absolute).deletingLastPathComponent())
                .standardizedFileURL.path
        }
        return absolute
    }

    /// The absolute path of a store's file (see ``resolvedStorePath(_:)``).
    ///
    /// - Parameter kind: how messages call the store, such as "a JSON store".
    /// - Throws: `.invalidArgument` when `path` is empty or names a directory.
    package static func storePath(_ path: String, kind: String) throws -> String {
        guard !path.isEmpty else {
            throw TusError(.invalidArgument, "the path of \(kind) is empty")
        }
        let absolute = resolvedStorePath(path)
        if isDirectory(absolute) {
            throw TusError(.invalidArgument, "cannot use \(absolute) as \(kind): it is a directory")
        }
        return absolute
    }

    /// Whether `path` names a directory (following symbolic links).
    package static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The mode bits of the file at `path`, or nil when there is none.
    package static func mode(ofFileAt path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    /// Creates `path` and its missing parents with mode 0700.
    package static func makeDirectories(_ path: String) throws(SystemError) {
        if isDirectory(path) { return }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o700) == -1 && errno != EEXIST { throw SystemError(call: "mkdir", errno: errno) }
    }

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
    package static func openRegularFile(
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
