"""Signal names as kill takes them: 9, KILL, SIGKILL, sigkill, RTMIN+3."""
import signal

from .errors import PyruncError


def parse_signal(text: str) -> int:
    if text.isdigit():
        # 0 sends nothing but checks the process is there, as kill(2).
        num = int(text) if len(text) <= 3 else -1
        if 0 <= num < signal.SIGRTMAX + 1:
            return num
        raise PyruncError(f"invalid signal number {text}")
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    for base in ("SIGRTMIN", "SIGRTMAX"):
        if name.startswith(base + "+") or name.startswith(base + "-"):
            offset = name[len(base):]
            if offset[1:].isdigit() and len(offset) <= 4:
                num = int(getattr(signal, base)) + int(offset)
                if signal.SIGRTMIN <= num <= signal.SIGRTMAX:
                    return num
    sig = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else None
    if sig is None:
        raise PyruncError(f"unknown signal {text!r}: give a name like TERM or SIGKILL, or a number")
    return int(sig)
