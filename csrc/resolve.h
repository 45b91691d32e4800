/* Path resolution inside a container's root, shared by the C init (init.c)
 * and the parent's cffi module (native.c): openat2 with RESOLVE_IN_ROOT, so
 * symlinks and ".." cannot leave the root, and no magic links (/proc/PID/fd)
 * on the way. */
#ifndef PYRUNC_RESOLVE_H
#define PYRUNC_RESOLVE_H

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Open PATH as if ROOTFD were /, with RESOLVE extra flags (e.g.
 * RESOLVE_NO_SYMLINKS): an fd (close-on-exec), or -1 with errno set. An empty
 * or all-slash PATH is the root itself. */
static inline int resolve_in_root(int rootfd, const char *path, int flags, uint64_t resolve)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve;
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

#endif
