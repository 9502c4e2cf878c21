import Foundation
import NIOHTTP1
import TusCore

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
    private var offsets: [Int64]
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
        client: TusClient, source: UploadSource, size: Int64, options: UploadOptions, key: String?
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
                    let answer: Exchange
                    do {
                        answer = try await client.send(.HEAD, url, headers: [], options: options).exchange
                    } catch let failure as TransportFailure {
                        throw TusError(failure.error.code, "cannot resume part \(index + 1) at \(text): \(failure.error.message); the stored parts are kept", cause: failure.error)
                    }
                    switch try ResumeDecision.decide(answer, stored: text, size: part.length) {
                    case .resume(let offset, _):
                        offsets[index] = offset
                        isResuming = true
                    case .forget(let reason):
                        client.logger.debug("creating a part again", metadata: ["url": "\(text)", "reason": "\(reason)"])
                        parts[index].url = nil
                        recreated.insert(index)
                    case .keep(let code, let message):
                        throw TusError(code, message)
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

    /// Sends every part at once and joins them. Returns false, having sent
    /// nothing, when the server does not announce concatenation.
    func run(_ upload: TusUploader, progress: (@Sendable (UploadProgress) -> Void)?) async throws -> Bool {
        let options = upload.options
        guard try await upload.capabilities().supports("concatenation") else {
            upload.logger.debug("the server does not announce concatenation; uploading in one part")
            options.onEvent?(.parallelUploadsUnsupported)
            return false
        }
        var partOptions = options
        partOptions.storage = nil
        partOptions.parallelUploads = 1
        partOptions.keepsURLAfterSuccess = true
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
                key: nil, resumed: resumed, part: range)
        }
        for index in recreated.sorted() { options.onEvent?(.partCreatedAgain(index: index)) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, part) in uploaders.enumerated() {
                group.addTask {
                    try await part.sendAll { partProgress in
                        let total = self.lock.withLock { () -> Int64 in
                            self.offsets[index] = partProgress.bytesUploaded
                            return self.offsets.reduce(0, +)
                        }
                        upload.lock.withLock { upload.state.offset = total }
                        progress?(UploadProgress(bytesUploaded: total, totalBytes: self.size))
                    }
                }
            }
            try await group.waitForAll()
        }
        try await lastWrite?.value

        let finalURL = try await createFinal(upload, partURLs: uploaders.map { $0.url! })
        upload.lock.withLock {
            upload.state.url = finalURL
            upload.state.offset = size
        }
        if let key, let storage = options.storage {
            try await offLoop {
                try await storage.setURL(finalURL.absoluteString, forKey: key)
                try await storage.removeURL(forKey: Self.partsKey(for: key))
            }
        }
        return true
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

    /// POSTs the final upload that joins the parts, trying again as the
    /// retry policy allows.
    private func createFinal(_ upload: TusUploader, partURLs: [URL]) async throws -> URL {
        let endpoint = upload.client.url
        var headers = [("Upload-Concat", "final;" + partURLs.map(\.absoluteString).joined(separator: " "))]
        if let metadata = upload.metadataHeader { headers.append(("Upload-Metadata", metadata)) }
        let policy = upload.options.retryPolicy
        var failures = 0
        while true {
            let failure: RequestFailure
            do {
                let answer = try await upload.client.send(.POST, endpoint, headers: headers, options: upload.options, on: upload.eventLoop).exchange
                if (200..<300).contains(answer.code) {
                    guard let location = answer.headers.first(name: "Location"),
                          let url = URL(string: location, relativeTo: endpoint)?.absoluteURL
                    else {
                        throw TusError(.protocolViolation, "POST \(endpoint.absoluteString) answered \(answer.code) to the final upload with no usable Location header")
                    }
                    return url
                }
                failures += 1
                failure = RequestFailure(
                    method: "POST", statusCode: answer.code,
                    error: TusError(.unavailable, "cannot join the parts of \(upload.source.name) at \(endpoint.absoluteString): POST \(answer.statusDescription)"),
                    attempt: failures)
            } catch let transport as TransportFailure {
                failures += 1
                failure = RequestFailure(method: "POST", statusCode: nil, error: transport.error, attempt: failures)
            }
            guard failures <= policy.retries, policy.shouldRetry(failure) else { throw failure.error }
            let delay = policy.delay(beforeRetry: failures)
            upload.options.onEvent?(.retrying(failure, delay: delay))
            try await Task.sleep(for: delay)
        }
    }
}

private extension Int64 {
    var asInt: Int { Int(clamping: self) }
}
