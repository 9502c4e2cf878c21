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
/// offsets. Each incoming buffer is written as it arrives, and parts are
/// copied into a final upload a buffer at a time, so no body or part is held
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

    /// Copies the first `count` bytes of the file at `sourcePath` to
    /// `offset` in this file, 1 MiB at a time.
    ///
    /// - Throws: ``TusError`` with code `.io` if the source cannot be read or
    ///   holds fewer than `count` bytes, or this file cannot be written.
    func copy(_ count: Int64, bytesFrom sourcePath: String, at offset: Int64) throws {
        let source = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            throw TusError(.io, "cannot open upload data file \(sourcePath) for reading",
                cause: SystemError(call: "open", errno: errno))
        }
        defer { _ = closeDescriptor(source) }
        let bufferSize = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var copied: Int64 = 0
        while copied < count {
            let wanted = Int(min(Int64(bufferSize), count - copied))
            let n = read(source, buffer.baseAddress!, wanted)
            if n < 0 {
                if errno == EINTR { continue }
                throw TusError(.io, "cannot read upload data file \(sourcePath) at offset \(copied)",
                    cause: SystemError(call: "read", errno: errno))
            }
            if n == 0 {
                throw TusError(.io, "upload data file \(sourcePath) holds \(copied) bytes, not the \(count) expected")
            }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), at: offset + copied)
            copied += Int64(n)
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
