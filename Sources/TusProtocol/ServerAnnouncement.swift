/// What a tus server announces in its answer to `OPTIONS`: `Tus-Version`,
/// `Tus-Extension`, `Tus-Max-Size` and `Tus-Checksum-Algorithm`. The
/// development server writes it, the client reads it.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package struct ServerAnnouncement: Equatable, Sendable {
    /// The versions spoken, preferred first.
    package var versions: [String]
    /// The extensions supported, in the order announced.
    package var extensions: [String]
    /// The largest upload accepted, if announced (a value that is not a
    /// byte count is taken as not announced).
    package var maxSize: Int64?
    /// The checksum algorithms accepted, lowercased.
    package var checksumAlgorithms: [String]

    /// An announcement with these parts.
    package init(versions: [String], extensions: [String], maxSize: Int64?, checksumAlgorithms: [String]) {
        self.versions = versions
        self.extensions = extensions
        self.maxSize = maxSize
        self.checksumAlgorithms = checksumAlgorithms
    }

    /// Reads an answer's headers; `values(name)` gives every value of the
    /// header `name` (any case), in order.
    package init(reading values: (String) -> [String]) {
        versions = TusHeaderList.split(values(TusHeaderName.tusVersion))
        extensions = TusHeaderList.split(values(TusHeaderName.tusExtension))
        maxSize = values(TusHeaderName.tusMaxSize).first.flatMap(NonNegativeInteger.parseTrimmed)
        checksumAlgorithms = TusHeaderList.split(values(TusHeaderName.tusChecksumAlgorithm)).map { $0.lowercased() }
    }

    /// The headers that say it, in the protocol's order; `Tus-Max-Size`
    /// and `Tus-Checksum-Algorithm` only when there is something to say.
    package var headers: [(name: String, value: String)] {
        var headers = [
            (name: TusHeaderName.tusVersion, value: TusHeaderList.join(versions)),
            (name: TusHeaderName.tusExtension, value: TusHeaderList.join(extensions)),
        ]
        if let maxSize { headers.append((TusHeaderName.tusMaxSize, String(maxSize))) }
        if !checksumAlgorithms.isEmpty { headers.append((TusHeaderName.tusChecksumAlgorithm, TusHeaderList.join(checksumAlgorithms))) }
        return headers
    }
}
