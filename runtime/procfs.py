"""What pyrunc reads from /proc, each read one way (proc(5)).

mountinfo's fields are space-separated, and a space, tab, newline or
backslash in a path comes as a \\ooo octal escape. /proc/PID/stat's second
field (the command name) may hold spaces and parentheses: the fields after
it start after the last ")". A pid is only the same process while its start
time is: a pidfd opened and then checked against it cannot be a recycled pid.
"""
import os

from .fdio import read_record


class Mount(tuple):
    """One mountinfo line: (id, root, point, fstype, superopts). (No
    namedtuple: creating one costs ~0.1 ms on every command.)"""
    __slots__ = ()

    def __new__(cls, *fields):
        return tuple.__new__(cls, fields)

    id = property(lambda self: self[0])
    root = property(lambda self: self[1])
    point = property(lambda self: self[2])
    fstype = property(lambda self: self[3])
    superopts = property(lambda self: self[4])


def unescape(field: str) -> str:
    """\\ooo escapes back to their characters; anything else (UTF-8 included)
    is as it is. (Without re: importing it costs a light command ~6 ms.)"""
    if "\\" not in field:
        return field
    parts = field.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:3]
        if len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


def mounts(path: str = "/proc/self/mountinfo") -> list[Mount]:
    """Every mount, in the kernel's order (a mount after the ones below it)."""
    out = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            out.append(Mount(int(fields[0]), unescape(fields[3]), unescape(fields[4]),
                             fields[sep + 1], fields[sep + 3]))
    return out


def fstype_mounted(fstype: str) -> bool:
    """Whether a filesystem of this type is mounted anywhere we can see."""
    try:
        return any(m.fstype == fstype for m in mounts())
    except OSError:
        return False


def _stat_fields(pid) -> list[bytes] | None:
    """/proc/PID/stat from field 3 (state) on, or None if the process is gone."""
    parsed = _parsed_stat(pid)
    return parsed[1] if parsed else None


def _parsed_stat(pid) -> tuple[bytes, list[bytes]] | None:
    """(comm: at most 15 bytes, any of them, ")" too; the fields from 3 on)."""
    try:
        stat = read_record(f"/proc/{pid}/stat")
    except OSError:
        return None
    end = stat.rindex(b")")
    return stat[stat.index(b"(") + 1:end], stat[end + 2:].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks, or None if it is gone or a zombie."""
    return start_time_and_name(pid)[0]


def start_time_and_name(pid: int) -> tuple[int | None, bytes]:
    """start_time() and the command name from one read of /proc/PID/stat."""
    parsed = _parsed_stat(pid) if pid > 0 else None
    if not parsed or parsed[1][0] in (b"Z", b"X"):
        return None, b""
    return int(parsed[1][19]), parsed[0]


def parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def open_pidfd(pid: int, started: int | None) -> int | None:
    """A pidfd for pid if it is still the process that started at `started`
    (a recycled pid is not), else None."""
    if pid <= 0:
        return None
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    if start_time(pid) != started:
        os.close(fd)
        return None
    return fd


def pid_in_own_namespace(pid: int) -> int:
    """pid as the innermost pid namespace it lives in sees it (NSpid's last
    field: 1 for a container's init with its own); pid itself if unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    return pid
