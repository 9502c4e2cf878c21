import Foundation
import TusCore
import TusFileStorage
import TusRedisStorage
import TusSQLiteStorage

/// Which store a command uses: `json:PATH`, `sqlite:PATH`, a `redis://` URL,
/// a `redis-sentinel://` URL or a `redis-cluster://` URL.
struct StoreSpec: CustomStringConvertible {
    enum Kind {
        case json(path: String)
        case sqlite(path: String)
        case redis(RedisStorage.Configuration, shown: String)
    }
    var kind: Kind

    init(kind: Kind) {
        self.kind = kind
    }

    /// The environment variable that names the default store.
    static let environmentVariable = "TUS_STORE"

    /// The accepted forms, for error messages and help.
    static let forms = "json:PATH, sqlite:PATH, redis://[user:password@]host[:port][/db][?prefix=P&ttl=SECONDS], redis-sentinel://[user:password@]host[:port][,host[:port]...]/MASTER[/db][?prefix=P&ttl=SECONDS&wait=REPLICAS] or redis-cluster://[user:password@]host:port[,host:port...][?prefix=P&ttl=SECONDS]"

    /// Parses `spec`, or the default when it is nil: `$TUS_STORE`, else the
    /// JSON file at ``FileStorage/defaultPath``.
    init(_ spec: String?) throws {
        if let spec {
            try self.init(parsing: spec, source: "--store")
        } else if let environment = ProcessInfo.processInfo.environment[Self.environmentVariable], !environment.isEmpty {
            try self.init(parsing: environment, source: Self.environmentVariable)
        } else {
            self.init(kind: .json(path: FileStorage.defaultPath))
        }
    }

    private init(parsing spec: String, source: String) throws {
        func path(after prefix: String) throws -> String {
            let path = String(spec.dropFirst(prefix.count))
            guard !path.isEmpty else {
                throw CommandFailure(message: "\(source): \(spec.debugDescription) names no file; expected \(Self.forms)")
            }
            let expanded = (path as NSString).expandingTildeInPath
            // A `~user` that names no user is kept as written: Foundation
            // would still tidy it, one slash of `//` at a time, so the path
            // would change each time it is shown and read again.
            return expanded.hasPrefix("~") ? path : expanded
        }
        if spec.hasPrefix("json:") {
            kind = .json(path: try path(after: "json:"))
        } else if spec.hasPrefix("sqlite:") {
            kind = .sqlite(path: try path(after: "sqlite:"))
        } else if ["redis://", "rediss://", "redis-sentinel://", "redis-cluster://"].contains(where: spec.lowercased().hasPrefix) {
            kind = .redis(try RedisStorage.Configuration(url: spec), shown: RedisStorage.Configuration.maskingCredentials(in: spec))
        } else {
            // Quoted as Swift quotes it: a quote or a control character in
            // the spec is escaped, never printed as it is.
            throw CommandFailure(message: "\(source): unknown store \(Self.masked(spec).debugDescription); expected \(Self.forms)")
        }
    }

    var description: String {
        switch kind {
        case .json(let path): "json:\(path)"
        case .sqlite(let path): "sqlite:\(path)"
        case .redis(_, let shown): shown
        }
    }

    /// The file of a JSON or SQLite store.
    var filePath: String? {
        switch kind {
        case .json(let path), .sqlite(let path): path
        case .redis: nil
        }
    }

    /// `spec` safe to show: anything that may be a password (before an `@`)
    /// is masked, even in a spec too malformed to parse.
    static func masked(_ spec: String) -> String {
        let masked = RedisStorage.Configuration.maskingCredentials(in: spec)
        guard masked == spec, let colon = spec.firstIndex(of: ":"), let at = spec.lastIndex(of: "@"), colon < at else {
            return masked
        }
        return String(spec[...colon]) + "***" + String(spec[at...])
    }

    /// Opens the store.
    func open() throws -> any ListableStorage {
        switch kind {
        case .json(let path): try FileStorage(path: path)
        case .sqlite(let path): try SQLiteStorage(path: path)
        case .redis(let configuration, _): try RedisStorage(configuration: configuration)
        }
    }
}
