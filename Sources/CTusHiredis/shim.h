#ifndef CTUSHIREDIS_SHIM_H
#define CTUSHIREDIS_SHIM_H

#include <hiredis/hiredis.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The text of the context's last error (`errstr` is a C array, which Swift
   sees as a tuple). */
static inline const char *tus_redis_errstr(const redisContext *c) {
    return c->errstr;
}

/* Prepares a freshly connected socket. Where the platform has SO_NOSIGPIPE
   (Apple platforms), a write to a closed connection then fails with EPIPE
   instead of raising SIGPIPE. */
static inline void tus_redis_prepare_socket(redisContext *c) {
#ifdef SO_NOSIGPIPE
    int on = 1;
    (void)setsockopt(c->fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
#else
    (void)c;
#endif
}

/* Sends `length` bytes of commands already in the Redis protocol (RESP) in
   one write, then reads `count` replies: one round trip for a pipeline of
   `count` commands. On success every `replies[i]` is set and REDIS_OK is
   returned; the caller frees them. On failure the replies read so far are
   freed, `*error_number` holds the errno of an I/O error, the context's `err`
   and `errstr` say why, and REDIS_ERR is returned.

   The write is a send(2) with MSG_NOSIGNAL where it exists (Linux, the
   BSDs), so a connection the server has closed fails with EPIPE instead of
   raising SIGPIPE, whose default action ends the process; on Apple
   platforms SO_NOSIGPIPE does that (see tus_redis_prepare_socket). hiredis
   itself only reads here: its output buffer is empty. A write that waits
   longer than the context's timeout fails with EAGAIN. */
static inline int tus_redis_roundtrip(redisContext *c, const char *bytes, size_t length, int count,
                                      redisReply **replies, int *error_number) {
    *error_number = 0;
    if (c->err) return REDIS_ERR;
#ifdef MSG_NOSIGNAL
    const int flags = MSG_NOSIGNAL;
#elif defined(SO_NOSIGPIPE)
    const int flags = 0;
#else
#error "no way to keep a write to a closed connection from raising SIGPIPE"
#endif
    size_t sent = 0;
    int failed = 0;
    while (sent < length) {
        ssize_t n = send(c->fd, bytes + sent, length - sent, flags);
        if (n < 0) {
            if (errno == EINTR) continue;
            failed = errno;
            break;
        }
        sent += (size_t)n;
    }
    if (failed) {
        *error_number = failed;
        c->err = REDIS_ERR_IO;
        snprintf(c->errstr, sizeof(c->errstr), "%s", strerror(failed));
        return REDIS_ERR;
    }
    for (int i = 0; i < count; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL) {
            *error_number = errno;
            for (int j = 0; j < i; j++) freeReplyObject(replies[j]);
            return REDIS_ERR;
        }
        replies[i] = (redisReply *)reply;
    }
    return REDIS_OK;
}

#endif
