/* pyrunc-init: executes a launch plan computed by the Python parent.
 *
 * Started by the parent from a sealed memfd copy of this binary with
 *   argv = { "pyrunc:init", BASE }: fds BASE.. are laid out as in plan.h
 * The first process runs the ops up to OP_CLONE in the caller's namespaces, clones
 * the container init (CLONE_PARENT, so it is the parent's child), reports its pid
 * and exits. The container init runs the rest. No policy lives here: every path,
 * flag and order comes from the plan. Errors go to the parent as MSG_ERROR with
 * the step and errno; nothing allocates memory after start. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#ifndef MOUNT_ATTR_RDONLY /* musl's libc headers lack the new mount API; the kernel's have it */
#include <linux/mount.h>
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#include <linux/close_range.h>
#endif
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "plan.h"
#include "resolve.h"

#define MAX_ARGS 65536
#define MAX_GROUPS 65536

static int sockfd = -1;
static int statefd = -1;
static int rootfd = -1;
static const char *rootfs_path;
static char resolved[PATH_MAX];
static char *exec_argv[MAX_ARGS + 1];
static char *exec_envp[MAX_ARGS + 1];
static int nargs, nenv;
static gid_t groups[MAX_GROUPS];

/* ---- messages to the parent ---- */

static void send_msg(unsigned type, int err, int pid, const char *text)
{
    struct sync_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.err = err;
    m.pid = pid;
    if (text)
        snprintf(m.text, sizeof m.text, "%s", text);
    if (sockfd < 0 || send(sockfd, &m, sizeof m, MSG_NOSIGNAL) < 0) {
        if (type == MSG_ERROR) {
            /* No parent to tell (after the exec fifo): say it on stderr. */
            dprintf(2, "pyrunc: %s%s%s\n", m.text, err ? ": " : "", err ? strerror(err) : "");
        }
    }
}

/* The plan step being run, counted from 1 (0: none yet): a failure names it,
 * so the parent can say which op of its plan failed and why. */
static uint32_t current_step;

/* Report "STEP: errno" (err 0: the text is the whole message) and exit. */
__attribute__((noreturn, format(printf, 2, 3)))
static void fail(int err, const char *fmt, ...)
{
    char text[MSG_TEXT_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    send_msg(MSG_ERROR, err, (int)current_step, text);
    _exit(1);
}

static void wait_go(void)
{
    struct sync_msg m;
    ssize_t n = recv(sockfd, &m, sizeof m, 0);
    if (n != (ssize_t)sizeof m || m.type != MSG_GO)
        _exit(1); /* the parent went away or aborted: nothing to report to */
}

/* ---- plan decoding ---- */

struct cursor {
    const unsigned char *p, *end;
};

static uint32_t get_u32(struct cursor *c)
{
    uint32_t v;
    if (c->end - c->p < 4)
        fail(0, "corrupt launch plan");
    memcpy(&v, c->p, 4);
    c->p += 4;
    return v;
}

static uint64_t get_u64(struct cursor *c)
{
    uint64_t v;
    if (c->end - c->p < 8)
        fail(0, "corrupt launch plan");
    memcpy(&v, c->p, 8);
    c->p += 8;
    return v;
}

/* Strings and byte blobs: u32 length, bytes, NUL. */
static const char *get_bytes(struct cursor *c, uint32_t *len)
{
    uint32_t n = get_u32(c);
    if ((size_t)(c->end - c->p) < (size_t)n + 1 || c->p[n] != 0)
        fail(0, "corrupt launch plan");
    const char *s = (const char *)c->p;
    c->p += n + 1;
    if (len)
        *len = n;
    return s;
}

static const char *get_str(struct cursor *c)
{
    return get_bytes(c, NULL);
}

/* ---- paths inside the rootfs, resolved as if it were / ---- */

static int open_in_root_how(const char *path, int flags, uint64_t resolve)
{
    return resolve_in_root(rootfd, path, flags, resolve);
}

static int open_in_root(const char *path, int flags)
{
    return open_in_root_how(path, flags, 0);
}

/* Split PATH into a parent directory fd (created as needed) and a basename. */
static void mkdirs_in_root(const char *path, mode_t mode);

static int open_parent_in_root(const char *path, const char **base)
{
    static char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        *base = path + (slash - dir) + 1;
    } else {
        dir[0] = 0;
        *base = path;
    }
    if (**base == 0)
        fail(EINVAL, "bad path %s", path);
    mkdirs_in_root(dir, 0755);
    int fd = open_in_root(dir, O_PATH | O_DIRECTORY);
    if (fd < 0)
        fail(errno, "open %s in the rootfs", dir[0] ? dir : "/");
    return fd;
}

static void mkdirs_in_root(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        fail(ENAMETOOLONG, "mkdir %s", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char saved = buf[i];
        buf[i] = 0;
        int fd = open_in_root(buf, O_PATH | O_DIRECTORY);
        if (fd >= 0) {
            close(fd);
        } else if (errno == ENOENT) {
            char *slash = strrchr(buf, '/');
            const char *name = slash ? slash + 1 : buf;
            if (slash)
                *slash = 0;
            int parent = open_in_root(slash ? buf : "", O_PATH | O_DIRECTORY);
            if (slash)
                *slash = '/';
            if (parent < 0)
                fail(errno, "mkdir %s in the rootfs", buf);
            if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
                fail(errno, "mkdir %s in the rootfs", buf);
            close(parent);
        } else {
            fail(errno, "mkdir %s in the rootfs", buf);
        }
        buf[i] = saved;
    }
}

static const char *fd_path(int fd)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
    return buf;
}

/* ---- mounts ---- */

static unsigned long statvfs_to_ms(unsigned long f)
{
    unsigned long ms = 0;
    if (f & ST_NOSUID) ms |= MS_NOSUID;
    if (f & ST_NODEV) ms |= MS_NODEV;
    if (f & ST_NOEXEC) ms |= MS_NOEXEC;
    if (f & ST_NOATIME) ms |= MS_NOATIME;
    if (f & ST_NODIRATIME) ms |= MS_NODIRATIME;
    if (f & ST_RELATIME) ms |= MS_RELATIME;
    if (f & ST_RDONLY) ms |= MS_RDONLY;
    return ms;
}

/* Read-only through the fd of what was resolved and checked, never through the
 * path a second time (as MASK). mount_setattr changes only MS_RDONLY, so flags
 * the kernel locked (nosuid, nodev in a user namespace) stay as they are. A
 * kernel before 5.12 lacks it (ENOSYS): there, the remount by path, keeping
 * the flags it reads. */
static int setattr_fd(int fd, uint64_t set, uint64_t clr, unsigned int flags)
{
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = set;
    attr.attr_clr = clr;
    return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr);
}

static int set_rdonly_fd(int fd)
{
    return setattr_fd(fd, MOUNT_ATTR_RDONLY, 0, 0);
}

/* A detached tree (open_tree) onto the mount point an fd stands for. */
static int attach_tree(int tree, int fd)
{
    return (int)syscall(SYS_move_mount, tree, "", fd, "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static void remount_ro_by_path(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0)
        fail(errno, "statfs %s", path);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | statvfs_to_ms(sv.f_flag);
    if (mount(NULL, path, NULL, flags, NULL) < 0)
        fail(errno, "remount %s read-only", path);
}

/* A mount (its root: the path of a mount made earlier, or /) read-only. */
static void remount_ro(const char *path)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        fail(errno, "open %s", path);
    if (set_rdonly_fd(fd) < 0) {
        if (errno != ENOSYS)
            fail(errno, "remount %s read-only", path);
        remount_ro_by_path(path);
    }
    close(fd);
}

static void after_mount(const char *source, const char *target, unsigned long remount,
                        unsigned long propagation);

static void do_mount(struct cursor *c)
{
    unsigned long flags = get_u64(c), remount = get_u64(c), propagation = get_u64(c);
    const char *source = get_str(c), *target = get_str(c), *fstype = get_str(c),
               *data = get_str(c);
    uint32_t no_symlinks = get_u32(c);
    int fd = open_in_root_how(target, O_PATH, no_symlinks ? RESOLVE_NO_SYMLINKS : 0);
    if (fd < 0 && errno == ELOOP && no_symlinks)
        fail(0, "mount %s on %s: %s must be mounted on ordinary directory: the destination "
             "(or a directory above it) is a symlink", source, target, fstype);
    if (fd < 0)
        fail(errno, "open mount target %s", target);
    if (mount(source, fd_path(fd), *fstype ? fstype : NULL, flags, *data ? data : NULL) < 0)
        fail(errno, "mount %s on %s", source, target);
    close(fd);
    after_mount(source, target, remount, propagation);
}

/* Attach a detached tree the parent made (an id-mapped bind mount). */
static void do_move_mount(struct cursor *c)
{
    int tree = (int)get_u32(c);
    unsigned long remount = get_u64(c), propagation = get_u64(c);
    const char *target = get_str(c);
    int fd = open_in_root(target, O_PATH);
    if (fd < 0)
        fail(errno, "open mount target %s", target);
    if (attach_tree(tree, fd) < 0)
        fail(errno, "attach the prepared mount on %s", target);
    close(fd);
    close(tree);
    after_mount("the prepared mount", target, remount, propagation);
}

/* The remount (bind flags) and propagation steps that follow a mount. */
static void after_mount(const char *source, const char *target, unsigned long remount,
                        unsigned long propagation)
{
    if (!remount && !propagation)
        return;
    /* Reopen: the earlier fd refers to what lies under the new mount. */
    int fd = open_in_root(target, O_PATH);
    if (fd < 0)
        fail(errno, "open mount target %s", target);
    if (remount && mount(NULL, fd_path(fd), NULL, remount, NULL) < 0)
        fail(errno, "remount %s on %s", source, target);
    if (propagation && mount(NULL, fd_path(fd), NULL, propagation, NULL) < 0)
        fail(errno, "set propagation of %s", target);
    close(fd);
}

static void do_mount_setattr(struct cursor *c)
{
    uint64_t set = get_u64(c), clr = get_u64(c);
    const char *target = get_str(c);
    int fd = open_in_root(target, O_PATH);
    if (fd < 0)
        fail(errno, "open mount target %s", target);
    if (setattr_fd(fd, set, clr, AT_RECURSIVE) < 0)
        fail(errno, "set recursive mount attributes of %s", target);
    close(fd);
}

static void do_mknod(struct cursor *c)
{
    uint32_t mode = get_u32(c), major = get_u32(c), minor = get_u32(c);
    uint32_t uid = get_u32(c), gid = get_u32(c);
    const char *path = get_str(c), *base;
    uint32_t replace = get_u32(c);
    int dir = open_parent_in_root(path, &base);
    struct stat st;
    if (!replace && fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        /* config-linux.md "Devices": a file there that is not this device is an error. */
        if ((st.st_mode & S_IFMT) != (mode & S_IFMT) || st.st_rdev != makedev(major, minor))
            fail(0, "device %s: a file that is not this device is already there", path);
        if (fchmodat(dir, base, mode & 07777, 0) < 0)
            fail(errno, "chmod %s", path);
    } else {
        if (unlinkat(dir, base, 0) < 0 && errno != ENOENT)
            fail(errno, "remove %s before mknod", path);
        if (mknodat(dir, base, mode, makedev(major, minor)) < 0)
            fail(errno, "mknod %s", path);
    }
    if (fchownat(dir, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        fail(errno, "chown %s", path);
    close(dir);
}

static void do_mkfile(const char *path)
{
    const char *base;
    int dir = open_parent_in_root(path, &base);
    int fd = openat(dir, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EEXIST)
        fail(errno, "create mount target %s", path);
    if (fd >= 0)
        close(fd);
    close(dir);
}

static void do_symlink(const char *target, const char *path)
{
    const char *base;
    int dir = open_parent_in_root(path, &base);
    if (symlinkat(target, dir, base) < 0 && errno != EEXIST)
        fail(errno, "symlink %s -> %s", path, target);
    close(dir);
}

static void do_pivot(uint32_t how)
{
    if (how == ROOT_CHROOT) {
        if (fchdir(rootfd) < 0)
            fail(errno, "chdir %s", rootfs_path);
        if (chroot(".") < 0)
            fail(errno, "chroot %s", rootfs_path);
    } else if (how == ROOT_MOVE) {
        if (chdir(rootfs_path) < 0)
            fail(errno, "chdir %s", rootfs_path);
        if (mount(rootfs_path, "/", NULL, MS_MOVE, NULL) < 0)
            fail(errno, "move %s to /", rootfs_path);
        if (chroot(".") < 0)
            fail(errno, "chroot %s", rootfs_path);
    } else {
        int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (oldroot < 0)
            fail(errno, "open /");
        if (fchdir(rootfd) < 0)
            fail(errno, "chdir %s", rootfs_path);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            fail(errno, "pivot_root %s", rootfs_path);
        /* The old root is stacked on the new one: detach it without
         * propagating the unmount back to the host. */
        if (fchdir(oldroot) < 0)
            fail(errno, "chdir to the old root");
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            fail(errno, "make the old root a slave");
        if (umount2(".", MNT_DETACH) < 0)
            fail(errno, "unmount the old root");
        close(oldroot);
    }
    if (chdir("/") < 0)
        fail(errno, "chdir /");
    close(rootfd);
    rootfd = -1;
}

/* --no-pivot leaves the old root underneath the new one: a full proc or
 * sysfs there would let the container mount a new one in a user namespace
 * (the kernel allows it while an unmasked instance is visible). */
static void hide_mount(const char *path)
{
    if (mount(NULL, path, NULL, MS_SLAVE | MS_REC, NULL) < 0)
        fail(errno, "make %s a slave", path);
    if (umount2(path, MNT_DETACH) == 0)
        return;
    if (errno != EINVAL && errno != EPERM)
        fail(errno, "detach %s", path);
    if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        fail(errno, "cover %s with a tmpfs", path);
}

static void do_mask(const char *path)
{
    /* By fd, never by path twice: a process sharing the mount namespace could
     * swap /dev/null or the target for a symlink between check and mount
     * (the runc CVE-2025-31133 class). */
    int target = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (target < 0) {
        if (errno == ENOENT)
            return;
        fail(errno, "open masked path %s", path);
    }
    struct stat st, null;
    if (fstat(target, &st) < 0)
        fail(errno, "stat masked path %s", path);
    char target_path[64];
    snprintf(target_path, sizeof target_path, "%s", fd_path(target));
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", target_path, "tmpfs", MS_RDONLY, NULL) < 0)
            fail(errno, "mask %s", path);
    } else {
        int nfd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 || fstat(nfd, &null) < 0 || !S_ISCHR(null.st_mode) ||
            major(null.st_rdev) != 1 || minor(null.st_rdev) != 3)
            fail(0, "mask %s: /dev/null is not the null device", path);
        if (mount(fd_path(nfd), target_path, NULL, MS_BIND, NULL) < 0)
            fail(errno, "mask %s", path);
        close(nfd);
    }
    close(target);
}

/* readonlyPaths: a read-only bind of the path onto itself, made by fd: a copy
 * of the tree at the fd (open_tree), read-only on its top mount (as runc's
 * remount of the bind), attached onto that same fd (move_mount). */
static void do_readonly(const char *path)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return;
        fail(errno, "open read-only path %s", path);
    }
    int tree = (int)syscall(SYS_open_tree, fd, "",
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
    if (tree < 0 && errno == ENOSYS) {
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
            fail(errno, "bind %s for read-only", path);
        remount_ro_by_path(path);
        close(fd);
        return;
    }
    if (tree < 0)
        fail(errno, "bind %s for read-only", path);
    if (set_rdonly_fd(tree) < 0)
        fail(errno, "make the bind of %s read-only", path);
    if (attach_tree(tree, fd) < 0)
        fail(errno, "attach the read-only bind of %s", path);
    close(tree);
    close(fd);
}

/* ---- process ---- */

static void write_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail(errno, "open %s", path);
    size_t len = strlen(content);
    if (write(fd, content, len) != (ssize_t)len)
        fail(errno, "write %s", path);
    close(fd);
}

static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        fail(errno, "socket for loopback");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        fail(errno, "get flags of lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        fail(errno, "bring lo up");
    close(s);
}

static void capset_all(uint64_t eff, uint64_t perm, uint64_t inh)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)eff;
    data[1].effective = (uint32_t)(eff >> 32);
    data[0].permitted = (uint32_t)perm;
    data[1].permitted = (uint32_t)(perm >> 32);
    data[0].inheritable = (uint32_t)inh;
    data[1].inheritable = (uint32_t)(inh >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0)
        fail(errno, "set capabilities");
}

static int is_executable(const char *path, struct stat *st)
{
    if (stat(path, st) < 0)
        return -1;
    if (!S_ISREG(st->st_mode) || !(st->st_mode & 0111)) {
        errno = EACCES;
        return -1;
    }
    return 0;
}

/* The container's view of exec.LookPath: runc's messages, which clients parse. */
static void lookup(const char *name, const char *pathenv)
{
    struct stat st;
    if (strchr(name, '/')) {
        if (is_executable(name, &st) < 0) {
            if (errno == EACCES)
                fail(EACCES, "exec: \"%s\"", name);
            fail(errno, "exec: \"%s\": stat %s", name, name);
        }
        snprintf(resolved, sizeof resolved, "%s", name);
        return;
    }
    const char *p = pathenv;
    int denied = 0;
    while (1) {
        const char *end = strchrnul(p, ':');
        int n = (int)(end - p);
        if (n == 0)
            snprintf(resolved, sizeof resolved, "./%s", name);
        else
            snprintf(resolved, sizeof resolved, "%.*s/%s", n, p, name);
        if (is_executable(resolved, &st) == 0)
            return;
        if (errno == EACCES)
            denied = 1;
        if (!*end)
            break;
        p = end + 1;
    }
    if (denied)
        fail(EACCES, "exec: \"%s\"", name);
    fail(0, "exec: \"%s\": executable file not found in $PATH", name);
}

/* HOME for a process whose environment has none, as runc sets it: the home
 * of uid in the container's /etc/passwd (bind mounts included: it runs after
 * the mounts, still as root), as the entry has it (maybe empty), "/" without
 * an entry. Added to the ENV list at EXEC. */
static char home_env[PATH_MAX + 8];

static void default_home(uint32_t uid)
{
    static char passwd[1 << 20];
    ssize_t n = 0, got;
    int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);

    snprintf(home_env, sizeof home_env, "HOME=/");
    if (fd < 0)
        return;
    while (n < (ssize_t)sizeof passwd - 1
           && (got = read(fd, passwd + n, sizeof passwd - 1 - (size_t)n)) > 0)
        n += got;
    close(fd);
    passwd[n] = '\0';
    /* name:password:UID:GID:gecos:HOME:shell */
    for (char *line = passwd, *next; line && *line; line = next) {
        char *field[7] = {line}, *end;
        int count = 1;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        for (char *c = line; *c && count < 7; c++)
            if (*c == ':') {
                *c = '\0';
                field[count++] = c + 1;
            }
        if (count < 3 || !*field[2] || field[2][strspn(field[2], "0123456789")])
            continue;
        if (strtoul(field[2], &end, 10) == uid) { /* an overflow is ULONG_MAX: no match */
            /* runc's: the entry's home, empty too (a short entry has none) */
            snprintf(home_env, sizeof home_env, "HOME=%s", count >= 6 ? field[5] : "");
            return;
        }
    }
}

/* The kernel's struct sigaction: glibc's sigaction() refuses signals 32 and 33
 * (its own), yet an ignored disposition of those survives execve too. */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

static void reset_signals(void)
{
    struct kernel_sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.handler = SIG_DFL;
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
}

static void exec_fifo(const char *name)
{
    /* Nothing more is reported to the parent: it may be gone by now. */
    close(sockfd);
    sockfd = -1;
    int fd = openat(statefd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail(errno, "open exec fifo");
    if (write(fd, "0", 1) != 1)
        fail(errno, "write exec fifo");
    close(fd);
    close(statefd);
    statefd = -1;
}

/* ---- fds for the parent ---- */

/* One message of TYPE carrying FD (SCM_RIGHTS); WHAT names it in an error. */
static void send_fd(uint32_t type, int fd, const char *what)
{
    struct sync_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    struct iovec iov = {&m, sizeof m};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    if (sendmsg(sockfd, &msg, MSG_NOSIGNAL) < 0)
        fail(errno, "send %s to pyrunc", what);
}

/* With SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel returns the notify fd:
 * the parent hands it to the listener. */
static void load_seccomp(uint32_t flags, const char *prog, uint32_t len)
{
    struct sock_fprog fprog;
    /* fprog.len is 16 bits: a longer program must not load cut short. */
    if (len / sizeof(struct sock_filter) > BPF_MAXINSNS)
        fail(EINVAL, "the seccomp filter has %u instructions: the kernel takes %d at most",
             len / (uint32_t)sizeof(struct sock_filter), BPF_MAXINSNS);
    fprog.len = (unsigned short)(len / sizeof(struct sock_filter));
    fprog.filter = (struct sock_filter *)prog;
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
    if (rc < 0)
        fail(errno, "load the seccomp filter (flags 0x%x)", flags);
    if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        send_fd(MSG_SECCOMP, (int)rc, "the seccomp notify fd");
        close((int)rc);
    }
}

/* The program in a memfd the parent compiled into while this init set up
 * (create). The parent seals it once written, before it lets the init go past
 * READY: a memfd without every seal is not finished, so it is refused. Mapped,
 * not read: after the load the init makes no system call but execve. */
static void load_seccomp_fd(uint32_t flags, int fd)
{
    const int sealed = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0)
        fail(errno, "the seccomp program's memfd");
    if ((seals & sealed) != sealed)
        fail(EBADFD, "the seccomp program's memfd is not sealed: the parent did not finish it");
    struct stat st;
    if (fstat(fd, &st) < 0)
        fail(errno, "the seccomp program's memfd");
    if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) || st.st_size > UINT32_MAX)
        fail(EBADFD, "the seccomp program's memfd holds %lld bytes", (long long)st.st_size);
    void *prog = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (prog == MAP_FAILED)
        fail(errno, "map the seccomp program");
    load_seccomp(flags, prog, (uint32_t)st.st_size);
}

/* ---- terminal ---- */

/* A pty from the devpts instance the container sees at /dev/ptmx (after
 * pivot_root, or after joining the container's mount namespace). */
static void setup_console(uint32_t rows, uint32_t cols, uint32_t bind_console, uint32_t uid)
{
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        fail(errno, "open /dev/ptmx in the container");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        fail(errno, "unlock the pty");
    /* The slave by fd from the master: no path lookup that could be raced. */
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        fail(errno, "open the pty slave");
    /* The process's user owns its terminal (as with runc), the group stays
     * the devpts mount's gid=. Only this pty, which we made: never a file
     * the caller passed as stdio. A uid the user namespace does not map
     * (EINVAL) or an owner we may not change (EPERM) leaves it as it is. */
    if (fchown(slave, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM)
        fail(errno, "give the pty to uid %u", uid);
    if (rows && cols) {
        struct winsize ws;
        memset(&ws, 0, sizeof ws);
        ws.ws_row = (unsigned short)rows;
        ws.ws_col = (unsigned short)cols;
        if (ioctl(master, TIOCSWINSZ, &ws) < 0)
            fail(errno, "set the console size");
    }
    if (bind_console) {
        int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            fail(errno, "create /dev/console");
        close(fd);
        fd = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        char target[64];
        if (fd < 0)
            fail(errno, "open /dev/console");
        snprintf(target, sizeof target, "%s", fd_path(fd));
        if (mount(fd_path(slave), target, NULL, MS_BIND, NULL) < 0)
            fail(errno, "bind the pty onto /dev/console");
        close(fd);
    }
    send_fd(MSG_CONSOLE, master, "the pty master");
    close(master);
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        fail(errno, "make the pty the controlling terminal");
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            fail(errno, "make the pty stdio");
    close(slave);
}

/* ---- scheduling ---- */

struct sched_attr_v1 {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

static void set_scheduler(struct cursor *a)
{
    struct sched_attr_v1 attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.sched_policy = get_u32(a);
    attr.sched_flags = get_u64(a);
    attr.sched_nice = (int32_t)get_u32(a);
    attr.sched_priority = get_u32(a);
    attr.sched_runtime = get_u64(a);
    attr.sched_deadline = get_u64(a);
    attr.sched_period = get_u64(a);
    if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
        fail(errno, "set the scheduler (sched_setattr policy %u)", attr.sched_policy);
}

static void clone_init(uint64_t flags, uint32_t cgroup_fd)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.cgroup = cgroup_fd;
    /* With CLONE_PARENT clone3 wants exit_signal 0: the child inherits ours
     * (SIGCHLD), so the parent is told of its exit. */
    args.flags = flags | CLONE_PARENT;
    /* MSG_PID must be the first message: the child could otherwise reach its
     * own first message (READY, an error) before we send it. It waits for
     * EOF on this pipe, i.e. for our exit after the send. */
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0)
        fail(errno, "create a pipe");
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        fail(errno, "clone the container init");
    if (pid > 0) {
        send_msg(MSG_PID, 0, (int)pid, NULL);
        _exit(0);
    }
    close(gate[1]);
    char byte;
    while (read(gate[0], &byte, 1) < 0 && errno == EINTR)
        ;
    close(gate[0]);
}

/* --debug: each step's index, op and duration go to the parent (MSG_TRACE),
 * which names the step from its own copy of the plan. Only while the parent
 * listens, and never after the seccomp filter is on. */
static int tracing;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void trace_step(uint32_t index, uint32_t op, uint64_t started)
{
    struct sync_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_TRACE;
    m.err = (int)op;
    m.pid = (int)index;
    uint64_t took = now_us() - started;
    m.reserved = took > 0xFFFFFFFFu ? 0xFFFFFFFFu : (unsigned int)took;
    if (sockfd >= 0)
        send(sockfd, &m, sizeof m, MSG_NOSIGNAL);
}

static void run(struct cursor *c)
{
    for (uint32_t index = 0; c->p < c->end; index++) {
        uint32_t op = get_u32(c), len = get_u32(c);
        if ((size_t)(c->end - c->p) < len)
            fail(0, "corrupt launch plan");
        struct cursor a = {c->p, c->p + len};
        c->p += len;
        current_step = index + 1;
        if (op == OP_READY || op == OP_SECCOMP || op == OP_SECCOMP_FD || op == OP_EXEC_FIFO)
            tracing = 0;
        uint64_t started = tracing ? now_us() : 0;
        switch (op) {
        case OP_TRACE:
            tracing = 1;
            break;
        case OP_SETNS: {
            uint32_t type = get_u32(&a);
            const char *path = get_str(&a);
            int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never a fifo's wait */
            if (fd < 0)
                fail(errno, "open namespace %s", path);
            if (setns(fd, (int)type) < 0)
                fail(errno, "join namespace %s", path);
            close(fd);
            break;
        }
        case OP_SETNS_FD: {
            int fd = (int)get_u32(&a);
            uint32_t flags = get_u32(&a);
            if (setns(fd, (int)flags) < 0)
                fail(errno, "join the container's namespaces");
            break; /* the fd may be needed again (cgroup namespace after the move) */
        }
        case OP_CONSOLE: {
            uint32_t rows = get_u32(&a), cols = get_u32(&a), bind = get_u32(&a);
            setup_console(rows, cols, bind, get_u32(&a));
            break;
        }
        case OP_IOPRIO:
            if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)get_u32(&a)) < 0)
                fail(errno, "set the I/O priority");
            break;
        case OP_SCHED:
            set_scheduler(&a);
            break;
        case OP_AFFINITY: {
            uint32_t n;
            const char *mask = get_bytes(&a, &n);
            if (syscall(SYS_sched_setaffinity, 0, (size_t)n, mask) < 0)
                fail(errno, "set the CPU affinity");
            break;
        }
        case OP_PERSONALITY:
            if (personality(get_u32(&a)) < 0)
                fail(errno, "set the personality");
            break;
        case OP_CLONE: {
            uint64_t flags = get_u64(&a);
            clone_init(flags, get_u32(&a));
            break;
        }
        case OP_WRITE_FD: {
            int fd = (int)get_u32(&a);
            const char *content = get_str(&a), *label = get_str(&a);
            size_t len = strlen(content);
            if (write(fd, content, len) != (ssize_t)len)
                fail(errno, "%s", label);
            close(fd);
            break;
        }
        case OP_WAIT:
            wait_go();
            break;
        case OP_HOOKS:
            send_msg(MSG_HOOKS, 0, getpid(), NULL);
            wait_go();
            break;
        case OP_READY:
            send_msg(MSG_READY, 0, getpid(), NULL);
            wait_go();
            break;
        case OP_UNSHARE: {
            uint64_t flags = get_u64(&a);
            if (unshare((int)flags) < 0)
                fail(errno, "unshare namespaces 0x%llx", (unsigned long long)flags);
            break;
        }
        case OP_DUMPABLE:
            if (prctl(PR_SET_DUMPABLE, get_u32(&a), 0, 0, 0) < 0)
                fail(errno, "set dumpable");
            break;
        case OP_MOUNT_PROPAGATE: {
            uint64_t flags = get_u64(&a);
            const char *target = get_str(&a);
            if (mount(NULL, target, NULL, flags, NULL) < 0)
                fail(errno, "set propagation of %s", target);
            break;
        }
        case OP_ROOTFS:
            rootfs_path = get_str(&a);
            if (get_u32(&a) && mount(rootfs_path, rootfs_path, NULL, MS_BIND | MS_REC, NULL) < 0)
                fail(errno, "bind rootfs %s", rootfs_path);
            rootfd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (rootfd < 0)
                fail(errno, "open rootfs %s", rootfs_path);
            break;
        case OP_MKDIRS: {
            uint32_t mode = get_u32(&a);
            mkdirs_in_root(get_str(&a), mode);
            break;
        }
        case OP_MKFILE:
            do_mkfile(get_str(&a));
            break;
        case OP_MOUNT:
            do_mount(&a);
            break;
        case OP_MOUNT_SETATTR:
            do_mount_setattr(&a);
            break;
        case OP_MOVE_MOUNT:
            do_move_mount(&a);
            break;
        case OP_MKNOD:
            do_mknod(&a);
            break;
        case OP_BIND_DEV: {
            const char *src = get_str(&a), *target = get_str(&a);
            do_mkfile(target);
            int fd = open_in_root(target, O_PATH);
            if (fd < 0 || mount(src, fd_path(fd), NULL, MS_BIND, NULL) < 0)
                fail(errno, "bind device %s", src);
            close(fd);
            break;
        }
        case OP_SYMLINK: {
            const char *target = get_str(&a);
            do_symlink(target, get_str(&a));
            break;
        }
        case OP_MEMPOLICY: {
            uint32_t mode = get_u32(&a), n;
            const char *mask = get_bytes(&a, &n);
            if (syscall(SYS_set_mempolicy, (int)mode, n ? (const unsigned long *)mask : NULL,
                        n ? (unsigned long)n * 8 + 1 : 0UL) < 0)
                fail(errno, "set the memory policy (set_mempolicy mode 0x%x)", mode);
            break;
        }
        case OP_HIDE_MOUNT:
            hide_mount(get_str(&a));
            break;
        case OP_PIVOT:
            do_pivot(get_u32(&a));
            break;
        case OP_MASK:
            do_mask(get_str(&a));
            break;
        case OP_READONLY:
            do_readonly(get_str(&a));
            break;
        case OP_REMOUNT_RO:
            remount_ro(get_str(&a));
            break;
        case OP_WRITE_FILE: {
            const char *path = get_str(&a);
            write_file(path, get_str(&a));
            break;
        }
        case OP_HOSTNAME: {
            uint32_t n;
            const char *name = get_bytes(&a, &n);
            if (sethostname(name, n) < 0)
                fail(errno, "set hostname %s", name);
            break;
        }
        case OP_DOMAINNAME: {
            uint32_t n;
            const char *name = get_bytes(&a, &n);
            if (setdomainname(name, n) < 0)
                fail(errno, "set domainname %s", name);
            break;
        }
        case OP_LOOPBACK_UP:
            loopback_up();
            break;
        case OP_RLIMIT: {
            uint32_t res = get_u32(&a);
            struct rlimit64 rl;
            rl.rlim_cur = get_u64(&a);
            rl.rlim_max = get_u64(&a);
            if (prlimit64(0, (int)res, &rl, NULL) < 0)
                fail(errno, "set rlimit %u", res);
            break;
        }
        case OP_DROP_BOUNDING: {
            uint64_t keep = get_u64(&a);
            uint32_t last = get_u32(&a);
            for (uint32_t cap = 0; cap <= last && cap < 64; cap++)
                if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
                    errno != EINVAL)
                    fail(errno, "drop capability %u from the bounding set", cap);
            break;
        }
        case OP_KEEPCAPS:
            if (prctl(PR_SET_KEEPCAPS, get_u32(&a), 0, 0, 0) < 0)
                fail(errno, "set keepcaps");
            break;
        case OP_SETGROUPS: {
            uint32_t n = get_u32(&a);
            if (n > MAX_GROUPS)
                fail(EINVAL, "too many additional groups");
            for (uint32_t i = 0; i < n; i++)
                groups[i] = get_u32(&a);
            if (syscall(SYS_setgroups, (size_t)n, groups) < 0)
                fail(errno, "setgroups");
            break;
        }
        case OP_SETGID: {
            uint32_t gid = get_u32(&a);
            if (syscall(SYS_setresgid, gid, gid, gid) < 0)
                fail(errno, "setgid %u", gid);
            break;
        }
        case OP_SETUID: {
            uint32_t uid = get_u32(&a);
            if (syscall(SYS_setresuid, uid, uid, uid) < 0)
                fail(errno, "setuid %u", uid);
            break;
        }
        case OP_CAPSET: {
            uint64_t eff = get_u64(&a), perm = get_u64(&a), inh = get_u64(&a);
            capset_all(eff, perm, inh);
            break;
        }
        case OP_AMBIENT: {
            uint64_t caps = get_u64(&a);
            for (unsigned cap = 0; cap < 64; cap++)
                if ((caps & (1ULL << cap)) &&
                    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                    fail(errno, "raise ambient capability %u", cap);
            break;
        }
        case OP_NO_NEW_PRIVS:
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                fail(errno, "set no_new_privs");
            break;
        case OP_UMASK:
            umask((mode_t)get_u32(&a));
            break;
        case OP_CHDIR: {
            const char *dir = get_str(&a);
            char cwd[PATH_MAX];
            if (chdir(dir) < 0)
                fail(errno, "chdir to cwd %s", dir);
            /* A cwd outside the container root reads "(unreachable)...":
             * never exec there (runc CVE-2024-21626). */
            if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/')
                fail(EPERM, "cwd %s is outside the container", dir);
            break;
        }
        case OP_LOOKUP: {
            const char *name = get_str(&a);
            lookup(name, get_str(&a));
            break;
        }
        case OP_EXEC_FIFO:
            exec_fifo(get_str(&a));
            break;
        case OP_CLOSE_FDS: {
            uint32_t first = get_u32(&a);
            if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                fail(errno, "close inherited file descriptors");
            break;
        }
        case OP_SECCOMP: {
            uint32_t flags = get_u32(&a), n;
            const char *prog = get_bytes(&a, &n);
            load_seccomp(flags, prog, n);
            break;
        }
        case OP_SECCOMP_FD: {
            uint32_t flags = get_u32(&a);
            load_seccomp_fd(flags, (int)get_u32(&a));
            break;
        }
        case OP_ARG:
            if (nargs >= MAX_ARGS)
                fail(E2BIG, "too many arguments");
            exec_argv[nargs++] = (char *)get_str(&a);
            break;
        case OP_ENV:
            if (nenv >= MAX_ARGS)
                fail(E2BIG, "too many environment variables");
            exec_envp[nenv++] = (char *)get_str(&a);
            break;
        case OP_RESET_SIGNALS:
            reset_signals();
            break;
        case OP_DEFAULT_HOME:
            default_home(get_u32(&a));
            break;
        case OP_EXEC:
            if (home_env[0]) {
                if (nenv >= MAX_ARGS)
                    fail(E2BIG, "too many environment variables");
                exec_envp[nenv++] = home_env;
            }
            execve(resolved, exec_argv, exec_envp);
            fail(errno, "exec %s", resolved);
        case OP_SETSID:
            if (setsid() < 0)
                fail(errno, "setsid");
            break;
        default:
            fail(0, "unknown launch plan op %u", op);
        }
        if (tracing)
            trace_step(index, op, started);
    }
    fail(0, "launch plan ended without exec");
}

int main(int argc, char **argv)
{
    /* A `#!/proc/self/exe` entry point also lands here, with argv[0] the
     * interpreter path: refuse anything but pyrunc's own invocation. */
    char *end = NULL;
    long base = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || strcmp(argv[0], "pyrunc:init") != 0 || !end || *end || base < 3 ||
        base > 65536) {
        dprintf(2, "pyrunc-init is started by pyrunc only\n");
        return 2;
    }
    sockfd = (int)base + FD_SOCKET;
    int planfd = (int)base + FD_PLAN;
    statefd = (int)base + FD_STATE;
    umask(0);
    prctl(PR_SET_NAME, "pyrunc:init", 0, 0, 0); /* not "7" from /proc/self/fd/7 in ps */

    struct stat st;
    if (fstat(planfd, &st) < 0)
        fail(errno, "stat launch plan");
    const unsigned char *plan = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, planfd, 0);
    if (plan == MAP_FAILED)
        fail(errno, "map launch plan");
    close(planfd);
    struct cursor c = {plan, plan + st.st_size};
    if (get_u32(&c) != PLAN_MAGIC)
        fail(0, "launch plan from a different pyrunc build");
    run(&c);
    return 1;
}
