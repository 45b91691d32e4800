/* The launch plan and sync protocol shared by the C init and the Python parent.
 *
 * The parent (Python) compiles config.json into a plan: a flat list of ops that
 * the init executes in order, with every policy decision already taken. The init
 * interprets the list and nothing else. Python reads these constants through the
 * cffi module (runtime._native), so this header is the single source of truth.
 *
 * Encoding of one op: u32 op, u32 payload length, payload. Payload fields are
 * packed little-endian (native on every target we build for): u32/u64 integers
 * and strings as u32 length + bytes + NUL. */
#ifndef PYRUNC_PLAN_H
#define PYRUNC_PLAN_H

#define PLAN_MAGIC 0x50595231 /* "PYR1" */

/* Ops executed by the first process (in the caller's namespaces). */
#define OP_SETNS 1            /* u32 nstype, str path */
#define OP_CLONE 2            /* u64 clone flags, u32 cgroup fd (for CLONE_INTO_CGROUP):
                                 fork the container init, report its pid */

/* Ops executed by the container init. */
#define OP_WAIT 10            /* wait for MSG_GO from the parent */
#define OP_READY 11           /* send MSG_READY and wait for MSG_GO */
#define OP_UNSHARE 12         /* u64 flags */
#define OP_DUMPABLE 13        /* u32 value */
#define OP_MOUNT_PROPAGATE 20 /* u64 flags, str target (host path): change propagation */
#define OP_ROOTFS 21          /* str path, u32 bind: (bind the rootfs onto itself and) open it */
#define OP_MKDIRS 22          /* u32 mode, str path (in rootfs) */
#define OP_MKFILE 23          /* str path (in rootfs): empty file as a bind target */
#define OP_MOUNT 24           /* u64 flags, u64 remount flags, u64 propagation,
                                 str source, str target (in rootfs), str fstype, str data,
                                 u32 no_symlinks (refuse a symlinked target) */
#define OP_MKNOD 25           /* u32 mode, u32 major, u32 minor, u32 uid, u32 gid, str path,
                                 u32 replace: a default device replaces whatever is there;
                                 a listed one keeps the same device and refuses anything else */
#define OP_BIND_DEV 26        /* str host device path, str target (in rootfs) */
#define OP_SYMLINK 27         /* str target, str linkpath (in rootfs) */
#define OP_PIVOT 28           /* u32 ROOT_*: how the rootfs becomes / */
#define ROOT_PIVOT 0          /* pivot_root, the old root detached */
#define ROOT_MOVE 1           /* MS_MOVE onto / and chroot (--no-pivot) */
#define ROOT_CHROOT 2         /* chroot only: no mount namespace of its own */
#define OP_MASK 29            /* str path (after pivot) */
#define OP_READONLY 30        /* str path (after pivot) */
#define OP_REMOUNT_RO 31      /* str path (after pivot): remount read-only keeping flags */
#define OP_WRITE_FILE 32      /* str path, str content: sysctl, oom_score_adj */
#define OP_HOSTNAME 33        /* str */
#define OP_DOMAINNAME 34      /* str */
#define OP_LOOPBACK_UP 35
#define OP_RLIMIT 36          /* u32 resource, u64 soft, u64 hard */
#define OP_DROP_BOUNDING 37   /* u64 caps to keep, u32 last cap */
#define OP_KEEPCAPS 38        /* u32 value */
#define OP_SETGROUPS 39       /* u32 n, n x u32 gid */
#define OP_SETGID 40          /* u32 gid */
#define OP_SETUID 41          /* u32 uid */
#define OP_CAPSET 42          /* u64 effective, u64 permitted, u64 inheritable */
#define OP_AMBIENT 43         /* u64 caps to raise */
#define OP_NO_NEW_PRIVS 44
#define OP_UMASK 45           /* u32 */
#define OP_CHDIR 46           /* str */
#define OP_LOOKUP 47          /* str name, str PATH value: resolve args[0] in the container */
#define OP_EXEC_FIFO 48       /* str name: block on the exec fifo in the state dir fd */
#define OP_CLOSE_FDS 49       /* u32 first fd to close at exec */
#define OP_SECCOMP 50         /* u32 seccomp(2) flags, bytes BPF program (struct sock_filter[]);
                                 with NEW_LISTENER the notify fd goes to the parent */
#define OP_ARG 51             /* str */
#define OP_ENV 52             /* str */
#define OP_EXEC 53            /* execve the looked-up path with OP_ARG/OP_ENV: nothing else */
#define OP_SETSID 54          /* new session: the init leads its own */
#define OP_WRITE_FD 56        /* u32 fd, str content, str label: write and close, e.g.
                                 "0" to a v1 cgroup's tasks file: the init moves
                                 itself, which skips the kernel's global lock */
#define OP_MOUNT_SETATTR 55   /* u64 attr_set, u64 attr_clr, str target (in rootfs):
                                 mount_setattr(AT_RECURSIVE) for the r* options */
#define OP_SETNS_FD 57        /* u32 fd (a pidfd), u32 CLONE_NEW* flags: join the
                                 namespaces of a running process at once (exec, hooks) */
#define OP_CONSOLE 58         /* u32 rows, u32 cols, u32 bind onto /dev/console, u32 uid:
                                 open a pty in the container's /dev/pts, give the slave
                                 to uid (the process's user), make it the controlling
                                 terminal and stdio, send the master to the parent
                                 (MSG_CONSOLE + SCM_RIGHTS) */
#define OP_IOPRIO 59          /* u32 ioprio_set value (class << 13 | level) */
#define OP_SCHED 60           /* u32 policy, u64 flags, u32 nice (int), u32 priority,
                                 u64 runtime, u64 deadline, u64 period: sched_setattr */
#define OP_AFFINITY 61        /* bytes cpu mask: sched_setaffinity */
#define OP_PERSONALITY 62     /* u32 persona */
#define OP_HOOKS 63           /* send MSG_HOOKS, wait for MSG_GO: the parent runs the
                                 prestart, createRuntime, createContainer hooks */
#define OP_RESET_SIGNALS 65   /* every signal disposition to default, an empty mask:
                                 before the seccomp filter, so that EXEC is the
                                 only system call after it */
#define OP_TRACE 66           /* --debug: report every following step (MSG_TRACE) until
                                 READY, SECCOMP or EXEC_FIFO */
#define OP_HIDE_MOUNT 67      /* str path (host path, before --no-pivot's MS_MOVE): detach a
                                 full proc or sysfs that would stay reachable under the
                                 moved root (a tmpfs over it where it cannot go) */
#define OP_MEMPOLICY 68       /* u32 mode | flags, bytes node mask (unsigned longs, maybe
                                 empty): set_mempolicy */
#define OP_MOVE_MOUNT 64      /* u32 fd (a detached mount tree: id-mapped), u64 remount
                                 flags, u64 propagation, str target (in rootfs): attach */

/* Sync messages over the SOCK_SEQPACKET socketpair: fixed size. */
#define MSG_PID 1       /* init -> parent: pid of the container init */
#define MSG_GO 2        /* parent -> init: continue */
#define MSG_ERROR 3     /* init -> parent: step text + errno (0: text is complete) */
#define MSG_READY 4     /* init -> parent: about to wait on the exec fifo */
#define MSG_ABORT 5     /* parent -> init: give up and exit */
#define MSG_CONSOLE 6   /* init -> parent: the pty master, as SCM_RIGHTS */
#define MSG_HOOKS 7     /* init -> parent: run the create hooks now, then MSG_GO */
#define MSG_SECCOMP 8   /* init -> parent: the seccomp notify fd, as SCM_RIGHTS */
#define MSG_TRACE 9     /* init -> parent: step `pid` (op `err`) took `reserved` us */

#define MSG_TEXT_SIZE 4000

struct sync_msg {
    unsigned int type;
    int err;
    int pid;
    unsigned int reserved;
    char text[MSG_TEXT_SIZE];
};

/* The init's fds, from BASE (argv[1], above any preserved fds): the socket,
 * the plan, the state dir, then the extra fds the plan names by number. */
#define FD_SOCKET 0
#define FD_PLAN 1
#define FD_STATE 2
#define FD_EXTRA 3

#endif
