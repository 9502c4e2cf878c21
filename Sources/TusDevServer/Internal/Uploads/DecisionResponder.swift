import Foundation

/// The innermost stage of tus 1.0.
typealias TusResponder = DecisionResponder<TusDecisions>
/// The innermost stage of the IETF draft.
typealias DraftResponder = DecisionResponder<DraftDecisions>

/// The innermost stage: turns a protocol's decisions (``TusDecisions`` or
/// ``DraftDecisions``) into what the channel handler does. A body to write
/// gets an ``UploadBodySink`` (through an ``UploadBody``, with the interim
/// answer the decisions give, such as the draft's `104`); joining parts
/// runs off the event loop.
///
/// A request for an upload another request holds
/// (``UploadDecision/takeOver(_:)``) asks the holder to stop and
/// waits, reading nothing, until it lets go; then it is decided again. A
/// holder that is stopped lets go at once, so the request goes on within
/// moments; one that cannot be stopped (a join) or does not let go within
/// ``ServerContext/takeoverTimeout`` (counted from the first wait) leaves
/// the request to be decided without waiting: 423 for a `PATCH`, a `DELETE`
/// or a final `POST`, the upload as it stands for a `HEAD`.
struct DecisionResponder<Decisions: UploadDecisions>: Responder {
    let decisions: Decisions

    init(server: ServerContext) {
        decisions = Decisions(server: server)
    }

    func respond(to request: Request) -> Outcome {
        respond(to: request, mayTakeOver: true, deadline: nil)
    }

    /// - Parameter deadline: when the waits for holders must end; `nil`
    ///   before the first.
    private func respond(to request: Request, mayTakeOver: Bool, deadline: ContinuousClock.Instant?) -> Outcome {
        switch decisions.decide(request, mayTakeOver: mayTakeOver) {
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
            return .receive(UploadBody(sink: sink, answers: decisions, interimResponse: decisions.interimAnswer(plan)))
        case .concatenate(let plan):
            let decisions = decisions
            return .offload { decisions.concatenate(plan) }
        case .takeOver(let id):
            let server = decisions.server
            let deadline = deadline ?? .now + .seconds(server.takeoverTimeout)
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else {
                return respond(to: request, mayTakeOver: false, deadline: deadline)
            }
            server.logger.info("upload \(id) is held by another request: asking it to let go")
            let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
            return .waitForWakeUp(
                seconds: seconds,
                register: { wake in
                    // Let go since it was decided: go on at once.
                    if !server.store.askToLetGo(id, wake: wake) { wake() }
                },
                then: { woken in respond(to: request, mayTakeOver: woken, deadline: deadline) })
        }
    }
}
