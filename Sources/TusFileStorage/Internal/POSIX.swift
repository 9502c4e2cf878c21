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

    /// Reads the whole file behind `fd`.
    static func readAll(_ fd: Int32) throws(SystemError) -> Data {
        var info = stat()
        if fstat(fd, &info) == -1 { throw SystemError(call: "fstat", errno: errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw SystemError(call: "read", errno: EISDIR) }
        var data = Data(count: max(Int(info.st_size), 0) + 1)
        var filled = 0
        while true {
            if filled == data.count { data.count += max(data.count, 4096) }
            let count = data.count - filled
            let got = data.withUnsafeMutableBytes { buffer in
                Foundation.read(fd, buffer.baseAddress! + filled, count)
            }
            if got == -1 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", errno: errno)
            }
            if got == 0 { break }
            filled += got
        }
        data.count = filled
        return data
    }

    static func writeAll(_ fd: Int32, _ data: Data) throws(SystemError) {
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
    static func lockExclusively(_ fd: Int32, until deadline: Date) throws(SystemError) -> Bool {
        var pause: UInt32 = 500
        while true {
            if ctus_flock_exclusive_nonblocking(fd) == 0 { return true }
            let error = errno
            if error != EWOULDBLOCK && error != EAGAIN && error != EINTR { throw SystemError(call: "flock", errno: error) }
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
