public import Foundation
import TusCore

extension RedisStorage {
    /// A node of a Redis Cluster that a store asks for the cluster's map of
    /// slots: its host name or IP address and its port.
    ///
    /// ```swift
    /// let seed = RedisStorage.ClusterNode(host: "10.0.0.5", port: 7000)
    /// ```
    public struct ClusterNode: Sendable, Hashable, CustomStringConvertible {
        /// The node's host name or IP address, such as `127.0.0.1`,
        /// `redis-0.internal` or `::1` (without brackets).
        public var host: String
        /// The node's TCP port.
        public var port: Int

        /// Creates a node's address.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, an IPv6 address in brackets: `[::1]:7000`.
        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

extension RedisStorage.Configuration {
    /// A configuration for a Redis Cluster: the store asks the first of
    /// `nodes` that answers for the cluster's map of slots, and sends each
    /// command to the master of its slot.
    ///
    /// ```swift
    /// let store = try RedisStorage(configuration: .cluster(
    ///     [.init(host: "10.0.0.5", port: 7000), .init(host: "10.0.0.6", port: 7000)],
    ///     password: secret, keyPrefix: "uploader:"
    /// ))
    /// ```
    ///
    /// A cluster has database 0 only. Every key of a store goes in one slot,
    /// chosen by its prefix, written as a hash tag: see the Redis store
    /// article for the layout and why.
    ///
    /// - Parameters:
    ///   - nodes: at least one node of the cluster, master or replica; the
    ///     store asks the others when the first does not answer.
    ///   - username: the user name for `AUTH user password`, or `nil`.
    ///   - password: the password every node requires, or `nil`.
    ///   - keyPrefix: the prefix of every key, written as a hash tag:
    ///     neither empty nor starting with `}`.
    ///   - ttl: how long, in seconds, Redis keeps an entry; `nil` keeps it.
    ///   - connectTimeout: the longest wait, in seconds, to connect to a
    ///     node.
    ///   - commandTimeout: the longest wait, in seconds, for a node to take
    ///     or answer a command.
    ///   - failoverTimeout: how long, in seconds, an operation goes on
    ///     trying while a node cannot be reached or the cluster is down;
    ///     see ``failoverTimeout``.
    public static func cluster(
        _ nodes: [RedisStorage.ClusterNode],
        username: String? = nil,
        password: String? = nil,
        keyPrefix: String = defaultKeyPrefix,
        ttl: TimeInterval? = nil,
        connectTimeout: TimeInterval = 5,
        commandTimeout: TimeInterval = 5,
        failoverTimeout: TimeInterval = defaultFailoverTimeout
    ) -> Self {
        var configuration = Self(
            host: nodes.first?.host ?? "", port: nodes.first?.port ?? defaultPort, username: username, password: password,
            keyPrefix: keyPrefix, ttl: ttl, connectTimeout: connectTimeout, commandTimeout: commandTimeout
        )
        configuration.clusterNodes = nodes
        configuration.failoverTimeout = failoverTimeout
        return configuration
    }

    /// The time an operation on a cluster goes on trying unless told
    /// otherwise: 10 seconds.
    public static let defaultFailoverTimeout: TimeInterval = 10

    /// Checks the settings only a cluster has.
    func validatedCluster(_ invalid: (String) -> TusError) throws {
        guard let clusterNodes, !clusterNodes.isEmpty else { throw invalid("the cluster has no node to ask for its map of slots") }
        for node in clusterNodes {
            if node.host.isEmpty { throw invalid("a cluster node's host is empty") }
            if node.host.utf8.contains(0) { throw invalid("a cluster node's host contains a NUL character") }
            if !(1...65535).contains(node.port) { throw invalid("the port \(node.port) of a cluster node is not within 1...65535") }
        }
        if database != 0 { throw invalid("a Redis Cluster has database 0 only, not \(database)") }
        if keyPrefix.isEmpty || keyPrefix.hasPrefix("}") {
            throw invalid("in a cluster the prefix is a hash tag, {prefix}, and must neither be empty nor start with }")
        }
        if !(failoverTimeout > 0 && failoverTimeout.isFinite && failoverTimeout < 1e9) {
            throw invalid("the failover timeout \(failoverTimeout) is not a number of seconds greater than zero")
        }
    }
}
