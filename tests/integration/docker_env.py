"""Helpers for the Docker integration test (test_docker.py).

``DockerEnv`` is a private Docker 20.10 daemon (Debian's docker.io), everything
under one temp dir /tmp/pyrunc-dk-XXXX:

* ``dockerd --data-root D/data --exec-root D/exec --pidfile D/docker.pid
  -H unix://D/docker.sock --config-file D/daemon.json`` (the file only moves
  the trust key, which 20.10 writes to /etc/docker/key.json whatever else it
  is told, to D/key.json);
* no host networking changes: ``--iptables=false --ip-masq=false
  --ip-forward=false --bridge=none --userland-proxy=false`` and every
  container runs with ``--network none``;
* ``--exec-opt native.cgroupdriver=cgroupfs --cgroup-parent
  /pyrunc-docker-<random>``: containers' cgroups are /pyrunc-docker-<r>/<id>
  in every hierarchy;
* ``--add-runtime pyrunc=$PYRUNC_TEST_RUNTIME`` (default /usr/local/bin/pyrunc)
  beside the built-in ``runc`` (/usr/sbin/runc: dockerd runs with a PATH of
  the system directories only), ``--storage-driver overlay2``,
  ``--default-ulimit nofile=20000:20000`` (this host's hard limit);
* no ``--containerd``: dockerd starts its own containerd (its config, socket
  and state under D/exec/containerd, its root under D/data/containerd), as
  long as no containerd listens on /run/containerd/containerd.sock: then it
  would use that one, and ``start`` refuses.
* ``userns_remap``: a second daemon with ``--userns-remap`` reads
  /etc/subuid and /etc/subgid, which this host leaves empty; that daemon runs
  in a private mount namespace (``unshare -m --propagation slave``) where a
  temp file is bind-mounted over each, so the host's files never change.

The busybox image is ``containerd_env.build_busybox_image`` (a docker-archive
built from busybox-static), loaded with ``docker load``.  The docker CLI is
Debian's /usr/bin/docker (this machine also has a newer one in
/usr/local/bin), with DOCKER_HOST and DOCKER_CONFIG pointing into D.

Facts this relies on (measured here with runc 1.1.5, docker.io 20.10.24):
* the shim (containerd-shim-runc-v2, namespace ``moby``) calls every runtime
  with ``--root D/exec/runtime-runc/moby --log <bundle>/log.json --log-format
  json``; the bundle is D/exec/containerd/daemon/io.containerd.runtime.v2.task/
  moby/<id>, whose options.json names the binary of an added runtime;
* the shim listens on /run/containerd/s/<sha256(address/moby/id)>; dockerd
  creates /run/docker/plugins whatever it is told; both are removed at
  teardown when they did not exist before (and are empty / ours);
* dockerd bind-mounts its data root over itself (shared propagation) while it
  runs, and undoes it on a clean shutdown.

``teardown`` removes everything, even after failed tests: ``docker rm -f``
of every container, dockerd stopped by its pid (it stops its containerd),
then by pid every process naming the temp dir (containerd, shims, a runtime
call left hanging), the cgroup parent in every hierarchy (killing what is left
in it), mounts under the temp dir, our shim sockets, the host dirs above, and
the temp dir.  It never touches anything it did not create.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field

import containerd_env as ce

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's 20.10 CLI, not /usr/local/bin/docker
DOCKER_INIT = "/usr/bin/docker-init"
IMAGE = "pyrunc-busybox:test"
IMAGE_REF = "docker.io/library/" + IMAGE
NAMESPACE = "moby"  # dockerd's containerd namespace
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEM_CONTAINERD = "/run/containerd/containerd.sock"
SHIM_SOCKET_DIR = ce.SHIM_SOCKET_DIR
# Host dirs dockerd and its shims create whatever they are told, deepest first.
HOST_DIRS = ("/run/docker/plugins", "/run/docker", SHIM_SOCKET_DIR, "/run/containerd")
# Subordinate ids of the remapped daemon (only in its own mount namespace).
REMAP_USER, REMAP_GROUP = "nobody", "nogroup"
REMAP_START, REMAP_SIZE = 400000, 65536


def missing_tools() -> list[str]:
    missing = [t for t in (DOCKERD, DOCKER, DOCKER_INIT) if not os.access(t, os.X_OK)]
    missing += [t for t in ("containerd", "containerd-shim-runc-v2", "runc", "setsid", "unshare")
                if shutil.which(t, path=SYSTEM_PATH) is None]
    if not os.access(ce.BUSYBOX, os.X_OK):
        missing.append(f"{ce.BUSYBOX} (Debian package busybox-static)")
    return missing


@dataclass
class DockerEnv:
    runtime: str                       # path registered as the runtime "pyrunc"
    userns_remap: bool = False
    tmpdir: str = ""
    cgroup_parent: str = field(default_factory=lambda: "/pyrunc-docker-" + os.urandom(4).hex())
    proc: subprocess.Popen | None = None
    log_watcher: ce.RuntimeLogWatcher | None = None
    baseline_mounts: list = field(default_factory=list)
    accepted_leftovers: set = field(default_factory=set)  # reported already
    _log_file: object = None
    _host_before: dict = field(default_factory=dict)
    _ids: set = field(default_factory=set)

    def __post_init__(self):
        if not self.tmpdir:
            # short: socket paths under it must stay below 108 bytes
            self.tmpdir = tempfile.mkdtemp(prefix="pyrunc-dk-", dir="/tmp")
        self.tmpdir = os.path.realpath(self.tmpdir)
        t = self.tmpdir
        self.data_root = f"{t}/data"
        self.exec_root = f"{t}/exec"
        self.pidfile = f"{t}/docker.pid"
        self.socket = f"{t}/docker.sock"
        self.config_path = f"{t}/daemon.json"
        self.log_path = f"{t}/dockerd.log"
        self.cli_config = f"{t}/cli"
        self.image_tar = f"{t}/pyrunc-busybox.tar"
        self.containerd_socket = f"{self.exec_root}/containerd/containerd.sock"
        self.bundles = (f"{self.exec_root}/containerd/daemon/"
                        f"io.containerd.runtime.v2.task/{NAMESPACE}")
        self.runtime_root = f"{self.exec_root}/runtime-runc/{NAMESPACE}"

    # ---- paths

    def bundle(self, cid: str) -> str:
        return f"{self.bundles}/{cid}"

    def shim_socket(self, cid: str) -> str:
        name = hashlib.sha256(f"{self.containerd_socket}/{NAMESPACE}/{cid}".encode()).hexdigest()
        return f"{SHIM_SOCKET_DIR}/{name}"

    def cgroup_dirs(self, cid: str | None = None) -> list[str]:
        """Our cgroup parent (or a container's cgroup below it) in every hierarchy."""
        sub = self.cgroup_parent + (f"/{cid}" if cid else "")
        return [h["path"] + sub for h in ce.cgroup_hierarchies()]

    # ---- lifecycle

    def dockerd_args(self) -> list[str]:
        return [DOCKERD, "--config-file", self.config_path,
                "--data-root", self.data_root, "--exec-root", self.exec_root,
                "--pidfile", self.pidfile, "-H", f"unix://{self.socket}",
                "--iptables=false", "--ip-masq=false", "--ip-forward=false",
                "--bridge=none", "--userland-proxy=false",
                "--exec-opt", "native.cgroupdriver=cgroupfs",
                "--cgroup-parent", self.cgroup_parent,
                "--add-runtime", f"pyrunc={self.runtime}",
                "--storage-driver", "overlay2",
                "--default-ulimit", "nofile=20000:20000",
                *(["--userns-remap", f"{REMAP_USER}:{REMAP_GROUP}"] if self.userns_remap else [])]

    def _command(self) -> list[str]:
        if not self.userns_remap:
            return self.dockerd_args()
        # /etc/subuid and /etc/subgid with our range, in a private mount
        # namespace only; propagation slave: nothing mounted there reaches the host.
        # (20.10 looks both ranges up by the user's name)
        for name in ("subuid", "subgid"):
            with open(f"{self.tmpdir}/{name}", "w") as f:
                f.write(f"{REMAP_USER}:{REMAP_START}:{REMAP_SIZE}\n")
        script = (f"mount --bind {self.tmpdir}/subuid /etc/subuid && "
                  f'mount --bind {self.tmpdir}/subgid /etc/subgid && exec "$@"')
        return ["unshare", "-m", "--propagation", "slave", "sh", "-c", script, "sh",
                *self.dockerd_args()]

    def start(self, timeout: float = 30.0):
        if os.path.exists(SYSTEM_CONTAINERD):
            raise RuntimeError(f"{SYSTEM_CONTAINERD} exists: dockerd would use that containerd "
                               "instead of starting a private one")
        self._host_before = {d: os.path.isdir(d) for d in HOST_DIRS}
        os.makedirs(self.cli_config, exist_ok=True)
        if self.userns_remap:
            # the remapped root must reach the rootfs below the temp dir
            os.chmod(self.tmpdir, 0o711)
        with open(self.config_path, "w") as f:
            json.dump({"deprecated-key-path": f"{self.tmpdir}/key.json"}, f)
        env = {"PATH": SYSTEM_PATH, "HOME": self.tmpdir, "TMPDIR": self.tmpdir, "LANG": "C.UTF-8"}
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self._command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=self.tmpdir)
        self.log_watcher = ce.RuntimeLogWatcher(f"{self.tmpdir}/exec/containerd/daemon/"
                                                f"io.containerd.runtime.v2.task/*/*/log.json")
        self.log_watcher.start()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited early with status {self.proc.returncode}\n"
                                   + self.log_tail())
            if os.path.exists(self.socket):
                last = self.docker("version", "--format", "{{.Server.Version}}", timeout=10)
                if last.returncode == 0:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"dockerd did not answer within {timeout:.0f}s\n"
                               + (last.describe() + "\n" if last else "") + self.log_tail())
        if not os.path.exists(self.containerd_socket):
            raise RuntimeError(f"dockerd did not start its own containerd at "
                               f"{self.containerd_socket}\n" + self.log_tail())
        self.load_image()
        self.baseline_mounts = self.mounts()

    def load_image(self):
        ce.build_busybox_image(self.image_tar, IMAGE_REF)
        r = self.docker("load", "-i", self.image_tar, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("docker load failed\n" + r.describe() + "\n" + self.log_tail())
        ls = self.docker("images", "--format", "{{.Repository}}:{{.Tag}}", timeout=30)
        if IMAGE not in ls.stdout.split():
            raise RuntimeError(f"image {IMAGE} missing after docker load\n{r.describe()}\n"
                               f"{ls.describe()}")

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = f"unix://{self.socket}"
        env["DOCKER_CONFIG"] = self.cli_config
        return env

    def docker(self, *args, timeout: float = 30.0, input: str | None = None) -> ce.Result:
        return ce.run([DOCKER, *args], timeout=timeout, env=self.env(), input=input)

    def docker_pty(self, *args, timeout: float = 30.0, send: str | None = None) -> ce.PtyResult:
        return ce.run_in_pty([DOCKER, *args], timeout=timeout, env=self.env(), send=send)

    def inspect(self, name: str, fmt: str) -> str | None:
        r = self.docker("inspect", "--format", fmt, name, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else None

    def remember(self, cid: str):
        self._ids.add(cid)

    # ---- what containers leave behind

    def mounts(self) -> list[str]:
        return sorted(ce.mounts_under(self.tmpdir))

    def our_shims(self) -> list[int]:
        """Shims started by our containerd (they name its socket)."""
        return [pid for pid in _pids() if os.path.basename((ce.cmdline(pid) or [""])[0])
                .startswith("containerd-shim") and self.containerd_socket in ce.cmdline(pid)]

    def leftovers(self) -> list[str]:
        """What no container should leave once every container is removed:
        cgroups under our parent, runtime state, bundles, live shims, shim
        sockets, mounts beyond the daemon's own."""
        found = []
        for d in self.cgroup_dirs():
            if os.path.isdir(d):
                found += [f"cgroup {d}/{n}" for n in sorted(os.listdir(d))
                          if os.path.isdir(f"{d}/{n}")]
        for top in (self.runtime_root, self.bundles):
            if os.path.isdir(top):
                found += [f"{top}/{n}" for n in sorted(os.listdir(top))
                          if os.path.isdir(f"{top}/{n}")]
        found += [f"shim pid {p}: {' '.join(ce.cmdline(p))[:160]}" for p in self.our_shims()]
        sockets = (self.shim_socket(cid) for cid in sorted(self._known_ids()))
        found += [f"shim socket {s}" for s in sockets if os.path.exists(s)]
        found += [f"mount {m}" for m in sorted(set(self.mounts()) - set(self.baseline_mounts))]
        return found

    # ---- diagnostics

    def log_tail(self, nbytes: int = 6000) -> str:
        text = ce.tail(self.log_path, 200_000)
        lines = [ln for ln in text.splitlines()
                 if "loading plugin" not in ln and "skip loading plugin" not in ln
                 and "module=grpc" not in ln]
        text = "\n".join(lines)
        if len(text) > nbytes:
            text = "[...]" + text[-nbytes:]
        return f"--- dockerd log tail ({self.log_path}) ---\n{text}"

    def runtime_logs(self, cid: str | None) -> str:
        """The runtime's log.json of a container (kept after its bundle goes)."""
        if not self.log_watcher or not cid:
            return ""
        self.log_watcher.poll()
        parts = [f"--- runtime log {path} ---\n{data[-4000:] or '<empty>'}"
                 for path, data in sorted(self.log_watcher.seen.items())
                 if os.path.basename(os.path.dirname(path)).startswith(cid)]
        return "\n".join(parts)

    def diagnostics(self, cid: str | None = None) -> str:
        parts = []
        if cid:
            state = self.inspect(cid, "{{json .State}}")
            if state:
                parts.append(f"--- docker inspect .State ---\n{state}")
            parts.append(self.runtime_logs(cid))
        parts.append(self.log_tail())
        return "\n".join(p for p in parts if p)

    # ---- teardown

    def teardown(self) -> None:
        problems: list[str] = []

        def step(name, fn):
            try:
                fn()
            except Exception as e:  # keep going, report at the end
                problems.append(f"{name}: {type(e).__name__}: {e}")

        if self.proc is not None and self.proc.poll() is None:
            step("docker rm -f", self._rm_all)
        step("stop dockerd", self._stop_dockerd)
        if self.log_watcher:
            step("stop log watcher", self.log_watcher.stop)
        step("kill our processes", lambda: ce.kill_and_wait(self._our_pids()))
        step("remove cgroups", lambda: problems.extend(ce.remove_cgroup_trees(self.cgroup_dirs())))
        step("unmount", lambda: problems.extend(ce.unmount_under(self.tmpdir)))
        step("host dirs", self._clean_host_dirs)
        if self._log_file:
            self._log_file.close()
        left = ce.mounts_under(self.tmpdir)
        if left:
            problems.append(f"mounts still present under {self.tmpdir}, not removing it: {left}")
        elif not os.environ.get("PYRUNC_TEST_KEEP_TMP"):
            step("remove temp dir", lambda: shutil.rmtree(self.tmpdir))
        if problems:
            raise RuntimeError("docker test environment cleanup problems:\n  "
                               + "\n  ".join(problems))

    def _known_ids(self) -> set:
        """Every container id seen: remembered, bundles (live or logged), state dirs."""
        ids = set(self._ids)
        if self.log_watcher:
            ids.update(os.path.basename(os.path.dirname(p)) for p in self.log_watcher.seen)
        for top in (self.bundles, self.runtime_root):
            if os.path.isdir(top):
                ids.update(n for n in os.listdir(top) if len(n) == 64)
        return ids

    def _rm_all(self):
        r = self.docker("ps", "-aq", "--no-trunc", timeout=30)
        ids = r.stdout.split() if r.returncode == 0 else []
        self._ids.update(ids)
        if ids:
            rm = self.docker("rm", "-f", *ids, timeout=60)
            if rm.returncode != 0:
                warnings.warn("docker test teardown: docker rm -f failed\n" + rm.describe())

    def _stop_dockerd(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            warnings.warn("dockerd did not stop within 30 s of SIGTERM: killed")
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _our_pids(self) -> list[int]:
        """Processes naming our temp dir on their command line (containerd,
        shims, a runtime call left hanging), not this one."""
        me = os.getpid()
        return [p for p in _pids() if p != me
                and any(self.tmpdir in a for a in ce.cmdline(p)[1:])]

    def _clean_host_dirs(self):
        for cid in self._known_ids():
            try:
                os.unlink(self.shim_socket(cid))
                warnings.warn(f"removed the shim socket of {cid} left in {SHIM_SOCKET_DIR}")
            except FileNotFoundError:
                pass
        for d in HOST_DIRS:
            if not self._host_before.get(d, True) and os.path.isdir(d):
                try:
                    os.rmdir(d)  # only if empty: another client may use it now
                except OSError:
                    pass


def _pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def bundle_options(env: DockerEnv, cid: str) -> dict:
    """The shim's options of a running container (binary_name for an added runtime)."""
    path = os.path.join(env.bundle(cid), "options.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
