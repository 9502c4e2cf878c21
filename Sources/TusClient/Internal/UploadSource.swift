import Crypto
import Foundation
import NIOCore
import TusCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes of a file that a request sends straight from the file: the kernel
/// copies them to the socket (`sendfile`), so they never pass through the
/// process's memory.
struct FileRange: Sendable {
    /// The open file; it stays owned by the ``UploadSource``.
    var descriptor: Int32
    var offset: Int64
    var count: Int
    /// Lends requests descriptors of the file for their `FileRegion`s.
    var lender: DescriptorLender
}

/// Copies (`dup`) of a file's descriptor lent to requests, each for one
/// `FileRegion`.
///
/// A copy is closed as soon as its region has been written. One whose write
/// failed is closed with the source, long after its connection is gone:
/// closing it while the connection might still write the region could let
/// `sendfile` read another file that reused the number.
final class DescriptorLender: @unchecked Sendable {
    private let lock = NSLock()
    private var lent: [ObjectIdentifier: NIOFileHandle] = [:]
    private var closed = false

    /// A copy of `descriptor`, to give back with ``giveBack(_:)``.
    func lend(_ descriptor: Int32) throws -> NIOFileHandle {
        try lock.withLock {
            guard !closed else { throw IOError(errnoCode: EBADF, reason: "the upload's file is closed") }
            let copy = dup(descriptor)
            guard copy >= 0 else { throw IOError(errnoCode: errno, reason: "dup") }
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: copy)
            lent[ObjectIdentifier(handle)] = handle
            return handle
        }
    }

    /// Closes a copy whose region has been written.
    func giveBack(_ handle: NIOFileHandle) {
        let known = lock.withLock { lent.removeValue(forKey: ObjectIdentifier(handle)) != nil }
        if known { try? handle.close() }
    }

    /// Closes every copy still lent.
    func closeAll() {
        let handles = lock.withLock {
            closed = true
            defer { lent = [:] }
            return Array(lent.values)
        }
        for handle in handles { try? handle.close() }
    }
}

/// What a request sends.
enum RequestBody: Sendable {
    case bytes(ByteBuffer)
    case file(FileRange)

    var count: Int {
        switch self {
        case .bytes(let buffer): buffer.readableBytes
        case .file(let range): range.count
        }
    }
}

/// The bytes an upload sends, read at any offset the server asks for.
///
/// A file or `Data` can be read anywhere. A file's chunk is either sent
/// straight from the file (``body(at:count:fromFile:)``) or read into one
/// buffer, so an upload holds at most a chunk of it in memory. A stream that
/// cannot seek (a pipe) is read once, front to back: the bytes the server has
/// not confirmed yet are kept, so a chunk can be sent again, and only those —
/// at most a chunk.
final class UploadSource: @unchecked Sendable {
    enum Backing {
        case file(FileHandle, owned: Bool)
        case data(Data)
        case stream(FileHandle)
    }

    private let lock = NSLock()
    private let backing: Backing
    private let lender = DescriptorLender()
    /// What to call the source in messages: the file's path, or a
    /// description.
    let name: String
    /// The size, or nil while a stream's end has not been reached.
    var size: Int64? { lock.withLock { knownSize } }
    private var knownSize: Int64?

    // Streams only: the bytes from `pendingStart` on that were read but not
    // confirmed, and whether the stream has ended.
    private var pending = ByteBuffer()
    private var pendingStart: Int64 = 0
    private var streamEnded = false

    init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FilePaths.checkRegularFile(path, "cannot upload", hint: "; upload a pipe through a FileHandle instead")
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw TusError.fileError(path: path, doing: "cannot open", error)
        }
        do {
            knownSize = Int64(try handle.seekToEnd())
        } catch {
            try? handle.close()
            throw TusError.fileError(path: path, doing: "cannot read", error)
        }
        backing = .file(handle, owned: true)
        name = path
    }

    init(handle: FileHandle) {
        name = "the file handle"
        if let end = try? handle.seekToEnd() {
            knownSize = Int64(end)
            backing = .file(handle, owned: false)
        } else {
            knownSize = nil
            backing = .stream(handle)
        }
    }

    init(data: Data) {
        name = "the data"
        knownSize = Int64(data.count)
        backing = .data(data)
    }

    /// Whether the source can be fingerprinted and read again from the start.
    var isSeekable: Bool {
        if case .stream = backing { return false }
        return true
    }

    /// Up to `count` bytes from `offset`; fewer only at the end.
    func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        try lock.withLock {
            switch backing {
            case .data(let data):
                let start = Int(min(offset, Int64(data.count)))
                let end = min(data.count, start + count)
                return ByteBuffer(bytes: data[(data.startIndex + start)..<(data.startIndex + end)])
            case .file(let handle, _):
                return try readFile(handle.fileDescriptor, at: offset, count: count)
            case .stream(let handle):
                return try readStream(handle, at: offset, count: count)
            }
        }
    }

    private func readStream(_ handle: FileHandle, at offset: Int64, count: Int) throws -> ByteBuffer {
        guard offset >= pendingStart, offset <= pendingStart + Int64(pending.readableBytes) else {
            throw TusError(
                .unsupported,
                "cannot send bytes from offset \(offset) of \(name) again: a stream cannot be rewound (it holds \(pendingStart)..<\(pendingStart + Int64(pending.readableBytes)))"
            )
        }
        // Forget what the server has confirmed.
        pending.moveReaderIndex(forwardBy: Int(offset - pendingStart))
        pending.discardReadBytes()
        pendingStart = offset
        while pending.readableBytes < count && !streamEnded {
            let piece: Data
            do {
                piece = try handle.read(upToCount: count - pending.readableBytes) ?? Data()
            } catch {
                throw TusError.fileError(path: name, doing: "cannot read", error)
            }
            if piece.isEmpty {
                streamEnded = true
                knownSize = pendingStart + Int64(pending.readableBytes)
            } else {
                pending.writeBytes(piece)
            }
        }
        return pending.getSlice(at: pending.readerIndex, length: min(count, pending.readableBytes)) ?? ByteBuffer()
    }

    /// Up to `count` bytes of the file from `offset`, in one buffer; fewer
    /// only at the end of the file.
    private func readFile(_ descriptor: Int32, at offset: Int64, count: Int) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        while buffer.readableBytes < count {
            let position = offset + Int64(buffer.readableBytes)
            let wanted = count - buffer.readableBytes
            let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { space in
                try preadFully(descriptor, space.baseAddress!, wanted, at: position)
            }
            if read == 0 { break }
        }
        return buffer
    }

    /// One `pread`, tried again when interrupted.
    private func preadFully(_ descriptor: Int32, _ address: UnsafeMutableRawPointer, _ count: Int, at offset: Int64) throws -> Int {
        while true {
            let read = pread(descriptor, address, count, off_t(offset))
            if read >= 0 { return read }
            if errno == EINTR { continue }
            throw TusError(.io, "cannot read \(name) at offset \(offset)", cause: SystemError(call: "pread", errno: errno))
        }
    }

    /// What a request sends for up to `count` bytes from `offset`; fewer only
    /// at the end, or when a file has shrunk.
    ///
    /// With `fromFile`, a file's bytes stay in the file: the request sends
    /// them with `sendfile`. Otherwise they are read into one buffer.
    func body(at offset: Int64, count: Int, fromFile: Bool) throws -> RequestBody {
        if fromFile, case .file(let handle, _) = backing, let size = knownSize {
            let descriptor = handle.fileDescriptor
            var status = stat()
            guard fstat(descriptor, &status) == 0 else {
                throw TusError(.io, "cannot read \(name)", cause: SystemError(call: "fstat", errno: errno))
            }
            let end = min(offset + Int64(count), size, Int64(status.st_size))
            return .file(FileRange(descriptor: descriptor, offset: offset, count: Int(max(0, end - offset)), lender: lender))
        }
        return .bytes(try read(at: offset, count: count))
    }

    /// The `Upload-Checksum` header value for `body`. A file range is read a
    /// piece at a time, so it is never whole in memory.
    func checksum(_ algorithm: ChecksumAlgorithm, of body: RequestBody) throws -> String {
        switch body {
        case .bytes(let buffer):
            return algorithm.headerValue(for: buffer)
        case .file(let range):
            var hasher = algorithm.hasher()
            let pieceSize = min(range.count, 1 << 20)
            let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: max(pieceSize, 1), alignment: 16)
            defer { piece.deallocate() }
            var done = 0
            while done < range.count {
                let read = try preadFully(range.descriptor, piece.baseAddress!, min(pieceSize, range.count - done), at: range.offset + Int64(done))
                if read == 0 {
                    throw TusError(.io, "\(name) changed while uploading: it has fewer bytes than it had")
                }
                hasher.update(UnsafeRawBufferPointer(rebasing: piece[0..<read]))
                done += read
            }
            return hasher.headerValue()
        }
    }

    /// The key of the content, for a source that can be read again.
    func fingerprint(_ fingerprint: any Fingerprint) throws -> String? {
        try lock.withLock {
            switch backing {
            case .data(let data): return try fingerprint.fingerprint(of: data)
            case .file(let handle, _): return try fingerprint.fingerprint(of: handle)
            case .stream: return nil
            }
        }
    }

    /// Closes a file this source opened itself.
    func close() {
        lender.closeAll()
        lock.withLock {
            if case .file(let handle, owned: true) = backing { try? handle.close() }
        }
    }

    deinit {
        lender.closeAll()
        if case .file(let handle, owned: true) = backing { try? handle.close() }
    }
}
