public import TusCore
import TusProtocol

/// What a tus server announces in its answer to OPTIONS.
public struct ServerCapabilities: Sendable, Hashable {
    /// The protocol versions it speaks (`Tus-Version`), preferred first.
    public var versions: [String]
    /// The extensions it supports (`Tus-Extension`), such as `creation`,
    /// `creation-with-upload`, `termination`, `checksum`, `expiration`.
    public var extensions: Set<String>
    /// The largest upload it accepts (`Tus-Max-Size`), if it says.
    public var maxSize: Int64?
    /// The checksum algorithms it accepts (`Tus-Checksum-Algorithm`).
    public var checksumAlgorithms: Set<String>

    /// Creates a description of a server.
    public init(versions: [String] = [], extensions: Set<String> = [], maxSize: Int64? = nil, checksumAlgorithms: Set<String> = []) {
        self.versions = versions
        self.extensions = extensions
        self.maxSize = maxSize
        self.checksumAlgorithms = checksumAlgorithms
    }

    /// What is assumed of a server that does not answer OPTIONS: the core
    /// protocol and creation, nothing more.
    public static let assumed = ServerCapabilities(versions: [tusProtocolVersion], extensions: ["creation"])

    /// Whether the server announces `name` in `Tus-Extension`.
    public func supports(_ name: String) -> Bool { extensions.contains(name) }

    /// Whether the server accepts checksums made with `algorithm`.
    public func supports(_ algorithm: ChecksumAlgorithm) -> Bool {
        supports("checksum") && checksumAlgorithms.contains(algorithm.rawValue)
    }
}
