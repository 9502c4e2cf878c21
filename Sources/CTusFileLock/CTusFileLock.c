#include "CTusFileLock.h"
#include <sys/file.h>

int ctus_flock_exclusive(int fd) { return flock(fd, LOCK_EX); }

int ctus_flock_exclusive_nonblocking(int fd) { return flock(fd, LOCK_EX | LOCK_NB); }

int ctus_flock_unlock(int fd) { return flock(fd, LOCK_UN); }
