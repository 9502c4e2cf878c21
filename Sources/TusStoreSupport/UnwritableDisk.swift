import Foundation

/// Why a file system refused a write: it is full, the user's quota on it is
/// used up, or it is mounted read-only. The file stores say so in one
/// sentence, with what to do, instead of the system's terse reason.
package enum UnwritableDisk: Sendable, Equatable {
    /// `ENOSPC`, SQLite's `SQLITE_FULL`.
    case full
    /// `EDQUOT`.
    case quotaExceeded
    /// `EROFS`, or SQLite's `SQLITE_READONLY` on a read-only file system.
    case readOnly

    /// The problem an `errno` names, or nil for any other failure.
    package init?(errno number: Int32) {
        switch number {
        case ENOSPC: self = .full
        case EDQUOT: self = .quotaExceeded
        case EROFS: self = .readOnly
        default: return nil
        }
    }

    /// What happened and what to do, such as "the disk is full; free some
    /// space on it and try again".
    package var explanation: String {
        switch self {
        case .full:
            "the disk is full; free some space on it and try again"
        case .quotaExceeded:
            "the disk quota is used up; free some space or ask for a larger quota, and try again"
        case .readOnly:
            "the file system is read-only; remount it read-write or move the store to another disk"
        }
    }

    /// Whether the file system holding `path` (or, when it does not exist,
    /// its folder) is mounted read-only.
    package static func isOnReadOnlyFileSystem(_ path: String) -> Bool {
        fileSystem(holding: path).map { $0.f_flag & UInt(ST_RDONLY) != 0 } ?? false
    }

    /// Whether the file system holding `path` (or, when it does not exist,
    /// its folder) has no block left that an unprivileged user may write.
    package static func isOnFullFileSystem(_ path: String) -> Bool {
        fileSystem(holding: path).map { $0.f_bavail == 0 && $0.f_blocks > 0 } ?? false
    }

    private static func fileSystem(holding path: String) -> statvfs? {
        var info = statvfs()
        var target = path
        while statvfs(target, &info) != 0 {
            let parent = (target as NSString).deletingLastPathComponent
            if parent.isEmpty || parent == target { return nil }
            target = parent
        }
        return info
    }
}
