import Foundation
import TusCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An upload's data file (or info file) open for writing at explicit
/// offsets. Each incoming buffer is written as it arrives, so no body is held
/// in memory.
final class DataFile {
    let path: String
    private var fd: Int32

    /// Opens (creating) the file at `path`; with `truncating`, empty.
    init(path: String, truncating: Bool = false) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (truncating ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else {
            throw TusError(.io, "cannot open upload data file \(path) for writing",
                cause: SystemError(call: "open", errno: errno))
        }
        self.fd = fd
    }

    deinit { close() }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var written = 0
        while written < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset) + off_t(written))
            if n < 0 {
                if errno == EINTR { continue }
                throw TusError(.io, "cannot write upload data file \(path) at offset \(offset)",
                    cause: SystemError(call: "pwrite", errno: errno))
            }
            written += n
        }
    }

    /// Cuts the file to `length` bytes.
    func truncate(to length: Int64) throws {
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw TusError(.io, "cannot truncate upload data file \(path) to \(length) bytes",
                cause: SystemError(call: "ftruncate", errno: errno))
        }
    }

    /// The file's modification time, or `nil` if `fstat` fails.
    func modificationDate() -> Date? {
        var status = stat()
        guard fd >= 0, fstat(fd, &status) == 0 else { return nil }
        return UploadStore.modificationDate(status)
    }

    func close() {
        if fd >= 0 {
            _ = closeDescriptor(fd)
            fd = -1
        }
    }
}

private func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #elseif canImport(Musl)
    Musl.close(fd)
    #else
    Darwin.close(fd)
    #endif
}
