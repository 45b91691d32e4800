"""The cgroup v2 tree above a container: controllers enabled in every ancestor's
cgroup.subtree_control, and the threaded-mode rules checked before the init is
placed (a "domain invalid" cgroup refuses processes with EOPNOTSUPP)."""
import errno
import os

from ..errors import ConfigError, PyruncError, strerror
from .v2_resources import DOMAIN_CONTROLLERS

# What a threaded subtree can use (cgroup-v2.rst "Threads").
THREAD_AWARE = {"cpu", "cpuset", "perf_event", "pids"}


def hierarchy_root(directory: str) -> str:
    """The cgroup2 mount holding directory: the topmost ancestor that is still
    a cgroup (its parent has no cgroup.controllers)."""
    d = os.path.normpath(directory)
    while os.path.exists(os.path.join(os.path.dirname(d), "cgroup.controllers")) \
            and os.path.dirname(d) != d:
        d = os.path.dirname(d)
    return d


def _read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def available(directory: str) -> set[str]:
    return set(_read(directory, "cgroup.controllers").split())


def enable_controllers(directory: str, wanted: set[str], pointers: dict[str, str]) -> None:
    """Enable wanted controllers from the hierarchy root down to directory's
    parent (never in directory itself: it holds processes, and v2 allows
    controllers in subtree_control only where there are none). A controller in
    `pointers` is one the config needs: missing, it is an error naming the field."""
    root = hierarchy_root(directory)
    absent = sorted(set(pointers) - available(root))
    if absent:
        raise ConfigError(pointers[absent[0]], f"invalid configuration: this host's cgroup "
                                               f"v2 hierarchy has no {absent[0]} controller")
    chain = []
    d = os.path.dirname(os.path.normpath(directory))
    while True:
        chain.append(d)
        if d == root or d == os.path.dirname(d):
            break
        d = os.path.dirname(d)
    for ancestor in reversed(chain):
        have = set(_read(ancestor, "cgroup.subtree_control").split())
        usable = wanted & available(ancestor)
        if _type(ancestor) != "domain":  # its children are threaded
            usable &= THREAD_AWARE
        missing = sorted(usable - have)
        if missing:
            _enable(ancestor, missing, set(pointers))
    for controller, pointer in pointers.items():
        if controller not in available(directory):
            raise ConfigError(pointer, f"the {controller} controller cannot be enabled for "
                                       f"{directory} (an ancestor does not delegate it)")


def _enable(directory: str, controllers: list[str], needed: set[str]) -> None:
    """An ancestor the caller may not write (a rootless caller above its
    delegated subtree) may keep controllers the container does not need."""
    path = os.path.join(directory, "cgroup.subtree_control")
    try:
        with open(path, "w") as f:
            f.write(" ".join("+" + c for c in controllers))
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM) and not needed & set(controllers):
            return
        raise PyruncError(f"enable {' '.join(controllers)} in {path}: "
                          f"{_why(e.errno, directory)}") from None


def _why(err: int, directory: str) -> str:
    if err == errno.EBUSY:
        return (f"{directory} has processes of its own, and cgroup v2 lets a cgroup with "
                f"processes have no controllers for its children: choose a cgroupsPath "
                f"under a cgroup without processes")
    if err == errno.EOPNOTSUPP:
        return (f"{directory} is in threaded mode, where only thread-aware controllers "
                f"(cpu, cpuset, pids, perf_event) can be enabled")
    return strerror(err)


def _type(directory: str) -> str:
    try:
        return _read(directory, "cgroup.type")
    except FileNotFoundError:  # the root cgroup has none
        return "domain"


def check_type(directory: str, needed: dict[str, str]) -> None:
    """A new cgroup under a threaded one is "domain invalid": it can become a
    threaded cgroup if the container needs no domain controller (memory, io,
    hugetlb, rdma); otherwise the container cannot live there."""
    kind = _type(directory)
    domain = sorted(set(needed) & DOMAIN_CONTROLLERS)
    if kind == "domain invalid":
        if domain:
            raise ConfigError(needed[domain[0]], f"cgroup {directory} is \"domain invalid\" (it "
                              f"is below a threaded cgroup), where the {domain[0]} controller "
                              f"cannot be used")
        try:
            with open(os.path.join(directory, "cgroup.type"), "w") as f:
                f.write("threaded")
        except OSError as e:
            raise PyruncError(f"make {directory} threaded: {strerror(e.errno)}") \
                from None
    elif kind == "threaded" and domain:
        raise ConfigError(needed[domain[0]], f"cgroup {directory} is threaded, where the "
                                             f"{domain[0]} controller cannot be used")
