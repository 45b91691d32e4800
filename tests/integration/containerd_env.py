"""Helpers for the containerd integration test (test_containerd.py).

* ``build_busybox_image`` writes a docker-archive tarball (manifest.json, image
  config with rootfs.diff_ids, one uncompressed layer) of a tiny rootfs made
  from Debian's busybox-static, using only tarfile/hashlib/json.
* ``ContainerdEnv`` runs a private containerd (own root, state, gRPC and ttrpc
  sockets, all under one temp dir; CRI disabled) and drives it with ``ctr``.
* ``run_in_pty`` runs a client (``ctr run -t``, ``podman run -it``, ...) with a
  new pty as its controlling terminal and stdio, waits for a shell prompt,
  types a line and collects everything until the client exits.
  ``teardown`` removes everything the test left behind: tasks and containers
  of its (unique) namespace, the containerd process, leftover shims and
  container processes, mounts under the temp dir, the shim sockets it caused
  in /run/containerd/s, and the cgroup directories /<namespace>/... in every
  cgroup hierarchy.  It never touches anything it did not create.

Facts this relies on (containerd 1.6, see /work/shared/notes/host-integration.md):
* the runc-v2 shim calls the runtime with ``--root <runc-root>/<namespace>``
  and ``--log <bundle>/log.json``; the bundle is
  ``<state>/io.containerd.runtime.v2.task/<namespace>/<id>``;
* the shim listens on /run/containerd/s/<sha256(address/namespace/id)>;
* ``ctr run`` gives a container the cgroupsPath ``/<namespace>/<id>``;
* the shim turns the runtime's last log.json error into ctr's message
  ("OCI runtime create failed: <msg>") only if every line is JSON with an
  RFC 3339 "time"; otherwise it reports a time parsing error instead.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import io
import json
import os
import platform
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import tarfile
import tempfile
import termios
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

CONTAINERD = "containerd"
CTR = "ctr"
SHIM = "containerd-shim-runc-v2"
BUSYBOX = "/bin/busybox"

IMAGE_REF = "docker.io/library/pyrunc-busybox:test"
SNAPSHOTTER = "native"

SHIM_SOCKET_DIR = "/run/containerd/s"
FIFO_DIR = "/run/containerd/fifo"

# Applets the tests (and people debugging them) need; all others that the
# host's busybox reports are linked too.
REQUIRED_APPLETS = ("sh", "echo", "sleep", "cat", "true", "false", "ls", "id",
                    "hostname", "ps", "env", "mount", "grep")

_ARCH = {
    "x86_64": ("amd64", None), "amd64": ("amd64", None),
    "aarch64": ("arm64", None), "arm64": ("arm64", None),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
    "i386": ("386", None), "i686": ("386", None),
    "ppc64le": ("ppc64le", None), "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}


# --------------------------------------------------------------------------
# small utilities

@dataclass
class Result:
    """Outcome of one command; ``returncode`` is None when it timed out."""
    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    def describe(self) -> str:
        status = (f"TIMED OUT after {self.duration:.1f}s" if self.timed_out
                  else f"exit status {self.returncode} after {self.duration:.1f}s")
        return (f"$ {' '.join(self.argv)}\n  -> {status}\n"
                f"  stdout: {self.stdout[-4000:]!r}\n  stderr: {self.stderr[-4000:]!r}")


def run(argv: Sequence[str], timeout: float, env: dict | None = None,
        input: str | None = None) -> Result:
    """Run argv with a hard timeout; never raises for a non-zero exit."""
    argv = [str(a) for a in argv]
    start = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=env, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        return Result(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - start)
    except subprocess.TimeoutExpired as e:
        def _s(b):
            if b is None:
                return ""
            return b.decode(errors="replace") if isinstance(b, bytes) else b
        return Result(argv, None, _s(e.stdout), _s(e.stderr),
                      time.monotonic() - start, timed_out=True)


def missing_tools() -> list[str]:
    """Names of the host programs this test needs but cannot find."""
    missing = [t for t in (CONTAINERD, CTR, SHIM) if shutil.which(t) is None]
    if shutil.which("setsid") is None:
        missing.append("setsid (util-linux)")
    if not os.access(BUSYBOX, os.X_OK):
        missing.append(f"{BUSYBOX} (Debian package busybox-static)")
    return missing


RUNTIME_ENV = "PYRUNC_TEST_RUNTIME"
DEFAULT_RUNTIME = "/usr/local/bin/pyrunc"


def runtime_path() -> tuple[str, str | None]:
    """(path, problem) for the runtime under test; problem is None if usable.
    A missing runtime is a problem (the tests fail), never a reason to skip."""
    path = os.path.abspath(os.environ.get(RUNTIME_ENV) or DEFAULT_RUNTIME)
    if not os.path.isfile(path):
        return path, (f"runtime under test {path} does not exist (set by "
                      f"${RUNTIME_ENV}, default {DEFAULT_RUNTIME}); install pyrunc there "
                      f"or point ${RUNTIME_ENV} at it. This test fails rather than "
                      f"skips when the runtime is missing.")
    if not os.access(path, os.X_OK):
        return path, f"runtime under test {path} is not executable"
    return path, None


def tail(path: str, nbytes: int = 8000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            data = f.read().decode(errors="replace")
        return ("[...]\n" if size > nbytes else "") + data
    except OSError as e:
        return f"<cannot read {path}: {e}>"


def _unescape_mountinfo(s: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mountinfo() -> list[dict]:
    """Entries of /proc/self/mountinfo: mount_point, root, fstype, super_options."""
    entries = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.rstrip("\n").partition(" - ")
            lf, rf = left.split(" "), right.split(" ")
            entries.append({
                "root": _unescape_mountinfo(lf[3]),
                "mount_point": _unescape_mountinfo(lf[4]),
                "fstype": rf[0],
                "super_options": rf[2] if len(rf) > 2 else "",
            })
    return entries


def mounts_under(directory: str) -> list[str]:
    d = os.path.realpath(directory).rstrip("/")
    return [m["mount_point"] for m in mountinfo()
            if m["mount_point"] == d or m["mount_point"].startswith(d + "/")]


def cgroup_hierarchies() -> list[dict]:
    """Mounted cgroup hierarchies (v1 and v2) whose mount root is "/"."""
    out = []
    for m in mountinfo():
        if m["fstype"] not in ("cgroup", "cgroup2") or m["root"] != "/":
            continue
        opts = set(m["super_options"].split(","))
        out.append({"path": m["mount_point"], "version": 2 if m["fstype"] == "cgroup2" else 1,
                    "options": opts})
    return out


def cgroup_dirs_of(pid: int) -> list[str]:
    """Host directories of every cgroup that pid is in (all hierarchies)."""
    hier = cgroup_hierarchies()
    dirs = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            for h in hier:
                if hid == "0" and ctrls == "":
                    match = h["version"] == 2
                else:
                    match = h["version"] == 1 and set(ctrls.split(",")) <= h["options"]
                if match:
                    dirs.append(os.path.join(h["path"], path.lstrip("/")))
    return dirs


def poll(fn, timeout: float, interval: float = 0.1):
    """Call fn until it returns a truthy value or timeout; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def kill_and_wait(pids: list[int], timeout: float = 5.0) -> None:
    """SIGKILL each pid (ours, found by the caller) and wait until they are gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def cmdline(pid: int) -> list[str]:
    """A process's argv ([] once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def sigcgt(pid: int) -> int:
    """The caught-signals mask of a process (its traps are set); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


# --------------------------------------------------------------------------
# commands under a pseudo-terminal (ctr run -t, podman run -it, ...)

# An interactive busybox sh prints "/ # " (PS1 '\w \$ ' for root); its line
# editor then asks for the cursor position (ESC [6n) and redraws the prompt.
SH_PROMPT = re.compile(rb"[#$] (?:\x1b\[[0-9;?]*[A-Za-z])*$")
PTS_RE = re.compile(r"/dev/pts/\d+")


@dataclass
class PtyResult:
    """Outcome of a command run on a pty; ``output`` is everything read from the
    pty's master side (the command's stdout and stderr, the echo of what was
    typed, CR LF line ends); ``returncode`` is None when it timed out."""
    argv: list[str]
    returncode: int | None
    output: str
    duration: float
    timed_out: bool = False
    sent: str | None = None
    prompt_seen: bool = False

    @property
    def lines(self) -> list[str]:
        return [ln.strip("\r") for ln in self.output.split("\n")]

    def describe(self) -> str:
        status = (f"TIMED OUT after {self.duration:.1f}s" if self.timed_out
                  else f"exit status {self.returncode} after {self.duration:.1f}s")
        typed = ("" if self.sent is None else
                 f"\n  typed {self.sent!r} "
                 + ("after the shell prompt" if self.prompt_seen
                    else "WITHOUT having seen a shell prompt"))
        return (f"$ {' '.join(self.argv)}   (on a pty)\n  -> {status}{typed}\n"
                f"  pty output: {self.output[-4000:]!r}")


def run_in_pty(argv: Sequence[str], timeout: float, env: dict | None = None,
               send: str | None = None, wait_for: re.Pattern | None = SH_PROMPT,
               ready_timeout: float = 15.0) -> PtyResult:
    """Run argv with a new pty as its controlling terminal and stdin, stdout
    and stderr (util-linux ``setsid --ctty``; setsid execs in place, so the
    child is argv itself).  If ``send`` is given it is typed once the output
    matches ``wait_for`` (a shell prompt), or after ``ready_timeout`` without
    one.  Reads until the pty is closed by every holder (EIO) after the
    command has exited; on timeout the command is SIGKILLed by its pid."""
    argv = [str(a) for a in argv]
    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        start = time.monotonic()
        proc = subprocess.Popen(["setsid", "--ctty", "--wait", *argv], stdin=slave,
                                stdout=slave, stderr=slave, env=env, close_fds=True)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    os.close(slave)
    buf = bytearray()
    sent = None
    prompt_seen = False
    timed_out = False
    exited_at = None
    try:
        while True:
            now = time.monotonic()
            if send is not None and sent is None:
                if wait_for is not None and wait_for.search(bytes(buf)):
                    prompt_seen = True
                if wait_for is None or prompt_seen or now - start > ready_timeout:
                    os.write(master, send.encode())
                    sent = send
            if now - start > timeout:
                timed_out = True
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            # Something else (a container's process) may still hold the pty
            # open after the command exits: read what is there, briefly.
            if exited_at is not None and now - exited_at > 2.0:
                break
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:  # every slave fd is closed
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
                continue
            buf += data
    finally:
        if proc.poll() is None:  # timed out (or this loop failed)
            try:
                proc.kill()
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        os.close(master)
    return PtyResult(argv, None if timed_out else proc.returncode,
                     buf.decode(errors="replace"), time.monotonic() - start,
                     timed_out=timed_out, sent=sent, prompt_seen=prompt_seen)


def remove_cgroup_trees(tops: Iterable[str], deadline_s: float = 10.0) -> list[str]:
    """SIGKILL every process left in the given cgroup directories (any depth,
    thawing frozen ones first), then rmdir them deepest first.  Returns
    problems (processes that stayed, directories that could not go)."""
    problems = []
    tops = [t for t in tops if os.path.isdir(t)]
    if not tops:
        return problems
    # thaw frozen cgroups first, or the kills are not delivered
    for top in tops:
        for dirpath, _dirs, _files in os.walk(top):
            for fname, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                p = os.path.join(dirpath, fname)
                if os.path.exists(p):
                    try:
                        with open(p, "w") as f:
                            f.write(value)
                    except OSError:
                        pass
    deadline = time.monotonic() + deadline_s
    while True:
        pids = set()
        for top in tops:
            for dirpath, _dirs, _files in os.walk(top):
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except (OSError, ValueError):
                    pass
        pids = {p for p in pids if _pid_alive(p)}
        if not pids or time.monotonic() > deadline:
            break
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    if pids:
        problems.append(f"processes still in test cgroups: {sorted(pids)}")
    for top in tops:
        dirs = [dp for dp, _d, _f in os.walk(top)]
        for d in sorted(dirs, key=lambda p: p.count("/"), reverse=True):
            for attempt in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if attempt == 49:
                        problems.append(f"cannot rmdir cgroup {d}: {e}")
                    time.sleep(0.1)
    return problems


def unmount_under(directory: str) -> list[str]:
    """Lazily unmount everything mounted at or below directory, deepest first."""
    for _ in range(20):
        mps = mounts_under(directory)
        if not mps:
            return []
        for mp in sorted(set(mps), key=lambda p: p.count("/"), reverse=True):
            run(["umount", "-l", mp], timeout=20)
    left = mounts_under(directory)
    return [f"still mounted: {left}"] if left else []


# --------------------------------------------------------------------------
# the image

def _tarinfo(name: str, type_: bytes, mode: int, **kw) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = 0
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def _layer_tar(busybox: str) -> bytes:
    applets = set(REQUIRED_APPLETS)
    r = run([busybox, "--list"], timeout=10)
    if r.returncode == 0:
        applets.update(a.strip() for a in r.stdout.split() if a.strip())
    applets.discard("busybox")
    applets = {a for a in applets if "/" not in a}

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("proc", 0o555),
                        ("root", 0o700), ("sys", 0o555), ("tmp", 0o1777),
                        ("var", 0o755)):
            tar.addfile(_tarinfo(d + "/", tarfile.DIRTYPE, mode))
        with open(busybox, "rb") as f:
            data = f.read()
        tar.addfile(_tarinfo("bin/busybox", tarfile.REGTYPE, 0o755, size=len(data)),
                    io.BytesIO(data))
        for a in sorted(applets):
            tar.addfile(_tarinfo("bin/" + a, tarfile.SYMTYPE, 0o777, linkname="busybox"))
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n"),
                           ("etc/hostname", "pyrunc-test\n")):
            raw = text.encode()
            tar.addfile(_tarinfo(name, tarfile.REGTYPE, 0o644, size=len(raw)),
                        io.BytesIO(raw))
    return buf.getvalue()


def build_busybox_image(out_path: str, ref: str = IMAGE_REF,
                        busybox: str = BUSYBOX) -> str:
    """Write a docker-archive (``docker save`` format) tarball; return out_path."""
    return write_docker_archive(out_path, ref, _layer_tar(busybox), {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["/bin/sh"],
        "WorkingDir": "/",
    })


def write_docker_archive(out_path: str, ref: str, layer: bytes, config: dict) -> str:
    """A docker-archive of one layer (an uncompressed tar) with the image
    config ``config``; return out_path."""
    layer_sha = hashlib.sha256(layer).hexdigest()
    arch, variant = _ARCH.get(platform.machine(), (platform.machine(), None))
    image = {
        "architecture": arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_sha]},
        "history": [{"created": "1970-01-01T00:00:00Z",
                     "created_by": "pyrunc tests/integration/containerd_env.py"}],
    }
    if variant:
        image["variant"] = variant
    config_raw = json.dumps(image, sort_keys=True).encode()
    config_name = hashlib.sha256(config_raw).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref],
                 "Layers": [f"{layer_sha}/layer.tar"]}]
    files = [
        (f"{layer_sha}/VERSION", b"1.0"),
        (f"{layer_sha}/layer.tar", layer),
        (config_name, config_raw),
        ("manifest.json", json.dumps(manifest).encode()),
    ]
    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tarinfo(f"{layer_sha}/", tarfile.DIRTYPE, 0o755))
        for name, raw in files:
            tar.addfile(_tarinfo(name, tarfile.REGTYPE, 0o644, size=len(raw)),
                        io.BytesIO(raw))
    return out_path


# --------------------------------------------------------------------------
# runtime log collection

class RuntimeLogWatcher:
    """Keeps the bundles' log.json files readable after the shim deletes the
    bundle (e.g. after a failing create or ``ctr run --rm``): every file seen
    is opened once and the descriptor held, so its final contents can still
    be read after it is unlinked.  A bundle that lives for less than one poll
    interval can still be missed; the runtime's last error also reaches
    ctr's stderr through the shim ("OCI runtime create failed: ...") - but
    only if the log lines are JSON with an RFC 3339 "time"."""

    def __init__(self, pattern: str, interval: float = 0.02):
        self.pattern = pattern
        self.interval = interval
        self._files: dict[str, object] = {}
        self.seen: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="runtime-log-watcher")

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.poll()
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files.clear()

    def poll(self):
        with self._lock:
            for path in glob.glob(self.pattern):
                if path not in self._files:
                    try:
                        self._files[path] = open(path, "rb")
                    except OSError:
                        continue
            for path, f in self._files.items():
                try:
                    f.seek(0)
                    self.seen[path] = f.read().decode(errors="replace")
                except (OSError, ValueError):
                    pass

    def _loop(self):
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # never let diagnostics kill the test
                pass


# --------------------------------------------------------------------------
# the private containerd

@dataclass
class ContainerdEnv:
    runtime: str
    namespace: str = field(default_factory=lambda: "pyrunc-test-" + os.urandom(4).hex())
    tmpdir: str = ""
    proc: subprocess.Popen | None = None
    log_watcher: RuntimeLogWatcher | None = None
    _log_file: object = None
    _run_snapshot: dict = field(default_factory=dict)
    _container_ids: set = field(default_factory=set)

    def __post_init__(self):
        if not self.tmpdir:
            # short path: socket addresses must stay below 108 bytes
            self.tmpdir = tempfile.mkdtemp(prefix="pyrunc-ctd-", dir="/tmp")
        self.tmpdir = os.path.realpath(self.tmpdir)
        t = self.tmpdir
        self.root = f"{t}/root"
        self.state = f"{t}/state"
        self.address = f"{t}/containerd.sock"
        self.ttrpc_address = f"{t}/containerd-ttrpc.sock"
        self.config_path = f"{t}/config.toml"
        self.log_path = f"{t}/containerd.log"
        self.runc_root = f"{t}/runc-root"
        self.fifo_dir = f"{t}/fifo"
        self.ctd_tmp = f"{t}/tmp"
        self.image_tar = f"{t}/pyrunc-busybox.tar"

    # ---- paths

    def bundle(self, cid: str) -> str:
        return f"{self.state}/io.containerd.runtime.v2.task/{self.namespace}/{cid}"

    def runtime_state_dir(self, cid: str) -> str:
        """Where the runtime keeps a container's state (shim: --root <runc-root>/<ns>)."""
        return f"{self.runc_root}/{self.namespace}/{cid}"

    def shim_socket_name(self, cid: str) -> str:
        return hashlib.sha256(
            os.path.join(self.address, self.namespace, cid).encode()).hexdigest()

    # ---- lifecycle

    def write_config(self):
        for d in (self.root, self.state, self.runc_root, self.fifo_dir, self.ctd_tmp):
            os.makedirs(d, exist_ok=True)
        disabled = ["io.containerd.grpc.v1.cri",
                    "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper"]
        cfg = f"""\
version = 2
root = "{self.root}"
state = "{self.state}"
disabled_plugins = {json.dumps(disabled)}

[grpc]
  address = "{self.address}"

[ttrpc]
  address = "{self.ttrpc_address}"

[debug]
  address = ""
  level = "debug"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{self.tmpdir}/opt"
"""
        with open(self.config_path, "w") as f:
            f.write(cfg)

    def _snapshot_run_dirs(self) -> dict:
        snap = {}
        for d in ("/run/containerd", SHIM_SOCKET_DIR, FIFO_DIR):
            try:
                snap[d] = set(os.listdir(d))
            except FileNotFoundError:
                snap[d] = None
        return snap

    def start(self, timeout: float = 20.0):
        self._run_snapshot = self._snapshot_run_dirs()
        self.write_config()
        env = dict(os.environ)
        # containerd's temporary mounts (image unpacking) go to $TMPDIR
        env["TMPDIR"] = self.ctd_tmp
        env.pop("XDG_RUNTIME_DIR", None)
        env.pop("CONTAINERD_ADDRESS", None)
        env.pop("CONTAINERD_NAMESPACE", None)
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [CONTAINERD, "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, cwd=self.tmpdir)
        self.log_watcher = RuntimeLogWatcher(
            f"{self.state}/io.containerd.runtime.v2.task/{self.namespace}/*/log.json")
        self.log_watcher.start()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"containerd exited early with status {self.proc.returncode}\n"
                    + self.containerd_log_tail())
            if os.path.exists(self.address):
                last = run([CTR, "--address", self.address, "version"], timeout=5)
                if last.returncode == 0 and "Server:" in last.stdout:
                    return
            time.sleep(0.2)
        raise RuntimeError(
            f"containerd did not answer `ctr version` within {timeout:.0f}s\n"
            + (last.describe() + "\n" if last else "")
            + self.containerd_log_tail())

    def ctr(self, *args: str, timeout: float = 60.0) -> Result:
        return run([CTR, "--address", self.address, "--namespace", self.namespace, *args],
                   timeout=timeout)

    def ctr_pty(self, *args: str, timeout: float = 60.0, send: str | None = None,
                wait_for: re.Pattern | None = SH_PROMPT) -> PtyResult:
        """ctr on a pty of its own (``ctr run -t`` / ``task exec -t`` need a
        terminal on stdin); see run_in_pty for ``send`` and ``wait_for``."""
        return run_in_pty([CTR, "--address", self.address, "--namespace", self.namespace,
                           *args], timeout=timeout, send=send, wait_for=wait_for)

    def import_image(self, ref: str = IMAGE_REF, timeout: float = 60.0) -> Result:
        build_busybox_image(self.image_tar, ref)
        r = self.ctr("images", "import", "--snapshotter", SNAPSHOTTER, self.image_tar,
                     timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("image import failed\n" + r.describe() + "\n"
                               + self.containerd_log_tail())
        ls = self.ctr("images", "ls", "-q", timeout=20)
        if ref not in ls.stdout.split():
            raise RuntimeError(f"image {ref} missing after import\n{r.describe()}\n"
                               f"{ls.describe()}\n" + self.containerd_log_tail())
        return r

    def run_args(self, *extra: str) -> list[str]:
        """Common leading arguments of `ctr run` selecting the runtime under test."""
        return ["run", *extra, "--snapshotter", SNAPSHOTTER, "--fifo-dir", self.fifo_dir,
                "--runc-binary", self.runtime, "--runc-root", self.runc_root]

    def exec_args(self, exec_id: str, *extra: str) -> list[str]:
        """Leading arguments of `ctr task exec` (its fifos under the temp dir,
        not /run/containerd/fifo)."""
        return ["tasks", "exec", *extra, "--fifo-dir", self.fifo_dir, "--exec-id", exec_id]

    def remember(self, cid: str):
        self._container_ids.add(cid)

    def remove(self, cid: str, budget: float = 15.0):
        """Best effort, bounded: SIGKILL every process of a task, delete it and
        its container (a test's own cleanup).  A wedged shim (a hanging
        runtime call) makes ctr block: the module teardown's hard cleanup then
        does the rest."""
        deadline = time.monotonic() + budget

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        tasks = self._tasks(timeout=min(10, left())) or {}
        if cid in tasks:
            if tasks[cid][1] != "STOPPED" and left() > 0:
                self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", cid,
                         timeout=min(10, left()))
                while left() > 0:
                    t = self._tasks(timeout=min(10, left()))
                    if t is None or t.get(cid, (0, "STOPPED"))[1] == "STOPPED":
                        break
                    time.sleep(0.1)
            if left() > 0:
                self.ctr("tasks", "delete", "--force", cid, timeout=min(10, left()))
        if left() > 0:
            self.ctr("containers", "delete", cid, timeout=min(10, left()))

    # ---- task listing

    def tasks(self, timeout: float = 20.0) -> dict[str, tuple[int, str]]:
        """{id: (pid, status)} from `ctr task ls` ({} if that fails)."""
        return self._tasks(timeout) or {}

    def _tasks(self, timeout: float) -> dict[str, tuple[int, str]] | None:
        r = self.ctr("tasks", "ls", timeout=timeout)
        if r.returncode != 0:
            return None
        out = {}
        for line in r.stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 3 and parts[1].isdigit():
                out[parts[0]] = (int(parts[1]), parts[2])
        return out

    # ---- diagnostics

    def containerd_log_tail(self, nbytes: int = 8000) -> str:
        """The end of containerd's log, without the plugin-loading chatter."""
        text = tail(self.log_path, 200_000)
        lines = [ln for ln in text.splitlines()
                 if 'msg="loading plugin' not in ln and "skip loading plugin" not in ln]
        text = "\n".join(lines)
        if len(text) > nbytes:
            text = "[...]" + text[-nbytes:]
        return f"--- containerd log tail ({self.log_path}) ---\n{text}"

    def runtime_logs(self, ids: Iterable[str] | None = None) -> str:
        if self.log_watcher:
            self.log_watcher.poll()
            seen = dict(self.log_watcher.seen)
        else:
            seen = {}
        parts = []
        for path, data in sorted(seen.items()):
            cid = os.path.basename(os.path.dirname(path))
            if ids is not None and cid not in ids:
                continue
            alive = "" if os.path.exists(path) else " (bundle already removed; last copy)"
            parts.append(f"--- runtime log {path}{alive} ---\n{data[-6000:] or '<empty>'}")
        return "\n".join(parts) or "--- no runtime log.json seen ---"

    def diagnostics(self, *ids: str) -> str:
        return self.runtime_logs(ids or None) + "\n" + self.containerd_log_tail()

    # ---- teardown

    def teardown(self) -> None:
        """Remove everything this environment created; raise if something stays."""
        problems: list[str] = []

        def step(name, fn):
            try:
                fn()
            except Exception as e:  # keep going, report at the end
                problems.append(f"{name}: {type(e).__name__}: {e}")

        if self.proc is not None and self.proc.poll() is None:
            try:
                self._delete_all()
            except Exception as e:  # not fatal: the hard cleanup below follows
                warnings.warn(f"containerd test teardown: {e}")
        step("stop containerd", self._stop_containerd)
        if self.log_watcher:
            step("stop log watcher", self.log_watcher.stop)
        step("kill leftover shims", self._kill_shims)
        step("kill leftover runtime processes", self._kill_runtime_processes)
        step("remove cgroups", lambda: problems.extend(self._remove_cgroups()))
        step("unmount", lambda: problems.extend(self._unmount_all()))
        step("clean /run/containerd", lambda: problems.extend(self._clean_run_dirs()))
        if self._log_file:
            self._log_file.close()
        left = mounts_under(self.tmpdir)
        if left:
            problems.append(f"mounts still present under {self.tmpdir}, not removing it: {left}")
        elif os.environ.get("PYRUNC_TEST_KEEP_TMP"):
            pass
        else:
            step("remove temp dir", lambda: shutil.rmtree(self.tmpdir))
        if problems:
            raise RuntimeError("containerd test environment cleanup problems:\n  "
                               + "\n  ".join(problems))

    def _delete_all(self, budget: float = 30.0):
        """Politely kill and delete all tasks and containers of our namespace
        through containerd.  Bounded: a wedged shim or runtime (e.g. a hanging
        `start`) makes `ctr` calls block, and then the hard cleanup that
        follows (kill shims, kill cgroup members, unmount) has to do it."""
        deadline = time.monotonic() + budget

        def left(cap: float) -> float:
            return max(0.0, min(cap, deadline - time.monotonic()))

        tasks = self._tasks(timeout=left(10))
        if tasks is None:
            raise RuntimeError("`ctr tasks ls` failed or hung; skipping polite cleanup")
        for cid, (_pid, status) in tasks.items():
            if status != "STOPPED" and left(10) > 0:
                self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", cid,
                         timeout=left(10))
        while tasks and left(10) > 0:
            t = self._tasks(timeout=left(10))
            if t is None or all(v[1] == "STOPPED" for v in t.values()):
                break
            time.sleep(0.2)
        for cid in tasks:
            if left(10) > 0:
                self.ctr("tasks", "delete", "--force", cid, timeout=left(10))
        if left(10) > 0:
            r = self.ctr("containers", "ls", "-q", timeout=left(10))
            for cid in r.stdout.split():
                self._container_ids.add(cid)
                if left(10) > 0:
                    self.ctr("containers", "delete", cid, timeout=left(10))
        if time.monotonic() >= deadline:
            raise RuntimeError(f"polite cleanup did not finish within {budget:.0f}s")

    def _stop_containerd(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _our_shims(self) -> list[int]:
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if not argv or not os.path.basename(argv[0]).startswith(b"containerd-shim"):
                continue
            for i, a in enumerate(argv[:-1]):
                if a in (b"-address", b"--address") and argv[i + 1] == self.address.encode():
                    pids.append(int(d))
                    break
        return pids

    def _kill_shims(self):
        pids = self._our_shims()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _kill_runtime_processes(self):
        """A runtime process the killed shim left behind (a hanging `exec` or
        `create`) names our temp dir (--root, --log, --bundle): SIGKILL it."""
        me = os.getpid()
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if any(self.tmpdir.encode() in a for a in argv[1:]):
                pids.append(int(d))
        kill_and_wait(pids)
        if pids:
            warnings.warn(f"killed leftover processes naming {self.tmpdir}: {pids}")

    def _cgroup_tops(self) -> list[str]:
        return [os.path.join(h["path"], self.namespace) for h in cgroup_hierarchies()]

    def _remove_cgroups(self) -> list[str]:
        """Kill what is left in /<namespace>/... of each hierarchy, then rmdir."""
        return remove_cgroup_trees(self._cgroup_tops())

    def _unmount_all(self) -> list[str]:
        return unmount_under(self.tmpdir)

    def _clean_run_dirs(self) -> list[str]:
        """Remove the shim sockets our containers created in /run/containerd/s
        (entries new since start whose name is sha256(address/ns/id) of one of
        our ids), report other new entries, and remove /run/containerd dirs
        that did not exist before and are now empty."""
        problems = []
        before = self._run_snapshot
        ours = {self.shim_socket_name(c) for c in self._container_ids}
        for d in (SHIM_SOCKET_DIR, FIFO_DIR):
            try:
                now = set(os.listdir(d))
            except FileNotFoundError:
                continue
            new = now - (before.get(d) or set())
            for name in sorted(new):
                p = os.path.join(d, name)
                if d == SHIM_SOCKET_DIR and name in ours:
                    try:
                        os.unlink(p)
                    except FileNotFoundError:
                        pass
                    except IsADirectoryError:
                        shutil.rmtree(p, ignore_errors=True)
                else:
                    warnings.warn(f"new entry {p} appeared during the test and is not "
                                  f"recognisably ours; left alone")
        for d in (SHIM_SOCKET_DIR, FIFO_DIR, "/run/containerd"):
            if before.get(d) is None and os.path.isdir(d):
                try:
                    os.rmdir(d)  # only if empty
                except OSError:
                    pass
        return problems
