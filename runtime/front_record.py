"""The front record: what Python decided, at create, that the front door
(csrc/front.c) needs to answer `state`, `list`, `start`, `kill`, `delete`,
`pause`, `resume` and `ps --format json` without starting the interpreter.

containerd's shim and Podman call those light commands several times per
container; the interpreter's start alone (~7 ms) costs more than runc's whole
command. The front door is the `pyrunc` command: for a light command line it
reads this record, derives the status as state.py does (the init's pid and
start time, the freezer, the init's name and the exec fifo) and does the
command's plain case itself; anything else (another command, a flag it does
not know, a hook, a failure, a doubt) it hands to Python, unchanged, before it
has changed anything. Python decides; the front door only carries out these
decisions.

The file is `front` in the state directory, written once create has finished
(after state.json): a container without one (a create under way, or one that
died) is Python's. Its format is records of `KEY LENGTH\\n` followed by
LENGTH bytes and `\\n`, so that any value, JSON with newlines included, is
carried as it is:

    version      1 (the front door hands any other version to Python)
    state_json   state.json's size and mtime in ns, as create left it: if the
                 file changed (damaged, rewritten), the record is not trusted
    pid, init_start   the init's pid and start time (/proc/PID/stat field 22)
    state_a, state_b, state_c   `state`'s JSON, in three parts: a + the pid
                 (0 once stopped) + b + the status + c
    list_a, list_b, list_c      the same, compact, for `list --format json`
    id, bundle, created, owner  `list`'s table columns
    start        1: start is the fifo alone (no startContainer or poststart hook)
    notify       1: NOTIFY_SOCKET is relayed (start is then Python's, if set)
    delete       1: delete (and delete --force, after cgroup.kill) is removing
                 the cgroup dirs and the state directory (no poststop hook, no
                 mount made in the host's namespace, no systemd unit)
    and Manager.front_facts(): dirs, kill_dir, freeze_file, frozen_when,
    freeze_value, thaw_value, settle_file, frozen_line, thawed_line, destroy
"""
import os

from . import jsonlite
from .cgroups import Manager
from .fdio import atomic_write
from .state import RUNNING, STATE_FILE, State

FILE = "front"
VERSION = "1"
_PID = 4611686018427400249  # no pid is this large (pid_max is at most 2**22)
_STATUS = "@pyrunc-status@"


def write(path: str, st: State, cgroups: Manager) -> None:
    """The record of a created container, into its state directory. Left out
    where a value cannot be carried (the front door then hands everything to
    Python)."""
    record = fields(st, cgroups)
    if record is not None:
        saved = os.stat(f"{path}/{STATE_FILE}")
        record["state_json"] = f"{saved.st_size} {saved.st_mtime_ns}"
        atomic_write(f"{path}/{FILE}", encode(record))


def fields(st: State, cgroups: Manager) -> dict[str, str] | None:
    oci = st.oci(RUNNING) | {"pid": _PID, "status": _STATUS}
    state_parts = _split(jsonlite.dumps(oci, indent=2))
    list_parts = _split(jsonlite.dumps(oci, compact=True))
    facts = cgroups.front_facts()
    if state_parts is None or list_parts is None or any("\n" in d for d in cgroups.dirs.values()):
        return None
    hooks = st.hooks or {}
    return {
        "version": VERSION, "pid": str(st.init_pid), "init_start": str(st.init_start),
        **dict(zip(("state_a", "state_b", "state_c"), state_parts)),
        **dict(zip(("list_a", "list_b", "list_c"), list_parts)),
        "id": st.id, "bundle": st.bundle, "created": st.created, "owner": st.owner,
        "start": _flag(not hooks.get("startContainer") and not hooks.get("poststart")),
        "notify": _flag(st.notify),
        "delete": _flag(not hooks.get("poststop") and not st.host_mounts
                        and facts["destroy"] == "rmdir"),
        **facts,
    }


def _split(text: str) -> tuple[str, str, str] | None:
    """(before the pid, between the pid and the status, after the status), or
    None if an id, path or annotation holds a sentinel itself."""
    pid = str(_PID)
    if text.count(pid) != 1 or text.count(_STATUS) != 1:
        return None
    a, rest = text.split(pid)
    b, c = rest.split(_STATUS)
    return a, b, c


def _flag(value) -> str:
    return "1" if value else "0"


def encode(record: dict[str, str]) -> bytes:
    out = []
    for key, value in record.items():
        data = value.encode()
        out.append(b"%s %d\n%s\n" % (key.encode(), len(data), data))
    return b"".join(out)


def decode(data: bytes) -> dict[str, str]:
    """encode()'s inverse (for the tests; the front door has its own)."""
    record, i = {}, 0
    while i < len(data):
        end = data.index(b"\n", i)
        key, length = data[i:end].split(b" ")
        start = end + 1
        record[key.decode()] = data[start:start + int(length)].decode()
        i = start + int(length) + 1
    return record
