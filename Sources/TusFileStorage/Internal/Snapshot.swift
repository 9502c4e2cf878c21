import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What `stat` says about a file that changes whenever its content does:
/// which file it is, its size, and its modification and status-change
/// times (nanoseconds since 1970).
struct FileSignature: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int
    var changed: Int

    init(_ info: stat) {
        device = UInt64(truncatingIfNeeded: info.st_dev)
        inode = UInt64(truncatingIfNeeded: info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modified = Int(info.st_mtimespec.tv_sec) &* 1_000_000_000 &+ Int(info.st_mtimespec.tv_nsec)
        changed = Int(info.st_ctimespec.tv_sec) &* 1_000_000_000 &+ Int(info.st_ctimespec.tv_nsec)
        #else
        modified = Int(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int(info.st_mtim.tv_nsec)
        changed = Int(info.st_ctim.tv_sec) &* 1_000_000_000 &+ Int(info.st_ctim.tv_nsec)
        #endif
    }
}

/// The clock file systems stamp files with, and how far behind it a stamp
/// must be before a file with that stamp can be trusted not to change
/// unseen.
///
/// A file system stamps a change with the time of a clock that ticks
/// coarsely (on Linux, every 1–10 ms; some file systems keep whole seconds),
/// so two changes within one tick can leave the same size and times: `stat`
/// cannot tell them apart (git's "racy clean" problem). A file whose stamps
/// are older than the tick in which it was read cannot be changed again
/// without a newer stamp, so its status alone proves it unchanged; a newer
/// one must be read again.
enum FileClock {
    /// The time a change made now would at least be stamped with, in
    /// nanoseconds since 1970.
    static func now() -> Int {
        var time = timespec()
        #if os(Linux) || os(Android)
        // The clock the kernel stamps inodes with (Linux's current_time()).
        clock_gettime(CLOCK_REALTIME_COARSE, &time)
        #else
        clock_gettime(CLOCK_REALTIME, &time)
        #endif
        return Int(time.tv_sec) &* 1_000_000_000 &+ Int(time.tv_nsec)
    }

    #if os(Linux) || os(Android)
    /// Room beyond the tick. None is needed: `now()` reads the clock the
    /// kernel stamps with, and a stamp is never below it.
    static let margin = 0
    #else
    /// Room for a stamping clock that is not the one `now()` reads.
    static let margin = 20_000_000
    #endif

    /// Room for stamps that are multiples of 100 ns, which may come from a
    /// file system that rounds them down (NTFS keeps 100 ns).
    static let roundedMargin = 2_000_000

    /// Room for stamps that are whole milliseconds, which may come from a
    /// file system with coarse times (FAT's 2 s, exFAT's 10 ms, ext3's 1 s).
    static let coarseMargin = 2_100_000_000

    /// Whether a file with `signature`, whose status was taken after
    /// `readAt` (a `now()`), can no longer change without changing its
    /// signature: every change stamps the status-change time with the
    /// clock, so once that clock has passed the file's stamps, a change
    /// gives a new one.
    static func isSettled(_ signature: FileSignature, readAt: Int) -> Bool {
        let newest = max(signature.modified, signature.changed)
        let room: Int
        if signature.modified % 1_000_000 == 0 && signature.changed % 1_000_000 == 0 {
            room = coarseMargin
        } else if signature.modified % 100 == 0 && signature.changed % 100 == 0 {
            room = max(margin, roundedMargin)
        } else {
            room = margin
        }
        return newest < readAt - room
    }
}

/// Which file systems keep their files' stamps by the local clock, as the
/// cache needs: a network file system stamps with its server's clock, and
/// its clients may answer `stat` from a cache of attributes.
enum FileSystems {
    private static let lock = NSLock()
    /// What was found per device, and when (seconds of uptime): device
    /// numbers of unmounted file systems are given to new mounts, so an
    /// answer is kept only for a while.
    nonisolated(unsafe) private static var known: [UInt64: (isLocal: Bool, at: TimeInterval)] = [:]
    private static let remembered: TimeInterval = 10

    /// Whether `device` holds a local file system of a kind known to stamp
    /// changes by this machine's clock.
    static func isLocal(device: UInt64, path: String) -> Bool {
        let now = ProcessInfo.processInfo.systemUptime
        lock.lock()
        defer { lock.unlock() }
        if let found = known[device], now - found.at < remembered { return found.isLocal }
        let local = findIsLocal(device: device, path: path)
        known[device] = (local, now)
        return local
    }

    #if os(Linux) || os(Android)
    /// File system types that live on this machine's disks or memory.
    private static let localTypes: Set<Substring> = [
        "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "f2fs", "zfs", "bcachefs", "overlay",
        "jfs", "reiserfs", "nilfs2", "vfat", "msdos", "exfat", "ntfs", "ntfs3", "hfsplus", "hfs", "udf",
    ]

    /// Looks `device` up in `/proc/self/mountinfo`: field 3 is the device
    /// (`major:minor`), the type follows the ` - ` separator.
    private static func findIsLocal(device: UInt64, path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/self/mountinfo") else { return false }
        let wanted = "\(major(device)):\(minor(device))"
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 2, fields[2] == wanted,
                  let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count else { continue }
            return localTypes.contains(fields[separator + 1])
        }
        return false
    }

    /// glibc's `gnu_dev_major` and `gnu_dev_minor`.
    private static func major(_ device: UInt64) -> UInt64 {
        ((device >> 32) & 0xFFFF_F000) | ((device >> 8) & 0x0000_0FFF)
    }

    private static func minor(_ device: UInt64) -> UInt64 {
        ((device >> 12) & 0xFFFF_FF00) | (device & 0x0000_00FF)
    }
    #elseif canImport(Darwin)
    private static func findIsLocal(device: UInt64, path: String) -> Bool {
        var info = statfs()
        guard statfs(path, &info) == 0 else { return false }
        return info.f_flags & UInt32(MNT_LOCAL) != 0
    }
    #else
    private static func findIsLocal(device: UInt64, path: String) -> Bool { false }
    #endif
}

/// The store file as one read found it: its bytes, their index, and the
/// file's signature then. Immutable, so any number of readers share it.
final class Snapshot: Sendable {
    let bytes: [UInt8]
    let index: TinyDBIndex
    /// The file's signature when `bytes` were read (or written); nil for a
    /// missing file.
    let signature: FileSignature?
    /// Whether a file that still has `signature` is known to still hold
    /// `bytes`, without reading it.
    let isTrusted: Bool

    init(bytes: [UInt8], index: TinyDBIndex, signature: FileSignature?, isTrusted: Bool) {
        self.bytes = bytes
        self.index = index
        self.signature = signature
        self.isTrusted = isTrusted
    }

    /// A missing file: an empty store.
    static let missing = Snapshot(bytes: [], index: TinyDBIndex(), signature: nil, isTrusted: false)
}
