import Foundation
import TusCore
import TusFileStorage

/// Which store a command uses: `json:PATH` for now.
struct StoreSpec: CustomStringConvertible {
    enum Kind {
        case json(path: String)
    }
    var kind: Kind

    init(kind: Kind) {
        self.kind = kind
    }

    /// The environment variable that names the default store.
    static let environmentVariable = "TUS_STORE"

    /// The accepted forms, for error messages and help.
    static let forms = "json:PATH"

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
        if spec.hasPrefix("json:") {
            let path = String(spec.dropFirst("json:".count))
            guard !path.isEmpty else {
                throw CommandFailure(message: "\(source): \"\(spec)\" names no file; expected \(Self.forms)")
            }
            kind = .json(path: (path as NSString).expandingTildeInPath)
        } else {
            throw CommandFailure(message: "\(source): unknown store \"\(spec)\"; expected \(Self.forms)")
        }
    }

    var description: String {
        switch kind {
        case .json(let path): "json:\(path)"
        }
    }

    /// Opens the store.
    func open() throws -> any ListableStorage {
        switch kind {
        case .json(let path): try FileStorage(path: path)
        }
    }
}
