import Foundation
import NIOCore
import TusCore

/// The bytes an upload sends, read at any offset the server asks for.
///
/// A file or `Data` can be read anywhere. A stream that cannot seek (a pipe)
/// is read once, front to back: the bytes the server has not confirmed yet
/// are kept, so a chunk can be sent again, and only those — at most a chunk.
final class UploadSource: @unchecked Sendable {
    enum Backing {
        case file(FileHandle, owned: Bool)
        case data(Data)
        case stream(FileHandle)
    }

    private let lock = NSLock()
    private let backing: Backing
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
                do {
                    try handle.seek(toOffset: UInt64(offset))
                    return try Self.readFully(handle, count)
                } catch {
                    throw TusError.fileError(path: name, doing: "cannot read", error)
                }
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

    private static func readFully(_ handle: FileHandle, _ count: Int) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        while buffer.readableBytes < count {
            guard let piece = try handle.read(upToCount: count - buffer.readableBytes), !piece.isEmpty else { break }
            buffer.writeBytes(piece)
        }
        return buffer
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
        lock.withLock {
            if case .file(let handle, owned: true) = backing { try? handle.close() }
        }
    }

    deinit {
        if case .file(let handle, owned: true) = backing { try? handle.close() }
    }
}
