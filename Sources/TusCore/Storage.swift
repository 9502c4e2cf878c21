public import Foundation

/// A place to keep the upload URL of each file, so that an interrupted upload
/// can be resumed later: by the same process, by another process, or on
/// another machine.
///
/// A store maps a *key* (usually a ``Fingerprint`` of the file's content) to
/// the upload URL the server handed out for that file. It is the Swift form of
/// tuspy's `Storage` interface (`get_item`, `set_item`, `remove_item`,
/// `close`).
///
/// ## Rules every conformance follows
/// - ``url(forKey:)`` returns `nil` when nothing is stored under the key; it
///   throws only when the store itself cannot be read.
/// - ``setURL(_:forKey:)`` inserts or replaces: after it returns, the key maps
///   to the new URL, and a later ``url(forKey:)`` — from this instance or from
///   another one reading the same backing store — returns it.
/// - ``removeURL(forKey:)`` does not throw when the key is absent.
/// - Keys and URLs are stored verbatim: any string is a valid key, and the
///   URL is never parsed or normalised. (The backends of this package also
///   compare keys byte for byte, not by Unicode equivalence.)
/// - Every method is safe to call from many tasks at once.
/// - ``close()`` releases what the store holds. A store that can no longer
///   answer afterwards throws ``TusError`` with code ``TusError/Code/closed``
///   (every backend of this package does); one that holds nothing may go on
///   answering. Calling `close()` twice is harmless.
///
/// `TusStorageTesting`'s conformance suite checks these rules against any
/// implementation.
///
/// ## Writing a backend
/// Three methods are enough; ``close()`` has a default that does nothing.
///
/// ```swift
/// actor DictionaryStorage: Storage {
///     private var urls: [String: String] = [:]
///     func url(forKey key: String) -> String? { urls[key] }
///     func setURL(_ url: String, forKey key: String) { urls[key] = url }
///     func removeURL(forKey key: String) { urls[key] = nil }
/// }
/// ```
public protocol Storage: Sendable {
    /// Returns the upload URL stored under `key`, or `nil` when there is none.
    ///
    /// - Throws: ``TusError`` when the store cannot be read (for example a
    ///   corrupt file or an unreachable server).
    func url(forKey key: String) async throws -> String?

    /// Stores `url` under `key`, replacing any URL stored there before.
    ///
    /// - Throws: ``TusError`` when the store cannot be written. Nothing already
    ///   stored is lost when this throws.
    func setURL(_ url: String, forKey key: String) async throws

    /// Removes the URL stored under `key`. Removing an absent key is not an
    /// error.
    func removeURL(forKey key: String) async throws

    /// Releases the resources the store holds (files, connections).
    ///
    /// The default implementation does nothing.
    func close() async throws
}

extension Storage {
    /// Does nothing: a store that holds no resources needs no closing.
    public func close() async throws {}
}

/// One entry of a ``ListableStorage``.
public struct StoredUpload: Sendable, Hashable {
    /// The key the URL is stored under, usually a file's fingerprint.
    public var key: String
    /// The upload URL, verbatim.
    public var url: String
    /// When the URL was stored (set or last replaced), or `nil` when the store
    /// does not know — for example an entry written by tuspy, which records no
    /// time.
    public var storedAt: Date?

    /// Creates an entry.
    public init(key: String, url: String, storedAt: Date? = nil) {
        self.key = key
        self.url = url
        self.storedAt = storedAt
    }
}

/// A ``Storage`` that can list its entries and remove the old ones.
///
/// Upload URLs expire on the server after a while, and a store that never
/// forgets grows forever (tuspy's does). Every backend this package ships
/// conforms, so `tus store list` and `tus store prune` work with all of them.
public protocol ListableStorage: Storage {
    /// Every entry in the store, in no promised order.
    func entries() async throws -> [StoredUpload]

    /// Stores `url` under `key` as if it had been stored at `storedAt`,
    /// replacing any URL stored there before.
    ///
    /// Copying entries from one store to another uses it, so that they keep
    /// their age. `nil` means the time is unknown; a backend that must record
    /// a time records the present one.
    func setURL(_ url: String, forKey key: String, storedAt: Date?) async throws

    /// Removes every entry stored strictly before `date` and returns how many
    /// were removed.
    ///
    /// Entries whose ``StoredUpload/storedAt`` is unknown are kept: their age
    /// cannot be told.
    @discardableResult
    func removeEntries(storedBefore date: Date) async throws -> Int
}

extension ListableStorage {
    /// Removes every entry stored more than `age` seconds ago and returns how
    /// many were removed.
    @discardableResult
    public func removeEntries(olderThan age: TimeInterval) async throws -> Int {
        try await removeEntries(storedBefore: Date().addingTimeInterval(-age))
    }
}

/// Runs `body` with `storage` and closes the store afterwards, whether `body`
/// returns or throws.
///
/// ```swift
/// let url = try await withStorage(try FileStorage(path: "uploads.json")) { store in
///     try await store.url(forKey: key)
/// }
/// ```
public func withStorage<S: Storage, Result: Sendable>(
    _ storage: S,
    _ body: (S) async throws -> Result
) async throws -> Result {
    let result: Result
    do {
        result = try await body(storage)
    } catch {
        try? await storage.close()
        throw error
    }
    try await storage.close()
    return result
}
