import Foundation
import TusTestSupport

/// A file system of 1 MiB (a `tmpfs`) that a test mounts itself, fills,
/// remounts read-only, and unmounts whatever happens.
///
/// Mounting needs root (`CAP_SYS_ADMIN`); ``isAvailable`` says whether this
/// process may.
final class SmallDisk: @unchecked Sendable {
    /// Where it is mounted.
    let path: String
    /// The mount point, removed after the disk is unmounted.
    private let folder: TemporaryFolder
    private var isMounted = false

    /// Whether this process may mount a tmpfs: it tries once.
    static let isAvailable: Bool = {
        guard geteuid() == 0, let disk = try? SmallDisk() else { return false }
        disk.unmount()
        return true
    }()

    /// Mounts a new 1 MiB tmpfs on a new folder.
    init() throws {
        folder = try TemporaryFolder()
        path = folder.path
        try Self.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", path])
        isMounted = true
    }

    deinit { unmount() }

    /// Fills the disk with a file until no byte more fits.
    func fill() throws {
        let fd = open((path as NSString).appendingPathComponent("filler"), O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd != -1 else { throw TestError.missing("cannot create the filler file on \(path): errno \(errno)") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0xA5, count: 4096)
        while true {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if written == -1 {
                if errno == EINTR { continue }
                guard errno == ENOSPC else { throw TestError.missing("cannot fill \(path): errno \(errno)") }
                return
            }
        }
    }

    /// Removes what ``fill()`` wrote.
    func empty() throws {
        try FileManager.default.removeItem(atPath: (path as NSString).appendingPathComponent("filler"))
    }

    /// Mounts the disk again, read-only. Nothing may have a file on it open
    /// for writing.
    func remountReadOnly() throws {
        try Self.run(["mount", "-o", "remount,ro", path])
    }

    /// Unmounts the disk (lazily when something still uses it) and removes
    /// its folder; harmless when done already.
    func unmount() {
        guard isMounted else { return }
        if (try? Self.run(["umount", path])) == nil {
            _ = try? Self.run(["umount", "-l", path])
        }
        isMounted = false
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func run(_ arguments: [String]) throws {
        let result = try runProcess("/usr/bin/env", arguments, timeout: 30)
        guard result.status == 0 else {
            throw TestError.missing("\(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }
}
