public import Foundation

extension RedisStorage.Configuration {
    /// Where a store finds its master under Redis Sentinel: the sentinels to
    /// ask, the name they know the master by, and how long to keep trying
    /// through a failover.
    ///
    /// With ``RedisStorage/Configuration/sentinel`` set, the store does not
    /// connect to ``RedisStorage/Configuration/host`` and
    /// ``RedisStorage/Configuration/port``: it asks the sentinels, in turn,
    /// for the address of the master (`SENTINEL get-master-addr-by-name`),
    /// connects there, and checks with `ROLE` that the server is the master.
    /// When the master goes away (the connection breaks, a command times out,
    /// the server answers `READONLY` or is no longer the master), it asks
    /// again and sends the command again, until ``failoverTimeout`` has passed.
    ///
    /// ```swift
    /// var configuration = RedisStorage.Configuration(password: secret)
    /// configuration.sentinel = .init(
    ///     masterName: "uploads",
    ///     sentinels: [.init(host: "10.0.0.5"), .init(host: "10.0.0.6"), .init(host: "10.0.0.7")]
    /// )
    /// configuration.waitReplicas = 1
    /// let store = try RedisStorage(configuration: configuration)
    /// ```
    ///
    /// The ``RedisStorage/Configuration/username`` and
    /// ``RedisStorage/Configuration/password`` are sent to the master, not to
    /// the sentinels, which are asked without `AUTH`.
    public struct Sentinel: Sendable, Hashable {
        /// The name the sentinels know the master by: the `NAME` of their
        /// `sentinel monitor NAME host port quorum`.
        public var masterName: String
        /// The sentinels, asked in turn until one names the master. The one
        /// that answered is asked first next time.
        public var sentinels: [Address]
        /// The longest time, in seconds, that one call keeps asking the
        /// sentinels and trying the master they name after the master was
        /// lost, before it throws `TusError.Code.unavailable`. The default is
        /// 60; set it above the sentinels' `down-after-milliseconds` plus the
        /// time a failover takes.
        public var failoverTimeout: TimeInterval

        /// The port a sentinel listens on unless told otherwise: 26379.
        public static let defaultPort = 26379
        /// The ``failoverTimeout`` used unless told otherwise: 60 s.
        public static let defaultFailoverTimeout: TimeInterval = 60

        /// Creates the settings for a master named `masterName`, monitored by
        /// `sentinels`.
        public init(masterName: String, sentinels: [Address], failoverTimeout: TimeInterval = Sentinel.defaultFailoverTimeout) {
            self.masterName = masterName
            self.sentinels = sentinels
            self.failoverTimeout = failoverTimeout
        }

        /// The host and port of one sentinel.
        public struct Address: Sendable, Hashable, CustomStringConvertible {
            /// The sentinel's host name or IP address (an IPv6 address
            /// without brackets).
            public var host: String
            /// The sentinel's TCP port. The default is 26379.
            public var port: Int

            /// Creates the address of a sentinel.
            public init(host: String, port: Int = Sentinel.defaultPort) {
                self.host = host
                self.port = port
            }

            /// `host:port`, an IPv6 host in brackets: `[::1]:26379`.
            public var description: String {
                (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
            }
        }
    }
}
