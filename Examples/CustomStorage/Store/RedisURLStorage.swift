// The custom store of the custom-storage example: the tuspy documentation's
// Redis example, in Swift. A library of its own so that the conformance suite
// can check it (Tests/ExampleStoreTests).
public import TusCore

// MARK: The custom store

/// Upload URLs in Redis, each under `<prefix><key>` (`tuspy:<key>`, as in
/// the tuspy example).
public actor RedisURLStorage: Storage {
    private let redis: RedisConnection
    private let prefix: String
    private var isClosed = false

    /// A store over `redis`, its keys under `prefix`.
    public init(redis: RedisConnection, prefix: String = "tuspy:") {
        self.redis = redis
        self.prefix = prefix
    }

    public func url(forKey key: String) throws -> String? {
        try checkOpen()
        return try redis.command("GET", prefix + key)
    }

    public func setURL(_ url: String, forKey key: String) throws {
        try checkOpen()
        try redis.command("SET", prefix + key, url)
    }

    public func removeURL(forKey key: String) throws {
        try checkOpen()
        try redis.command("DEL", prefix + key)
    }

    public func close() {
        isClosed = true
        redis.disconnect()
    }

    private func checkOpen() throws {
        if isClosed { throw TusError(.closed, "the store at \(redis.address) is closed") }
    }
}
