/// What one ``Relay``'s connections share with each other and with the test:
/// the counters, the byte counts toward the next cut and stall (kept for the
/// whole link, so "cut every 4 MB" spans connections), and the live
/// connections.
final class RelayLink: Sendable {
    /// What happens when a connection reaches the next cut or stall.
    enum Event: Equatable {
        case cut
        case stall(Duration?)
    }

    private struct Accounts {
        var towardCut = 0
        var cutsDecided = 0
        var towardStall = 0
        var stallsDecided = 0
        var connections: [ObjectIdentifier: RelayConnection] = [:]
    }

    let behaviour: Relay.Behaviour
    let counters = Watched(Relay.Counters(), name: "the relay's counters")
    private let accounts = Locked(Accounts())

    init(behaviour: Relay.Behaviour) {
        self.behaviour = behaviour
    }

    /// Accounts for `count` client bytes read by one connection: returns how
    /// many of them pass before the next cut or stall (all of them when none
    /// is due) and that event. The count restarts after each event. Taken
    /// under a lock, so only one connection carries each event.
    func admit(_ count: Int) -> (passing: Int, event: Event?) {
        accounts.withLock { accounts in
            var untilCut = Int.max
            if let cut = behaviour.cut, cut.times.map({ accounts.cutsDecided < $0 }) ?? true {
                untilCut = cut.afterBytes - accounts.towardCut
            }
            var untilStall = Int.max
            if let stall = behaviour.stall, stall.times.map({ accounts.stallsDecided < $0 }) ?? true {
                untilStall = stall.afterBytes - accounts.towardStall
            }
            let first = min(untilCut, untilStall)
            if count < first {
                if untilCut != .max { accounts.towardCut += count }
                if untilStall != .max { accounts.towardStall += count }
                return (count, nil)
            }
            if untilCut <= untilStall {
                accounts.towardCut = 0
                accounts.cutsDecided += 1
                // A stall due at the same byte is skipped: the connection
                // is about to go, there is nothing left to stall.
                if untilStall != .max { accounts.towardStall = untilStall == untilCut ? 0 : accounts.towardStall + first }
                return (first, .cut)
            }
            accounts.towardStall = 0
            accounts.stallsDecided += 1
            if untilCut != .max { accounts.towardCut += first }
            return (first, .stall(behaviour.stall?.duration))
        }
    }

    /// Changes the counters (waking the waits that now hold).
    func update(_ change: (inout Relay.Counters) -> Void) {
        counters.update(change)
    }

    func register(_ connection: RelayConnection) {
        accounts.withLock { $0.connections[ObjectIdentifier(connection)] = connection }
    }

    func unregister(_ connection: RelayConnection) {
        accounts.withLock { $0.connections[ObjectIdentifier(connection)] = nil }
    }

    var connections: [RelayConnection] { accounts.withLock { Array($0.connections.values) } }
}
