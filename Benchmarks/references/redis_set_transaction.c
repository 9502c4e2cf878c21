/*
 * The synchronous reference of the "Redis set" row: hiredis, on one thread,
 * doing what RedisStorage.setURL does for each set: MULTI, SET of the URL
 * key, ZADD of the key to the stored_at index, EXEC, written at once, then
 * the four replies read, blocking, before the next set.
 *
 *   redis_set_transaction PORT DB ENTRIES OPS
 *
 * Like tus-bench's redis-set: ENTRIES entries are stored first (untimed),
 * then OPS sets of keys the server does not hold yet are timed, with keys
 * and URLs built as references/stores.py's entry() builds them. Prints the
 * sets per second and its peak resident memory in KiB; the caller empties
 * the database. Any reply other than the store's set expects ends it with
 * a message and exit status 1.
 */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail(const char *what, const char *why) {
    fprintf(stderr, "redis_set_transaction: %s: %s\n", what, why);
    exit(1);
}

/* Fails unless `reply` is the status `expected`. */
static void expect_status(redisReply *reply, const char *expected, const char *what) {
    if (reply->type == REDIS_REPLY_ERROR) fail(what, reply->str);
    if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, expected) != 0)
        fail(what, "an unexpected reply");
}

/* This process's peak resident memory in KiB (VmHWM: getrusage's maximum
   would count the process it was forked from, before exec), 0 if unknown. */
static long peak_kib(void) {
    FILE *status = fopen("/proc/self/status", "r");
    long kib = 0;
    char line[256];
    while (status && fgets(line, sizeof line, status))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    if (status) fclose(status);
    return kib;
}

/* One entry's key and URL, as references/stores.py's entry(i) makes them,
   and the key of its URL under `prefix`. */
struct entry {
    char key[64], url[80], url_key[160];
};

static void make_entry(struct entry *e, const char *prefix, long index) {
    unsigned long long digits = ((unsigned long long)index * 2654435761ULL) & 0xffffffffffffULL;
    snprintf(e->key, sizeof e->key, "size:%ld--md5:%032llx", 1048576 + index, digits);
    snprintf(e->url, sizeof e->url, "https://tus.example/files/%032llx", digits);
    snprintf(e->url_key, sizeof e->url_key, "%surl:%s", prefix, e->key);
}

/* One set: MULTI, SET, ZADD (scored with the time now, in milliseconds),
   EXEC in one write, then their replies. */
static void set_entry(redisContext *c, const char *index_key, const struct entry *e) {
    char millis[24];
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    snprintf(millis, sizeof millis, "%lld", (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000);

    const char *multi[] = {"MULTI"};
    const char *set[] = {"SET", e->url_key, e->url};
    const char *zadd[] = {"ZADD", index_key, millis, e->key};
    const char *exec[] = {"EXEC"};
    if (redisAppendCommandArgv(c, 1, multi, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 3, set, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 4, zadd, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 1, exec, NULL) != REDIS_OK)
        fail("buffering the transaction", c->errstr);
    static const char *const names[] = {"MULTI", "SET (queueing)", "ZADD (queueing)"};
    static const char *const statuses[] = {"OK", "QUEUED", "QUEUED"};
    for (int i = 0; i < 4; i++) {
        redisReply *reply;
        if (redisGetReply(c, (void **)&reply) != REDIS_OK) fail("reading a reply", c->errstr);
        if (i < 3) {
            expect_status(reply, statuses[i], names[i]);
        } else {
            /* EXEC: SET's OK, and ZADD's count of new members, 1. */
            if (reply->type == REDIS_REPLY_ERROR) fail("EXEC", reply->str);
            if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) fail("EXEC", "not an array of two replies");
            expect_status(reply->element[0], "OK", "SET");
            if (reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[1]->integer != 1)
                fail("ZADD", "the key was not a new member of the index");
        }
        freeReplyObject(reply);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: redis_set_transaction PORT DB ENTRIES OPS\n");
        return 2;
    }
    long entries = atol(argv[3]), ops = atol(argv[4]);
    redisContext *c = redisConnect("127.0.0.1", atoi(argv[1]));
    if (!c) fail("connecting", "cannot allocate a hiredis context");
    if (c->err) fail("connecting", c->errstr);
    redisReply *reply = redisCommand(c, "SELECT %s", argv[2]);
    if (!reply) fail("SELECT", c->errstr);
    expect_status(reply, "OK", "SELECT");
    freeReplyObject(reply);
    char prefix[64], index_key[96];
    snprintf(prefix, sizeof prefix, "tus-ref:%d:%lld:", (int)getpid(), (long long)time(NULL) * 1000);
    snprintf(index_key, sizeof index_key, "%sstored_at", prefix);
    /* Every key and URL made before the timing starts, as tus-bench makes
       them. */
    struct entry *all = calloc((size_t)(entries + ops), sizeof *all);
    if (!all) fail("preparing the entries", "out of memory");
    for (long i = 0; i < entries + ops; i++) make_entry(&all[i], prefix, i);
    for (long i = 0; i < entries; i++) set_entry(c, index_key, &all[i]);
    double start = now();
    for (long i = 0; i < ops; i++) set_entry(c, index_key, &all[entries + i]);
    double elapsed = now() - start;
    free(all);
    printf("%.1f %ld\n", ops / elapsed, peak_kib());
    redisFree(c);
    return 0;
}
