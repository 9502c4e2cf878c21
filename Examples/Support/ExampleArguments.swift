public import Foundation
import TusCore

/// The command line of an upload example: `[FILE] [--endpoint URL]` and the
/// options the example accepts besides (``Option``).
///
/// ```swift
/// let arguments = try ExampleArguments(
///     ["big.iso", "--store", "uploads.json"],
///     name: "basic-upload", usage: "[FILE] [--endpoint URL] [--store STORE.json]", options: [.store]
/// )
/// // arguments.file == "big.iso", arguments.store == "uploads.json"
/// ```
public struct ExampleArguments: Sendable {
    /// An option that takes a value, which only some examples accept.
    public enum Option: Sendable {
        /// `--store PATH`: the JSON store of upload URLs.
        case store
        /// `--redis URL`: the Redis server of the custom store.
        case redis
    }

    /// The file to upload, if one is given.
    public var file: String?
    /// The tus endpoint given with `--endpoint`; `nil` means a development
    /// server started for the occasion.
    public var endpoint: URL?
    /// The store path given with `--store`.
    public var store: String?
    /// The Redis URL given with `--redis`.
    public var redis: String?

    /// Reads `words` (the arguments after the program's name).
    ///
    /// - Parameters:
    ///   - name: The example's name, as `swift run` knows it.
    ///   - usage: Its arguments, for the message about an unknown option.
    ///   - options: The options it accepts besides `--endpoint`; any other
    ///     word starting with `-` is an unknown option.
    /// - Throws: ``TusError`` (`.invalidArgument`) for an unknown option, an
    ///   option without its value, or an endpoint that is not a URL.
    public init(_ words: [String], name: String, usage: String, options: Set<Option>) throws {
        var words = words[...]
        while let word = words.popFirst() {
            switch word {
            case "--endpoint":
                guard let text = words.popFirst(), let url = URL(string: text), url.scheme != nil else {
                    throw TusError(.invalidArgument, "--endpoint needs a URL, such as http://127.0.0.1:1080/files/")
                }
                endpoint = url
            case "--store" where options.contains(.store):
                guard let path = words.popFirst() else { throw TusError(.invalidArgument, "--store needs a path") }
                store = path
            case "--redis" where options.contains(.redis):
                guard let url = words.popFirst() else {
                    throw TusError(.invalidArgument, "--redis needs a URL, such as redis://127.0.0.1:6379")
                }
                redis = url
            case _ where word.hasPrefix("-"):
                throw TusError(.invalidArgument, "unknown option \(word); usage: \(name) \(usage)")
            default:
                file = word
            }
        }
    }
}
