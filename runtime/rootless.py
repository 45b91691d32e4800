"""Rootless mode: pyrunc run by a user other than root, with runc's rules.

The state goes under $XDG_RUNTIME_DIR/pyrunc (an empty XDG_RUNTIME_DIR counts
as unset), and cgroups the caller may not create or join are left out
instead of failing the create ("rootless cgroups", commands/create.py): the
container then stays in the caller's cgroups, and its processes are found
through its pid namespace (processes.py).
"""
import os

from .errors import PyruncError

SYSTEM_ROOT = "/run/pyrunc"
# What runc's --rootless takes (Go's strconv.ParseBool, and "auto").
TRUE = {"1", "t", "T", "true", "TRUE", "True"}
FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def in_user_namespace() -> bool:
    """Not in the initial user namespace, whose uid_map maps every id."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def default_root() -> str:
    """runc's rule: $XDG_RUNTIME_DIR/pyrunc for a non-root caller, and for
    root inside a user namespace whose $USER is someone else (rootlesskit)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if not xdg:
        return SYSTEM_ROOT
    if os.geteuid() != 0 or (in_user_namespace() and os.environ.get("USER", "root") not in
                             ("", "root")):
        return os.path.join(xdg, "pyrunc")
    return SYSTEM_ROOT


def check_flag(flag: str) -> None:
    if flag != "auto" and flag not in TRUE and flag not in FALSE:
        raise PyruncError(f"--rootless {flag}: must be true, false or auto")


def cgroups_optional(flag: str) -> bool:
    """--rootless: whether cgroups we may not write are left out. auto: when
    not root, or root of a user namespace (whose cgroups the caller may not
    own), as runc decides."""
    if flag != "auto":
        return flag in TRUE
    return os.geteuid() != 0 or in_user_namespace()


def state_dir_hint(root: str) -> str:
    """Why a non-root caller cannot write the system state directory."""
    if os.geteuid() == 0 or root != SYSTEM_ROOT:
        return ""
    return (f" (pyrunc runs as uid {os.geteuid()}: set XDG_RUNTIME_DIR, or pass --root, "
            "to keep the state in a directory of yours)")
