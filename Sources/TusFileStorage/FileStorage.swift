public import Foundation
public import TusCore
public import Logging
import TusStoreSupport
import TusThreads

/// The JSON-file store: upload URLs in one file, in the TinyDB format tuspy's
/// `FileStorage` uses, so that Python and Swift processes can share it.
///
/// ```swift
/// let store = try FileStorage(path: "/var/lib/uploader/uploads.json")
/// try await store.setURL("https://tus.example/files/24e5", forKey: key)
/// let url = try await store.url(forKey: key)
/// try await store.close()
/// ```
///
/// ## Format
/// `{"_default": {"1": {"key": K, "url": U, "stored_at": T}, ...}}`, TinyDB's
/// layout with string ids: a new entry takes the highest id + 1, and setting a
/// stored key replaces its `url` in place. `stored_at` (seconds since 1970) is
/// this store's own field; tuspy ignores it. A change rewrites only the
/// document it changes, adds or removes: other tables, unknown fields and
/// documents that are not entries are kept byte for byte, so numbers no
/// machine type holds and the file's own layout survive. New text is what
/// Python's `json.dumps` writes (`", "` and `": "` between items, every
/// character outside printable ASCII escaped), as TinyDB writes the file. A
/// 0-byte or missing file is an empty store.
///
/// The file must be JSON (RFC 8259, in UTF-8, at most 512 levels of
/// nesting; a leading byte-order mark is allowed and dropped by the next
/// change) and TinyDB-shaped: an object of tables that are objects, whose
/// `_default` table holds objects, appears once, has no id twice, and has no
/// document with `key`, `url` or `stored_at` twice.
///
/// ## Guarantees
/// - **Crash-safe.** Every change writes a temporary file beside the store,
///   `fsync`s it, renames it over the store and `fsync`s the folder. A crash
///   or `kill -9` at any instant leaves the old file or the new one, never a
///   torn one, and a change that returned is on disk.
/// - **Safe in a shared folder.** The temporary file is new for each change,
///   `.<name>.<16 random hex digits>.tmp` in the store's folder, created
///   with `O_CREAT | O_EXCL | O_NOFOLLOW`: a file or symbolic link planted
///   under any name is never opened, followed or overwritten. One left by a
///   killed writer is removed by a later change once it is an hour old;
///   only regular files of that pattern are removed, never a link.
/// - **Safe across processes.** Every read-modify-write holds an exclusive
///   `flock` on a sibling lock file, `<path>.lock`, which survives the rename;
///   a change waits up to `lockTimeout` for another holder.
///   Processes writing at once lose no entry.
/// - **Reads see other processes' writes.** Reads take no lock. Each read
///   `stat`s the file, and answers from what the last read or write of this
///   instance found only when the file's identity (device and inode), size,
///   modification time and status-change time are the ones found then, and
///   those times were already older than that read by the clock that file
///   systems stamp changes with. Otherwise it reads the file again; when the
///   bytes are the ones known, their last scan is reused. Every change to a
///   file stamps its status-change time with that clock, and no program can
///   set it back, so a read sees every change made before it began, even one
///   that keeps the size and restores the modification time within the same
///   tick of the clock. On a file system that is not known to be local
///   (NFS, SMB, FUSE, …), whose stamps come from another clock, every read
///   reads the file.
/// - **Private.** Upload URLs are bearer capabilities: the store and its lock
///   file are created with mode 0600 (an existing store keeps its mode), and
///   a missing parent folder is created with mode 0700.
/// - **A full or read-only disk loses nothing.** A change that the file
///   system refuses (`ENOSPC`, `EDQUOT`, `EROFS`) throws `TusError.Code.io`
///   saying that the disk is full or read-only and naming the file; the store
///   file is left as it was, and reads go on working.
/// - **Never overwrites what it cannot read.** A file that is not JSON, or not
///   TinyDB-shaped, makes every operation throw `TusError.Code.corruptStore`
///   naming the file; the file is left as it is.
///
/// ## Cost
/// A read of a file that has not changed costs one `stat` and a hash lookup.
/// Otherwise every operation is linear in the file's size: a read of a
/// changed file reads it and scans it (or compares it with the bytes
/// known), and a change reads it, copies it with the change spliced in and
/// writes the copy.
///
/// tuspy writes the file in place: a read that overlaps such a write may find
/// it half-written, as any reader of the file may; tuspy's closing truncate
/// stamps the file again, so the next read finds the finished file. A tuspy
/// process that has the file open keeps reading the file it opened: TinyDB
/// holds one handle for its lifetime, so it sees this store's changes when it
/// opens the file again.
///
/// ## Threads
/// No call blocks the thread of its caller. Each instance has two threads of
/// its own, started on first use: one runs the changes, one at a time and
/// in the order they were called, with their `flock` waits, writes and
/// `fsync`s; the other runs the reads, which never wait for a change. The
/// calling task is suspended meanwhile, so the threads of Swift
/// concurrency's pool stay free for other tasks. A read of a file on a
/// local disk that has not changed since the store last read or wrote it
/// is answered on the caller's thread: one `stat` and a lookup. A call whose task is
/// cancelled still runs to its end and returns its result. ``close()`` ends
/// both threads.
public final class FileStorage: ListableStorage, @unchecked Sendable {
    /// The store's file, as an absolute path with symbolic links resolved.
    public let path: String

    private let lockPath: String
    private let temporaryFiles: TemporaryFiles
    private let lockTimeout: TimeInterval
    /// Where the store logs its lock waits, at `debug`.
    private let logger: Logger
    // Runs the changes, one at a time (an flock does not exclude two threads
    // that share one descriptor); only its thread touches `lockDescriptor`.
    private let writer = ThreadExecutor(name: "tus-json-write")
    private var lockDescriptor: Int32 = -1
    // Runs the reads, so that a read never waits for a change in progress.
    private let reader = ThreadExecutor(name: "tus-json-read")
    // Guards `isClosed` and `snapshot`; held only for moments.
    private let stateMutex = NSLock()
    private var isClosed = false
    // The file as last read or written, with its signature.
    private var snapshot: Snapshot?

    /// Opens the store in the file at `path`.
    ///
    /// Nothing is created until the first write. A leading `~` is the home
    /// folder, a relative path is resolved against the current directory, and
    /// a symbolic link to the store file is followed.
    ///
    /// - Parameters:
    ///   - path: The store's file.
    ///   - lockTimeout: How long a change waits for another process that
    ///     holds the lock before it throws `TusError.Code.unavailable`.
    ///   - logger: Where the store logs, at `debug`: a change that waits
    ///     for another process's lock, and how long it waited. Nil (the
    ///     default) is the creating task's `Logger.current`.
    /// - Throws: `TusError` with `TusError.Code.invalidArgument` when
    ///   `path` is empty or names a directory.
    public init(path: String, lockTimeout: TimeInterval = 30, logger: Logger? = nil) throws {
        let absolute = try FilePaths.storePath(path, kind: "a JSON store")
        self.path = absolute
        self.lockPath = absolute + ".lock"
        self.temporaryFiles = TemporaryFiles(storePath: absolute)
        self.lockTimeout = lockTimeout
        self.logger = logger ?? Logger.current
    }

    /// Seconds since `start`, to the millisecond, for log lines.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let (whole, fraction) = (ContinuousClock.now - start).components
        return ((Double(whole) + Double(fraction) / 1e18) * 1000).rounded() / 1000
    }

    /// Opens the store in the file at `url`.
    public convenience init(url: URL) throws {
        try self.init(path: url.path)
    }

    deinit {
        if lockDescriptor != -1 { _ = Foundation.close(lockDescriptor) }
    }

    /// Where the `tus` tool keeps its store when none is named:
    /// `$XDG_STATE_HOME/tus/uploads.json`, or
    /// `~/.local/state/tus/uploads.json` when `XDG_STATE_HOME` is unset.
    public static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        let base: String
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            base = state
        } else {
            let home = environment["HOME"] ?? NSHomeDirectory()
            base = (home as NSString).appendingPathComponent(".local/state")
        }
        return (base as NSString).appendingPathComponent("tus/uploads.json")
    }

    // MARK: Storage

    /// The URL stored under `key`, as the file on disk holds it now.
    public func url(forKey key: String) async throws -> String? {
        if let answer = answerFromSnapshot(key) { return answer }
        return try await reader.run({ [self] in
            try checkOpen()
            let current = try currentSnapshot()
            return current.bytes.withUnsafeBytes { current.index.url(forKey: key, in: $0) }
        }, ifStopped: closedError)
    }

    /// Stores `url` under `key` with the present time, replacing the URL of
    /// every document stored under it, or adding a document at the highest
    /// id + 1.
    public func setURL(_ url: String, forKey key: String) async throws {
        let now = Date()
        try await writer.run({ [self] in try setURL(url, forKey: key, at: now) }, ifStopped: closedError)
    }

    /// Removes every document stored under `key`.
    public func removeURL(forKey key: String) async throws {
        try await writer.run({ [self] in
            _ = try modify("remove the URL of \(Self.shown(key))") { index, file throws(FormatError) in
                try index.removingURL(forKey: key, in: file)
            }
        }, ifStopped: closedError)
    }

    /// Releases the lock file's descriptor, after the changes already called
    /// have run, and ends the store's threads. Later calls throw
    /// `TusError.Code.closed`.
    public func close() async throws {
        _ = try await writer.finish { [self] in
            stateMutex.withLock {
                isClosed = true
                snapshot = nil
            }
            if lockDescriptor != -1 {
                _ = Foundation.close(lockDescriptor)
                lockDescriptor = -1
            }
        }
        await reader.stop()
    }

    // MARK: ListableStorage

    /// Every document with a string `key` and `url`, in id order.
    public func entries() async throws -> [StoredUpload] {
        try await reader.run({ [self] in
            try checkOpen()
            let current = try currentSnapshot()
            return current.bytes.withUnsafeBytes { file in
                current.index.entries(in: file).map { StoredUpload(key: $0.key, url: $0.url, storedAt: $0.storedAt) }
            }
        }, ifStopped: closedError)
    }

    /// Stores `url` under `key` with `storedAt` as its time; `nil` leaves
    /// the entry without a `stored_at` field, as tuspy writes it.
    public func setURL(_ url: String, forKey key: String, storedAt: Date?) async throws {
        try await writer.run({ [self] in try setURL(url, forKey: key, at: storedAt) }, ifStopped: closedError)
    }

    /// Removes the entries whose `stored_at` is before `date`; entries with
    /// no `stored_at` (written by tuspy) are kept.
    @discardableResult
    public func removeEntries(storedBefore date: Date) async throws -> Int {
        let cutoff = date.timeIntervalSince1970
        return try await writer.run({ [self] in
            try modify("remove old entries") { index, file throws(FormatError) in
                try index.removingEntries(storedBefore: cutoff, in: file)
            }
        }, ifStopped: closedError)
    }

    // MARK: Reading and writing

    /// A key as messages show it: quoted, and cut when long.
    private static func shown(_ key: String) -> String {
        key.count <= 80 ? key.debugDescription : String(key.prefix(77)).debugDescription + "…"
    }

    private func checkOpen() throws {
        let closed = stateMutex.withLock { isClosed }
        if closed { throw closedError() }
    }

    private func closedError() -> any Error {
        TusError(.closed, "the JSON store \(path) is closed")
    }

    /// The error for a system call that failed while doing `operation`:
    /// one that says so when the disk is full or read-only.
    private func failure(_ operation: String, _ error: SystemError, _ detail: String = "", advice: String = "") -> TusError {
        if let problem = UnwritableDisk(errno: error.errno) {
            return TusError(.io, "cannot \(operation) in \(path): \(problem.explanation); the store was left unchanged", cause: error)
        }
        return TusError(.io, "cannot \(operation) in \(path): \(detail)\(error.reason)\(advice)", cause: error)
    }

    /// Stores `url` with `date` kept to the millisecond.
    private func setURL(_ url: String, forKey key: String, at date: Date?) throws {
        let operation = "store the URL of \(Self.shown(key))"
        let stamp = date.map { ($0.timeIntervalSince1970 * 1000).rounded() / 1000 }
        if let stamp, !stamp.isFinite {
            throw TusError(.invalidArgument, "cannot \(operation) in \(path): the time \(date!) is out of range")
        }
        _ = try modify(operation) { index, file throws(FormatError) in
            (try index.settingURL(url, forKey: key, storedAt: stamp, in: file), 0)
        }
    }

    /// The URL under `key` (`.some(nil)` when there is none) from the
    /// snapshot read last, when the file on a local disk has not changed
    /// since: one `stat` on the caller's thread, which waits for no lock and
    /// no writer. Nil when the file must be read, on the reader's thread.
    private func answerFromSnapshot(_ key: String) -> String?? {
        guard let known = stateMutex.withLock({ isClosed ? nil : snapshot }), known.isTrusted,
              let info = try? POSIX.status(path), known.signature == FileSignature(info), !POSIX.isDirectory(info)
        else { return nil }
        return .some(known.bytes.withUnsafeBytes { known.index.url(forKey: key, in: $0) })
    }

    /// The file as it is on disk now.
    ///
    /// One `stat`: when the file's signature is the one of the last read or
    /// write, and the file was older than that read, its bytes cannot have
    /// changed and the last index is used. Otherwise the file is read; when
    /// its bytes are the ones known, their index is reused, else they are
    /// scanned.
    private func currentSnapshot() throws -> Snapshot {
        let readAt = FileClock.now()
        let info: stat
        do {
            guard let found = try POSIX.status(path) else { return .missing }
            info = found
        } catch {
            throw TusError(.io, "cannot read the JSON store \(path): \(error.reason)", cause: error)
        }
        let known = stateMutex.withLock { snapshot }
        if let known, known.isTrusted, known.signature == FileSignature(info), !POSIX.isDirectory(info) {
            return known
        }
        return try read(readAt: readAt, known: known)
    }

    /// Reads the file, reusing `known` when its bytes are the same.
    private func read(readAt: Int, known: Snapshot?) throws -> Snapshot {
        let signature: FileSignature
        let contents: POSIX.Contents
        do throws(SystemError) {
            let fd = try POSIX.open(path, O_RDONLY)
            defer { _ = Foundation.close(fd) }
            let info = try POSIX.status(fd)
            if POSIX.isDirectory(info) { throw SystemError(call: "read", errno: EISDIR) }
            signature = FileSignature(info)
            contents = try POSIX.readAll(fd, size: Int(info.st_size), comparingWith: known?.bytes)
        } catch let error where error.errno == ENOENT {
            return .missing
        } catch {
            throw TusError(.io, "cannot read the JSON store \(path): \(error.reason)", cause: error)
        }
        let settled = FileClock.isSettled(signature, readAt: readAt)
            && FileSystems.isLocal(device: signature.device, path: path)
        let current: Snapshot
        switch contents {
        case .same:
            current = Snapshot(bytes: known!.bytes, index: known!.index, signature: signature, isTrusted: settled)
        case .bytes(let bytes):
            do throws(FormatError) {
                let index = try bytes.withBytes { (file) throws(FormatError) in try TinyDBParser.index(file) }
                current = Snapshot(bytes: bytes, index: index, signature: signature, isTrusted: settled)
            } catch {
                throw TusError(.corruptStore, "cannot use the JSON store \(path): \(error.reason); it was left unchanged")
            }
        }
        stateMutex.withLock { snapshot = current }
        return current
    }

    /// Under the exclusive lock, reads the file, works out `change`, and
    /// writes the result atomically when there is one. Runs on `writer`'s
    /// thread only.
    private func modify<Result>(
        _ operation: String,
        _ change: (TinyDBIndex, UnsafeRawBufferPointer) throws(FormatError) -> (TinyDBChange?, Result)
    ) throws -> Result {
        try checkOpen()
        let fd = try lockFile(operation)
        let locked: Bool
        do {
            let started = ContinuousClock.now
            var waited = false
            locked = try POSIX.lockExclusively(fd, until: Date().addingTimeInterval(lockTimeout)) {
                waited = true
                logger.debug("waiting for the store's lock", metadata: [
                    "tus.store.backend": "FileStorage", "tus.store.path": "\(path)", "tus.store.operation": "\(operation)",
                ])
            }
            if waited {
                logger.debug(locked ? "took the store's lock" : "gave up waiting for the store's lock", metadata: [
                    "tus.store.backend": "FileStorage", "tus.store.path": "\(path)", "tus.store.operation": "\(operation)",
                    "tus.store.seconds": "\(Self.seconds(since: started))",
                ])
            }
        } catch {
            throw TusError(.io, "cannot \(operation) in \(path): cannot lock \(lockPath): \(error.reason)", cause: error)
        }
        guard locked else {
            throw TusError(.unavailable, "cannot \(operation) in \(path): another process has held \(lockPath) for more than \(lockTimeout) s")
        }
        defer { POSIX.unlock(fd) }

        let current = try currentSnapshot()
        let (changed, result): (TinyDBChange?, Result)
        do throws(FormatError) {
            (changed, result) = try current.bytes.withBytes { (file) throws(FormatError) in try change(current.index, file) }
        } catch {
            throw TusError(.corruptStore, "cannot \(operation) in \(path): \(error.reason); it was left unchanged")
        }
        if let changed {
            let signature = try write(changed.bytes, operation)
            // Stamped after `readAt` of any read: never trusted until read
            // again once the stamping clock has moved on.
            let written = Snapshot(bytes: changed.bytes, index: changed.index, signature: signature, isTrusted: false)
            stateMutex.withLock { snapshot = written }
        }
        return result
    }

    /// A new temporary file beside the store, or the error that says why
    /// there is none and what to do.
    func createTemporaryFile(_ operation: String, using random: inout some RandomNumberGenerator) throws -> TemporaryFiles.Created {
        do throws(TemporaryFiles.Failure) {
            return try temporaryFiles.create(using: &random)
        } catch {
            switch error {
            case .namesTaken(let last):
                throw TusError(
                    .io,
                    "cannot \(operation) in \(path): cannot create a temporary file in \(temporaryFiles.folder): "
                        + "the \(TemporaryFiles.attempts) random names tried, such as \(last), were all taken; "
                        + "remove the files named \(temporaryFiles.pattern) there and try again; the store was left unchanged",
                    cause: SystemError(call: "open", errno: EEXIST)
                )
            case .system(let cause, let temporary):
                let advice = cause.errno == EACCES || cause.errno == EPERM
                    ? "; a change needs to create files in \(temporaryFiles.folder), so make it writable for this user"
                        + " or move the store; the store was left unchanged"
                    : ""
                throw failure(operation, cause, "cannot create the temporary file \(temporary): ", advice: advice)
            }
        }
    }

    /// The lock file's descriptor, opened (and created) on first use.
    private func lockFile(_ operation: String) throws -> Int32 {
        if lockDescriptor != -1 { return lockDescriptor }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FilePaths.makeDirectories(folder)
        } catch {
            throw failure(operation, error, "cannot create the folder \(folder): ")
        }
        do {
            lockDescriptor = try POSIX.open(lockPath, O_RDWR | O_CREAT, 0o600)
        } catch {
            throw failure(operation, error, "cannot open the lock file \(lockPath): ")
        }
        return lockDescriptor
    }

    /// Replaces the store file with `bytes`: a new temporary file (see
    /// `TemporaryFiles`), fsync, rename, fsync of the folder. Returns the
    /// new file's signature. Removes stale temporary files first.
    private func write(_ bytes: [UInt8], _ operation: String) throws -> FileSignature {
        let mode = FilePaths.mode(ofFileAt: path) ?? 0o600
        temporaryFiles.removeStale()
        var random = SystemRandomNumberGenerator()
        let temporary = try createTemporaryFile(operation, using: &random)
        let fd = temporary.descriptor
        defer { _ = Foundation.close(fd) }
        let signature: FileSignature
        do throws(SystemError) {
            if fchmod(fd, mode) == -1 { throw SystemError(call: "fchmod", errno: errno) }
            try POSIX.writeAll(fd, bytes)
            try POSIX.fsync(fd)
            try POSIX.rename(temporary.path, path)
            signature = FileSignature(try POSIX.status(fd))
        } catch {
            // The file was created by this change, under a name no one else
            // could know; unlink never follows a link.
            unlink(temporary.path)
            throw failure(operation, error)
        }
        // The rename is durable once the folder is synced. Some file systems
        // cannot fsync a folder; the data itself is already on disk then.
        let folder = (path as NSString).deletingLastPathComponent
        if let folderDescriptor = try? POSIX.open(folder, O_RDONLY) {
            _ = Foundation.fsync(folderDescriptor)
            _ = Foundation.close(folderDescriptor)
        }
        return signature
    }
}
