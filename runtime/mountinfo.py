"""/proc/self/mountinfo, read one way (proc(5)): fields are space-separated and
a mount point's space, tab, newline and backslash come as \\ooo octal escapes."""
import re
from collections import namedtuple

Mount = namedtuple("Mount", "id root point fstype")


def unescape(field: str) -> str:
    """\\ooo escapes back to their characters; anything else (UTF-8 included)
    is as it is."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(path: str = "/proc/self/mountinfo") -> list[Mount]:
    """Every mount, in the kernel's order (a mount after the ones below it)."""
    out = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            out.append(Mount(int(fields[0]), unescape(fields[3]), unescape(fields[4]),
                             fields[sep + 1]))
    return out
