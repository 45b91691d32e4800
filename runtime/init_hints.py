"""Why a step of the C init failed, in words a person can act on: a hint per
(op, errno), where the kernel's errno alone says little. launcher.py appends
it to the init's own words, which clients match on and which stay as they
are: "mount proc on /proc: operation not permitted — proc needs ..."."""
import errno

from .plan_ops import Op

_E = errno
# (op, errno, subject or None) -> hint, the subject being a MOUNT's fstype or a
# WRITE_FILE's path; the first match wins.
HINTS = (
    ("MOUNT", _E.EPERM, "proc", "proc needs a new pid namespace, or CAP_SYS_ADMIN over the "
                                "current one; in a user namespace, also no hidden /proc paths"),
    ("MOUNT", _E.EPERM, "sysfs", "sysfs in a user namespace needs a network namespace of the "
                                 "container's own; or bind /sys instead"),
    ("MOUNT", _E.EPERM, "cgroup", "a cgroup v1 mount in a user namespace is refused: "
                                  "bind the host's hierarchy instead"),
    ("MOUNT", _E.EPERM, None, "in a user namespace only some filesystems can be mounted "
                              "(tmpfs, proc, devpts, mqueue, binds): see `pyrunc check`"),
    ("MOUNT", _E.ENODEV, None, "this kernel does not know the filesystem type "
                               "(see /proc/filesystems)"),
    ("MOUNT", _E.ENOENT, None, "the source does not exist (relative sources start at the "
                               "bundle)"),
    ("MOUNT", _E.EINVAL, None, "the filesystem refused the options in /mounts"),
    ("MOUNT", _E.ENOTDIR, None, "a directory and a file cannot be mounted on each other"),
    ("MKNOD", _E.EPERM, None, "mknod needs CAP_MKNOD outside a user namespace"),
    ("SETNS", _E.EPERM, None, "joining needs CAP_SYS_ADMIN over the namespace's owner "
                              "(a joined user namespace comes first)"),
    ("SETNS", _E.EINVAL, None, "the path is not a namespace of the type in "
                               "/linux/namespaces"),
    ("CLONE", _E.EPERM, None, "the kernel refused the new namespaces: user namespaces may be "
                              "disabled (user.max_user_namespaces) or need privileges"),
    ("CLONE", _E.ENOSPC, None, "a namespace limit was reached (user.max_*_namespaces)"),
    ("CLONE", _E.EINVAL, None, "this kernel lacks a namespace type of /linux/namespaces"),
    ("UNSHARE", _E.EINVAL, None, "this kernel lacks the namespace type"),
    ("HOSTNAME", _E.EPERM, None, "the hostname needs a uts namespace of the container's own"),
    ("PIVOT", _E.EINVAL, None, "pivot_root refuses this rootfs (on the initial ramfs, or a "
                               "shared mount): try --no-pivot"),
    ("CHDIR", _E.EACCES, None, "the process's user may not enter /process/cwd"),
    ("SETUID", _E.EINVAL, None, "the uid is not mapped in the container's user namespace"),
    ("SETGID", _E.EINVAL, None, "the gid is not mapped in the container's user namespace"),
    ("SETGROUPS", _E.EPERM, None, "the user namespace denies setgroups (a single-id gid map)"),
    ("SETGROUPS", _E.EINVAL, None, "an additional gid is not mapped in the user namespace"),
    ("RLIMIT", _E.EPERM, None, "raising a hard limit needs CAP_SYS_RESOURCE over the host"),
    ("WRITE_FILE", _E.EACCES, "/proc/self/oom_score_adj",
     "lowering oom_score_adj below pyrunc's own needs CAP_SYS_RESOURCE, which this host's "
     "bounding set lacks (containerd: restrict_oom_score_adj = true)"),
    ("WRITE_FILE", _E.EACCES, None, "the file is read-only here (a sysctl of a namespace the "
                                    "container does not own?)"),
    ("WRITE_FILE", _E.EROFS, None, "/proc/sys is read-only at this point"),
    ("CAPSET", _E.EPERM, None, "a capability beyond the bounding set"),
    ("LOOKUP", _E.EACCES, None, "the program is not executable by the process's user"),
    ("EXEC", _E.ENOEXEC, None, "not an ELF program for this machine, nor a #! script "
                               "(`pyrunc check` says which)"),
    ("EXEC", _E.ENOENT, None, "its loader or #! interpreter is missing from the rootfs "
                              "(`pyrunc check` names it)"),
    ("EXEC", _E.EACCES, None, "the program, or a directory on its path, is not executable"),
    ("SECCOMP", _E.EINVAL, None, "the kernel refused the filter or its flags"),
    ("SECCOMP_FD", _E.EINVAL, None, "the kernel refused the filter or its flags"),
)


def hint(op: Op | None, err: int) -> str:
    if op is None or not err:
        return ""
    subject = {"MOUNT": 5, "WRITE_FILE": 0}.get(op.name)
    subject = op.args[subject] if subject is not None else None
    for name, number, kind, text in HINTS:
        if name == op.name and number == err and kind in (None, subject):
            return text
    return ""
