#ifndef CTUSHIREDIS_SHIM_H
#define CTUSHIREDIS_SHIM_H

#include <hiredis/hiredis.h>

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>
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

/* redisCommandArgv, binary-safe (every argument has a length), that never lets
   SIGPIPE kill the process and reports the errno of a failure.

   hiredis writes with write(2). On a connection the server has closed, that
   raises SIGPIPE, whose default action ends the process. Where SO_NOSIGPIPE
   does not exist (Linux), SIGPIPE is blocked in the calling thread for the
   duration of the command, and a SIGPIPE the command raised is consumed before
   the mask is restored (the technique libpq uses). A SIGPIPE that was already
   pending is left alone. */
static inline redisReply *tus_redis_command_argv(redisContext *c, int argc, const char **argv,
                                                 const size_t *argvlen, int *error_number) {
#ifdef SO_NOSIGPIPE
    void *reply = redisCommandArgv(c, argc, argv, argvlen);
    *error_number = reply == NULL ? errno : 0;
    return (redisReply *)reply;
#else
    sigset_t pipe_set, old_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    int masked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set) == 0;
    int was_pending = 0;
    if (masked) {
        sigemptyset(&pending);
        if (sigpending(&pending) == 0) was_pending = sigismember(&pending, SIGPIPE);
    }

    void *reply = redisCommandArgv(c, argc, argv, argvlen);
    *error_number = reply == NULL ? errno : 0;

    if (masked) {
        if (!was_pending) {
            sigemptyset(&pending);
            if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
                struct timespec zero = {0, 0};
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
                }
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    }
    return (redisReply *)reply;
#endif
}

#endif
