import Foundation

/// The outermost stage: records each request's effective method and path in
/// the server's request log (``TusDevServer/requestLog``), and logs it at
/// `.debug`, before anything else (a fault included) can answer it. The line
/// at `.info` comes once it is answered, with its status (see
/// `HTTPChannelHandler`).
struct RequestLogging: Responder {
    let server: ServerContext
    let next: any Responder

    func respond(to request: Request) -> Outcome {
        let entry = "\(request.effectiveMethod) \(request.path)"
        server.requestLog.withLock { log in
            if log.count >= ServerContext.requestLogLimit { log.removeFirst(log.count / 2) }
            log.append(entry)
        }
        server.logger.debug("\(entry)")
        return next.respond(to: request)
    }
}
