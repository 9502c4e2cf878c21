/// The Lua scripts that keep an entry's URL key and the `stored_at` index in
/// step. Redis runs each script atomically: no other client's command runs
/// in the middle of one.
enum Scripts {
    /// Stores a URL and records when.
    ///
    /// KEYS: the URL key, the index. ARGV: the URL, the entry's key, the time
    /// in milliseconds since 1970, the ttl in milliseconds or "" for none.
    static let set = """
        if ARGV[4] == '' then
          redis.call('SET', KEYS[1], ARGV[1])
        else
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
        end
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
        return 1
        """

    /// Removes a URL and its index member.
    ///
    /// KEYS: the URL key, the index. ARGV: the entry's key.
    static let remove = """
        redis.call('ZREM', KEYS[2], ARGV[1])
        return redis.call('DEL', KEYS[1])
        """

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
