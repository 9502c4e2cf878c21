public import Foundation
public import TusDevServer

/// Runs `body` with the tus endpoint to use: the one given, or that of a
/// development server started for the occasion and shut down afterwards.
///
/// ```swift
/// try await withEndpoint(arguments.endpoint, scratch: scratch) { endpoint in
///     let client = TusClient(url: endpoint)
///     // …
/// }
/// ```
public func withEndpoint(_ given: URL?, scratch: URL, _ body: (URL) async throws -> Void) async throws {
    try await withDevServer(unless: given, scratch: scratch) { server in
        try await body(given ?? server!.endpoint)
    }
}

/// Runs `body` with a development tus server started for the occasion (its
/// files under `scratch/server`, shut down afterwards), or with `nil` when an
/// endpoint is given.
///
/// Use it instead of ``withEndpoint(_:scratch:_:)`` to look at what the
/// server received.
public func withDevServer(
    unless given: URL?, scratch: URL, _ body: (TusDevServer?) async throws -> Void
) async throws {
    if given != nil { return try await body(nil) }
    let configuration = TusDevServer.Configuration(directory: scratch.appendingPathComponent("server"))
    try await TusDevServer.withServer(configuration) { server in
        print("Started a development tus server at \(server.endpoint)")
        try await body(server)
    }
}
