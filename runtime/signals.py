"""Signal names as kill takes them: 9, KILL, SIGKILL, sigkill, RTMIN+3.

From `_signal`, the C module under `signal`: importing signal costs ~4 ms
(its Signals enum imports enum), a light command's whole budget. The names
are the ones signal.Signals holds, this machine's numbers."""
import _signal

from .errors import PyruncError

NUMBERS = {name: getattr(_signal, name) for name in dir(_signal)
           if name.isupper() and name.startswith("SIG") and not name.startswith("SIG_")}
SIGRTMIN, SIGRTMAX = NUMBERS["SIGRTMIN"], NUMBERS["SIGRTMAX"]


def parse_signal(text: str) -> int:
    if text.isdigit():
        # 0 sends nothing but checks the process is there, as kill(2).
        num = int(text) if len(text) <= 3 else -1
        if 0 <= num < SIGRTMAX + 1:
            return num
        raise PyruncError(f"invalid signal number {text}")
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    for base in ("SIGRTMIN", "SIGRTMAX"):
        if name.startswith(base + "+") or name.startswith(base + "-"):
            offset = name[len(base):]
            if offset[1:].isdigit() and len(offset) <= 4:
                num = NUMBERS[base] + int(offset)
                if SIGRTMIN <= num <= SIGRTMAX:
                    return num
    if name not in NUMBERS:
        raise PyruncError(f"unknown signal {text!r}: give a name like TERM or SIGKILL, or a number")
    return NUMBERS[name]
