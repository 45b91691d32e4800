/* The launch plan and sync protocol shared by the C init and the Python parent.
 *
 * The parent (Python) compiles config.json into a plan: a flat list of ops that
 * the init executes in order, with every policy decision already taken. The init
 * interprets the list and nothing else. This header is the single source of
 * truth: the build generates runtime/_consts.py from it (csrc/gen_consts.py), so
 * the Python side never writes down an op number, a payload layout or a message
 * type of its own.
 *
 * Encoding of one op: u32 op, u32 payload length, payload. Payload fields are
 * packed little-endian (native on every target we build for), in the order the
 * op's signature gives: I u32, Q u64, s string and b bytes (u32 length + bytes +
 * NUL), L u32 count + that many u32. The plan starts with PLAN_MAGIC.
 *
 * The protocol, over a SOCK_SEQPACKET socketpair of fixed-size sync_msg
 * (runtime/launcher.py is the parent's side):
 *
 *   pyrunc (parent)                      init #1 (caller's namespaces)   init #2 (container)
 *   posix_spawn(sealed memfd) ------->   [TRACE] [WRITE_FILE oom] SETNS*
 *                                        CLONE --------------------->  (waits for #1's exit)
 *            <--------------- MSG_PID (the container init's pid); #1 exits
 *   uid/gid maps, netDevices, pids.max                                  WRITE_FD tasks*, WAIT
 *   MSG_GO ------------------------------------------------------->   rootfs, mounts, devices
 *            <---------------------------------------------- MSG_HOOKS (if create hooks)
 *   prestart, createRuntime, createContainer hooks
 *   MSG_GO ------------------------------------------------------->   PIVOT, process setup
 *            <------------------------------------------------ MSG_CONSOLE + fd (terminal)
 *            <------------------------------------------------ MSG_SECCOMP + fd (notify)
 *            <------------------------------------------------ MSG_TRACE per step (--debug)
 *            <------------------------------------------------ MSG_READY
 *   state.json (created), pid file
 *   MSG_GO, close ------------------------------------------------>   EXEC_FIFO (blocks)
 *   ... `pyrunc start` opens the fifo: one byte --------------------->  seccomp, execve
 *
 * Any step that fails sends MSG_ERROR (step text + errno) and exits; EOF on the
 * socket means the init died. exec and in-container hooks run the same plan
 * without the fifo: after MSG_GO the socket closing on execve is the success. */
#ifndef PYRUNC_PLAN_H
#define PYRUNC_PLAN_H

#define PLAN_MAGIC 0x50595231 /* "PYR1" */

/* The op table: X(name, number, payload signature, what it does). */
#define PLAN_OPS(X)                                                                     \
    /* Ops executed by the first process (in the caller's namespaces). */               \
    X(SETNS, 1, "Is", "u32 nstype, str path: join the namespace at path")               \
    X(CLONE, 2, "QI", "u64 clone flags, u32 cgroup fd (CLONE_INTO_CGROUP): fork the "   \
                      "container init, report its pid")                                 \
    /* Ops executed by the container init. */                                           \
    X(WAIT, 10, "", "wait for MSG_GO from the parent")                                  \
    X(READY, 11, "", "send MSG_READY and wait for MSG_GO")                              \
    X(UNSHARE, 12, "Q", "u64 flags")                                                    \
    X(DUMPABLE, 13, "I", "u32 value")                                                   \
    X(MOUNT_PROPAGATE, 20, "Qs", "u64 flags, str target: change propagation")           \
    X(ROOTFS, 21, "sI", "str path, u32 bind: (bind the rootfs onto itself and) open it") \
    X(MKDIRS, 22, "Is", "u32 mode, str path (in rootfs)")                               \
    X(MKFILE, 23, "s", "str path (in rootfs): an empty file as a bind target")          \
    X(MOUNT, 24, "QQQssssI", "u64 flags, u64 remount flags, u64 propagation, str "      \
                             "source, str target (in rootfs), str fstype, str data, "   \
                             "u32 no_symlinks (refuse a symlinked target)")             \
    X(MKNOD, 25, "IIIIIsI", "u32 mode, major, minor, uid, gid, str path, u32 replace: " \
                            "a default device replaces whatever is there; a listed one " \
                            "keeps the same device and refuses anything else")          \
    X(BIND_DEV, 26, "ss", "str host device path, str target (in rootfs)")              \
    X(SYMLINK, 27, "ss", "str target, str linkpath (in rootfs)")                        \
    X(PIVOT, 28, "I", "u32 ROOT_*: how the rootfs becomes /")                           \
    X(MASK, 29, "s", "str path (after pivot): bind /dev/null or an empty tmpfs over it") \
    X(READONLY, 30, "s", "str path (after pivot): bind it onto itself read-only, by fd") \
    X(REMOUNT_RO, 31, "s", "str path (after pivot): its mount read-only, by fd")        \
    X(WRITE_FILE, 32, "ss", "str path, str content: sysctl, oom_score_adj")             \
    X(HOSTNAME, 33, "s", "str")                                                         \
    X(DOMAINNAME, 34, "s", "str")                                                       \
    X(LOOPBACK_UP, 35, "", "bring lo up")                                               \
    X(RLIMIT, 36, "IQQ", "u32 resource, u64 soft, u64 hard")                            \
    X(DROP_BOUNDING, 37, "QI", "u64 caps to keep, u32 last cap")                        \
    X(KEEPCAPS, 38, "I", "u32 value")                                                   \
    X(SETGROUPS, 39, "L", "u32 n, n x u32 gid")                                         \
    X(SETGID, 40, "I", "u32 gid")                                                       \
    X(SETUID, 41, "I", "u32 uid")                                                       \
    X(CAPSET, 42, "QQQ", "u64 effective, u64 permitted, u64 inheritable")               \
    X(AMBIENT, 43, "Q", "u64 caps to raise")                                            \
    X(NO_NEW_PRIVS, 44, "", "prctl(PR_SET_NO_NEW_PRIVS)")                               \
    X(UMASK, 45, "I", "u32")                                                            \
    X(CHDIR, 46, "s", "str: checked to be inside the container")                        \
    X(LOOKUP, 47, "ss", "str name, str PATH value: resolve args[0] in the container")   \
    X(EXEC_FIFO, 48, "s", "str name: block on the exec fifo in the state dir fd")       \
    X(CLOSE_FDS, 49, "I", "u32 first fd to mark close-on-exec")                         \
    X(SECCOMP, 50, "Ib", "u32 seccomp(2) flags, bytes BPF program; with NEW_LISTENER "  \
                         "the notify fd goes to the parent")                            \
    X(ARG, 51, "s", "str")                                                              \
    X(ENV, 52, "s", "str")                                                              \
    X(EXEC, 53, "", "execve the looked-up path with ARG/ENV: nothing else")             \
    X(SETSID, 54, "", "a new session: the init leads its own")                          \
    X(MOUNT_SETATTR, 55, "QQs", "u64 attr_set, u64 attr_clr, str target (in rootfs): "  \
                                "mount_setattr(AT_RECURSIVE) for the r* options")       \
    X(WRITE_FD, 56, "Iss", "u32 fd, str content, str label: write and close, e.g. \"0\" " \
                           "to a v1 cgroup's tasks file (the init moves itself, which " \
                           "skips the kernel's global lock)")                          \
    X(SETNS_FD, 57, "II", "u32 fd (a pidfd), u32 CLONE_NEW* flags: join the namespaces " \
                          "of a running process at once (exec, hooks)")                 \
    X(CONSOLE, 58, "IIII", "u32 rows, cols, bind onto /dev/console, uid: a pty in the " \
                           "container's /dev/pts, the slave given to uid and made the " \
                           "controlling terminal and stdio, the master sent to the "    \
                           "parent (MSG_CONSOLE + SCM_RIGHTS)")                         \
    X(IOPRIO, 59, "I", "u32 ioprio_set value (class << 13 | level)")                   \
    X(SCHED, 60, "IQIIQQQ", "u32 policy, u64 flags, u32 nice (int), u32 priority, u64 " \
                            "runtime, deadline, period: sched_setattr")                 \
    X(AFFINITY, 61, "b", "bytes cpu mask: sched_setaffinity")                           \
    X(PERSONALITY, 62, "I", "u32 persona")                                              \
    X(HOOKS, 63, "", "send MSG_HOOKS, wait for MSG_GO: the parent runs the prestart, "  \
                     "createRuntime and createContainer hooks")                         \
    X(MOVE_MOUNT, 64, "IQQs", "u32 fd (a detached tree the parent made), u64 remount "  \
                              "flags, u64 propagation, str target (in rootfs): attach") \
    X(RESET_SIGNALS, 65, "", "every signal disposition to default, an empty mask: "     \
                             "before the seccomp filter, so that EXEC is the only "     \
                             "system call after it")                                    \
    X(TRACE, 66, "", "--debug: report every following step (MSG_TRACE) until READY, "   \
                     "SECCOMP or EXEC_FIFO")                                            \
    X(HIDE_MOUNT, 67, "s", "str path (before --no-pivot's MS_MOVE): detach a whole "    \
                           "proc or sysfs that would stay under the moved root")        \
    X(MEMPOLICY, 68, "Ib", "u32 mode | flags, bytes node mask (maybe empty): "          \
                           "set_mempolicy")                                             \
    X(DEFAULT_HOME, 69, "I", "u32 uid: its home in the container's /etc/passwd (/ if none) "\
                             "becomes HOME, added to the ENV list at EXEC")                  \
    X(SECCOMP_FD, 70, "II", "u32 seccomp(2) flags, u32 fd: SECCOMP with the program in a " \
                            "memfd the parent fills while the init sets up, and seals " \
                            "before it releases the init (create: the compile overlaps)")

#define PLAN_OP_ENUM(name, number, signature, doc) OP_##name = number,
enum plan_op { PLAN_OPS(PLAN_OP_ENUM) };

/* OP_PIVOT's argument. */
#define ROOT_PIVOT 0  /* pivot_root, the old root detached */
#define ROOT_MOVE 1   /* MS_MOVE onto / and chroot (--no-pivot) */
#define ROOT_CHROOT 2 /* chroot only: no mount namespace of its own */

/* Sync messages over the SOCK_SEQPACKET socketpair: fixed size. */
#define MSG_PID 1       /* init -> parent: pid of the container init */
#define MSG_GO 2        /* parent -> init: continue */
#define MSG_ERROR 3     /* init -> parent: step text + errno (0: text is complete); `pid`
                         * is the failed step, from 1 (0: before the first) */
#define MSG_READY 4     /* init -> parent: about to wait on the exec fifo */
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
