public import Foundation
public import TusCore

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
/// this store's own field; tuspy ignores it. Other tables, unknown fields and
/// documents that are not entries are written back unchanged. A 0-byte or
/// missing file is an empty store.
///
/// ## Guarantees
/// - **Crash-safe.** Every change writes a temporary file beside the store,
///   `fsync`s it, renames it over the store and `fsync`s the folder. A crash
///   or `kill -9` at any instant leaves the old file or the new one, never a
///   torn one, and a change that returned is on disk.
/// - **Safe across processes.** Every read-modify-write holds an exclusive
///   `flock` on a sibling lock file, `<path>.lock`, which survives the rename;
///   a change waits up to `lockTimeout` for another holder.
///   Processes writing at once lose no entry. Reads take no lock and never
///   cache: each one reads the file as it is on disk, so it sees what other
///   processes wrote.
/// - **Private.** Upload URLs are bearer capabilities: the store and its lock
///   file are created with mode 0600 (an existing store keeps its mode), and
///   a missing parent folder is created with mode 0700.
/// - **Never overwrites what it cannot read.** A file that is not JSON, or not
///   TinyDB-shaped, makes every operation throw ``TusError/Code/corruptStore``
///   naming the file; the file is left as it is.
///
/// A tuspy process that has the file open keeps reading the file it opened:
/// TinyDB holds one handle for its lifetime, so it sees this store's changes
/// when it opens the file again.
public final class FileStorage: ListableStorage, @unchecked Sendable {
    /// The store's file, as an absolute path with symbolic links resolved.
    public let path: String

    private let lockPath: String
    private let temporaryPath: String
    private let lockTimeout: TimeInterval
    // Guards `lockDescriptor` and `isClosed`, and serialises the writes of
    // this instance: an flock does not exclude two threads that share one
    // descriptor.
    private let mutex = NSLock()
    private var lockDescriptor: Int32 = -1
    private var isClosed = false

    /// Opens the store in the file at `path`.
    ///
    /// Nothing is created until the first write. A leading `~` is the home
    /// folder, a relative path is resolved against the current directory, and
    /// a symbolic link to the store file is followed.
    ///
    /// - Parameters:
    ///   - path: The store's file.
    ///   - lockTimeout: How long a change waits for another process that
    ///     holds the lock before it throws ``TusError/Code/unavailable``.
    /// - Throws: ``TusError`` with ``TusError/Code/invalidArgument`` when
    ///   `path` is empty or names a directory.
    public init(path: String, lockTimeout: TimeInterval = 30) throws {
        let absolute = try FilePaths.storePath(path, kind: "a JSON store")
        self.path = absolute
        self.lockPath = absolute + ".lock"
        self.temporaryPath = absolute + ".tmp"
        self.lockTimeout = lockTimeout
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

    /// The URL stored under `key`, read from the file as it is on disk now.
    public func url(forKey key: String) async throws -> String? {
        try checkOpen()
        return try read().url(forKey: key)
    }

    /// Stores `url` under `key` with the present time, replacing the URL of
    /// every document stored under it, or adding a document at the highest
    /// id + 1.
    public func setURL(_ url: String, forKey key: String) async throws {
        let now = Date()
        try modify("store the URL of \(Self.shown(key))") { $0.setURL(url, forKey: key, at: now) }
    }

    /// Removes every document stored under `key`.
    public func removeURL(forKey key: String) async throws {
        _ = try modify("remove the URL of \(Self.shown(key))") { $0.removeURL(forKey: key) }
    }

    /// Releases the lock file's descriptor. Later calls throw
    /// ``TusError/Code/closed``.
    public func close() async throws {
        mutex.withLock {
            isClosed = true
            if lockDescriptor != -1 {
                _ = Foundation.close(lockDescriptor)
                lockDescriptor = -1
            }
        }
    }

    // MARK: ListableStorage

    /// Every document with a string `key` and `url`, in id order.
    public func entries() async throws -> [StoredUpload] {
        try checkOpen()
        return try read().entries.map { StoredUpload(key: $0.key, url: $0.url, storedAt: $0.storedAt) }
    }

    /// Stores `url` under `key` with `storedAt` as its time; `nil` leaves
    /// the entry without a `stored_at` field, as tuspy writes it.
    public func setURL(_ url: String, forKey key: String, storedAt: Date?) async throws {
        try modify("store the URL of \(Self.shown(key))") { $0.setURL(url, forKey: key, at: storedAt) }
    }

    /// Removes the entries whose `stored_at` is before `date`; entries with
    /// no `stored_at` (written by tuspy) are kept.
    @discardableResult
    public func removeEntries(storedBefore date: Date) async throws -> Int {
        try modify("remove old entries") { $0.removeEntries(storedBefore: date) }
    }

    // MARK: Reading and writing

    /// A key as messages show it: quoted, and cut when long.
    private static func shown(_ key: String) -> String {
        key.count <= 80 ? key.debugDescription : String(key.prefix(77)).debugDescription + "…"
    }

    private func checkOpen() throws {
        mutex.lock()
        defer { mutex.unlock() }
        if isClosed { throw TusError(.closed, "the JSON store \(path) is closed") }
    }

    /// The database as it is on disk now.
    private func read() throws -> TinyDBFile {
        let contents: Data
        do {
            let fd = try POSIX.open(path, O_RDONLY)
            defer { _ = Foundation.close(fd) }
            contents = try POSIX.readAll(fd)
        } catch let error where error.errno == ENOENT {
            return TinyDBFile()
        } catch {
            throw TusError(.io, "cannot read the JSON store \(path): \(error.reason)", cause: error)
        }
        do {
            return try TinyDBFile(contents: contents)
        } catch {
            throw TusError(.corruptStore, "cannot use the JSON store \(path): \(error.reason); it was left unchanged")
        }
    }

    /// Reads the database under the exclusive lock, applies `change`, and
    /// writes the result atomically when it differs.
    private func modify<Result>(_ operation: String, _ change: (inout TinyDBFile) -> Result) throws -> Result {
        mutex.lock()
        defer { mutex.unlock() }
        if isClosed { throw TusError(.closed, "the JSON store \(path) is closed") }
        let fd = try lockFile(operation)
        let locked: Bool
        do {
            locked = try POSIX.lockExclusively(fd, until: Date().addingTimeInterval(lockTimeout))
        } catch {
            throw TusError(.io, "cannot \(operation) in \(path): cannot lock \(lockPath): \(error.reason)", cause: error)
        }
        guard locked else {
            throw TusError(.unavailable, "cannot \(operation) in \(path): another process has held \(lockPath) for more than \(lockTimeout) s")
        }
        defer { POSIX.unlock(fd) }

        var database = try read()
        let before = database
        let result = change(&database)
        if database != before {
            try write(database, operation)
        }
        return result
    }

    /// The lock file's descriptor, opened (and created) on first use.
    private func lockFile(_ operation: String) throws -> Int32 {
        if lockDescriptor != -1 { return lockDescriptor }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FilePaths.makeDirectories(folder)
        } catch {
            throw TusError(.io, "cannot \(operation) in \(path): cannot create the folder \(folder): \(error.reason)", cause: error)
        }
        do {
            lockDescriptor = try POSIX.open(lockPath, O_RDWR | O_CREAT, 0o600)
        } catch {
            throw TusError(.io, "cannot \(operation) in \(path): cannot open the lock file \(lockPath): \(error.reason)", cause: error)
        }
        return lockDescriptor
    }

    /// Replaces the store file with `database`: temporary file, fsync, rename,
    /// fsync of the folder.
    private func write(_ database: TinyDBFile, _ operation: String) throws {
        let data = database.encoded()
        let mode = FilePaths.mode(ofFileAt: path) ?? 0o600
        do {
            let fd = try POSIX.open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            do {
                if fchmod(fd, mode) == -1 { throw SystemError(call: "fchmod", errno: errno) }
                try POSIX.writeAll(fd, data)
                try POSIX.fsync(fd)
                _ = Foundation.close(fd)
            } catch {
                _ = Foundation.close(fd)
                throw error
            }
            try POSIX.rename(temporaryPath, path)
        } catch let error as SystemError {
            unlink(temporaryPath)
            throw TusError(.io, "cannot \(operation) in \(path): \(error.reason)", cause: error)
        } catch {
            unlink(temporaryPath)
            throw TusError(.io, "cannot \(operation) in \(path): \(error)", cause: error)
        }
        // The rename is durable once the folder is synced. Some file systems
        // cannot fsync a folder; the data itself is already on disk then.
        let folder = (path as NSString).deletingLastPathComponent
        if let folderDescriptor = try? POSIX.open(folder, O_RDONLY) {
            _ = Foundation.fsync(folderDescriptor)
            _ = Foundation.close(folderDescriptor)
        }
    }
}
