import Testing
@testable import TusClient

/// How request sizes adapt.
@Suite struct ChunkSizerTests {
    @Test func startsAtFiveMiBOrTheCeiling() {
        #expect(ChunkSizer(ceiling: Int(Int32.max)).size == 5 << 20)
        #expect(ChunkSizer(ceiling: 100_000).size == 100_000)
    }

    @Test func growsUntilTheRoundTripIsASmallShareOfTheTime() {
        var sizer = ChunkSizer(ceiling: Int(Int32.max))
        sizer.measuredRoundTrip(0.040)
        // 5 MiB in 40 ms of round trip plus 50 ms of sending: 100 MiB/s.
        sizer.succeeded(bytes: 5 << 20, seconds: 0.090)
        let throughput = Double(5 << 20) / 0.050
        let wanted = throughput * 0.040 * 19
        #expect(abs(Double(sizer.size) - wanted) < wanted * 0.01)
        // Once there, a round trip costs at most 5 % of a request's time.
        let sending = Double(sizer.size) / throughput
        #expect(0.040 / (sending + 0.040) <= 0.0501)
    }

    @Test func growsAtMostSixteenFoldAtOnceAndNeverPastTheCeiling() {
        var sizer = ChunkSizer(ceiling: 200 << 20)
        sizer.measuredRoundTrip(0.010)
        sizer.succeeded(bytes: 5 << 20, seconds: 0.0101)
        #expect(sizer.size == 80 << 20)
        sizer.succeeded(bytes: 80 << 20, seconds: 0.0101)
        #expect(sizer.size == 200 << 20)
    }

    @Test func aShortLastPieceSaysNothing() {
        var sizer = ChunkSizer(ceiling: Int(Int32.max))
        sizer.measuredRoundTrip(0.010)
        sizer.succeeded(bytes: 1000, seconds: 0.011)
        #expect(sizer.size == 5 << 20)
    }

    @Test func aRefusalHalvesAndCapsForTheRestOfTheUpload() {
        var sizer = ChunkSizer(ceiling: Int(Int32.max))
        let shrunk705 = sizer.refusedAsTooLarge(bytes: 5 << 20)
        #expect(shrunk705)
        #expect(sizer.size == 5 << 19)
        let shrunk260 = sizer.refusedAsTooLarge(bytes: 5 << 19)
        #expect(shrunk260)
        let shrunk379 = sizer.refusedAsTooLarge(bytes: 5 << 18)
        #expect(shrunk379)
        #expect(sizer.size == 5 << 17)
        sizer.measuredRoundTrip(0.010)
        sizer.succeeded(bytes: sizer.size, seconds: 0.0101)
        #expect(sizer.size == 5 << 17)
    }

    @Test func aRefusalAtTheFloorCannotShrink() {
        var sizer = ChunkSizer(ceiling: Int(Int32.max))
        let shrunk611 = sizer.refusedAsTooLarge(bytes: ChunkSizer.floor)
        #expect(!shrunk611)
    }

    @Test func anInterruptionHalvesThenGrowthIsTwofold() {
        var sizer = ChunkSizer(ceiling: Int(Int32.max))
        sizer.interrupted(bytes: 5 << 20)
        #expect(sizer.size == 5 << 19)
        sizer.measuredRoundTrip(0.010)
        sizer.succeeded(bytes: 5 << 19, seconds: 0.0101)
        #expect(sizer.size == 5 << 20)
        for _ in 0..<20 { sizer.interrupted(bytes: sizer.size) }
        #expect(sizer.size == ChunkSizer.floor)
    }
}
