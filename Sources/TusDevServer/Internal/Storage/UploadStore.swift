import TusProtocol
import Foundation
import Logging
import TusCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The uploads of one server: a data file (`<id>.bin`) and a JSON info file
/// (`<id>.info`) per upload in one directory, with an in-memory cache, the
/// uploads a request holds (``UploadHolds``), and the uploads that expired.
///
/// Every method is thread-safe. The info file holds what a `PATCH` does not
/// change (length, metadata, creation date, the upload's part in a
/// concatenation, the draft's interop version and completeness for an
/// upload the IETF draft made) and is written when an upload is created,
/// its deferred length is declared or a draft upload is completed; a
/// `PATCH` only writes the data file otherwise. When an upload is
/// loaded from disk (after a restart), the data file's size is its offset,
/// and its modification time plus the expiration its last change.
final class UploadStore: Sendable {
    /// The persisted state of one upload.
    struct Record: Sendable {
        var id: String
        var length: Int64?
        var offset: Int64
        var rawMetadata: String?
        var createdAt: Date
        var expiresAt: Date?
        /// `nil` for an ordinary upload.
        var concat: Concat? = nil
        /// `nil` for an upload tus 1.0 made.
        var draft: DraftState? = nil

        /// Whether every byte is in: for tus, the offset has reached the
        /// length; for the draft, a request with `Upload-Complete: ?1` was
        /// processed whole, since there the offset may reach the length of
        /// an upload still incomplete (draft -12 §4.1.2, §4.1.3).
        var isComplete: Bool {
            if let draft { return draft.complete }
            return length.map { offset == $0 } ?? false
        }
        var isPartial: Bool { concat == .partial }
        var isFinal: Bool {
            if case .final = concat { return true }
            return false
        }
    }

    /// What the store keeps of an upload the IETF draft made.
    struct DraftState: Equatable, Sendable {
        /// The interop version of the request that created it.
        var interopVersion: DraftInteropVersion
        /// Whether a request with `Upload-Complete: ?1` was processed
        /// whole; from then on no byte may be appended.
        var complete = false
    }

    /// An upload's part in a concatenation.
    enum Concat: Equatable, Sendable {
        /// Created with `Upload-Concat: partial`.
        case partial
        /// Made by joining `parts`, in order.
        case final([Part])

        /// The `Upload-Concat` value a `HEAD` answers: `partial`, or
        /// `final;` and the parts' URLs as the client gave them.
        var header: UploadConcat {
            switch self {
            case .partial: .partial
            case .final(let parts): .final(parts.map(\.url))
            }
        }
    }

    /// One part of a final upload.
    struct Part: Codable, Equatable, Sendable {
        /// The part's upload id.
        var id: String
        /// The part's URL as the final `POST` named it.
        var url: String
    }

    /// What a look-up found.
    enum Lookup {
        case found(Record)
        case notFound
        case gone
        case busy
    }

    private struct State {
        var records: [String: Record] = [:]
        var holds = UploadHolds()
        var expired: Set<String> = []
    }

    let directory: URL
    /// `directory`'s path with a trailing slash, to build file paths from
    /// (`URL.appendingPathComponent` asks the file system whether a name is a
    /// folder).
    private let prefix: String
    let expiration: TimeInterval?
    /// What time it is, for creation and expiry (the configuration's clock).
    let clock: @Sendable () -> Date
    private let logger: Logger
    private let state = Locked(State())

    init(directory: URL, expiration: TimeInterval?, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }) throws {
        self.clock = clock
        self.directory = directory
        let path = directory.path
        prefix = path.hasSuffix("/") ? path : path + "/"
        self.expiration = expiration
        self.logger = logger
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw TusError(.invalidArgument, "cannot keep uploads in \(directory.path): it is a file, not a folder")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TusError(.io, "cannot create upload directory \(directory.path): \((error as NSError).localizedDescription)", cause: error)
        }
    }

    /// Whether `id` can name an upload: 1 to 128 of `A-Z a-z 0-9 _ -`. Keeps
    /// request paths from reaching files outside the directory.
    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128
            && id.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95
            }
    }

    /// A fresh random id: 32 hex digits.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next() as UInt64
        let b = generator.next() as UInt64
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(a) + hex(b)
    }

    func dataPath(_ id: String) -> String { prefix + id + ".bin" }
    private func infoPath(_ id: String) -> String { prefix + id + ".info" }

    // MARK: Operations

    /// Creates an empty upload (a partial one with `partial`, a draft one
    /// with `draft`) and persists it.
    func create(
        length: Int64?, rawMetadata: String?, partial: Bool = false, draft: DraftInteropVersion? = nil,
        now given: Date? = nil
    ) throws -> Record {
        let now = given ?? clock()
        var record = Record(
            id: Self.newID(), length: length, offset: 0, rawMetadata: rawMetadata, createdAt: now,
            expiresAt: nil, concat: partial ? .partial : nil, draft: draft.map { DraftState(interopVersion: $0) })
        if !record.isComplete, let expiration { record.expiresAt = now.addingTimeInterval(expiration) }
        let path = dataPath(record.id)
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TusError(.io, "cannot create upload data file \(path)")
        }
        try save(record)
        state.withLock { $0.records[record.id] = record }
        return record
    }

    /// Creates a final upload holding the bytes of `parts` one after the
    /// other, and persists it.
    ///
    /// Each part's first `length` bytes are copied from its data file, a
    /// buffer at a time (no part is held in memory). The caller holds every
    /// part (``acquire(_:for:now:)``) so none changes or goes away meanwhile, and
    /// lets them go afterwards. The new upload is known (and its info file
    /// written) only once its data is complete: until then no request can
    /// reach it, and a server stopped halfway leaves a data file and no
    /// upload.
    func createFinal(parts: [(part: Part, length: Int64)], rawMetadata: String?, now given: Date? = nil) throws -> Record {
        let now = given ?? clock()
        let id = Self.newID()
        let path = dataPath(id)
        var total: Int64 = 0
        do {
            let file = try DataFile(path: path, truncating: true)
            defer { file.close() }
            for (part, length) in parts {
                try file.copy(length, bytesFrom: dataPath(part.id), at: total)
                total += length
            }
            let record = Record(
                id: id, length: total, offset: total, rawMetadata: rawMetadata, createdAt: now, expiresAt: nil,
                concat: .final(parts.map { $0.part }))
            try save(record)
            state.withLock { $0.records[id] = record }
            return record
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    /// The upload `id`, expiring it first if its time is up.
    func lookup(_ id: String, now given: Date? = nil) -> Lookup {
        let now = given ?? clock()
        return state.withLock { state in lookupLocked(id, now: now, state: &state) }
    }

    /// Holds `id` for one request, to write to it or to join it into a
    /// final upload. `.busy` if another request holds it.
    func acquire(_ id: String, for purpose: UploadHolds.Purpose, now given: Date? = nil) -> Lookup {
        let now = given ?? clock()
        return state.withLock { state in
            let found = lookupLocked(id, now: now, state: &state)
            guard case .found = found else { return found }
            guard state.holds.take(id, for: purpose) else { return .busy }
            return found
        }
    }

    /// Ends the hold taken by ``acquire(_:for:now:)``, and wakes the
    /// requests waiting for it.
    func release(_ id: String) {
        let waiters = state.withLock { $0.holds.release(id) }
        for wake in waiters { wake() }
    }

    /// Whether a request holds `id` (for `purpose`, if given).
    func isHeld(_ id: String, for purpose: UploadHolds.Purpose? = nil) -> Bool {
        state.withLock { $0.holds.isHeld(id, for: purpose) }
    }

    /// A newer request wants `id`: its holder is asked to stop (at once, or
    /// as soon as it says how), and `wake` is called, on the thread that
    /// lets go, when the hold ends. `false` if nobody holds `id`: there is
    /// nothing to wait for, and `wake` is not called. See
    /// ``UploadHolds/askToLetGo(_:wake:)``.
    func askToLetGo(_ id: String, wake: @escaping UploadHolds.Callback) -> Bool {
        switch state.withLock({ $0.holds.askToLetGo(id, wake: wake) }) {
        case .notHeld:
            return false
        case .waiting(let stop):
            stop?()
            return true
        }
    }

    /// The request holding `id` to write to it says how to stop it; `stop`
    /// is called (from any thread) when a newer request asks, or now if one
    /// asked already.
    func onStopRequest(_ id: String, _ stop: @escaping UploadHolds.Callback) {
        let now = state.withLock { $0.holds.onStopRequest(id, stop) }
        now?()
    }

    /// Changes the cached record of `id` (no disk write).
    func update(_ id: String, _ change: (inout Record) -> Void) {
        state.withLock { state in
            if var record = state.records[id] {
                change(&record)
                state.records[id] = record
            }
        }
    }

    /// Writes the cached record's length, metadata and creation date to its
    /// info file (its offset and expiry are kept by the data file).
    func persist(_ id: String) {
        guard let record = state.withLock({ $0.records[id] }) else { return }
        do {
            try save(record)
        } catch {
            logger.error("\(error)")
        }
    }

    /// Deletes `id`'s files. `.found` with the deleted record on success.
    func delete(_ id: String, now given: Date? = nil) -> Lookup {
        let now = given ?? clock()
        return state.withLock { state in
            let found = lookupLocked(id, now: now, state: &state)
            guard case .found = found else { return found }
            if state.holds.isHeld(id) { return .busy }
            removeFiles(id)
            state.records[id] = nil
            return found
        }
    }

    // MARK: Internals

    private func lookupLocked(_ id: String, now: Date, state: inout State) -> Lookup {
        guard Self.isValidID(id) else { return .notFound }
        if state.expired.contains(id) { return .gone }
        var record: Record
        if let cached = state.records[id] {
            record = cached
        } else if let loaded = load(id) {
            record = loaded
            state.records[id] = loaded
        } else {
            return .notFound
        }
        if let expiresAt = record.expiresAt, !record.isComplete, !state.holds.isHeld(id), expiresAt <= now {
            removeFiles(id)
            state.records[id] = nil
            state.expired.insert(id)
            return .gone
        }
        if record.isComplete { record.expiresAt = nil }
        return .found(record)
    }

    private func load(_ id: String) -> Record? {
        guard let data = FileManager.default.contents(atPath: infoPath(id)) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard let info = try? decoder.decode(InfoFile.self, from: data), info.id == id else {
            logger.error("ignoring unreadable upload info file \(infoPath(id))")
            return nil
        }
        var record = Record(
            id: id, length: info.length, offset: 0, rawMetadata: info.rawMetadata, createdAt: info.createdAt,
            expiresAt: nil)
        switch info.concat {
        case nil:
            break
        case let concat? where concat.kind == "partial":
            record.concat = .partial
        case let concat? where concat.kind == "final" && concat.parts != nil:
            record.concat = .final(concat.parts ?? [])
        case let concat?:
            logger.error("ignoring upload info file \(infoPath(id)): unknown concat kind '\(concat.kind)'")
            return nil
        }
        if let draft = info.draft {
            guard let version = DraftInteropVersion(rawValue: draft.interopVersion) else {
                logger.error(
                    "ignoring upload info file \(infoPath(id)): draft interop version \(draft.interopVersion) is not spoken here")
                return nil
            }
            record.draft = DraftState(interopVersion: version, complete: draft.complete)
        }
        var status = stat()
        if stat(dataPath(id), &status) == 0 {
            let size = Int64(status.st_size)
            record.offset = min(size, record.length ?? size)
            if let expiration {
                // On the configuration's clock, as the PATCH that wrote it.
                record.expiresAt = Self.modificationDate(status).addingTimeInterval(expiration + clock().timeIntervalSinceNow)
            }
        } else if let expiration {
            record.expiresAt = info.createdAt.addingTimeInterval(expiration)
        }
        return record
    }

    /// The modification time `stat` reported.
    static func modificationDate(_ status: stat) -> Date {
        #if canImport(Darwin)
        let time = status.st_mtimespec
        #else
        let time = status.st_mtim
        #endif
        return Date(timeIntervalSince1970: TimeInterval(time.tv_sec) + TimeInterval(time.tv_nsec) / 1e9)
    }

    /// What an info file holds. Files written by earlier versions also hold
    /// `offset` and `expiresAt`, which are ignored: the data file is the
    /// truth about both. Those without `concat` are ordinary uploads, those
    /// without `draft` tus ones.
    private struct InfoFile: Codable {
        var id: String
        var length: Int64?
        var rawMetadata: String?
        var createdAt: Date
        /// `{"kind": "partial"}`, or `{"kind": "final", "parts": [{"id":
        /// …, "url": …}, …]}`; absent for an ordinary upload.
        var concat: ConcatInfo?
        /// `{"interopVersion": 8, "complete": false}` for an upload the
        /// IETF draft made; absent for a tus one.
        var draft: DraftInfo?
    }

    private struct DraftInfo: Codable {
        var interopVersion: Int
        var complete: Bool
    }

    private struct ConcatInfo: Codable {
        var kind: String
        var parts: [Part]?

        init(_ concat: Concat) {
            switch concat {
            case .partial:
                kind = "partial"
            case .final(let parts):
                kind = "final"
                self.parts = parts
            }
        }
    }

    /// Replaces the info file: written beside it, then renamed over it, so a
    /// reader sees the old file or the new one. Not flushed to disk (no
    /// `fsync`), like the data. Called when an upload is created (a final
    /// one once its data is joined) and when its deferred length is
    /// declared, and when a draft upload is completed; never for a plain
    /// `PATCH`.
    private func save(_ record: Record) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        let destination = infoPath(record.id)
        let temporary = prefix + "." + record.id + ".info.new"
        let bytes: Data
        do {
            bytes = try encoder.encode(
                InfoFile(
                    id: record.id, length: record.length, rawMetadata: record.rawMetadata, createdAt: record.createdAt,
                    concat: record.concat.map(ConcatInfo.init),
                    draft: record.draft.map { DraftInfo(interopVersion: $0.interopVersion.rawValue, complete: $0.complete) }))
        } catch {
            throw TusError(.io, "cannot encode upload info for \(destination)", cause: error)
        }
        do {
            let file = try DataFile(path: temporary, truncating: true)
            defer { file.close() }
            try bytes.withUnsafeBytes { try file.write($0, at: 0) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        guard rename(temporary, destination) == 0 else {
            let error = SystemError(call: "rename", errno: errno)
            try? FileManager.default.removeItem(atPath: temporary)
            throw TusError(.io, "cannot replace upload info file \(destination)", cause: error)
        }
    }

    private func removeFiles(_ id: String) {
        try? FileManager.default.removeItem(atPath: dataPath(id))
        try? FileManager.default.removeItem(atPath: infoPath(id))
    }
}
