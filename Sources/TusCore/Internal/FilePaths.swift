import Foundation

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

    /// Throws `.invalidArgument` naming `path` when it is a directory, a pipe
    /// or a device — anything that reading as a file would block on or never
    /// finish. A missing file is left to the caller's open to report.
    ///
    /// - Parameter what: the start of the message, such as "cannot upload".
    package static func checkRegularFile(_ path: String, _ what: String, hint: String = "") throws {
        guard let type = try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType else { return }
        if type == .typeDirectory {
            throw TusError(.invalidArgument, "\(what) \(path): it is a directory")
        }
        if type != .typeRegular && type != .typeSymbolicLink {
            throw TusError(.invalidArgument, "\(what) \(path): it is not a regular file\(hint)")
        }
    }
}
