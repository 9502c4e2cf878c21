import Foundation
import TusCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files a change of the JSON store is written to before it is
/// renamed over the store: `.<store name>.<16 hex digits>.tmp` in the store's
/// own folder, so that the rename is atomic.
///
/// The folder may be shared with other users. A fixed name such as
/// `<path>.tmp`, opened with `O_CREAT | O_TRUNC`, lets anyone who can write
/// there plant a symbolic link under that name and make the next change
/// overwrite the link's target, and change its mode. So each change creates
/// a new file under a name drawn from 64 random bits, with
/// `O_CREAT | O_EXCL | O_NOFOLLOW`: the open fails rather than follow a link
/// or reuse a file that is already there, and then another name is drawn.
///
/// A writer killed between creating its file and the rename leaves that file
/// behind. A later change removes it once it is older than ``staleAge``; a
/// younger one may be another writer's, one that does not hold the store's
/// lock (a lock that did not reach it over a network file system, say), and
/// is kept.
struct TemporaryFiles {
    /// How old a leftover temporary file must be before a change removes
    /// it. A change holds its file for as long as one write and `fsync`
    /// take, far less than this.
    static let staleAge: TimeInterval = 3600

    /// How many names a change draws before it gives up; each is taken only
    /// when a file of that name exists already, which no one can arrange for
    /// a name they cannot predict.
    static let attempts = 32

    /// The number of hexadecimal digits of the random part.
    static let randomDigits = 16

    private static let suffix = Array(".tmp".utf8)

    /// The folder of the store, where the temporary files are made.
    let folder: String
    /// `.<store name>.`, the store name cut short when needed so that a
    /// whole name fits in the 255 bytes file systems allow.
    let prefix: String
    private let prefixBytes: [UInt8]

    init(storePath: String) {
        folder = (storePath as NSString).deletingLastPathComponent
        let name = (storePath as NSString).lastPathComponent
        let room = 255 - 2 - Self.randomDigits - Self.suffix.count
        var kept = String.UnicodeScalarView()
        var length = 0
        for scalar in name.unicodeScalars {
            length += String(scalar).utf8.count
            if length > room { break }
            kept.append(scalar)
        }
        prefix = "." + String(kept) + "."
        prefixBytes = Array(prefix.utf8)
    }

    /// The names of this store's temporary files, as messages show them.
    var pattern: String { "\(prefix)*.tmp" }

    /// The temporary file's name for `random`.
    func name(_ random: UInt64) -> String {
        let digits = String(random, radix: 16)
        return prefix + String(repeating: "0", count: Self.randomDigits - digits.count) + digits + ".tmp"
    }

    /// Whether `name` (its bytes) is the name of one of this store's
    /// temporary files.
    func matches(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard name.count == prefixBytes.count + Self.randomDigits + Self.suffix.count,
              name.starts(with: prefixBytes), name.suffix(Self.suffix.count).elementsEqual(Self.suffix)
        else { return false }
        return name[prefixBytes.count..<(prefixBytes.count + Self.randomDigits)].allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
    }

    /// A file that no one else has opened, and its path.
    struct Created {
        var descriptor: Int32
        var path: String
    }

    /// Why no temporary file was created.
    enum Failure: Error {
        /// Every name drawn was taken; the last one.
        case namesTaken(last: String)
        /// Creating the file at `path` failed.
        case system(SystemError, path: String)
    }

    /// Creates a new, empty file with mode 0600 (before the umask) under a
    /// name drawn from `random`; draws again when the name is taken.
    func create(using random: inout some RandomNumberGenerator) throws(Failure) -> Created {
        var path = ""
        for _ in 0..<Self.attempts {
            path = (folder as NSString).appendingPathComponent(name(random.next()))
            do throws(SystemError) {
                let fd = try POSIX.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
                return Created(descriptor: fd, path: path)
            } catch where error.errno == EEXIST {
                continue
            } catch {
                throw .system(error, path: path)
            }
        }
        throw .namesTaken(last: path)
    }

    /// Removes this store's temporary files that are regular files older
    /// than ``staleAge``, and returns their names. Symbolic links are never
    /// followed (the status read is the link's own) and never removed, nor
    /// is anything else that is not a regular file. Failures are ignored: a
    /// file left now is removed by a later change.
    ///
    /// A file replaced between its status read and its removal is removed
    /// all the same, but only that name in the store's folder goes, never
    /// what a link points to.
    @discardableResult
    func removeStale(now: Date = Date()) -> [String] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        let descriptor = dirfd(directory)
        let cutoff = now.timeIntervalSince1970 - Self.staleAge
        var removed: [String] = []
        while let entry = readdir(directory) {
            let field = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
            let cName = field.assumingMemoryBound(to: CChar.self)
            guard matches(UnsafeBufferPointer(start: field.assumingMemoryBound(to: UInt8.self), count: strlen(cName))) else { continue }
            var info = stat()
            guard fstatat(descriptor, cName, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            #if canImport(Darwin)
            let modified = Double(info.st_mtimespec.tv_sec)
            #else
            let modified = Double(info.st_mtim.tv_sec)
            #endif
            guard modified < cutoff else { continue }
            if unlinkat(descriptor, cName, 0) == 0 { removed.append(String(cString: cName)) }
        }
        return removed
    }
}
