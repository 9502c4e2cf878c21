/// The words of the commands a get, set or remove sends, made once: those
/// calls are the store's hot path, and each word made afresh would be an
/// allocation of its own.
enum CommandWords {
    static let get = Array("GET".utf8)
    static let set = Array("SET".utf8)
    static let zadd = Array("ZADD".utf8)
    static let zrem = Array("ZREM".utf8)
    static let del = Array("DEL".utf8)
}
