import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusFileStorage
import TusTestSupport

/// `TusClient.uploadFiles`: many files, a limit on how many go up at once,
/// one result per file in the order given.
@Suite struct ManyFilesTests {
    @Test func manyFilesAtMostNAtOnceWithOneMissing() async throws {
        try await withDevServer { server, folder in
            var paths: [String] = []
            var contents: [String: Data] = [:]
            for index in 0..<8 {
                let path = folder.newPath("file-\(index).bin")
                let data = randomData(40_000 + index * 5_000)
                try data.write(to: URL(fileURLWithPath: path))
                paths.append(path)
                contents[path] = data
            }
            paths.insert(folder.newPath("missing.bin"), at: 3)
            let store = try FileStorage(path: folder.newPath("store.json"))
            let running = Running()
            let results = await TusClient(url: server.endpoint).uploadFiles(
                atPaths: paths, options: testOptions(chunkSize: 16_384, storage: store), maximumConcurrentUploads: 3,
                metadataForFile: { ["filename": ($0 as NSString).lastPathComponent] }
            ) { event in
                switch event {
                case .started(let index, _, _): running.start(index)
                case .finished(let result): running.finish(result.index)
                default: break
                }
            }
            #expect(results.map(\.path) == paths)
            for result in results {
                switch result.outcome {
                case .success(let url):
                    #expect(server.uploadedData(for: url) == contents[result.path])
                    #expect(server.uploadInfo(for: url)?.metadata["filename"] == (result.path as NSString).lastPathComponent)
                case .failure(let error):
                    #expect(result.index == 3)
                    #expect((error as? TusError)?.code == .notFound)
                }
            }
            #expect(running.most <= 3)
            #expect(running.most >= 2)
            #expect(try await store.entries().isEmpty)
        }
    }
}

/// How many uploads run at once, and the most there ever were.
final class Running: @unchecked Sendable {
    private let lock = NSLock()
    private var now: Set<Int> = []
    private var highest = 0
    func start(_ index: Int) { lock.withLock { now.insert(index); highest = max(highest, now.count) } }
    func finish(_ index: Int) { lock.withLock { _ = now.remove(index) } }
    var most: Int { lock.withLock { highest } }
}
