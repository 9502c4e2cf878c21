import Foundation
import TusCore
import CTusFileLock
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the system calls the JSON store needs (`flock` through
/// the `CTusFileLock` shim). Foundation's
/// `FileManager` has no `flock`, no `fsync` of a folder and no control over
/// the mode a file is created with, and these must be exact for the store's
/// crash and permission guarantees.

enum POSIX {
    /// Runs `call` again while it fails with `EINTR`.
    static func retrying(_ call: () -> Int32) -> Int32 {
        while true {
            let result = call()
            if result == -1 && errno == EINTR { continue }
            return result
        }
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) throws(SystemError) -> Int32 {
        let fd = retrying { Foundation.open(path, flags | O_CLOEXEC, mode) }
        if fd == -1 { throw SystemError(call: "open", errno: errno) }
        return fd
    }

    /// The status of the file at `path` (symbolic links followed), or nil
    /// when there is none.
    static func status(_ path: String) throws(SystemError) -> stat? {
        var info = stat()
        if retrying({ stat(path, &info) }) == -1 {
            if errno == ENOENT { return nil }
            throw SystemError(call: "stat", errno: errno)
        }
        return info
    }

    static func status(_ fd: Int32) throws(SystemError) -> stat {
        var info = stat()
        if fstat(fd, &info) == -1 { throw SystemError(call: "fstat", errno: errno) }
        return info
    }

    static func isDirectory(_ info: stat) -> Bool {
        (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// What a read of the file found.
    enum Contents {
        /// The file holds exactly the bytes it was compared with.
        case same
        case bytes([UInt8])
    }

    /// Reads the whole file behind `fd`, `size` bytes long when its status
    /// was taken. When `previous` has that size, the bytes are compared with
    /// it as they come, through a small buffer, and only kept when they
    /// differ.
    static func readAll(_ fd: Int32, size: Int, comparingWith previous: [UInt8]?) throws(SystemError) -> Contents {
        guard let previous, previous.count == size, size > 0 else {
            return .bytes(try readAll(fd, size: size, prefix: []))
        }
        let chunk = min(size, 1 << 16)
        // Filled by each read before it is looked at.
        var scratch = [UInt8](unsafeUninitializedCapacity: chunk) { _, initialized in initialized = chunk }
        var matched = 0
        while true {
            let got = try scratch.withUnsafeMutableBytes { buffer in Result { () throws(SystemError) in
                try read(fd, into: buffer.baseAddress!, count: chunk)
            } }.get()
            if got == 0 {
                if matched == size { return .same }
                return .bytes(Array(previous[0..<matched]))
            }
            let equal = matched + got <= size && previous.withUnsafeBytes { old in
                scratch.withUnsafeBytes { new in memcmp(old.baseAddress! + matched, new.baseAddress!, got) == 0 }
            }
            if !equal {
                // The file changed: keep what matched, this chunk and the rest.
                return .bytes(try readAll(fd, size: size, prefix: Array(previous[0..<matched]) + scratch[0..<got]))
            }
            matched += got
        }
    }

    /// Reads the rest of `fd` after `prefix`, expecting `size` bytes in all.
    private static func readAll(_ fd: Int32, size: Int, prefix: [UInt8]) throws(SystemError) -> [UInt8] {
        var capacity = max(size + 1, prefix.count + 4096)
        var bytes = prefix
        while true {
            let filled = bytes.count
            var failure: SystemError?
            let next = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                let base = UnsafeMutableRawPointer(buffer.baseAddress!)
                if filled > 0 {
                    bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: filled) }
                }
                var total = filled
                while total < capacity {
                    do throws(SystemError) {
                        let got = try read(fd, into: base + total, count: capacity - total)
                        if got == 0 { break }
                        total += got
                    } catch {
                        failure = error
                        break
                    }
                }
                initialized = total
            }
            if let failure { throw failure }
            bytes = next
            // Short of the capacity: the end of the file.
            if bytes.count < capacity { return bytes }
            capacity *= 2
        }
    }

    /// One `read`, retried on `EINTR`; 0 at the end of the file.
    private static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) throws(SystemError) -> Int {
        while true {
            let got = Foundation.read(fd, buffer, count)
            if got >= 0 { return got }
            if errno == EINTR { continue }
            throw SystemError(call: "read", errno: errno)
        }
    }

    static func writeAll(_ fd: Int32, _ data: [UInt8]) throws(SystemError) {
        var written = 0
        while written < data.count {
            let count = data.count - written
            let result = data.withUnsafeBytes { buffer in
                Foundation.write(fd, buffer.baseAddress! + written, count)
            }
            if result == -1 {
                if errno == EINTR { continue }
                throw SystemError(call: "write", errno: errno)
            }
            written += result
        }
    }

    static func fsync(_ fd: Int32) throws(SystemError) {
        if retrying({ Foundation.fsync(fd) }) == -1 { throw SystemError(call: "fsync", errno: errno) }
    }

    /// Takes an exclusive `flock` on `fd`, waiting for other holders up to
    /// `deadline`; returns false when the deadline passed first.
    static func lockExclusively(
        _ fd: Int32, until deadline: Date, waiting: () -> Void = {}
    ) throws(SystemError) -> Bool {
        var pause: UInt32 = 500
        var told = false
        while true {
            if ctus_flock_exclusive_nonblocking(fd) == 0 { return true }
            let error = errno
            if error != EWOULDBLOCK && error != EAGAIN && error != EINTR { throw SystemError(call: "flock", errno: error) }
            if !told {
                told = true
                waiting()
            }
            if Date() >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Releases the `flock` on `fd`.
    static func unlock(_ fd: Int32) {
        _ = ctus_flock_unlock(fd)
    }

    static func rename(_ from: String, _ to: String) throws(SystemError) {
        if Foundation.rename(from, to) == -1 { throw SystemError(call: "rename", errno: errno) }
    }

}
