/// A TCP port on 127.0.0.1 that nothing listened on a moment ago, for a
/// server a test starts (or a port a test needs closed). Another process may
/// take it before the caller binds it.
public func freeLoopbackPort() throws -> Int {
    try Loopback.freePort()
}
