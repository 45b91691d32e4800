/* The parent's C helpers (the cffi module runtime._native, csrc/build_native.py):
 * the system calls Python's os module lacks, for the steps the parent takes
 * outside the container (the cgroup device program, seccomp probes, id-mapped
 * and cloned mount trees, a user namespace holder, paths in the rootfs).
 * Built with -Wall -Wextra -Werror (setup.py checks it on its own). Each
 * function returns -errno on failure. */
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
#include <sys/resource.h>
#include <unistd.h>
#include <string.h>
#include <stdint.h>
#include <linux/bpf.h>
#include <sys/wait.h>
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#include "plan.h"
#include "resolve.h"

/* Open PATH as if ROOTFD were / (resolve.h): an fd, or -errno. */
static int pyrunc_open_in_root(int rootfd, const char *path, int flags)
{
    int fd = resolve_in_root(rootfd, path, flags, 0);
    return fd < 0 ? -errno : fd;
}

/* The cgroup device program's bpf(2) calls. Each returns -errno on failure. */
static int pyrunc_bpf(int cmd, union bpf_attr *attr)
{
    int rc = (int)syscall(SYS_bpf, cmd, attr, sizeof *attr);
    return rc < 0 ? -errno : rc;
}

static int pyrunc_bpf_load_once(const void *insns, unsigned int insn_cnt,
                                const char *license, char *log, unsigned int log_size)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = insn_cnt;
    attr.license = (uint64_t)(uintptr_t)license;
    if (log && log_size) {
        log[0] = 0;
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    strncpy(attr.prog_name, "pyrunc_devices", sizeof attr.prog_name - 1);
    return pyrunc_bpf(BPF_PROG_LOAD, &attr);
}

/* Load a BPF_PROG_TYPE_CGROUP_DEVICE program: its fd (close-on-exec). The
 * first try runs without a log (a log that overflows fails a good program);
 * a rejected program is loaded again with the verifier's log into LOG. */
static int pyrunc_bpf_dev_load(const void *insns, unsigned int insn_cnt,
                               const char *license, char *log, unsigned int log_size)
{
    int fd = pyrunc_bpf_load_once(insns, insn_cnt, license, NULL, 0);
    if (fd == -EPERM) {
        /* Kernels before 5.11 charge programs to RLIMIT_MEMLOCK: raise it for
         * the load only, so the container does not inherit the raise. */
        struct rlimit old, inf = {RLIM_INFINITY, RLIM_INFINITY};
        if (getrlimit(RLIMIT_MEMLOCK, &old) == 0 && setrlimit(RLIMIT_MEMLOCK, &inf) == 0) {
            fd = pyrunc_bpf_load_once(insns, insn_cnt, license, NULL, 0);
            setrlimit(RLIMIT_MEMLOCK, &old);
        }
    }
    if (fd < 0 && fd != -EPERM && log && log_size) {
        int again = pyrunc_bpf_load_once(insns, insn_cnt, license, log, log_size);
        if (again >= 0)
            return again;
    }
    return fd;
}

/* Attach with BPF_F_ALLOW_MULTI: programs already there stay, and all must allow. */
static int pyrunc_bpf_dev_attach(int cgroup_fd, int prog_fd)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (unsigned int)cgroup_fd;
    attr.attach_bpf_fd = (unsigned int)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    return pyrunc_bpf(BPF_PROG_ATTACH, &attr);
}

/* Ids of the device programs attached to this cgroup itself (not inherited
 * ones). Returns how many there are; more than CAPACITY means call again. */
static int pyrunc_bpf_dev_query(int cgroup_fd, unsigned int *ids, unsigned int capacity)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = (unsigned int)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = capacity;
    int rc = pyrunc_bpf(BPF_PROG_QUERY, &attr);
    if (rc < 0 && rc != -ENOSPC)  /* ENOSPC: prog_cnt holds the full count */
        return rc;
    return (int)attr.query.prog_cnt;
}

/* Detach the device program with this id from the cgroup. */
static int pyrunc_bpf_dev_detach_id(int cgroup_fd, unsigned int prog_id)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_id = prog_id;
    int prog_fd = pyrunc_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    if (prog_fd < 0)
        return prog_fd;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (unsigned int)cgroup_fd;
    attr.attach_bpf_fd = (unsigned int)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    int rc = pyrunc_bpf(BPF_PROG_DETACH, &attr);
    close(prog_fd);
    return rc < 0 ? rc : 0;
}

/* Whether this kernel knows a seccomp filter flag: it checks the flags
 * before it reads the (here missing) program, so EFAULT means known. */
static int pyrunc_seccomp_flag_supported(unsigned int flag)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) == 0)
        return 1;  /* cannot happen with no program */
    return errno == EFAULT || errno == EACCES;
}

/* A child waiting in a new user namespace, for its maps (written by the
 * caller through /proc/PID/{uid,gid}_map) and its ns file: the caller
 * closes *release_fd to let it exit, then reaps it. Returns the pid or
 * -errno. The child makes syscalls only (it is a fork of Python). */
static int pyrunc_userns_holder(int *release_fd)
{
    int ready[2], hold[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(hold, O_CLOEXEC) < 0) {
        int err = errno;
        close(ready[0]);
        close(ready[1]);
        return -err;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(ready[0]);
        close(hold[1]);
        if (unshare(CLONE_NEWUSER) < 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        while (read(hold[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    int err = pid < 0 ? errno : 0;
    close(ready[1]);
    close(hold[0]);
    char c;
    if (pid > 0 && read(ready[0], &c, 1) != 1)
        err = EPERM;  /* the child could not make the namespace */
    close(ready[0]);
    if (err) {
        close(hold[1]);
        if (pid > 0)
            waitpid(pid, NULL, 0);
        return -err;
    }
    *release_fd = hold[1];
    return pid;
}

/* A detached copy of SOURCE (whole_tree: with its submounts, as rbind)
 * whose ids are mapped through the user namespace USERNS_FD (the
 * submounts' too with map_submounts: ridmap): the fd, or -errno. Made
 * here, where we hold CAP_SYS_ADMIN over the source's filesystem; the
 * init attaches it with move_mount. */
static int pyrunc_idmapped_tree(const char *source, int whole_tree, int map_submounts,
                                int userns_fd)
{
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, source,
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (whole_tree ? AT_RECURSIVE : 0));
    if (fd < 0)
        return -errno;
    if (userns_fd < 0)
        return fd; /* a plain clone (the bind source of a user namespace) */
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns_fd;
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (map_submounts ? AT_RECURSIVE : 0),
                &attr, sizeof attr) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* Whether this kernel has a seccomp return action (SECCOMP_RET_*). */
static int pyrunc_seccomp_action_available(unsigned int action)
{
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}
