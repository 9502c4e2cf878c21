public import Foundation
import TusCore

extension TusClient {
    /// Uploads many files, at most `maximumConcurrentUploads` at once, each
    /// resumable on its own (with ``UploadOptions/storage`` set, under its
    /// own fingerprint) and with the same options.
    ///
    /// A file that is missing or fails does not stop the others: its result
    /// holds the error. Cancelling the task stops every upload, each
    /// resumable.
    ///
    /// ```swift
    /// let results = await client.uploadFiles(atPaths: paths, options: options, maximumConcurrentUploads: 8, events: { event in
    ///     if case .finished(let result) = event, case .success(let url) = result.outcome {
    ///         print(result.path, url)
    ///     }
    /// })
    /// ```
    ///
    /// - Parameters:
    ///   - paths: The files, in the order of the results.
    ///   - options: The options of every upload.
    ///   - maximumConcurrentUploads: How many files go up at once. Default: 4.
    ///   - metadataForFile: Metadata of each file, added to the options'
    ///     (a file's `filename`, say).
    ///   - events: Told when a file starts, makes progress and finishes. It
    ///     may run on any thread, on several at once: keep it short.
    /// - Returns: One result per path, in the order of `paths`.
    public func uploadFiles(
        atPaths paths: [String],
        options: UploadOptions = UploadOptions(),
        maximumConcurrentUploads: Int = 4,
        metadataForFile: (@Sendable (_ path: String) -> [String: String])? = nil,
        events: (@Sendable (FileUploadEvent) -> Void)? = nil
    ) async -> [FileUploadResult] {
        let limit = max(1, maximumConcurrentUploads)
        var results: [FileUploadResult?] = Array(repeating: nil, count: paths.count)
        await withTaskGroup(of: FileUploadResult.self) { group in
            var next = 0
            func startNext() {
                guard next < paths.count else { return }
                let index = next
                next += 1
                var fileOptions = options
                if let metadataForFile {
                    fileOptions.metadata.merge(metadataForFile(paths[index])) { _, forFile in forFile }
                }
                group.addTask { [fileOptions] in
                    await self.uploadFile(index: index, path: paths[index], options: fileOptions, events: events)
                }
            }
            for _ in 0..<min(limit, paths.count) { startNext() }
            while let result = await group.next() {
                results[result.index] = result
                events?(.finished(result))
                startNext()
            }
        }
        return results.enumerated().map { index, result in
            result ?? FileUploadResult(index: index, path: paths[index], outcome: .failure(CancellationError()))
        }
    }

    private func uploadFile(
        index: Int, path: String, options: UploadOptions, events: (@Sendable (FileUploadEvent) -> Void)?
    ) async -> FileUploadResult {
        do {
            try Task.checkCancellation()
            var options = options
            let userEvents = options.onEvent
            options.onEvent = { event in
                userEvents?(event)
                events?(.event(index: index, path: path, event))
            }
            let uploader = try await uploader(forFileAtPath: path, options: options)
            events?(.started(index: index, path: path, uploader: uploader))
            let url = try await uploader.upload { progress in events?(.progress(index: index, path: path, progress)) }
            return FileUploadResult(index: index, path: path, outcome: .success(url))
        } catch {
            return FileUploadResult(index: index, path: path, outcome: .failure(error))
        }
    }
}

/// What became of one file of ``TusClient/uploadFiles(atPaths:options:maximumConcurrentUploads:metadataForFile:events:)``.
public struct FileUploadResult: Sendable {
    /// The file's place in the list of paths.
    public let index: Int
    /// The file's path.
    public let path: String
    /// The upload URL, or why the file did not finish: a `TusError`,
    /// or `CancellationError` when the task was cancelled.
    public let outcome: Result<URL, any Error>
}

/// What happens to the files of ``TusClient/uploadFiles(atPaths:options:maximumConcurrentUploads:metadataForFile:events:)``.
public enum FileUploadEvent: Sendable {
    /// A file's upload starts; `uploader` tells its size, whether it
    /// resumes, and from where.
    case started(index: Int, path: String, uploader: TusUploader)
    /// The server has confirmed more of a file.
    case progress(index: Int, path: String, UploadProgress)
    /// A file's upload changed course (see ``UploadOptions/onEvent``).
    case event(index: Int, path: String, UploadEvent)
    /// A file finished, or failed.
    case finished(FileUploadResult)
}
