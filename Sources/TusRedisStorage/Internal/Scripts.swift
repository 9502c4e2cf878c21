/// The Lua scripts that prune the `stored_at` index and the URL keys in step,
/// deciding per member on the server. Redis runs each script atomically: no
/// other client's command runs in the middle of one.
enum Scripts {
    /// Removes the index members whose URL key is gone (expired by its ttl),
    /// checking again now so that an entry stored since is kept.
    ///
    /// KEYS: the index, then one URL key per member. ARGV: the members.
    /// Returns how many members were removed.
    static let forgetExpired = """
        local removed = 0
        for i = 1, #ARGV do
          if redis.call('EXISTS', KEYS[i + 1]) == 0 then
            removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
          end
        end
        return removed
        """

    /// Removes the entries stored strictly before a time, checking each
    /// member's time again now so that an entry replaced since is kept.
    ///
    /// KEYS: the index, then one URL key per member. ARGV: the cutoff in
    /// milliseconds since 1970, then the members. Returns how many URLs were
    /// removed; an entry whose URL had already expired is not counted.
    static let removeOlder = """
        local removed = 0
        local cutoff = tonumber(ARGV[1])
        for i = 2, #ARGV do
          local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
          if score and tonumber(score) < cutoff then
            redis.call('ZREM', KEYS[1], ARGV[i])
            removed = removed + redis.call('DEL', KEYS[i])
          end
        end
        return removed
        """
}
