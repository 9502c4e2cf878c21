/// How Redis Cluster places keys: the hash slot of a key, the map of slots
/// to nodes read from `CLUSTER SLOTS`, and the redirections (`MOVED`, `ASK`)
/// a node answers with when a slot is not its own.
enum ClusterSlots {
    /// The number of hash slots: 16384.
    static let count = 16384

    /// The slot of `key`, as the cluster specification computes it: CRC16
    /// (XMODEM) of the key, modulo 16384; when the key holds a hash tag — a
    /// `{` followed later by a `}` with something between them — only the
    /// bytes between the first `{` and the first `}` after it count.
    static func slot(of key: [UInt8]) -> Int {
        Int(crc16(hashed(key))) & (count - 1)
    }

    /// The part of `key` that is hashed: its hash tag, or the whole key.
    static func hashed(_ key: [UInt8]) -> ArraySlice<UInt8> {
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            return key[(open + 1)..<close]
        }
        return key[...]
    }

    /// CRC16-CCITT as XMODEM computes it (polynomial 0x1021, initial value
    /// 0, no reflection): the checksum Redis Cluster hashes keys with.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }

    /// The key a command of the store acts on, whose slot decides the node
    /// it goes to: the first key of `EVAL`, the first argument of the other
    /// commands the store sends; `nil` for a command without a key, such as
    /// `PING`, `MULTI` or `EXEC`.
    static func key(of command: [[UInt8]]) -> [UInt8]? {
        let name = String(decoding: command[0], as: UTF8.self).uppercased()
        switch name {
        case "PING", "MULTI", "EXEC", "DISCARD", "ASKING", "AUTH", "SELECT", "CLUSTER", "INFO", "ROLE", "WAIT":
            return nil
        case "EVAL", "EVALSHA":
            guard command.count > 3, let count = Int(String(decoding: command[2], as: UTF8.self)), count > 0 else {
                return nil
            }
            return command[3]
        default:
            return command.count > 1 ? command[1] : nil
        }
    }

    /// Where a cluster node sends a command whose slot it does not serve.
    struct Redirection: Equatable {
        /// `MOVED`: the slot lives on `node` now, and the map is stale.
        /// `ASK`: the slot is being migrated; this one command goes to `node`,
        /// preceded by `ASKING`, and the map stays as it is.
        enum Kind: Equatable { case moved, ask }
        var kind: Kind
        var slot: Int
        var node: ClusterNode

        /// Parses an error reply `MOVED 3999 127.0.0.1:6381` or
        /// `ASK 3999 127.0.0.1:6381`; `nil` for any other error. A node given
        /// as `:6381` (its address unknown to the cluster) is on the host of
        /// the node that answered, `answeredBy`.
        init?(_ text: String, answeredBy: ClusterNode) {
            let words = text.split(separator: " ")
            guard words.count == 3, let slot = Int(words[1]), (0..<ClusterSlots.count).contains(slot),
                  let colon = words[2].lastIndex(of: ":"),
                  let port = Int(words[2][words[2].index(after: colon)...]), (1...65535).contains(port) else {
                return nil
            }
            switch words[0] {
            case "MOVED": kind = .moved
            case "ASK": kind = .ask
            default: return nil
            }
            var host = String(words[2][..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self.slot = slot
            self.node = ClusterNode(host: host.isEmpty ? answeredBy.host : host, port: port)
        }
    }

    /// Which master serves each slot, read from a node's `CLUSTER SLOTS`.
    struct Map {
        /// A range of slots and the master that serves them.
        struct Range {
            var slots: ClosedRange<Int>
            var master: ClusterNode
        }

        /// The ranges, sorted by their first slot; the slots no master
        /// serves are in none.
        private(set) var ranges: [Range]

        /// Every master the map names, in the order of their slots.
        var masters: [ClusterNode] {
            var seen: Set<ClusterNode> = []
            return ranges.map(\.master).filter { seen.insert($0).inserted }
        }

        /// Reads the reply of `CLUSTER SLOTS` sent to `node`: an array of
        /// `[first slot, last slot, [host, port, id, ...], replicas...]`. A
        /// master whose host is empty is on `node`'s host; one whose host is
        /// `?` (unknown) is left out, so its slots count as unserved.
        /// `nil` when the reply is not of that shape.
        init?(slotsReply reply: RedisReply, from node: ClusterNode) {
            guard case .array(let items) = reply else { return nil }
            var ranges: [Range] = []
            for item in items {
                guard case .array(let fields) = item, fields.count >= 3,
                      case .integer(let first) = fields[0], case .integer(let last) = fields[1],
                      first >= 0, first <= last, last < Int64(ClusterSlots.count),
                      case .array(let master) = fields[2], master.count >= 2,
                      case .string(let hostBytes) = master[0], case .integer(let port) = master[1],
                      (1...65535).contains(port) else {
                    return nil
                }
                let host = String(decoding: hostBytes, as: UTF8.self)
                if host == "?" { continue }
                ranges.append(Range(
                    slots: Int(first)...Int(last), master: ClusterNode(host: host.isEmpty ? node.host : host, port: Int(port))
                ))
            }
            self.ranges = ranges.sorted { $0.slots.lowerBound < $1.slots.lowerBound }
        }

        /// The master serving `slot`, or `nil` when the map has none for it.
        func master(of slot: Int) -> ClusterNode? {
            var low = 0, high = ranges.count - 1
            while low <= high {
                let middle = (low + high) / 2
                let range = ranges[middle]
                if slot < range.slots.lowerBound {
                    high = middle - 1
                } else if slot > range.slots.upperBound {
                    low = middle + 1
                } else {
                    return range.master
                }
            }
            return nil
        }

        /// Records that `slot` is served by `node` now, as a `MOVED` said,
        /// until the next full refresh.
        mutating func move(_ slot: Int, to node: ClusterNode) {
            var updated: [Range] = []
            for range in ranges {
                guard range.slots.contains(slot) else {
                    updated.append(range)
                    continue
                }
                if range.slots.lowerBound < slot { updated.append(Range(slots: range.slots.lowerBound...(slot - 1), master: range.master)) }
                if slot < range.slots.upperBound { updated.append(Range(slots: (slot + 1)...range.slots.upperBound, master: range.master)) }
            }
            updated.append(Range(slots: slot...slot, master: node))
            ranges = updated.sorted { $0.slots.lowerBound < $1.slots.lowerBound }
        }
    }
}

/// A node of a Redis Cluster, as the cluster announces it or a
/// configuration names it.
typealias ClusterNode = RedisStorage.ClusterNode
