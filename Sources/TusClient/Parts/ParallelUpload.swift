import Foundation
import NIOHTTP1
import Tracing
import TusCore
import TusProtocol

/// A file uploaded in parts at once, each a partial upload on its own
/// connection, then joined on the server with a final upload (the
/// concatenation extension).
///
/// Every part is a ``TusUploader`` over a range of the file, with the same
/// request sizes, stall detection and retries as a whole upload. The parts'
/// URLs and ranges are kept in the store under ``partsKey(for:)`` as a JSON
/// list, each written as soon as the server has created its part, so a later run
/// asks the server (HEAD) about each and goes on from its own offset; a part
/// the server has forgotten is created again alone. Once the final upload
/// exists its URL is stored under the file's key and the parts' entry is
/// removed.
final class ParallelUpload: @unchecked Sendable {
    /// A part as stored: its URL once created, and its range of the file.
    struct StoredPart: Codable, Equatable, Sendable {
        var url: String?
        var start: Int64
        var length: Int64
    }

    private let lock = NSLock()
    private var parts: [StoredPart]
    /// How many parts the file goes up in.
    var partCount: Int { lock.withLock { parts.count } }
    private var offsets: [Int64]
    /// Bytes each part has sent, its confirmed ones and its request's.
    private var sentInParts: [Int64]
    /// The last write of the parts' entry; each write waits for the one
    /// before, and writes the list as it is then.
    private var lastWrite: Task<Void, any Error>?
    /// Parts forgotten by the server, to be created again.
    private let recreated: Set<Int>
    let isResuming: Bool
    private let key: String?
    private let size: Int64

    private init(parts: [StoredPart], offsets: [Int64], recreated: Set<Int>, isResuming: Bool, key: String?, size: Int64) {
        self.parts = parts
        self.offsets = offsets
        self.sentInParts = offsets
        self.recreated = recreated
        self.isResuming = isResuming
        self.key = key
        self.size = size
    }

    /// The bytes the server holds, over every part.
    var confirmed: Int64 { lock.withLock { offsets.reduce(0, +) } }

    /// The key the parts' entry is stored under: the file's key and
    /// `#partials`, as Python's resumable-upload names it. tuspy looks up
    /// the file's key only, so it never reads this entry.
    static func partsKey(for key: String) -> String { PartsEntry.key(forFileKey: key) }

    /// The parts of a new upload: `count` ranges as equal as can be.
    static func split(size: Int64, into count: Int) -> [StoredPart] {
        let count = Int64(count)
        return (0..<count).map { index in
            let start = size * index / count
            let end = size * (index + 1) / count
            return StoredPart(url: nil, start: start, length: end - start)
        }
    }

    /// The stored parts in `text`, whatever file they cover.
    static func decodeAny(_ text: String) -> [StoredPart]? {
        guard let parts = try? JSONDecoder().decode([StoredPart].self, from: Data(text.utf8)), !parts.isEmpty else { return nil }
        return parts
    }

    /// The stored parts in `text`, if they are a list of ranges that cover a
    /// file of `size` bytes in order.
    static func decode(_ text: String, size: Int64) -> [StoredPart]? {
        guard let parts = decodeAny(text) else { return nil }
        var next: Int64 = 0
        for part in parts {
            guard part.start == next, part.length > 0 else { return nil }
            next += part.length
        }
        return next == size ? parts : nil
    }

    static func encode(_ parts: [StoredPart]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(parts)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// The plan for a file of `size` bytes, or nil when it goes up whole:
    /// the parts stored by an earlier run, each with the offset the server
    /// reports, or a new split.
    static func plan(
        client: TusClient, source: UploadSource, size: Int64, options: UploadOptions, key: String?, fileCheck: String?
    ) async throws -> ParallelUpload? {
        guard source.isSeekable else { return nil }
        // Parts an earlier run stored go on, however many parts are asked
        // for now; otherwise a new split, when parts are asked for.
        let text = if let key, let storage = options.storage { try await storage.url(forKey: partsKey(for: key)) } else { String?.none }
        let wanted = options.parallelUploads > 1 && size >= Int64(options.parallelUploads)
        guard text != nil || wanted else { return nil }
        var parts = split(size: size, into: max(1, min(Int64(options.parallelUploads), size)).asInt)
        var offsets = Array(repeating: Int64(0), count: parts.count)
        var recreated: Set<Int> = []
        var isResuming = false
        if let key, let storage = options.storage, let text {
            if let stored = decode(text, size: size) {
                parts = stored
                offsets = Array(repeating: 0, count: stored.count)
                for (index, part) in stored.enumerated() {
                    guard let text = part.url else { continue }
                    guard let url = URL(string: text) else {
                        parts[index].url = nil
                        continue
                    }
                    let sent = SentRequest(kind: .resume, url: url, size: part.length, fileCheck: fileCheck)
                    var retries = RetryLoop(options: options, logger: client.logger, metrics: client.metrics)
                    let attempt: Attempt
                    do {
                        attempt = try await client.perform(sent, headers: [], options: options, retries: &retries)
                    } catch let error as TusError {
                        throw TusError(error.code, "cannot resume part \(index + 1) at \(url.forMessages): \(error.message); the stored parts are kept", cause: error)
                    }
                    switch attempt.verdict {
                    case .resumable(let offset, _):
                        offsets[index] = offset
                        isResuming = true
                    case .forget(let reason):
                        client.logger.debug("creating a part again", metadata: ["url": "\(url.forMessages)", "reason": "\(reason)"])
                        parts[index].url = nil
                        recreated.insert(index)
                    default:
                        throw TusError(.protocolViolation, "cannot resume part \(index + 1) at \(url.forMessages): HEAD gave no offset; the stored parts are kept")
                    }
                }
            } else {
                // Not parts of this file: an entry of another kind or size.
                try await storage.removeURL(forKey: partsKey(for: key))
                if !wanted { return nil }
            }
        }
        return ParallelUpload(parts: parts, offsets: offsets, recreated: recreated, isResuming: isResuming, key: key, size: size)
    }

    /// Removes the parts entry of the file `key` if there is one: called
    /// when the store holds a URL of the whole upload under `key`, which
    /// makes the parts' entry a leftover of a run that stopped between
    /// storing the final upload and removing the parts.
    static func removeLeftoverParts(of key: String, in storage: any Storage) async throws {
        if try await storage.url(forKey: partsKey(for: key)) != nil {
            try await storage.removeURL(forKey: partsKey(for: key))
        }
    }

    /// Sends every part at once and joins them, returning the final
    /// upload's URL. Returns nil, having sent nothing, when the server does
    /// not announce concatenation.
    ///
    /// Each part is an upload of its own (a ``TusUploader`` over its range,
    /// with its own state and retries); the parent only reads their
    /// progress.
    func run(_ upload: TusUploader, progress: (@Sendable (UploadProgress) -> Void)?) async throws -> URL? {
        let options = upload.options
        guard try await upload.capabilities().supports("concatenation") else {
            upload.logger.debug("the server does not announce concatenation; uploading in one part")
            options.onEvent?(.parallelUploadsUnsupported)
            return nil
        }
        var partOptions = options
        partOptions.storage = nil
        partOptions.parallelUploads = 1
        partOptions.keepsURLAfterSuccess = true
        // Parts and their joining are tus's concatenation extension.
        partOptions.uploadProtocol = .tus
        let snapshot = lock.withLock { (parts, offsets) }
        let uploaders = snapshot.0.enumerated().map { index, part -> TusUploader in
            let resumed = part.url.flatMap(URL.init(string:)).map {
                TusUploader.Resumed(url: $0, offset: snapshot.1[index], lengthDeferred: false, seconds: nil)
            }
            let range = TusUploader.Part(
                start: part.start, length: part.length, index: index, count: snapshot.0.count,
                created: { [self] url in try await self.record(url, forPart: index, options: options) })
            return TusUploader(
                client: upload.client, source: upload.source, options: partOptions, metadataHeader: upload.metadataHeader,
                fileCheck: upload.fileCheck, key: nil, resumed: resumed, part: range)
        }
        for index in recreated.sorted() { options.onEvent?(.partCreatedAgain(index: index)) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, part) in uploaders.enumerated() {
                group.addTask {
                    // Each part is a span of its own, child of the upload's.
                    try await upload.client.tracer.withSpan("tus.upload.part", ofKind: .client) { span in
                        span.attributes["tus.upload.part.index"] = index
                        span.attributes["tus.upload.part.size"] = part.size ?? 0
                        try await UploadTracing.$uploadSpan.withValue(span) {
                            try await part.sendAll { partProgress in
                                let (total, sent) = self.lock.withLock { () -> (Int64, Int64) in
                                    self.offsets[index] = partProgress.bytesUploaded
                                    self.sentInParts[index] = partProgress.bytesSent
                                    return (self.offsets.reduce(0, +), self.sentInParts.reduce(0, +))
                                }
                                progress?(UploadProgress(bytesUploaded: total, totalBytes: self.size, bytesSent: sent))
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await lastWrite?.value

        let finalURL = try await createFinal(upload, partURLs: uploaders.map { $0.url! })
        if let key, let storage = options.storage {
            try await offLoop {
                try await storage.setURL(finalURL.absoluteString, forKey: key)
                try await storage.removeURL(forKey: Self.partsKey(for: key))
            }
        }
        return finalURL
    }

    /// Keeps the URL of a part the server has just created.
    private func record(_ url: URL, forPart index: Int, options: UploadOptions) async throws {
        guard let key, let storage = options.storage else { return }
        let write = lock.withLock { () -> Task<Void, any Error> in
            parts[index].url = url.absoluteString
            let previous = lastWrite
            let write = Task {
                _ = try? await previous?.value
                let text = self.lock.withLock { Self.encode(self.parts) }
                try await storage.setURL(text, forKey: Self.partsKey(for: key))
            }
            lastWrite = write
            return write
        }
        try await write.value
    }

    /// POSTs the final upload that joins the parts, through the same retry
    /// loop as every other request.
    private func createFinal(_ upload: TusUploader, partURLs: [URL]) async throws -> URL {
        var headers = [(TusHeaderName.uploadConcat, UploadConcat.final(partURLs.map(\.absoluteString)).headerValue)]
        if let metadata = upload.metadataHeader { headers.append((TusHeaderName.uploadMetadata, metadata)) }
        var retries = RetryLoop(options: upload.options, logger: upload.logger, metrics: upload.client.metrics)
        let attempt = try await upload.client.perform(
            SentRequest(kind: .concatenate, url: upload.client.url), headers: headers, options: upload.options, retries: &retries,
            on: upload.eventLoop)
        guard case .joined(let url) = attempt.verdict else {
            throw TusError(.protocolViolation, "cannot join the parts of \(upload.source.name): the final POST created no upload")
        }
        return url
    }
}

private extension Int64 {
    var asInt: Int { Int(clamping: self) }
}
