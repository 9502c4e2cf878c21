package import Foundation
package import TusCore

/// The paths of the file stores: made absolute, checked, their folders
/// created.
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
}
