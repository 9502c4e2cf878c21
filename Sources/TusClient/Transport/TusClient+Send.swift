import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TusCore

/// A request that got no answer, in words, with what the uploader needs to
/// adapt: how many body bytes had gone out, and whether it stalled.
struct TransportFailure: Error, Sendable {
    var error: TusError
    var bytesSent: Int
    var stalled: Bool
    /// The interim (1xx) answers that came before the request failed.
    var interim: [HTTPResponseHead] = []
}

/// An answer, and how long it took from sending the request.
struct TimedExchange {
    var exchange: Exchange
    var seconds: Double
    /// The proxy the request went through, if any.
    var proxy: URL?
}

extension TusClient {
    /// Sends one request: the protocol's and the user's headers, the hooks
    /// of `options`, the route (proxy, TLS) to `url`, and failures in words.
    ///
    /// With `onInterim`, interim (1xx) answers are handed to it as they
    /// come, and kept in the answer: the request goes over a connection of
    /// its own (``OneRequestConnection``), except through an HTTP client
    /// the user gave or to an `https://` server through a proxy, where
    /// AsyncHTTPClient carries it and drops them.
    ///
    /// - Throws: ``TransportFailure`` when no answer came (the network, a
    ///   stall, the request's deadline); `TusError` for a route that cannot
    ///   be used and a file that cannot be read; whatever a hook throws;
    ///   `CancellationError`.
    func send(
        _ method: HTTPMethod, _ url: URL, headers extra: [(String, String)], body: RequestBody? = nil,
        options: UploadOptions?, speech: Speech = .only(.tus), on loop: (any EventLoop)? = nil,
        onBodySent: (@Sendable (Int) -> Void)? = nil, onInterim: (@Sendable (HTTPResponseHead) -> Void)? = nil
    ) async throws -> TimedExchange {
        let route = try route(to: url)
        var request = UploadRequest(
            method: method.rawValue, url: url, headers: requestHeaders(extra, options: options, speech: speech),
            bodyCount: body?.count ?? 0)
        if let hook = options?.beforeRequest { try await hook(&request) }
        let logger = self.logger
        RequestLog.logRequestHeaders(method.rawValue, url.forMessages, request.headers, to: logger)
        let started = ContinuousClock.now
        var exchange: Exchange
        // Every interim answer, whatever ends the request: a creation that
        // fails after its 104 still made the upload.
        let interim = LockedValue<[HTTPResponseHead]>([])
        var recordInterim: (@Sendable (HTTPResponseHead) -> Void)?
        if let onInterim {
            recordInterim = { @Sendable (head: HTTPResponseHead) in
                interim.value.append(head)
                onInterim(head)
            }
        }
        do {
            let headers = request.headers.map { ($0.name, $0.value) }
            let loop = loop ?? route.httpClient.eventLoopGroup.next()
            let timeout = options?.requestTimeout ?? .seconds(60)
            let stallTimeout = options == nil ? .seconds(60) : options!.stallTimeout
            if let proxy = route.absoluteFormProxy {
                exchange = try await proxy.exchange(
                    method, url, headers: headers, body: body, fromFile: route.httpClient.hasOneEventLoop,
                    on: loop, timeout: timeout, stallTimeout: stallTimeout, peerPort: route.peerPort(for: url), onInterim: recordInterim)
            } else if let recordInterim, !route.isCustom, route.proxy == nil,
                      let peer = try await OneRequestConnection.server(of: url, tls: route.tlsConfiguration),
                      let head = OneRequestConnection.originFormHead(method, url, headers: headers, bodyCount: body?.count ?? 0) {
                exchange = try await OneRequestConnection.exchange(
                    head, label: "\(method.rawValue) \(url.forMessages)", body: body, to: peer,
                    fromFile: url.scheme?.lowercased() == "http" && route.httpClient.hasOneEventLoop, on: loop,
                    timeout: timeout, stallTimeout: stallTimeout, peerPort: route.peerPort(for: url), onBodySent: onBodySent,
                    onInterim: recordInterim)
                if [301, 302, 303, 307, 308].contains(exchange.status.code), exchange.headers.first(name: "Location") != nil {
                    // A redirect: AsyncHTTPClient follows it as it follows
                    // every other request's (the interim answers of the
                    // request it redirects to are not seen).
                    exchange = try await route.httpClient.exchange(
                        method, url, headers: headers, body: body, tls: route.tlsConfiguration, on: loop,
                        timeout: timeout, stallTimeout: stallTimeout, peerPort: route.peerPort(for: url), onBodySent: onBodySent)
                }
            } else {
                exchange = try await route.httpClient.exchange(
                    method, url, headers: headers, body: body, tls: route.tlsConfiguration, on: loop,
                    timeout: timeout, stallTimeout: stallTimeout, peerPort: route.peerPort(for: url), onBodySent: onBodySent)
            }
        } catch let error as TusError where error.code == .timeout {
            // The request's deadline: bytes may have been on their way.
            throw TransportFailure(error: error, bytesSent: body?.count ?? 0, stalled: true, interim: interim.value)
        } catch let failure as NoAnswer {
            let label = "\(method.rawValue) \(url.forMessages)"
            if let stall = failure.error as? Stalled {
                let error = TusError(.timeout, "\(label): nothing moved for \(Self.seconds(stall.seconds)); the request was abandoned", cause: stall)
                throw TransportFailure(error: error, bytesSent: failure.bytesSent, stalled: true, interim: interim.value)
            }
            let error = await ConnectionFailure.error(
                failure.error, url: url, route: route, tls: tls, bytesSent: failure.bytesSent, group: route.httpClient.eventLoopGroup)
            throw TransportFailure(error: error, bytesSent: failure.bytesSent, stalled: false, interim: interim.value)
        }
        let elapsed = ContinuousClock.now - started
        RequestLog.logResponseHeaders(method.rawValue, url.forMessages, status: exchange.status.code, exchange.headers, to: logger)
        if let hook = options?.afterResponse {
            try await hook(UploadResponse(
                request: request, statusCode: Int(exchange.status.code),
                headers: exchange.headers.map { (name: $0.name, value: $0.value) }))
        }
        let (whole, fraction) = elapsed.components
        return TimedExchange(exchange: exchange, seconds: Double(whole) + Double(fraction) / 1e18, proxy: route.proxy)
    }

    /// `30 s`, `1.5 s`.
    static func seconds(_ duration: Duration) -> String {
        let (whole, fraction) = duration.components
        let value = Double(whole) + Double(fraction) / 1e18
        return value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
