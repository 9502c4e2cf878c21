public import Foundation

/// Computes the key under which a file's upload URL is stored.
///
/// The key must depend on the file's content only — not its path or name — so
/// that the same file finds its upload again after a restart, from another
/// folder, or on another machine. It is the Swift form of tuspy's
/// `Fingerprint` interface.
///
/// A conformance implements one method, ``fingerprint(of:)-(FingerprintSource)``,
/// which reads through a ``FingerprintSource``. The extension then gives every
/// fingerprint three entry points: a file path, an open `FileHandle` and
/// in-memory `Data`.
///
/// ```swift
/// struct SizeOnlyFingerprint: Fingerprint {
///     func fingerprint(of source: inout FingerprintSource) throws -> String {
///         "size:\(source.size)"
///     }
/// }
/// let key = try SizeOnlyFingerprint().fingerprint(ofFileAt: URL(filePath: "movie.mp4"))
/// ```
public protocol Fingerprint: Sendable {
    /// Returns the key for the content `source` reads.
    ///
    /// `source` starts at the first byte of the content.
    func fingerprint(of source: inout FingerprintSource) throws -> String
}

extension Fingerprint {
    /// The key of the file at `url`.
    ///
    /// - Throws: ``TusError`` naming the file when it is missing, is a
    ///   directory or not a regular file, or cannot be read.
    public func fingerprint(ofFileAt url: URL) throws -> String {
        try fingerprint(ofFileAtPath: url.path)
    }

    /// The key of the file at `path`.
    ///
    /// The file is opened, read through its descriptor and closed again
    /// before this returns.
    ///
    /// - Throws: ``TusError`` naming the file when it is missing, is a
    ///   directory or not a regular file, or cannot be read.
    public func fingerprint(ofFileAtPath path: String) throws -> String {
        var source = try FingerprintSource(path: path)
        defer { source.closeFile() }
        return try fingerprint(of: &source)
    }

    /// The key of the content of `handle`, from its first byte to its end.
    ///
    /// The handle is neither closed nor moved: its position is restored
    /// before this returns, whether it returns or throws.
    public func fingerprint(of handle: FileHandle) throws -> String {
        let position: UInt64
        do {
            position = try handle.offset()
        } catch {
            throw TusError(.io, "cannot fingerprint the file handle: it cannot seek", cause: error)
        }
        defer { try? handle.seek(toOffset: position) }
        var source = try FingerprintSource(handle: handle, path: nil)
        return try fingerprint(of: &source)
    }

    /// The key of `data`, as if it were a file's content.
    public func fingerprint(of data: Data) throws -> String {
        var source = FingerprintSource(data: data)
        return try fingerprint(of: &source)
    }
}

/// The content a ``Fingerprint`` reads: its size, and its bytes in order.
///
/// It reads a file in bounded pieces, so a fingerprint of the whole content
/// runs in constant memory whatever the file's size.
public struct FingerprintSource {
    private enum Backing {
        case handle(FileHandle)
        case descriptor(Int32)
        case data(Data, position: Int)
    }
    private var backing: Backing
    private let path: String?

    /// The content's size in bytes.
    public let size: Int64

    /// Reads a file through `handle`, from its first byte.
    init(handle: FileHandle, path: String?) throws {
        self.path = path
        self.backing = .handle(handle)
        do {
            let end = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
            self.size = Int64(end)
        } catch {
            throw TusError.fileError(path: path ?? "the file handle", doing: "cannot seek in", error)
        }
    }

    /// Opens the regular file at `path` for reading.
    init(path: String) throws {
        let (fd, size) = try RegularFile.openForReading(path, "cannot fingerprint")
        self.path = path
        self.backing = .descriptor(fd)
        self.size = size
    }

    /// Closes the file a source opened by path; a no-op for other sources.
    mutating func closeFile() {
        if case .descriptor(let fd) = backing {
            _ = close(fd)
            backing = .data(Data(), position: 0)
        }
    }

    /// Reads `data`.
    public init(data: Data) {
        self.path = nil
        self.backing = .data(data, position: 0)
        self.size = Int64(data.count)
    }

    /// Reads up to `count` bytes, fewer only at the end of the content.
    ///
    /// - Returns: the bytes read; empty at the end.
    public mutating func read(upToCount count: Int) throws -> Data {
        switch backing {
        case .handle(let handle):
            var result = Data()
            while result.count < count {
                let piece: Data?
                do {
                    piece = try handle.read(upToCount: count - result.count)
                } catch {
                    throw TusError.fileError(path: path ?? "the file handle", doing: "cannot read", error)
                }
                guard let piece, !piece.isEmpty else { break }
                if result.isEmpty { result = piece } else { result.append(piece) }
            }
            return result
        case .descriptor(let fd):
            var result = Data(count: count)
            var filled = 0
            let failure: Int32? = result.withUnsafeMutableBytes { buffer in
                while filled < count {
                    let n = Foundation.read(fd, buffer.baseAddress! + filled, count - filled)
                    if n > 0 {
                        filled += n
                    } else if n == 0 {
                        break
                    } else if errno != EINTR {
                        return errno
                    }
                }
                return nil
            }
            if let failure {
                throw TusError(
                    .io, "cannot read \(path ?? "the file"): \(String(cString: strerror(failure)))",
                    cause: SystemError(call: "read", errno: failure)
                )
            }
            if filled < count { result.removeSubrange(filled...) }
            return result
        case .data(let data, let position):
            let end = min(data.count, position + count)
            let slice = data[(data.startIndex + position)..<(data.startIndex + end)]
            backing = .data(data, position: end)
            return Data(slice)
        }
    }
}

extension TusError {
    /// An error about the file at `path`, with the system's reason when `error`
    /// carries one.
    package static func fileError(path: String, doing what: String, _ error: any Error) -> TusError {
        let nsError = error as NSError
        var reason = nsError.localizedDescription
        var code: TusError.Code = .io
        if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(posix.code)))
            if posix.code == Int(ENOENT) { code = .notFound }
        } else if nsError.domain == NSCocoaErrorDomain,
                  nsError.code == NSFileNoSuchFileError || nsError.code == NSFileReadNoSuchFileError {
            reason = "no such file"
            code = .notFound
        } else if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoPermissionError {
            reason = "permission denied"
        }
        return TusError(code, "\(what) \(path): \(reason)", cause: error)
    }
}
