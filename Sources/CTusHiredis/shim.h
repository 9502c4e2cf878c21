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

/* The flags of a send(2) that must not raise SIGPIPE (see
   tus_redis_roundtrip). */
#ifdef MSG_NOSIGNAL
#define TUS_REDIS_SEND_FLAGS MSG_NOSIGNAL
#else
#define TUS_REDIS_SEND_FLAGS 0
#endif

/* Writes what the socket takes now of `length` bytes of commands, without
   waiting: returns how many bytes were written (0 when the socket took
   none), or -1 with `*error_number` set on a failure (the context's `err`
   and `errstr` say why). For the calls made on the caller's thread, which
   must never wait. */
static inline long tus_redis_send_now(redisContext *c, const char *bytes, size_t length, int *error_number) {
    *error_number = 0;
    if (c->err) return -1;
    for (;;) {
        ssize_t n = send(c->fd, bytes, length, MSG_DONTWAIT | TUS_REDIS_SEND_FLAGS);
        if (n >= 0) return (long)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        *error_number = errno;
        c->err = REDIS_ERR_IO;
        snprintf(c->errstr, sizeof(c->errstr), "%s", strerror(errno));
        return -1;
    }
}

/* Reads the replies of a pipeline of `count` commands without waiting: takes
   the replies hiredis's reader holds already, then reads what the socket
   has, until `replies[0..<count]` are all set. `*got` counts those set so
   far and is kept by the caller from one call to the next. Returns 1 once
   all are there, 0 when the socket has no more bytes yet (call again when it
   is readable), -1 on a failure: the replies read so far are freed, `*got`
   is 0, `*error_number` holds the errno of an I/O error, and the context's
   `err` and `errstr` say why, as hiredis's own reads would. */
static inline int tus_redis_read_now(redisContext *c, int count, redisReply **replies, int *got,
                                     int *error_number) {
    *error_number = 0;
    if (c->err) goto failed;
    for (;;) {
        while (*got < count) {
            void *reply = NULL;
            if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
                c->err = c->reader->err ? c->reader->err : REDIS_ERR_PROTOCOL;
                snprintf(c->errstr, sizeof(c->errstr), "%s", c->reader->errstr);
                goto failed;
            }
            if (reply == NULL) break;
            replies[(*got)++] = (redisReply *)reply;
        }
        if (*got == count) return 1;
        char buffer[16 * 1024];
        ssize_t n = recv(c->fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            *error_number = errno;
            c->err = REDIS_ERR_IO;
            snprintf(c->errstr, sizeof(c->errstr), "%s", strerror(errno));
            goto failed;
        }
        if (n == 0) {
            c->err = REDIS_ERR_EOF;
            snprintf(c->errstr, sizeof(c->errstr), "%s", "Server closed the connection");
            goto failed;
        }
        if (redisReaderFeed(c->reader, buffer, (size_t)n) != REDIS_OK) {
            c->err = c->reader->err ? c->reader->err : REDIS_ERR_PROTOCOL;
            snprintf(c->errstr, sizeof(c->errstr), "%s", c->reader->errstr);
            goto failed;
        }
    }
failed:
    for (int i = 0; i < *got; i++) freeReplyObject(replies[i]);
    *got = 0;
    return -1;
}

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* epoll and eventfd for the store's reply waiter (Swift's Glibc module does
   not bring these headers). Each returns -1 with errno set on failure. */

/* A new epoll instance, closed on exec. */
static inline int tus_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

/* Watches `fd` for reading: for good (`oneshot` 0), or once until armed
   again (`oneshot` 1; a socket not yet in the set is added). */
static inline int tus_epoll_watch(int epfd, int fd, int oneshot) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = EPOLLIN | (oneshot ? EPOLLONESHOT : 0);
    event.data.fd = fd;
    if (oneshot) {
        if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) == 0) return 0;
        if (errno != ENOENT) return -1;
    }
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

/* Waits up to `timeout_ms` for watched descriptors; writes the ready ones
   into `fds` (at most `max`) and returns how many (0 on a timeout or a
   signal). */
static inline int tus_epoll_wait(int epfd, int *fds, int max, int timeout_ms) {
    struct epoll_event events[16];
    if (max > 16) max = 16;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) fds[i] = events[i].data.fd;
    return n;
}

/* A non-blocking eventfd, closed on exec. */
static inline int tus_eventfd_create(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static inline void tus_eventfd_signal(int fd) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof(one));
}

static inline void tus_eventfd_drain(int fd) {
    uint64_t value;
    (void)!read(fd, &value, sizeof(value));
}
#endif

#endif
