import Foundation
import Testing
import TusCore
import TusRedisStorage
import TusTestSupport

/// The name of the thread that calls it.
private func threadName() -> String {
    Thread.current.name ?? ""
}

/// Calls from a task that prefers ``RedisStorage/taskExecutor``: they run on
/// the store's own thread and behave as every other call does.
@Suite(.serialized) struct StoreExecutorCallsTests {
    @Test func callsFromATaskOnTheStoresExecutorRunOnItsThreadAndWork() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = try RedisStorage(configuration: .init(port: server.port, keyPrefix: "executor:"))
        let (threads, read, listed, removed) = try await withTaskExecutorPreference(store.taskExecutor) {
            var threads: Set<String> = []
            for index in 0..<50 {
                try await store.setURL("https://tus.example/files/\(index)", forKey: "k\(index)")
                threads.insert(threadName())
            }
            let read = try await store.url(forKey: "k7")
            threads.insert(threadName())
            try await store.removeURL(forKey: "k7")
            let listed = try await store.entries().count
            let removed = try await store.url(forKey: "k7")
            return (threads, read, listed, removed)
        }
        #expect(threads == ["tus-redis"])
        #expect(read == "https://tus.example/files/7")
        #expect(listed == 49)
        #expect(removed == nil)
        // What the task stored, the pool's callers read.
        #expect(try await store.url(forKey: "k8") == "https://tus.example/files/8")
        try await store.close()
    }

    @Test func callsFromTheStoresExecutorAndFromThePoolAtOnceAllLand() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = try RedisStorage(configuration: .init(port: server.port, keyPrefix: "mixed:"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask(executorPreference: store.taskExecutor) {
                for index in 0..<300 { try await store.setURL("https://tus.example/e/\(index)", forKey: "e\(index)") }
            }
            for lane in 0..<3 {
                group.addTask {
                    for index in 0..<100 {
                        try await store.setURL("https://tus.example/p/\(lane)/\(index)", forKey: "p\(lane)-\(index)")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.entries().count == 600)
        #expect(try await store.url(forKey: "e299") == "https://tus.example/e/299")
        #expect(try await store.url(forKey: "p2-99") == "https://tus.example/p/2/99")
        try await store.close()
    }

    @Test func aTaskOnTheStoresExecutorThatClosesItGoesOnAndGetsClosedErrors() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = try RedisStorage(configuration: .init(port: server.port, keyPrefix: "executor-close:"))
        let error = try await withTaskExecutorPreference(store.taskExecutor) {
            try await store.setURL("https://tus.example/1", forKey: "k")
            try await store.close()
            return await tusError { _ = try await store.url(forKey: "k") }
        }
        #expect(error?.code == .closed)
        #expect(error?.message == "cannot read the URL of \"k\": the Redis store at redis://127.0.0.1:\(server.port)/0 is closed")
    }
}
