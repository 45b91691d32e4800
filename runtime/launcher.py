"""Spawn the C init and drive the sync protocol (csrc/plan.h).

The init runs from a sealed memfd copy of pyrunc-init, never from a host file:
a container whose entry point is `#!/proc/self/exe` re-executes that memfd, and
the seals make it impossible to write (runc CVE-2019-5736). No Python runs in any
process this module starts.
"""
import fcntl
import os
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)
import struct

import _socket  # socket.py's enum set-up costs ~2.5 ms; the C module suffices

from . import _consts as lib
from . import log, plan
from .errors import PyruncError, strerror
from .fdio import write_all
from .fdpass import recv_with_fds

INIT_BINARY = os.path.join(os.path.dirname(__file__), "pyrunc-init")
SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
MSG = struct.Struct(f"=IiiI{lib.MSG_TEXT_SIZE}s")
assert MSG.size == lib.SYNC_MSG_SIZE  # struct sync_msg as the C compiler lays it out


def sealed_memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    write_all(fd, data)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    return fd


def _init_memfd() -> int:
    try:
        with open(INIT_BINARY, "rb") as f:
            return sealed_memfd("pyrunc-init", f.read())
    except FileNotFoundError:
        raise PyruncError(f"{INIT_BINARY}: missing: pyrunc is not installed completely") from None


class InitError(PyruncError):
    """A step of the init failed: the message names the step and the errno."""


class Init:
    """A running container init between spawn and the exec fifo."""

    def __init__(self, ops: list, state_dir: str, preserve_fds: int, preserved: list[int],
                 extra_fds: list[int] = (), stdio: list[int] | None = None):
        """ops: the plan (with --debug the init reports each step, logged
        with the op's arguments). preserved: the caller's open fds in
        3 .. 3+preserve_fds-1, taken before
        pyrunc opened anything, so none of pyrunc's own fds can slip in.
        extra_fds: fds the plan names by number (see fd_numbers); the caller
        keeps (and closes) its own. stdio: fds for the init's 0, 1, 2 (hooks),
        else it shares ours."""
        self.pid = 0
        self.console_fd = None  # the pty master, when the process has a terminal
        self.seccomp_fd = None  # a seccomp notify fd, between _recv and wait_ready
        self._sock = None
        self._ops = ops  # names a traced or failed step
        self._traced = log.debugging()
        log.debug(f"nsexec container setup: spawning pyrunc:init from a sealed memfd "
                  f"with a plan of {len(ops)} steps")
        self._spawn(plan.encode(ops, trace=self._traced), state_dir, preserve_fds,
                    preserved, list(extra_fds), stdio)

    @staticmethod
    def fd_numbers(preserve_fds: int, count: int) -> list[int]:
        """The numbers extra fds get in the init (csrc/plan.h FD_EXTRA)."""
        base = 3 + preserve_fds
        return [base + lib.FD_EXTRA + i for i in range(count)]

    def _spawn(self, plan: bytes, state_dir: str, preserve_fds: int, preserved: list[int],
               extra_fds: list[int], stdio: list[int] | None) -> None:
        parent, child = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        to_close = [child.detach()]
        try:
            init_fd = _init_memfd()
            to_close.append(init_fd)
            plan_fd = sealed_memfd("pyrunc-plan", plan)
            to_close.append(plan_fd)
            state_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            to_close.append(state_fd)
            # The init's fds sit at fixed numbers from BASE, above the preserved
            # range (fds 3 .. 3+N-1, which the container gets as they are).
            # Copies above every target first, so no dup2 clobbers a source.
            base = 3 + preserve_fds
            sources = [to_close[0], plan_fd, state_fd, *extra_fds]
            actions = []
            for target, fd in enumerate(sources, start=base):
                high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base + len(sources))
                to_close.append(high)
                actions.append((os.POSIX_SPAWN_DUP2, high, target))
            for target, fd in enumerate(stdio or ()):
                high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base + len(sources))
                to_close.append(high)
                actions.append((os.POSIX_SPAWN_DUP2, high, target))
            for fd in preserved:
                os.set_inheritable(fd, True)
            # The init is executed by an fd number above every target too: the
            # memfd may have any number below them (a hole another thread left
            # in the table), and a dup2 there would execute something else.
            exec_fd = fcntl.fcntl(init_fd, fcntl.F_DUPFD_CLOEXEC, base + len(sources))
            to_close.append(exec_fd)
            first = os.posix_spawn(
                f"/proc/self/fd/{exec_fd}", ["pyrunc:init", str(base)], {},
                file_actions=actions, setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ), setsigmask=(),
            )
        finally:
            for fd in to_close:
                os.close(fd)
        self._sock = parent
        try:
            msg = self._recv()
        finally:
            os.waitpid(first, 0)
        if msg[0] != lib.MSG_PID:
            raise InitError("the init sent an unexpected message")
        self.pid = msg[2]
        log.debug(f"child process in init(): pid {self.pid} runs the plan")

    def _recv(self, eof_ok: bool = False) -> tuple | None:
        """One message (step traces are logged on the way); the fd of a
        MSG_CONSOLE or MSG_SECCOMP is kept in self.console_fd or self.seccomp_fd."""
        while True:
            msg = self._recv_one(eof_ok)
            if msg is None or msg[0] != lib.MSG_TRACE:
                return msg
            self._log_step(index=msg[2], took_us=msg[3])

    def _log_step(self, index: int, took_us: int) -> None:
        op = self._step(index)  # traced: index 0 is the TRACE op itself
        if op is not None:
            args = " ".join(_describe_arg(a) for a in op.args)
            log.debug(f"init step {index}: {op.name} {args} ({took_us} us)".replace("  ", " "))

    def _step(self, number: int):
        """Plan step `number` (from 1, as `pyrunc plan` counts), or None."""
        return self._ops[number - 1] if 0 < number <= len(self._ops) else None

    def _failure(self, text: str, err: int, position: int) -> str:
        """The init's words for a failed step, with a hint where one helps;
        with --debug the step's op and arguments are logged too. position:
        the step's place in the encoded plan, from 1 (a TRACE op first)."""
        number = position - 1 if self._traced else position
        op = self._step(number)
        if op is not None:
            log.debug(f"init step {number} failed: {op.name} "
                      + " ".join(_describe_arg(a) for a in op.args))
        if not err:
            return text
        from .init_hints import hint  # error path only
        why = hint(op, err)
        return f"{text}: {strerror(err)}" + (f" — {why}" if why else "")

    def _recv_one(self, eof_ok: bool) -> tuple | None:
        try:
            data, fds = recv_with_fds(self._sock, MSG.size)
        except OSError as e:
            raise InitError(f"read from the container init: {strerror(e.errno)}") from None
        if not data:
            if eof_ok:
                return None
            raise InitError("the container init exited before it was ready")
        msg = MSG.unpack(data)
        if msg[0] == lib.MSG_CONSOLE and len(fds) == 1:
            self.console_fd = fds.pop()
        elif msg[0] == lib.MSG_SECCOMP and len(fds) == 1:
            self.seccomp_fd = fds.pop()
        for fd in fds:  # nothing else may arrive with an fd
            os.close(fd)
        if msg[0] == lib.MSG_ERROR:
            text = msg[4].rstrip(b"\0").decode(errors="replace")
            raise InitError(self._failure(text, msg[1], msg[2]))
        return msg

    def _send(self, msg_type: int) -> None:
        try:
            self._sock.send(MSG.pack(msg_type, 0, 0, 0, b""))
        except OSError as e:
            # The init is gone: the error it sent before it exited says why
            # (_recv raises it), else it died without a word.
            self._recv()
            raise InitError(f"write to the container init: {strerror(e.errno)}") from None

    def go(self, on_hooks=None, on_seccomp=None) -> None:
        """Let the init set up the container; returns once it is ready to exec.
        on_hooks() runs when the init stops for the create hooks."""
        self._send(lib.MSG_GO)
        self.wait_ready(on_hooks, on_seccomp)

    def wait_ready(self, on_hooks=None, on_seccomp=None) -> None:
        """Until MSG_READY; a pty master sent on the way lands in console_fd,
        a seccomp notify fd goes to on_seccomp(fd) (and is closed)."""
        while True:
            msg = self._recv()
            if msg[0] == lib.MSG_READY:
                return
            if msg[0] == lib.MSG_HOOKS and on_hooks is not None:
                on_hooks()
                self._send(lib.MSG_GO)
            elif msg[0] == lib.MSG_SECCOMP and self.seccomp_fd is not None and on_seccomp:
                fd, self.seccomp_fd = self.seccomp_fd, None
                try:
                    on_seccomp(fd)
                finally:
                    os.close(fd)
            elif msg[0] != lib.MSG_CONSOLE or self.console_fd is None:
                raise InitError(f"the init sent an unexpected message (type {msg[0]})")

    def exec_now(self) -> None:
        """exec (no fifo): let the process execve; the socket closing on exec
        is the success, a MSG_ERROR the failure."""
        log.debug(f"setns_init: about to exec (pid {self.pid})")
        self._send(lib.MSG_GO)
        if self._recv(eof_ok=True) is not None:
            raise InitError("the init sent an unexpected message")
        self.close()

    def release(self) -> None:
        """State is saved: the init may block on the exec fifo."""
        log.debug("init: closing the pipe to signal completion (the init now waits "
                  "on the exec fifo for start)")
        self._send(lib.MSG_GO)
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def kill(self) -> None:
        """Abort: the init and everything it made in its namespaces go away."""
        self.close()
        for name in ("console_fd", "seccomp_fd"):
            if getattr(self, name) is not None:
                os.close(getattr(self, name))
                setattr(self, name, None)
        if self.pid:
            try:
                os.kill(self.pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(self.pid)


def _reap(pid: int) -> None:
    """Wait for pid, reaping any other child of ours meanwhile. A pid
    namespace's init cannot finish exiting while a process in its namespace
    is an unreaped zombie, and those we start there (hooks, exec'd
    processes: CLONE_PARENT) are our children: waiting for the init alone
    could wait forever."""
    while True:
        try:
            done, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        if done == pid:
            return


def _describe_arg(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, int):
        return hex(value) if value > 4096 else str(value)
    text = repr(value) if isinstance(value, (str, tuple)) else str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def open_fds(first: int, count: int) -> list[int]:
    """Which of fds first .. first+count-1 are open now."""
    found = []
    for fd in range(first, first + count):
        try:
            os.fstat(fd)
        except OSError:
            continue
        found.append(fd)
    return found
