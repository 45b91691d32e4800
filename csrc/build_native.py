"""cffi (API mode) build of runtime._native: the parent-side constants and bindings.

The constants come from the C headers at build time, so the Python side never
hard-codes a kernel ABI number or a plan op that the C init could disagree with.
"""
import pathlib
import re

from cffi import FFI

CSRC = pathlib.Path(__file__).resolve().parent
PLAN_H = CSRC / "plan.h"

# Kernel and libc constants the planner needs, read from the system headers.
SYSTEM_CONSTANTS = """
MS_RDONLY MS_NOSUID MS_NODEV MS_NOEXEC MS_SYNCHRONOUS MS_REMOUNT MS_MANDLOCK
MS_DIRSYNC MS_NOSYMFOLLOW MS_NOATIME MS_NODIRATIME MS_BIND MS_MOVE MS_REC
MS_SILENT MS_UNBINDABLE MS_PRIVATE MS_SLAVE MS_SHARED MS_RELATIME MS_STRICTATIME
MS_LAZYTIME
CLONE_NEWNS CLONE_NEWUTS CLONE_NEWIPC CLONE_NEWNET CLONE_NEWPID CLONE_NEWUSER
CLONE_NEWCGROUP CLONE_NEWTIME CLONE_INTO_CGROUP
MOUNT_ATTR_RDONLY MOUNT_ATTR_NOSUID MOUNT_ATTR_NODEV MOUNT_ATTR_NOEXEC MOUNT_ATTR__ATIME
MOUNT_ATTR_RELATIME MOUNT_ATTR_NOATIME MOUNT_ATTR_STRICTATIME MOUNT_ATTR_NODIRATIME
MOUNT_ATTR_NOSYMFOLLOW
S_IFCHR S_IFBLK S_IFIFO
CAP_LAST_CAP
SECCOMP_FILTER_FLAG_TSYNC SECCOMP_FILTER_FLAG_LOG SECCOMP_FILTER_FLAG_SPEC_ALLOW
""".split()


def plan_constants():
    names = re.findall(r"^#define\s+((?:OP|MSG|PLAN|FD)_[A-Z0-9_]+)\s", PLAN_H.read_text(), re.M)
    return [n for n in names if n != "PYRUNC_PLAN_H"]


ffibuilder = FFI()
ffibuilder.cdef(
    "\n".join(f"#define {name} ..." for name in plan_constants() + SYSTEM_CONSTANTS)
    + """
    struct sync_msg { unsigned int type; int err; int pid; char text[...]; ...; };
    int pyrunc_open_in_root(int rootfd, const char *path, int flags);
    """
)
ffibuilder.set_source(
    "runtime._native",
    """
    #define _GNU_SOURCE
    #include <sched.h>
    #include <sys/mount.h>
    #include <sys/stat.h>
    #include <linux/capability.h>
    #include <linux/sched.h>
    #include <linux/seccomp.h>
    #include <errno.h>
    #include <fcntl.h>
    #include <linux/openat2.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    #ifndef MS_NOSYMFOLLOW
    #define MS_NOSYMFOLLOW 256
    #endif
    #include "plan.h"

    /* Open PATH as if ROOTFD were /: symlinks and .. cannot leave it.
     * Returns an fd or -errno. */
    static int pyrunc_open_in_root(int rootfd, const char *path, int flags)
    {
        struct open_how how = {0};
        how.flags = (unsigned long long)(flags | O_CLOEXEC);
        how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
        return fd < 0 ? -errno : fd;
    }
    """,
    include_dirs=[str(CSRC)],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
