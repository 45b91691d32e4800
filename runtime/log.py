"""runc-compatible logging: --log FILE, --log-format text|json.

containerd reads the last error line of the json log as the error text it shows.
Every error also goes to stderr as one plain line, "pyrunc: MESSAGE": people and
podman read that, and runc's escaped logfmt there helps neither.
"""
import os
import sys
import time

from . import jsonlite

_state = {"file": None, "format": "text", "debug": False, "warnings_to": None}


def configure(path: str | None, fmt: str, debug: bool) -> None:
    _state.update(file=path, format=fmt, debug=debug)


def now_rfc3339() -> str:
    """UTC with nanoseconds, as runc writes it (without importing datetime)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _format(level: str, msg: str) -> str:
    if _state["format"] == "json":
        return jsonlite.dumps({"level": level, "msg": msg, "time": now_rfc3339()}, compact=True)
    return f"time={jsonlite.dumps(now_rfc3339())} level={level} msg={jsonlite.dumps(msg)}"


def _write_log(level: str, msg: str) -> None:
    path = _state["file"]
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        os.write(fd, (_format(level, msg) + "\n").encode())
    finally:
        os.close(fd)


def _one_line(msg: str) -> str:
    """Control characters (from config strings) escaped: one message, one line."""
    if msg.isprintable():
        return msg
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in msg)


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def debugging() -> bool:
    return _state["debug"]


def debug(msg: str) -> None:
    """With --debug: to --log, else to stderr in the same format (runc's
    logfmt, `level=debug`, which scripts and runc's tests grep)."""
    if not _state["debug"]:
        return
    msg = _one_line(msg)
    if _state["file"]:
        _write_log("debug", msg)
    else:
        _stderr(_format("debug", msg))


def collect_warnings(sink) -> None:
    """Warnings go to sink(msg) instead of stderr and --log (`pyrunc check`
    reports them as findings); None restores the default."""
    _state["warnings_to"] = sink


def warning(msg: str) -> None:
    msg = _one_line(msg)
    if _state["warnings_to"] is not None:
        _state["warnings_to"](msg)
        return
    _write_log("warning", msg)
    _stderr(f"pyrunc: warning: {msg}")


def error(msg: str) -> None:
    msg = _one_line(msg)
    _write_log("error", msg)
    _stderr(f"pyrunc: {msg}")
