import Foundation

/// The innermost stage: turns ``TusDecisions`` into what the channel
/// handler does. A body to write gets an ``UploadBodySink`` (through an
/// ``UploadBody``); joining parts runs off the event loop.
struct TusResponder: Responder {
    let decisions: TusDecisions

    init(server: ServerContext) {
        decisions = TusDecisions(server: server)
    }

    func respond(to request: Request) -> Outcome {
        switch decisions.decide(request) {
        case .respond(let response):
            return .respond(response)
        case .writeBody(let plan):
            let sink: UploadBodySink
            do {
                sink = try UploadBodySink(plan: plan, server: decisions.server)
            } catch {
                decisions.server.logger.error("\(error)")
                return .respond(Response(status: 500, body: "cannot open the upload's data file\n"))
            }
            return .receive(UploadBody(sink: sink, decisions: decisions))
        case .concatenate(let plan):
            let decisions = decisions
            return .offload { decisions.concatenate(plan) }
        }
    }
}
