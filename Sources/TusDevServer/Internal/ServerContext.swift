import Foundation
import Logging
import TusProtocol

/// What the stages of one server share: the store, the fault queue, the
/// request log and the settings.
final class ServerContext: Sendable {
    let store: UploadStore
    let basePath: String
    let maxUploadSize: Int64
    let expiration: TimeInterval?
    let checksumAlgorithms: [UploadChecksum.Algorithm]
    /// Whether concatenation is implemented and announced.
    let concatenation: Bool
    /// How long a request waits, at most, for another request to let an
    /// upload go (``TusDevServer/Configuration/takeoverTimeout``), in
    /// seconds: from none to a day (not a number reads as none).
    let takeoverTimeout: Double
    let logger: Logger
    let faults = Locked<[Fault]>([])
    let requestLog = Locked<[String]>([])
    /// Past this many entries the older half of the request log is dropped.
    static let requestLogLimit = 100_000

    /// The context for a server started with `configuration`: the base path
    /// with its slashes, an expiration of a century or more read as none,
    /// known checksum algorithms only, each once, a takeover timeout between
    /// none and a day. Creates the upload directory.
    ///
    /// - Throws: ``TusError`` when the directory cannot be created.
    convenience init(configuration: TusDevServer.Configuration) throws {
        // Beyond a century (or not a number) means never.
        let expiration = configuration.expiration.flatMap { $0.isFinite && $0 < 3.2e9 ? max($0, 0) : nil }
        let store = try UploadStore(
            directory: configuration.directory, expiration: expiration, logger: configuration.logger,
            clock: configuration.clock)
        let algorithms = configuration.checksumAlgorithms.compactMap {
            UploadChecksum.Algorithm(rawValue: $0.lowercased())
        }
        var seen = Set<UploadChecksum.Algorithm>()
        self.init(
            store: store,
            basePath: TusDevServer.normalizedBasePath(configuration.basePath),
            maxUploadSize: configuration.maxUploadSize,
            expiration: expiration,
            checksumAlgorithms: algorithms.filter { seen.insert($0).inserted },
            concatenation: configuration.concatenation,
            takeoverTimeout: configuration.takeoverTimeout.isNaN
                ? 0 : min(max(configuration.takeoverTimeout, 0), 86_400),
            logger: configuration.logger
        )
    }

    init(
        store: UploadStore, basePath: String, maxUploadSize: Int64, expiration: TimeInterval?,
        checksumAlgorithms: [UploadChecksum.Algorithm], concatenation: Bool = true, takeoverTimeout: Double = 3,
        logger: Logger
    ) {
        self.concatenation = concatenation
        self.takeoverTimeout = takeoverTimeout
        self.store = store
        self.basePath = basePath
        self.maxUploadSize = maxUploadSize
        self.expiration = expiration
        self.checksumAlgorithms = checksumAlgorithms
        self.logger = logger
    }

    /// The stages every request goes through, outermost first: the request
    /// log, fault injection, the choice of protocol, then tus's decisions or
    /// the draft's, with the body sink.
    func makeResponder() -> any Responder {
        let protocols = ProtocolChoice(tus: TusResponder(server: self), draft: DraftResponder(server: self))
        return RequestLogging(server: self, next: FaultInjection(server: self, next: protocols))
    }

    /// Removes and returns the first queued fault for which `matches` holds.
    func takeFault(where matches: (Fault) -> Bool) -> Fault? {
        faults.withLock { faults in
            guard let index = faults.firstIndex(where: matches) else { return nil }
            return faults.remove(at: index)
        }
    }
}
