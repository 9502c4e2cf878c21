import Foundation
import TusProtocol

/// What a final `POST` was allowed to do: join these parts, in this order,
/// into a new upload with this metadata.
///
/// Every part is complete and held (``UploadStore/acquire(_:for:now:)``, each
/// id once however often it is named) until ``TusDecisions/concatenate(_:)``
/// lets them go, so none changes or disappears during the join.
struct FinalUploadPlan: Sendable {
    /// The parts in order, each with its length.
    var parts: [(part: UploadStore.Part, length: Int64)]
    /// `Upload-Metadata` of the final `POST`, as sent.
    var rawMetadata: String?
    /// The authority the new upload's URL is given with.
    var authority: String

    /// The ids held for the join, each once.
    var heldIDs: [String] {
        var seen = Set<String>()
        return parts.map { $0.part.id }.filter { seen.insert($0).inserted }
    }

    /// The final upload's length: the sum of the parts'.
    var length: Int64 { parts.reduce(0) { $0 + $1.length } }
}

extension TusDecisions {
    /// Checks a `POST` with `Upload-Concat: final;<url> …`: no length of its
    /// own, no bytes, and every part named must be an upload of this server
    /// (404 if not), be partial and complete (400 if not). The parts are
    /// checked in order and the first problem is the answer, naming the part
    /// by its position and URL. A part another request holds is
    /// ``Decision/takeOver(_:)`` while `mayTakeOver` (the parts held so far
    /// are let go first), else 423.
    func createFinal(_ request: Request, partURLs: [String], mayTakeOver: Bool = true) -> Decision {
        let headers = request.headers
        if headers.contains(TusHeaderName.uploadLength) {
            return badRequest("a final upload takes no Upload-Length: its length is the sum of its parts'")
        }
        if headers.contains(TusHeaderName.uploadDeferLength) {
            return badRequest("a final upload takes no Upload-Defer-Length: its length is the sum of its parts'")
        }
        let rawMetadata = headers.first(TusHeaderName.uploadMetadata)
        if let rawMetadata, UploadMetadataCodec.decode(rawMetadata) == nil {
            return badRequest("malformed Upload-Metadata")
        }
        if request.hasBody, HeaderParsing.isOffsetOctetStream(headers.first("Content-Type")) {
            return .respond(Response(status: 403, body: "a final upload takes no bytes of its own, only its parts'\n"))
        }

        // Which upload each URL names.
        var ids: [String] = []
        for (index, url) in partURLs.enumerated() {
            let name = "part \(index + 1) (\(url))"
            guard let parsed = URL(string: url) else {
                return badRequest("malformed Upload-Concat: \(name) is not a URL or a path")
            }
            let path = parsed.path
            guard path.hasPrefix(server.basePath) else {
                let reason = "its path is not under \(server.basePath)"
                return .respond(Response(status: 404, body: "\(name) is not an upload of this server: \(reason)\n"))
            }
            let id = String(path.dropFirst(server.basePath.count))
            guard UploadStore.isValidID(id) else {
                return .respond(Response(status: 404, body: "\(name) does not exist\n"))
            }
            ids.append(id)
        }

        // Hold each part, and check it is a finished partial upload.
        var held: [String] = []
        func refuse(_ response: Response) -> Decision {
            for id in held { server.store.release(id) }
            return .respond(response)
        }
        var records: [String: UploadStore.Record] = [:]
        for (index, id) in ids.enumerated() {
            let name = "part \(index + 1) (\(partURLs[index]))"
            if records[id] == nil {
                switch server.store.acquire(id, for: .joining) {
                case .found(let record):
                    held.append(id)
                    records[id] = record
                case .notFound:
                    return refuse(Response(status: 404, body: "\(name) does not exist\n"))
                case .gone:
                    return refuse(Response(status: 410, body: "\(name) expired\n"))
                case .busy:
                    // The parts held so far are let go either way.
                    let locked = refuse(Response(status: 423, body: "\(name) is busy with another request\n"))
                    return mayTakeOver ? .takeOver(id) : locked
                }
            }
            let record = records[id]!
            guard record.isPartial else {
                let what = record.isFinal ? "a final upload" : "an upload created without Upload-Concat: partial"
                return refuse(Response(status: 400, body: "\(name) is not a partial upload: it is \(what)\n"))
            }
            guard record.isComplete else {
                let progress =
                    record.length.map { "it has \(record.offset) of its \($0) bytes" }
                    ?? "it has \(record.offset) bytes and its length is still deferred"
                return refuse(Response(status: 400, body: "\(name) is unfinished: \(progress)\n"))
            }
        }

        var total: Int64 = 0
        var parts: [(part: UploadStore.Part, length: Int64)] = []
        for (index, id) in ids.enumerated() {
            let length = records[id]!.length!
            let (sum, overflow) = total.addingReportingOverflow(length)
            guard !overflow, sum <= server.maxUploadSize else {
                return refuse(
                    Response(
                        status: 413, headers: [(TusHeaderName.tusMaxSize, String(server.maxUploadSize))],
                        body: "the parts together exceed the maximum size \(server.maxUploadSize)\n"))
            }
            total = sum
            parts.append((UploadStore.Part(id: id, url: partURLs[index]), length))
        }
        return .concatenate(FinalUploadPlan(parts: parts, rawMetadata: rawMetadata, authority: authority(of: request)))
    }

    /// Carries out a final `POST`: copies the parts' bytes into a new
    /// upload's data file, one after the other and a buffer at a time,
    /// records the upload, lets the parts go, and answers `201` with its
    /// `Location`. Reads and writes as many bytes as the parts hold, so the
    /// server runs it off the event loop.
    func concatenate(_ plan: FinalUploadPlan) -> Response {
        defer {
            for id in plan.heldIDs { server.store.release(id) }
        }
        let record: UploadStore.Record
        do {
            record = try server.store.createFinal(parts: plan.parts, rawMetadata: plan.rawMetadata)
        } catch {
            server.logger.error("\(error)")
            return Response(status: 500, body: "cannot join the parts into the final upload\n")
        }
        return Response(status: 201, headers: [("Location", location(for: record.id, authority: plan.authority))])
    }
}
