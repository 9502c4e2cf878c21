import Foundation
import NIOCore
import NIOPosix
import TusCore
import TusProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A range of the upload's file that a request reads as it sends it, a
/// piece at a time (``UploadSource/readPiece(at:count:)``).
struct FileRange: Sendable {
    var source: UploadSource
    var offset: Int64
    var count: Int

    /// The piece that follows the first `sent` bytes of the range.
    ///
    /// - Throws: ``TusCore/TusError`` when the file cannot be read or has
    ///   become shorter than the range.
    func piece(after sent: Int, limit: Int = UploadSource.pieceSize) throws -> ByteBuffer {
        let piece = try source.readPiece(at: offset + Int64(sent), count: min(count - sent, limit))
        guard piece.readableBytes > 0 else {
            throw TusError(.io, "\(source.name) changed while uploading: it ends at \(offset + Int64(sent)) now")
        }
        return piece
    }

    /// The piece that follows the first `sent` bytes of the range, as a
    /// region of the file that the connection sends without reading it into
    /// memory (`sendfile`).
    ///
    /// - Throws: ``TusCore/TusError`` when the file cannot be read or has
    ///   become shorter than the range.
    func region(after sent: Int, limit: Int = UploadSource.pieceSize) throws -> FileRegion {
        try source.region(at: offset + Int64(sent), count: min(count - sent, limit))
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

    /// The piece that follows the first `sent` bytes: at most
    /// ``UploadSource/pieceSize`` bytes, so that a request's progress shows
    /// piece by piece.
    func piece(after sent: Int, limit: Int = UploadSource.pieceSize) throws -> ByteBuffer {
        switch self {
        case .bytes(let buffer):
            let count = min(limit, UploadSource.pieceSize, buffer.readableBytes - sent)
            return buffer.getSlice(at: buffer.readerIndex + sent, length: count) ?? ByteBuffer()
        case .file(let range):
            return try range.piece(after: sent, limit: limit)
        }
    }

    /// The same piece as ``piece(after:)``, for a connection to write. With
    /// `fromFile` (a connection without TLS), a file range's piece is a
    /// region of the file, which the kernel sends from its page cache with
    /// `sendfile`: no copy passes through this process.
    func piece(after sent: Int, fromFile: Bool, limit: Int = UploadSource.pieceSize) throws -> IOData {
        if fromFile, case .file(let range) = self { return .fileRegion(try range.region(after: sent, limit: limit)) }
        return .byteBuffer(try piece(after: sent, limit: limit))
    }
}

/// The bytes an upload sends, read at any offset the server asks for.
///
/// A file or `Data` can be read anywhere. A file's chunk is never read whole:
/// its request reads it a piece at a time into a few buffers used again and
/// again (``pieceSize`` × ``pieceBufferCount`` bytes, whatever the chunk
/// size). A stream that cannot seek (a pipe) is read once, front to
/// back: the bytes the server has not confirmed yet are kept, so a chunk can
/// be sent again, and only those — at most a chunk.
final class UploadSource: @unchecked Sendable {
    enum Backing {
        case file(FileHandle, owned: Bool)
        case data(Data)
        case stream(FileHandle)
    }

    /// The most bytes of a file read at once.
    static let pieceSize = 512 << 10
    /// How many piece buffers a file source reads into, in turn. A request
    /// holds on to a piece until the socket has taken it, and has at most
    /// ``PiecePump/limit`` pieces on their way: by the time the turn comes
    /// back to a buffer it is free again, and reading into it allocates
    /// nothing.
    static let pieceBufferCount = PiecePump.limit + 2

    private let lock = NSLock()
    private let backing: Backing
    private var isClosed = false
    /// A file's own descriptor (a duplicate) for the regions connections
    /// send with `sendfile`; opened by the first region, closed by
    /// ``close()``. NIO lets one thread at a time use it: regions are only
    /// made for connections of a client with one event loop, the loop that
    /// asked for the first region.
    private var regionHandle: NIOFileHandle?
    private var regionLoop: (any EventLoop)?
    private var pieceBuffers: [ByteBuffer] = []
    private var nextPieceBuffer = 0
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
        let (fd, size) = try RegularFile.openForReading(path, "cannot upload", hint: "; upload a pipe through a FileHandle instead")
        knownSize = size
        backing = .file(FileHandle(fileDescriptor: fd, closeOnDealloc: true), owned: true)
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

    /// Whether chunks are sent from a file, read as they go out (never a
    /// blocking read of a pipe or terminal).
    var isFile: Bool {
        if case .file = backing, knownSize != nil { return true }
        return false
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
                var buffer = ByteBuffer()
                try readFile(handle, at: offset, count: count, into: &buffer)
                return buffer
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

    /// Up to `count` bytes of the file from `offset` into `buffer`, which is
    /// cleared first; fewer only at the end of the file. Call with the lock.
    private func readFile(_ handle: FileHandle, at offset: Int64, count: Int, into buffer: inout ByteBuffer) throws {
        // A closed descriptor's number may already name another file.
        guard !isClosed else { throw TusError(.io, "cannot read \(name): the upload is over and the file closed") }
        let descriptor = handle.fileDescriptor
        buffer.clear(minimumCapacity: count)
        while buffer.readableBytes < count {
            let position = offset + Int64(buffer.readableBytes)
            let wanted = count - buffer.readableBytes
            let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { space in
                while true {
                    let read = pread(descriptor, space.baseAddress!, wanted, off_t(position))
                    if read >= 0 { return read }
                    if errno != EINTR {
                        throw TusError(.io, "cannot read \(name) at offset \(position)", cause: SystemError(call: "pread", errno: errno))
                    }
                }
            }
            if read == 0 { break }
        }
    }

    /// What a request sends for up to `count` bytes from `offset`: for a
    /// file, the range, read as it is sent; otherwise the bytes. Fewer bytes
    /// only at the end, or when a file has shrunk.
    func body(at offset: Int64, count: Int) throws -> RequestBody {
        guard case .file(let handle, _) = backing, let size = knownSize else {
            return .bytes(try read(at: offset, count: count))
        }
        var status = stat()
        guard fstat(handle.fileDescriptor, &status) == 0 else {
            throw TusError(.io, "cannot read \(name)", cause: SystemError(call: "fstat", errno: errno))
        }
        let end = min(offset + Int64(count), size, Int64(status.st_size))
        return .file(FileRange(source: self, offset: offset, count: Int(max(0, end - offset))))
    }

    /// Up to ``pieceSize`` bytes of a file range from `offset`, read into the
    /// next of the piece buffers. Fewer only at the end of the file.
    func readPiece(at offset: Int64, count: Int) throws -> ByteBuffer {
        let count = min(count, Self.pieceSize)
        guard case .file(let handle, _) = backing else { return try read(at: offset, count: count) }
        return try lock.withLock {
            if pieceBuffers.isEmpty { pieceBuffers = Array(repeating: ByteBuffer(), count: Self.pieceBufferCount) }
            let slot = nextPieceBuffer
            nextPieceBuffer = (nextPieceBuffer + 1) % pieceBuffers.count
            var buffer = pieceBuffers[slot]
            // Let go of the slot's reference, so that writing into `buffer`
            // copies nothing unless a request still holds the piece.
            pieceBuffers[slot] = ByteBuffer()
            try readFile(handle, at: offset, count: count, into: &buffer)
            pieceBuffers[slot] = buffer
            return buffer
        }
    }

    /// Up to ``pieceSize`` bytes of a file from `offset`, as a region of
    /// the file for `sendfile`. Fewer only at the end of the file.
    ///
    /// - Throws: ``TusCore/TusError`` when the file has become shorter than
    ///   `offset + 1` bytes, or cannot be examined.
    func region(at offset: Int64, count: Int) throws -> FileRegion {
        try lock.withLock {
            guard case .file(let handle, _) = backing else {
                throw TusError(.io, "cannot send \(name) from its file: it is not a file")
            }
            guard !isClosed else { throw TusError(.io, "cannot read \(name): the upload is over and the file closed") }
            var status = stat()
            guard fstat(handle.fileDescriptor, &status) == 0 else {
                throw TusError(.io, "cannot read \(name)", cause: SystemError(call: "fstat", errno: errno))
            }
            // sendfile sends nothing past the end and says so by sending
            // nothing: a file that shrank is told here instead.
            let end = min(offset + Int64(min(count, Self.pieceSize)), Int64(status.st_size))
            guard end > offset else {
                throw TusError(.io, "\(name) changed while uploading: it ends at \(status.st_size) now")
            }
            if regionHandle == nil {
                let copy = dup(handle.fileDescriptor)
                guard copy >= 0 else {
                    throw TusError(.io, "cannot read \(name)", cause: SystemError(call: "dup", errno: errno))
                }
                regionHandle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: copy)
                regionLoop = MultiThreadedEventLoopGroup.currentEventLoop
            }
            return FileRegion(fileHandle: regionHandle!, readerIndex: Int(offset), endIndex: Int(end))
        }
    }

    /// The `Upload-Checksum` header value for `body`; a file range is read a
    /// piece at a time.
    func checksum(_ algorithm: ChecksumAlgorithm, of body: RequestBody) throws -> String {
        var hasher = UploadChecksum.Hasher(algorithm)
        switch body {
        case .bytes(let buffer):
            buffer.withUnsafeReadableBytes { hasher.update($0) }
        case .file(let range):
            var done = 0
            while done < range.count {
                let piece = try range.piece(after: done)
                piece.withUnsafeReadableBytes { hasher.update($0) }
                done += piece.readableBytes
            }
        }
        return hasher.finalize().headerValue
    }

    /// The key of the content, for a source that can be read again. A
    /// file is read and hashed on the fingerprint threads of `TusCore`,
    /// never on the caller's: a whole-file key of a large file takes
    /// seconds. The source is not read by anything else meanwhile (it is
    /// fingerprinted before its uploader exists).
    func fingerprint(_ fingerprint: any Fingerprint) async throws -> String? {
        switch backing {
        case .data(let data): return try fingerprint.fingerprint(of: data)
        case .file(let handle, _): return try await fingerprint.fingerprintInBackground(of: handle)
        case .stream: return nil
        }
    }

    /// Closes a file this source opened itself.
    func close() {
        lock.withLock {
            if case .file(let handle, owned: true) = backing, !isClosed { try? handle.close() }
            closeRegionHandle()
            isClosed = true
            pieceBuffers = []
        }
    }

    /// Closes the descriptor of the regions. A request cut short may still
    /// be sending a region on its loop: then the loop closes it once done.
    private func closeRegionHandle() {
        guard let handle = regionHandle else { return }
        regionHandle = nil
        do {
            try handle.close()
        } catch {
            regionLoop?.execute { try? handle.close() }
        }
    }

    deinit {
        if case .file(let handle, owned: true) = backing, !isClosed { try? handle.close() }
        closeRegionHandle()
    }
}
