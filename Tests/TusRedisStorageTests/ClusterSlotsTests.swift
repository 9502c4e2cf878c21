import Foundation
import Testing
import TusTestSupport
@testable import TusRedisStorage

/// The hash slots and redirections of Redis Cluster, checked against the
/// examples of the cluster specification and against a real cluster's own
/// `CLUSTER KEYSLOT`.
@Suite struct ClusterSlotsTests {
    @Test func crc16IsXModem() {
        #expect(ClusterSlots.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(ClusterSlots.crc16([]) == 0)
    }

    @Test(arguments: [
        ("foo", 12182),
        ("bar", 5061),
        ("{user1000}.following", 3443),
        ("{user1000}.followers", 3443),
        ("user1000", 3443),
    ])
    func slotsAreThoseOfTheSpecification(key: String, slot: Int) {
        #expect(ClusterSlots.slot(of: Array(key.utf8)) == slot)
    }

    @Test func onlyTheFirstNonEmptyHashTagCounts() {
        func hashed(_ key: String) -> String { String(decoding: ClusterSlots.hashed(Array(key.utf8)), as: UTF8.self) }
        #expect(hashed("foo{}{bar}") == "foo{}{bar}")
        #expect(hashed("foo{{bar}}zap") == "{bar")
        #expect(hashed("foo{bar}{zap}") == "bar")
        #expect(hashed("{tus:}url:{k}") == "tus:")
        #expect(hashed("no tag}{") == "no tag}{")
    }

    @Test func redirectionsAreRead() {
        let asked = ClusterNode(host: "10.0.0.1", port: 7000)
        let moved = ClusterSlots.Redirection("MOVED 3999 127.0.0.1:6381", answeredBy: asked)
        #expect(moved?.kind == .moved && moved?.slot == 3999 && moved?.node == ClusterNode(host: "127.0.0.1", port: 6381))
        let ask = ClusterSlots.Redirection("ASK 16383 [::1]:7002", answeredBy: asked)
        #expect(ask?.kind == .ask && ask?.slot == 16383 && ask?.node == ClusterNode(host: "::1", port: 7002))
        #expect(ClusterSlots.Redirection("MOVED 1 :7003", answeredBy: asked)?.node == ClusterNode(host: "10.0.0.1", port: 7003))
        #expect(ClusterSlots.Redirection("MOVED 16384 127.0.0.1:6381", answeredBy: asked) == nil)
        #expect(ClusterSlots.Redirection("ERR unknown command", answeredBy: asked) == nil)
        #expect(ClusterSlots.Redirection("CLUSTERDOWN The cluster is down", answeredBy: asked) == nil)
    }

    @Test func theMapFindsTheMasterOfASlotAndTakesAMove() throws {
        func node(_ port: Int64) -> RedisReply {
            .array([.string(Array("127.0.0.1".utf8)), .integer(port), .string(Array("id".utf8))])
        }
        let reply = RedisReply.array([
            .array([.integer(5461), .integer(10922), node(7001), node(7004)]),
            .array([.integer(0), .integer(5460), node(7000), node(7003)]),
            .array([.integer(10923), .integer(16383), .array([.string([]), .integer(7002)])]),
        ])
        var map = try #require(ClusterSlots.Map(slotsReply: reply, from: ClusterNode(host: "10.1.1.1", port: 7000)))
        #expect(map.master(of: 0)?.port == 7000)
        #expect(map.master(of: 5460)?.port == 7000)
        #expect(map.master(of: 5461)?.port == 7001)
        #expect(map.master(of: 16383) == ClusterNode(host: "10.1.1.1", port: 7002))
        map.move(100, to: ClusterNode(host: "127.0.0.1", port: 7002))
        #expect(map.master(of: 100)?.port == 7002)
        #expect(map.master(of: 99)?.port == 7000 && map.master(of: 101)?.port == 7000)
        #expect(ClusterSlots.Map(slotsReply: .string([]), from: ClusterNode(host: "h", port: 1)) == nil)
    }

    @Test func theKeyOfACommandDecidesItsSlot() {
        func key(_ words: [String]) -> String? {
            ClusterSlots.key(of: words.map { Array($0.utf8) }).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(key(["GET", "{p}url:k"]) == "{p}url:k")
        #expect(key(["EVAL", "return 1", "2", "{p}stored_at", "{p}url:k", "arg"]) == "{p}stored_at")
        #expect(key(["EVAL", "return 1", "0"]) == nil)
        #expect(key(["MULTI"]) == nil)
        #expect(key(["PING"]) == nil)
    }

    /// Random keys, with and without hash tags, binary bytes among them,
    /// land in the slot the cluster itself computes.
    @Test func slotsAreTheClusterOwn() async throws {
        var generator = SeededGenerator.forTest()
        let cluster = try await RedisClusterProcesses.start()
        let client = try cluster.client(cluster.nodes[0].port)
        let alphabet = Array("ab{}:\u{0}\r\n\u{1F600}x".utf8)
        for _ in 0..<300 {
            let length = Int.random(in: 0...12, using: &generator)
            let key = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            let expected = try client.command([Array("CLUSTER".utf8), Array("KEYSLOT".utf8), key]).integer
            #expect(ClusterSlots.slot(of: key) == expected, "key \(key)")
        }
        await cluster.stop()
    }
}
