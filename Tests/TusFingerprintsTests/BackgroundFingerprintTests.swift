import Dispatch
import Foundation
import Testing
import TusCore
import TusFingerprints
import TusTestSupport

/// Events in the order they happened, from any thread.
private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []
    func record(_ event: String) { lock.withLock { events.append(event) } }
    var all: [String] { lock.withLock { events } }
}

/// The name of the thread that calls it (on Linux, the system thread's).
private func currentThreadName() -> String {
    Thread.current.name ?? ""
}

/// A fingerprint that reads the first byte, notes which thread it runs on,
/// then waits for `gate` before it answers: a stand-in for a slow disk.
private struct GatedFingerprint: Fingerprint {
    let gate: DispatchSemaphore
    let log: EventLog

    func fingerprint(of source: inout FingerprintSource) throws -> String {
        _ = try source.read(upToCount: 1)
        log.record("hashing on \(currentThreadName())")
        gate.wait()
        return "size:\(source.size)--gated"
    }
}

@Suite struct BackgroundFingerprintTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    static let fingerprints: [any Fingerprint] = [
        MD5Fingerprint(), MD5Fingerprint(scope: .wholeFile), SHA256Fingerprint(), SHA256Fingerprint(scope: .wholeFile),
    ]

    @Test(arguments: 0..<fingerprints.count)
    func theKeyIsTheOneTheSynchronousCallGives(index: Int) async throws {
        let fingerprint = Self.fingerprints[index]
        let path = folder.newPath("movie.bin")
        try patterned(3_000_000, seed: 7).write(to: URL(fileURLWithPath: path))
        let expected = try fingerprint.fingerprint(ofFileAtPath: path)
        #expect(try await fingerprint.fingerprintInBackground(ofFileAtPath: path) == expected)
        #expect(try await fingerprint.fingerprintInBackground(ofFileAt: URL(fileURLWithPath: path)) == expected)

        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: 1234)
        #expect(try await fingerprint.fingerprintInBackground(of: handle) == expected)
        #expect(try handle.offset() == 1234)
    }

    @Test func aMissingFileThrowsWhatTheSynchronousCallThrows() async throws {
        let path = folder.newPath("missing.bin")
        let error = await #expect(throws: TusError.self) {
            try await SHA256Fingerprint(scope: .wholeFile).fingerprintInBackground(ofFileAtPath: path)
        }
        #expect(error?.code == .notFound)
        #expect(error?.message == "cannot open \(path): No such file or directory")
    }

    /// Two slow fingerprints at once, on a machine whose task threads may be
    /// as few as two, leave those threads to the other tasks.
    @Test func slowFingerprintsLeaveTheTaskThreadsToOtherTasks() async throws {
        let path = folder.newPath("file.bin")
        try patterned(10_000).write(to: URL(fileURLWithPath: path))
        let gate = DispatchSemaphore(value: 0)
        // Whatever happens, the shared fingerprint threads are let go.
        defer {
            gate.signal()
            gate.signal()
        }
        let log = EventLog()
        let fingerprint = GatedFingerprint(gate: gate, log: log)
        let hashes = (0..<2).map { _ in
            Task {
                let key = try await fingerprint.fingerprintInBackground(ofFileAtPath: path)
                log.record("fingerprint returned")
                return key
            }
        }
        // Both are hashing (each has read its first byte) and now wait.
        try await waitUntil("both fingerprints start") { log.all.count >= 2 }

        #expect(await aThousandTasksRun())
        log.record("1000 tasks finished")

        gate.signal()
        gate.signal()
        for hash in hashes { #expect(try await hash.value == "size:10000--gated") }
        #expect(log.all == [
            "hashing on tus-fingerprint", "hashing on tus-fingerprint", "1000 tasks finished",
            "fingerprint returned", "fingerprint returned",
        ])
    }
}
