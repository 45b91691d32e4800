"""OCI hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle").

Where each kind runs:
- prestart, createRuntime: during create, in the runtime's namespaces, once the
  container's namespaces exist and its mounts are made, before pivot_root
  (the init waits at OP_HOOKS);
- createContainer: at that same point, in the container's namespaces (joined
  through the C init, as exec does), so paths resolve as on the host; its
  working directory is the rootfs;
- startContainer: during start, in the container (its namespaces, cgroups, the
  process's credentials and seccomp filter), before the user program runs;
- poststart: after start, poststop: after delete, in the runtime's namespaces.

Each hook gets the container state JSON on stdin (status "created" for the
create hooks; the pid as the container sees it for the two that run inside).
stdin, stdout and stderr are memfds, so a hook that never reads stdin or
writes a lot cannot block us (and EPIPE cannot happen). A failure or timeout
of any kind but poststop aborts the operation and stops the container (spec
1.3 "Lifecycle"; 1.0 made poststart failures warnings); poststop failures are
warnings.
"""
import os
import select
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)

from . import caps, jsonlite, log
from .errors import PyruncError, strerror
from .fdio import write_all

ABORTING = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart")
OUTPUT_LIMIT = 4096  # bytes of a failed hook's stdout/stderr quoted in the error


class HookError(PyruncError):
    """A hook failed: the message names the kind, the index and the reason."""


def run(kind: str, hooks: dict | None, state: dict, in_container=None) -> None:
    """Run the hooks of one kind in order. in_container(hook, stdio) -> pid
    starts one inside the container (createContainer, startContainer)."""
    for i, hook in enumerate((hooks or {}).get(kind, [])):
        try:
            _run_one(hook, state, in_container)
        except HookError as e:
            message = f"error running hook #{i} ({kind}, {hook['path']}): {e}"
            if kind in ABORTING:
                raise HookError(message) from None
            log.warning(message)


def poststop(table: dict | None, oci: dict) -> None:
    """After delete (or a create that failed at a hook): oci, the state as
    it was; the container is gone by now."""
    run("poststop", table, dict(oci, status="stopped", pid=0))


def _run_one(hook: dict, state: dict, in_container) -> None:
    stdin = _memfd("hook-stdin", jsonlite.dumps(state).encode())
    out, err = _memfd("hook-stdout"), _memfd("hook-stderr")
    try:
        if in_container:
            pid = in_container(hook, [stdin, out, err])
            status = _wait_pid(pid, hook.get("timeout"))
        else:
            status = _run_here(hook, stdin, out, err)
        if status != 0:
            raise HookError(f"{_describe(status)}, stdout: {_read(out)!r}, "
                            f"stderr: {_read(err)!r}")
    finally:
        for fd in (stdin, out, err):
            os.close(fd)


def _run_here(hook: dict, stdin: int, out: int, err: int) -> int:
    """posix_spawn, not subprocess (whose import costs ~10 ms on every delete
    that has poststop hooks): stdio from the memfds, no other fd inherited."""
    # As runc (Go's exec.Cmd): no env in the hook means the runtime's own.
    env = _env_dict(hook["env"]) if "env" in hook else os.environ
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate((stdin, out, err))]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()]
    try:
        pid = os.posix_spawn(hook["path"], hook.get("args") or [hook["path"]], env,
                             file_actions=actions, setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
                             setsigmask=())
    except OSError as e:
        raise HookError(f"start: {strerror(e)}") from None
    return _wait_pid(pid, hook.get("timeout"))


def _inheritable_fds() -> list[int]:
    """Our fds from 3 on that a spawned program would inherit (fds preserved
    for the container's init are)."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                out.append(fd)
        except OSError:
            continue  # the listing's own fd, closed by now
    return out


def _wait_pid(pid: int, timeout: int | None) -> int:
    """Wait for a hook's process (ours, or started in the container); kill it
    at the timeout."""
    pidfd = os.pidfd_open(pid)
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            os.kill(pid, _signal.SIGKILL)
            os.waitpid(pid, 0)
            raise HookError(f"timed out after {timeout}s")
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _describe(code: int) -> str:
    """As Go's exec describes it ("signal: bad system call"), which callers grep."""
    if code < 0:
        name = (_signal.strsignal(-code) or f"signal {-code}").lower()
        return f"signal: {name} (signal {-code})"
    return f"exit status {code}"


def _env_dict(env: list[str]) -> dict:
    return dict(item.split("=", 1) for item in env if "=" in item)


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read(fd: int) -> str:
    data = os.pread(fd, OUTPUT_LIMIT + 1, 0)
    text = data[:OUTPUT_LIMIT].decode(errors="replace")
    return text + "..." if len(data) > OUTPUT_LIMIT else text


def container_process(hook: dict, base: dict | None, rootfs: str = "/") -> dict:
    """The process a hook runs as inside the container: startContainer as the
    container's process (its user, capabilities, rlimits, cwd), createContainer
    (base None) as root with the runtime's capabilities, in the rootfs (the
    container's root before pivot_root, as runc: `touch ./x` lands in it)."""
    if base is None:
        own = _own_capabilities()
        process = {"cwd": rootfs, "user": {"uid": 0, "gid": 0},
                   "capabilities": {s: own for s in ("bounding", "effective", "permitted")},
                   "env": []}
    else:
        process = {k: v for k, v in base.items() if k not in ("terminal", "consoleSize")}
    process["args"] = hook.get("args") or [hook["path"]]
    if "env" in hook:
        process["env"] = hook["env"]
    return process


def _own_capabilities() -> list[str]:
    """The names of our permitted capabilities (what a hook may keep)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapPrm:"):
                bits = int(line.split()[1], 16)
                return [n for i, n in enumerate(caps.NAMES) if bits >> i & 1]
    return []
