/// A network fixture could not start or do its work: a program it runs
/// (openssl, nginx, tinyproxy) failed or is missing, or a port could not be
/// had. The message names the program and carries what it printed.
public struct FixtureError: Error, Sendable, CustomStringConvertible {
    /// What failed, and why.
    public var message: String

    /// An error saying `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message, as test output shows it.
    public var description: String { message }
}
