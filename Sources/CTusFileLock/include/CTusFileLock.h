#ifndef CTUS_FILE_LOCK_H
#define CTUS_FILE_LOCK_H

/// flock(2) lives in <sys/file.h>, which Swift's Glibc module does not
/// include. These wrappers make it callable on every platform.

/// Takes an exclusive lock on fd, waiting for other holders. Returns 0, or -1
/// with errno set.
int ctus_flock_exclusive(int fd);

/// Tries once to take an exclusive lock on fd. Returns 0, or -1 with errno
/// set (EWOULDBLOCK when another holder has it).
int ctus_flock_exclusive_nonblocking(int fd);

/// Releases the lock on fd. Returns 0, or -1 with errno set.
int ctus_flock_unlock(int fd);

#endif
