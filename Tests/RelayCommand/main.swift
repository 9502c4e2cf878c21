// `test-relay`: the tests' TCP relay as a process, for benchmarks and for
// trying the tool over a bad link by hand.
//
//     test-relay --to HOST:PORT [--round-trip-ms 40] [--cut-every BYTES] [--stall-after BYTES] [--rate BYTES_PER_SECOND]
//
// It prints the port it listens on (127.0.0.1) as one line on standard
// output, then relays until it is killed. --rate caps each connection on
// its own (n connections at once carry up to n times it), from the client
// toward the server, and with --round-trip-ms each still carries the whole
// rate (see Relay.Rate).
import Foundation
import TusTestSupport

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("test-relay: \(message)\n".utf8))
    exit(2)
}

var arguments = CommandLine.arguments.dropFirst()
var target: (String, Int)?
var behaviour = Relay.Behaviour()
while let argument = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
    switch argument {
    case "--to":
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]) else {
            fail("--to \(value) is not HOST:PORT")
        }
        target = (String(value[..<colon]), port)
    case "--round-trip-ms":
        guard let milliseconds = Int(value), milliseconds >= 0 else { fail("--round-trip-ms \(value) is not a whole number") }
        behaviour.roundTripLatency = .milliseconds(milliseconds)
    case "--cut-every":
        guard let bytes = Int(value), bytes > 0 else { fail("--cut-every \(value) is not a byte count") }
        behaviour.cut = .init(afterBytes: bytes)
    case "--stall-after":
        guard let bytes = Int(value), bytes > 0 else { fail("--stall-after \(value) is not a byte count") }
        behaviour.stall = .once(afterBytes: bytes)
    case "--rate":
        guard let bytes = Int(value), bytes > 0 else { fail("--rate \(value) is not a byte count per second") }
        behaviour.rate = .init(bytesPerSecond: bytes)
    default:
        fail("unknown option \(argument); see the comment at the top of Tests/RelayCommand/main.swift")
    }
}
guard let (host, port) = target else { fail("--to HOST:PORT is required") }
let relay = try await Relay.start(to: host, port: port, behaviour)
FileHandle.standardOutput.write(Data("\(relay.port)\n".utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
