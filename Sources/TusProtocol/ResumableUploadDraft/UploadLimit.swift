/// An `Upload-Limit` value: the limits a server puts on an upload, a
/// structured-field Dictionary of Integers (draft -12 §4.1.4; draft -05
/// §8.2), such as `max-size=1000000000, max-age=3600`.
///
/// A server sends it in the `104` and final answers that create an upload
/// resource, in answers to `HEAD` on it, in answers to `OPTIONS` for a
/// resource that takes resumable uploads (with `min-size=0` when it has
/// no limit, never an empty value), and with a `413` caused by its limits
/// (draft -12 §4.1.4, §4.2.2, §4.3.2).
///
/// Reading follows the draft: a key it does not define is ignored, and a
/// defined key whose value is not an Integer spoils the whole field (the
/// draft lets the receiver ignore the field or treat the message as
/// malformed; here it is a ``DraftHeaderError`` and the caller chooses).
/// A negative limit is refused the same way. Parameters on a member are
/// ignored.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package struct UploadLimit: Equatable, Sendable {
    /// `max-size`: the largest representation, in bytes. The server may
    /// refuse to create an upload whose length is known to be larger, and
    /// may end one whose offset passes it.
    package var maxSize: Int64?
    /// `min-size`: the smallest representation, in bytes, for which the
    /// server offers resumable uploads; a smaller one may still be taken,
    /// but not resumed.
    package var minSize: Int64?
    /// `max-append-size`: the most content, in bytes, one creation or
    /// append request may carry. A client that knows it must not send more.
    package var maxAppendSize: Int64?
    /// `min-append-size`: the least content, in bytes, one creation or
    /// append request may carry, except a creation with no content and a
    /// request that completes the upload (`Upload-Complete: ?1`).
    package var minAppendSize: Int64?
    /// `max-age` (`expires` in interop version 6): the seconds the upload
    /// resource has left, counted from when the answer carrying it was
    /// made, not from when it arrives. After that the server may remove the
    /// resource and a client should not use it. It is a countdown, not a
    /// fixed lifetime: it shrinks from one answer to the next, but the end
    /// it implies should not come sooner (draft -12 §4.1.4).
    package var maxAge: Int64?

    /// Limits with these values; nil for a limit not set.
    package init(
        maxSize: Int64? = nil, minSize: Int64? = nil, maxAppendSize: Int64? = nil, minAppendSize: Int64? = nil,
        maxAge: Int64? = nil
    ) {
        self.maxSize = maxSize
        self.minSize = minSize
        self.maxAppendSize = maxAppendSize
        self.minAppendSize = minAppendSize
        self.maxAge = maxAge
    }

    /// The keys of the limits in `version`, in the draft's order.
    private static func keys(_ version: DraftInteropVersion) -> [String] {
        ["max-size", "min-size", "max-append-size", "min-append-size", version.limitLifetimeKey]
    }

    /// The limits, in the order of ``keys(_:)``.
    private var values: [Int64?] { [maxSize, minSize, maxAppendSize, minAppendSize, maxAge] }

    /// What a good value looks like, for messages.
    private static func expected(_ version: DraftInteropVersion) -> String {
        "expected keys with integers, such as max-size=1000000, \(version.limitLifetimeKey)=3600"
    }

    /// Reads a header value as `version` spells it: the lifetime is
    /// `expires` in version 6 and `max-age` in version 8, the other key
    /// being unknown and so ignored. An empty value holds no limit.
    ///
    /// - Throws: ``DraftHeaderError`` naming the header when the value is
    ///   not a structured-field Dictionary, or a limit is not an Integer or
    ///   is negative.
    package init(headerValue: String, version: DraftInteropVersion) throws(DraftHeaderError) {
        let header = DraftHeaderName.uploadLimit
        let dictionary = try StructuredFieldText.dictionary(headerValue, header: header, expected: Self.expected(version))
        var limits: [String: Int64] = [:]
        for key in Self.keys(version) {
            guard let member = dictionary[key] else { continue }
            let kind: String
            switch member {
            case .innerList:
                kind = "a list"
            case .item(let item):
                if case .integer(let number) = item.rfc9651BareItem {
                    guard number >= 0 else {
                        throw DraftHeaderError(header: header, value: headerValue, problem: "gives \(key) as negative")
                    }
                    limits[key] = number
                    continue
                }
                kind = StructuredFieldText.kind(of: item.rfc9651BareItem)
            }
            throw DraftHeaderError(header: header, value: headerValue, problem: "gives \(key) as \(kind), not an integer")
        }
        self.init(
            maxSize: limits["max-size"], minSize: limits["min-size"], maxAppendSize: limits["max-append-size"],
            minAppendSize: limits["min-append-size"], maxAge: limits[version.limitLifetimeKey])
    }

    /// The header value as `version` spells it, the limits set in the
    /// draft's order (`max-size=1000, max-age=3600`); `min-size=0` when none
    /// is set, since the draft forbids an empty value (draft -12 §4.1.4).
    ///
    /// - Throws: ``DraftHeaderError`` when a limit is negative or more than
    ///   a structured-field Integer holds.
    package func headerValue(version: DraftInteropVersion) throws(DraftHeaderError) -> String {
        var set: [(key: String, value: Int64)] = []
        for (key, value) in zip(Self.keys(version), values) {
            guard let value else { continue }
            _ = try StructuredFieldText.serialize(nonNegative: value, header: "\(DraftHeaderName.uploadLimit) \(key)")
            set.append((key, value))
        }
        if set.isEmpty { set = [("min-size", 0)] }
        do {
            return try StructuredFieldText.serialize(set)
        } catch {
            preconditionFailure("a dictionary of keys and integers checked beforehand always serializes: \(error)")
        }
    }
}
