import Foundation
import NIOCore
import NIOPosix
import Testing
import TusDevServer
import TusTestSupport

@Suite struct RelayTests {
    @Test(arguments: [Duration.zero, .milliseconds(40)])
    func bytesArriveIdenticalBothWays(roundTrip: Duration) async throws {
        var random = SeededGenerator.forTest()
        let bytes = random.bytes(4 << 20)
        try await TCPTestServer.withServer(.echo) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .latency(roundTrip: roundTrip)) { relay in
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    // Pieces of random sizes, so reads never line up with sends.
                    var offset = 0
                    while offset < bytes.count {
                        let size = min(Int.random(in: 1...(256 << 10), using: &random), bytes.count - offset)
                        try await client.send(bytes.subdata(in: offset..<offset + size))
                        offset += size
                    }
                    let echoed = try await client.receive(bytes.count)
                    #expect(echoed == bytes, "the echo came back through the relay changed")
                }
                let counters = try await relay.waitUntil { $0.connectionsClosed == 1 }
                #expect(counters.bytesToServer == bytes.count)
                #expect(counters.bytesToClient == bytes.count)
                #expect(counters.connectionsAccepted == 1)
                #expect(counters.cuts == 0 && counters.stallsBegun == 0)
            }
            #expect(server.connections.value.map(\.received) == [bytes.count])
        }
    }

    @Test func eachRoundTripTakesAtLeastTheLatency() async throws {
        var random = SeededGenerator.forTest()
        try await TCPTestServer.withServer(.echo) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .latency(roundTrip: .milliseconds(40))) { relay in
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    let clock = ContinuousClock()
                    for _ in 0..<5 {
                        let byte = random.bytes(1)
                        let start = clock.now
                        try await client.send(byte)
                        let echoed = try await client.receive(1)
                        let elapsed = clock.now - start
                        #expect(echoed == byte)
                        // A lower bound only: a loaded machine may take longer.
                        #expect(elapsed >= .milliseconds(40), "a round trip took \(elapsed)")
                    }
                }
            }
        }
    }

    @Test func devServerRequestsThroughASlowRelayTakeTheRoundTripAndComeBackToIt() async throws {
        try await withDevServer { server, _ in
            try await Relay.withRelay(to: server.endpoint, .latency(roundTrip: .milliseconds(40))) { relay in
                let endpoint = relay.url(for: server.endpoint)
                #expect(endpoint.absoluteString == "http://127.0.0.1:\(relay.port)/files/")

                let options = try await curl(["-X", "OPTIONS"], endpoint)
                #expect(options.status == 204, "\(options.stderr)")
                #expect(options["tus-version"] == "1.0.0")
                #expect(options.timeTotal >= 0.040, "OPTIONS took \(options.timeTotal) s")

                let created = try await curl(
                    ["-X", "POST", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Length: 5"], endpoint)
                #expect(created.status == 201, "\(created.stderr)")
                // The server built the Location from the Host the client sent: the relay's.
                let location = try #require(created["location"].flatMap(URL.init(string:)))
                #expect(location.port == relay.port)

                let patched = try await curl(
                    [
                        "-X", "PATCH", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0",
                        "-H", "Content-Type: application/offset+octet-stream", "--data-binary", "hello",
                    ], location)
                #expect(patched.status == 204, "\(patched.stderr)")
                #expect(patched["upload-offset"] == "5")
                #expect(relay.counters.connectionsAccepted == 3)
            }
        }
    }

    @Test func aCutResetsTheClientAfterExactlyTheNthByteThenPassesTheNextConnection() async throws {
        var random = SeededGenerator.forTest()
        let cutAfter = Int.random(in: 100_000...400_000, using: &random)
        let bytes = random.bytes(1 << 20)
        try await TCPTestServer.withServer(.sink(pattern: nil)) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .init(cut: .init(afterBytes: cutAfter, times: 1))) {
                relay in
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    // The send fails once the relay resets the connection.
                    try? await client.send(bytes)
                    let end = try await client.end()
                    #expect(end == .reset)
                }
                let counters = try await relay.waitUntil { $0.cuts == 1 }
                #expect(counters.bytesToServer == cutAfter)
                let records = try await server.connections.waitUntil { $0.first?.ended == true }
                // At least N, at most N plus one read (256 KiB); the relay
                // splits the read that carries the N-th byte, so exactly N.
                #expect(records[0].received >= cutAfter && records[0].received <= cutAfter + (256 << 10))
                #expect(records[0].received == cutAfter)

                // Only the first time: the next connection passes whole.
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    try await client.send(bytes)
                    await client.close()
                }
                let after = try await server.connections.waitUntil { $0.count == 2 && $0[1].ended }
                #expect(after[1].received == bytes.count)
                // The count is the relay's own, made on its event loop.
                #expect(try await relay.waitUntil { $0.cuts >= 1 }.cuts == 1)
            }
        }
    }

    @Test func cutsCountTheLinksBytesAcrossConnections() async throws {
        try await TCPTestServer.withServer(.sink(pattern: nil)) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .init(cut: .init(afterBytes: 300_000))) { relay in
                // 200,000 bytes on a first connection, which ends in order…
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    try await client.send(Data(count: 200_000))
                    await client.close()
                }
                _ = try await server.connections.waitUntil { $0.count == 1 && $0[0].ended }
                // …so the second is cut 100,000 bytes in…
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    try? await client.send(Data(count: 500_000))
                    let end = try await client.end()
                    #expect(end == .reset)
                }
                // …and the count starts again: the third is cut 300,000 bytes in.
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    try? await client.send(Data(count: 700_000))
                    let end = try await client.end()
                    #expect(end == .reset)
                }
                let records = try await server.connections.waitUntil { $0.count == 3 && $0.allSatisfy(\.ended) }
                #expect(records.map(\.received) == [200_000, 100_000, 300_000])
                #expect(try await relay.waitUntil { $0.cuts >= 2 }.cuts == 2)
            }
        }
    }

    @Test func aStallHoldsBothDirectionsUntilReleasedThenEverythingFlows() async throws {
        var random = SeededGenerator.forTest()
        let stallAfter = Int.random(in: 50_000...200_000, using: &random)
        let bytes = random.bytes(2 * stallAfter)
        try await TCPTestServer.withServer(.echo) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .init(stall: .once(afterBytes: stallAfter))) {
                relay in
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    try await client.send(bytes)
                    try await relay.waitUntil { $0.stallsBegun == 1 }
                    let held = try await relay.waitUntil { $0.bytesToServer == stallAfter }
                    _ = try await server.connections.waitUntil { $0.first?.received == stallAfter }

                    // Nothing moves while the stall lasts: there is no event
                    // for "nothing happened", so this one check waits.
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(relay.counters.bytesToServer == held.bytesToServer)
                    #expect(relay.counters.bytesToClient == held.bytesToClient)
                    #expect(server.connections.value[0].received == stallAfter)
                    #expect(client.state.value.end == nil, "the sockets stay open")

                    relay.releaseStalls()
                    let echoed = try await client.receive(bytes.count)
                    #expect(echoed == bytes)
                    let counters = try await relay.waitUntil { $0.stallsEnded >= 1 }
                    #expect(counters.stallsEnded == 1)
                    #expect(counters.stallsBegun == 1, "only once")
                }
            }
        }
    }

    @Test func aTimedStallEndsByItself() async throws {
        let bytes = Data(count: 200_000)
        try await TCPTestServer.withServer(.sink(pattern: nil)) { server in
            let stall = Relay.Stall.once(afterBytes: 50_000, duration: .milliseconds(300))
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .init(stall: stall)) { relay in
                let clock = ContinuousClock()
                let start = clock.now
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    try await client.send(bytes)
                    let counters = try await relay.waitUntil { $0.bytesToServer == bytes.count }
                    #expect(clock.now - start >= .milliseconds(300))
                    #expect(counters.stallsBegun == 1 && counters.stallsEnded == 1)
                }
            }
        }
    }

    /// A link capped at 150 kB/s carries 600 kB in about 4 s by the relay's
    /// own counters, never faster, and the sender feels the cap: when its
    /// kernel has taken its last byte, all but its own send buffer has
    /// already passed the relay (a relay whose socket took the bytes in at
    /// once, or a sender whose kernel sized its buffer for loopback, would
    /// let it finish with megabytes still to go), and the relay itself
    /// holds a few windows at most.
    @Test func aRateCapPassesTheBytesAtThatRateAndHoldsTheSenderBack() async throws {
        var random = SeededGenerator.forTest()
        let rate = 150_000
        // Not a power of two: a block boundary never matches a read's.
        let pattern = [UInt8](random.bytes(6_007))
        let blocks = 100
        let total = blocks * pattern.count
        try await TCPTestServer.withServer(.sink(pattern: pattern)) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .rate(bytesPerSecond: rate)) { relay in
                let clock = ContinuousClock()
                let start = clock.now
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    let block = ByteBuffer(bytes: pattern)
                    for _ in 0..<blocks { try await client.send(block) }
                    let passedWhenSent = relay.counters.bytesToServer
                    print("the sender's last write was taken with \(passedWhenSent) of \(total) B past the relay")
                    #expect(total - passedWhenSent <= 400_000, "the sender ran \(total - passedWhenSent) B ahead of the link")
                    _ = try await server.connections.waitUntil(timeout: .seconds(60)) { $0.first?.received == total }
                }
                let counters = try await relay.waitUntil { $0.bytesToServer == total }
                let elapsed = clock.now - start
                let expected = Double(total) / Double(rate)
                print("\(total) B at \(rate) B/s in \(elapsed) (\(expected) s expected); \(counters)")
                #expect(elapsed >= .seconds(0.8 * expected), "faster than the cap: \(elapsed)")
                // An upper bound wide enough for a busy machine.
                #expect(elapsed <= .seconds(2 * expected + 5), "far slower than the cap: \(elapsed)")
                #expect(server.connections.value[0].mismatchAt == nil, "the bytes arrived changed or out of order")
                #expect(counters.largestBacklog <= 64 << 10, "the relay held \(counters.largestBacklog) B")
            }
        }
    }

    /// What a user of `test-relay --rate` relies on: the cap holds each
    /// connection on its own, so four transfers at once take about as long
    /// as one, where a cap shared by the link would take four times as
    /// long. Each transfer ends when the server has every byte; the bound
    /// compares two transfers of the same test, as the machine may be
    /// loaded.
    @Test func aRateCapHoldsEachConnectionOnItsOwn() async throws {
        let rate = 2_000_000
        let count = 1_000_000  // half a second at the cap
        let alone = try await timeToCarry(count, connections: 1, .rate(bytesPerSecond: rate))
        let fourAtOnce = try await timeToCarry(count, connections: 4, .rate(bytesPerSecond: rate))
        print("\(count) B at \(rate) B/s a connection: one alone \(alone), four at once \(fourAtOnce)")
        #expect(fourAtOnce >= .seconds(0.8 * Double(count) / Double(rate)), "faster than the cap: \(fourAtOnce)")
        #expect(fourAtOnce <= alone * 2, "the connections shared the cap: \(fourAtOnce) against \(alone)")
    }

    /// A round trip on top of a rate cap adds its latency, not a lower
    /// rate: a relay that counted the bytes inside the latency against the
    /// window it reads ahead would carry at most 64 KiB per 20 ms, about
    /// 3.3 MB/s, and take 2.4 s here instead of half a second.
    @Test func aRoundTripOnTopOfARateCapOnlyAddsItsLatency() async throws {
        let rate = 16_000_000
        let count = 8_000_000  // half a second at the cap
        let alone = try await timeToCarry(count, connections: 1, .rate(bytesPerSecond: rate))
        let behind = try await timeToCarry(
            count, connections: 1, .init(roundTripLatency: .milliseconds(40), rate: .init(bytesPerSecond: rate)))
        print("\(count) B at \(rate) B/s: without latency \(alone), behind a 40 ms round trip \(behind)")
        #expect(behind >= .seconds(0.8 * Double(count) / Double(rate)), "faster than the cap: \(behind)")
        #expect(behind <= alone * 2 + .milliseconds(100), "the round trip lowered the rate: \(behind) against \(alone)")
    }

    /// Sends `count` bytes on each of `connections` connections at once
    /// through a relay with `behaviour`; returns the time until the server
    /// has received them all.
    private func timeToCarry(_ count: Int, connections: Int, _ behaviour: Relay.Behaviour) async throws -> Duration {
        try await TCPTestServer.withServer(.sink(pattern: nil)) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, behaviour) { relay in
                let clock = ContinuousClock()
                let start = clock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<connections {
                        group.addTask {
                            try await TCPTestClient.withConnection(to: relay.port) { client in
                                try await client.send(Data(count: count))
                                _ = try await server.connections.waitUntil(timeout: .seconds(60)) { records in
                                    records.count == connections && records.allSatisfy { $0.received == count }
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                return clock.now - start
            }
        }
    }

    @Test func aHalfCloseCrossesTheRelayAndTheAnswerStillComesBack() async throws {
        try await TCPTestServer.withServer(.echo) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .latency(roundTrip: .milliseconds(20))) { relay in
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    try await client.send(Data("hello".utf8))
                    try await client.closeOutput()
                    #expect(try await client.receive(5) == Data("hello".utf8))
                    let end = try await client.end()
                    #expect(end == .closed)
                }
                _ = try await server.connections.waitUntil { $0.first?.ended == true }
            }
        }
    }

    @Test func withNothingListeningUpstreamTheClientIsReset() async throws {
        // A port that was just free: the server is gone once the closure returns.
        let port = try await TCPTestServer.withServer(.echo) { $0.port }
        try await Relay.withRelay(to: "127.0.0.1", port: port) { relay in
            do {
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    let end = try await client.end()
                    #expect(end == .reset)
                }
            } catch let error as NIOConnectionError {
                // The reset can come before the client's connect has
                // completed: then the connect fails with it.
                let reason = error.connectionErrors.first?.error as? IOError
                #expect(reason?.errnoCode == ECONNRESET, "\(error)")
            }
            #expect(relay.counters.connectionsAccepted == 1)
        }
    }

    @Test func twoHundredFiftySixMiBPassAFortyMillisecondLinkInOrderWithABoundedBacklog() async throws {
        var random = SeededGenerator.forTest()
        // Not a power of two: a block boundary never matches a read's.
        let pattern = [UInt8](random.bytes((1 << 20) + 7))
        let blocks = 256
        let total = blocks * pattern.count
        try await TCPTestServer.withServer(.sink(pattern: pattern)) { server in
            try await Relay.withRelay(to: "127.0.0.1", port: server.port, .latency(roundTrip: .milliseconds(40))) { relay in
                let clock = ContinuousClock()
                let start = clock.now
                try await TCPTestClient.withConnection(to: relay.port) { client in
                    let block = ByteBuffer(bytes: pattern)
                    for _ in 0..<blocks { try await client.send(block) }
                    _ = try await server.connections.waitUntil(timeout: .seconds(120)) { $0.first?.received == total }
                }
                let elapsed = clock.now - start
                // The relay counts a write once NIO reports it done, which
                // can be a moment after the sink has read it.
                let counters = try await relay.waitUntil { $0.bytesToServer == total }
                print("256 MiB through a 40 ms relay in \(elapsed); \(counters)")
                let record = server.connections.value[0]
                #expect(record.mismatchAt == nil, "the bytes arrived changed or out of order")
                // The backlog limit is 4 MiB, and one wake-up reads at most
                // 1 MiB past it.
                #expect(counters.largestBacklog <= 5 << 20)
                #expect(counters.largestBacklog > 0)
            }
        }
    }
}
