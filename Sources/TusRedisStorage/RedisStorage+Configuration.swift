public import Foundation
import TusCore

extension RedisStorage {
    /// Where a ``RedisStorage`` connects and how it names its keys.
    ///
    /// Build one field by field, or parse a `redis://` or
    /// `redis-sentinel://` URL with ``init(url:)``:
    ///
    /// ```swift
    /// var configuration = RedisStorage.Configuration(host: "10.0.0.5", password: secret)
    /// configuration.keyPrefix = "uploader:"
    /// configuration.ttl = 7 * 24 * 3600
    /// let store = try RedisStorage(configuration: configuration)
    /// ```
    ///
    /// Its `description`, `debugDescription` and mirror never show the
    /// password.
    public struct Configuration: Sendable, Hashable {
        /// The server's host name or IP address, such as `127.0.0.1`,
        /// `redis.internal` or `::1` (without brackets).
        public var host: String
        /// The server's TCP port. The default is 6379.
        public var port: Int
        /// The user name for `AUTH user password` (Redis 6 ACLs), or `nil` to
        /// send `AUTH password` for the `default` user.
        public var username: String?
        /// The password, or `nil` to send no `AUTH`.
        public var password: String?
        /// The database number, selected with `SELECT`. The default is 0.
        public var database: Int
        /// The prefix of every key the store writes. The default is `tus:`.
        /// Stores with different prefixes on one database do not see each
        /// other's entries.
        public var keyPrefix: String
        /// How long, in seconds, Redis keeps an entry after it was stored or
        /// last replaced; `nil` (the default) keeps it until it is removed.
        public var ttl: TimeInterval?
        /// The longest wait, in seconds, for a connection to be made. The
        /// default is 5.
        public var connectTimeout: TimeInterval
        /// The longest wait, in seconds, for the server to take a command or
        /// to answer it. The default is 5.
        public var commandTimeout: TimeInterval
        /// The sentinels to ask for the master, and its name; `nil` (the
        /// default) connects to ``host`` and ``port``. When set, ``host`` and
        /// ``port`` are not used. See ``Sentinel``.
        public var sentinel: Sentinel?
        /// How many replicas must acknowledge each set and remove (`WAIT`)
        /// before it returns; 0 (the default) waits for none. A change that
        /// fewer replicas acknowledged within ``waitTimeout`` throws
        /// `TusError.Code.unavailable`, although the master made it.
        public var waitReplicas: Int
        /// How long, in seconds, a set or remove waits for ``waitReplicas``
        /// replicas to acknowledge it. Less than ``commandTimeout``. The
        /// default is 1.
        public var waitTimeout: TimeInterval
        /// The nodes of a Redis Cluster the store asks for the cluster's map
        /// of slots, or `nil` (the default) for the single server at
        /// ``host`` and ``port``. Set by
        /// ``cluster(_:username:password:keyPrefix:ttl:connectTimeout:commandTimeout:failoverTimeout:)``
        /// and by `redis-cluster://` URLs.
        public var clusterNodes: [RedisStorage.ClusterNode]?
        /// How long, in seconds, an operation on a cluster goes on trying
        /// while a node cannot be reached or the cluster says it is down,
        /// waiting for a replica to take over a master that died: set it a
        /// few seconds above the cluster's `cluster-node-timeout`. The
        /// default is 10. A single server does not use it.
        public var failoverTimeout: TimeInterval

        /// The port Redis listens on unless told otherwise: 6379.
        public static let defaultPort = 6379
        /// The key prefix used unless told otherwise: `tus:`.
        public static let defaultKeyPrefix = "tus:"

        /// Creates a configuration; every argument has a default.
        public init(
            host: String = "127.0.0.1",
            port: Int = Configuration.defaultPort,
            username: String? = nil,
            password: String? = nil,
            database: Int = 0,
            keyPrefix: String = Configuration.defaultKeyPrefix,
            ttl: TimeInterval? = nil,
            connectTimeout: TimeInterval = 5,
            commandTimeout: TimeInterval = 5
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.keyPrefix = keyPrefix
            self.ttl = ttl
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.sentinel = nil
            self.waitReplicas = 0
            self.waitTimeout = 1
            self.clusterNodes = nil
            self.failoverTimeout = Self.defaultFailoverTimeout
        }

        /// Parses a Redis URL, for one server, for a master found through
        /// Redis Sentinel, or for a Redis Cluster:
        /// - `redis://[[username]:password@]host[:port][/database][?options]`
        /// - `redis-sentinel://[[username]:password@]host[:port][,host[:port]...]/MASTER[/database][?options]`
        /// - `redis-cluster://[[username]:password@]host[:port][,host[:port]...][/][?prefix=P&ttl=SECONDS]`
        ///
        /// ```swift
        /// let a = try RedisStorage.Configuration(url: "redis://127.0.0.1")
        /// let b = try RedisStorage.Configuration(url: "redis://:s3cret@cache.internal:6380/2?prefix=up:&ttl=86400")
        /// let c = try RedisStorage.Configuration(url: "redis://uploader:s3cret@[::1]/0")
        /// let d = try RedisStorage.Configuration(url: "redis-sentinel://:s3cret@10.0.0.5,10.0.0.6,10.0.0.7/uploads/0?wait=1")
        /// let e = try RedisStorage.Configuration(url: "redis-cluster://:s3cret@10.0.0.5:7000,10.0.0.6:7000?prefix=up:")
        /// ```
        ///
        /// - The user name, password, master name and prefix may be
        ///   percent-encoded (a password holding `@`, `:` or `/` must be).
        /// - An IPv6 address goes in brackets.
        /// - The port defaults to 6379 (26379 for a sentinel), the database
        ///   to 0 and the prefix to `tus:`.
        /// - Options: `prefix`; `ttl`, a number of seconds greater than zero;
        ///   `wait`, the ``waitReplicas``, and `wait_timeout`, the
        ///   ``waitTimeout`` in seconds; with `redis-sentinel://`,
        ///   `failover_timeout`, the ``Sentinel/failoverTimeout`` in seconds.
        /// - With `redis-sentinel://`, the user name and password are the
        ///   master's; the sentinels are asked without them.
        /// - A cluster's nodes are separated by commas; it has database 0
        ///   only, and its prefix must not be empty (it becomes a hash tag).
        ///
        /// - Throws: `TusError` with `TusError.Code.invalidArgument`
        ///   naming the URL (its credentials masked) and what is wrong with
        ///   it, or `TusError.Code.unsupported` for `rediss://` (TLS).
        public init(url: String) throws {
            self = try RedisURLParser(url).parse()
        }

        /// The server's address without credentials, `redis://host:port/db`,
        /// with ``sentinel`` set `redis-sentinel://host:port,host:port/MASTER/db`,
        /// or a cluster's, `redis-cluster://host:port,host:port`, for messages
        /// and logs.
        public var address: String {
            if let clusterNodes {
                return "redis-cluster://" + clusterNodes.map(\.description).joined(separator: ",")
            }
            if let sentinel {
                let sentinels = sentinel.sentinels.map(\.description).joined(separator: ",")
                let name = sentinel.masterName.addingPercentEncoding(withAllowedCharacters: Self.plainCharacters)
                    ?? sentinel.masterName
                return "redis-sentinel://\(sentinels)/\(name)/\(database)"
            }
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "redis://\(shownHost):\(port)/\(database)"
        }

        /// What a master name keeps unencoded in ``address``.
        private static let plainCharacters = CharacterSet(
            charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
        )

        /// Checks every field, so that a bad one fails now rather than at
        /// the first connection.
        func validated() throws -> Configuration {
            func invalid(_ why: String) -> TusError {
                TusError(.invalidArgument, "invalid Redis configuration for \(address): \(why)")
            }
            if clusterNodes != nil && sentinel != nil {
                throw invalid("it names both sentinels and cluster nodes; a store is one or the other")
            }
            if clusterNodes != nil { try validatedCluster(invalid) }
            if host.isEmpty { throw invalid("the host is empty") }
            if host.utf8.contains(0) { throw invalid("the host contains a NUL character") }
            if !(1...65535).contains(port) { throw invalid("the port \(port) is not within 1...65535") }
            if database < 0 || database > Int(Int32.max) { throw invalid("the database number \(database) is negative or too large") }
            if let ttl, !(ttl > 0 && ttl.isFinite && ttl * 1000 <= Double(Int64.max / 2)) {
                throw invalid("the ttl \(ttl) is not a number of seconds greater than zero")
            }
            if !(connectTimeout > 0 && connectTimeout.isFinite && connectTimeout < 1e9) {
                throw invalid("the connect timeout \(connectTimeout) is not a number of seconds greater than zero")
            }
            if !(commandTimeout > 0 && commandTimeout.isFinite && commandTimeout < 1e9) {
                throw invalid("the command timeout \(commandTimeout) is not a number of seconds greater than zero")
            }
            if password == nil, username != nil {
                throw invalid("a user name is set without a password")
            }
            if waitReplicas < 0 { throw invalid("the number of replicas to wait for, \(waitReplicas), is negative") }
            if waitReplicas > 0 {
                if !(waitTimeout > 0 && waitTimeout.isFinite) {
                    throw invalid("the wait timeout \(waitTimeout) is not a number of seconds greater than zero")
                }
                if waitTimeout >= commandTimeout {
                    throw invalid("the wait timeout \(Self.shown(waitTimeout)) s is not shorter than the command timeout \(Self.shown(commandTimeout)) s, which would give up on WAIT first")
                }
            }
            if let sentinel {
                if sentinel.masterName.isEmpty { throw invalid("the master name is empty") }
                if sentinel.masterName.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    throw invalid("the master name \(sentinel.masterName.debugDescription) contains a control character")
                }
                if sentinel.sentinels.isEmpty { throw invalid("no sentinel is given; name at least one host[:port]") }
                for node in sentinel.sentinels {
                    if node.host.isEmpty { throw invalid("a sentinel's host is empty") }
                    if node.host.utf8.contains(0) { throw invalid("a sentinel's host contains a NUL character") }
                    if !(1...65535).contains(node.port) {
                        throw invalid("the port \(node.port) of a sentinel is not within 1...65535")
                    }
                }
                if !(sentinel.failoverTimeout > 0 && sentinel.failoverTimeout.isFinite && sentinel.failoverTimeout < 1e9) {
                    throw invalid("the failover timeout \(sentinel.failoverTimeout) is not a number of seconds greater than zero")
                }
            }
            return self
        }
    }
}

extension RedisStorage.Configuration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The address, the prefix, the ttl and the replicas waited for; the
    /// password is shown as `***`.
    public var description: String {
        var text = address
        if password != nil { text += " (" + (username.map { "user \($0), " } ?? "") + "password ***)" }
        text += ", prefix \(keyPrefix.debugDescription)"
        if let ttl { text += ", ttl \(ttl) s" }
        if waitReplicas > 0 { text += ", wait for \(waitReplicas) replicas within \(Self.shown(waitTimeout)) s" }
        return text
    }

    /// A number of seconds as messages show it: `1`, `0.5`.
    static func shown(_ seconds: TimeInterval) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
    }

    /// The same as ``description``.
    public var debugDescription: String { "RedisStorage.Configuration(\(description))" }

    /// Every field, the password shown as `***`.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "host": host,
            "port": port,
            "username": username as Any,
            "password": (password == nil ? nil : "***") as Any,
            "database": database,
            "keyPrefix": keyPrefix,
            "ttl": ttl as Any,
            "connectTimeout": connectTimeout,
            "commandTimeout": commandTimeout,
            "sentinel": sentinel as Any,
            "waitReplicas": waitReplicas,
            "waitTimeout": waitTimeout,
            "clusterNodes": clusterNodes as Any,
            "failoverTimeout": failoverTimeout,
        ])
    }
}

extension RedisStorage.Configuration {
    /// `text` with everything between `://` and its last `@` replaced by
    /// `***`, so that a URL with credentials — even a malformed one — can be
    /// shown in a message: `redis://user:pw@host` becomes `redis://***@host`.
    public static func maskingCredentials(in text: String) -> String {
        guard let schemeEnd = text.range(of: "://"),
              let at = text[schemeEnd.upperBound...].lastIndex(of: "@") else { return text }
        return String(text[..<schemeEnd.upperBound]) + "***" + String(text[at...])
    }
}
