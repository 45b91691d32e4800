"""Helpers for the Podman integration test (test_podman.py).

``PodmanEnv`` is a private Podman 4.3 setup for one test module, everything
under one temp dir:

* ``--root/--runroot/--tmpdir`` of its own, plus ``CONTAINERS_CONF`` (cgroupfs
  manager, file events logger, the host's ulimits, file locks in the tmpdir
  instead of the host-wide /dev/shm/libpod_lock, the runtime under test
  registered under its basename and listed in ``runtime_supports_json``) and
  ``CONTAINERS_STORAGE_CONF`` (overlay driver, private graphroot/runroot);
  ``TMPDIR`` too, for the image copy's big temporary files;
* the busybox image from ``containerd_env.build_busybox_image`` loaded from the
  docker-archive with ``podman pull docker-archive:<tar>`` (``podman load``
  would first unpack it under /var/tmp, trying it as an oci-archive);
* containers always get ``--network none`` (the default bridge network would
  change the host's firewall) and ``--cgroup-parent /ocitest-podman-<random>``.

``teardown`` removes everything, even after a failed test: ``podman rm -af``,
then by pid every process whose command line names the temp dir (conmon, and
the ``podman container cleanup`` its exit command starts), the runtime's
state of our container ids in its default root, the cgroup parent in every
hierarchy (killing what is left in it), mounts under the temp dir, the temp
dir, and the few host paths Podman 4.3 creates whatever it is told (see
HOST_PATHS) if they did not exist before.

Facts this relies on (measured here with runc 1.1.5, podman 4.3.1, conmon 2.1.6):
* conmon's exit command (``podman container cleanup``) gets ``--root``,
  ``--runroot``, ``--tmpdir`` and ``--runtime`` but NOT the ``--runtime-flag``s,
  so the runtime's state must live in its default root (/run/runc,
  /run/pyrunc): a ``--runtime-flag root=...`` would make the cleanup's
  ``delete`` look elsewhere and leave state behind;
* an image copy writes /var/lib/containers/cache/blob-info-cache-v1.boltdb
  and netavark creates /run/containers/networks whatever --root/--runroot say;
* pyrunc keeps a compiled seccomp program (.seccomp-<hash>) per distinct
  profile in its root: the new ones are removed at teardown.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field

import containerd_env as ce

PODMAN = "podman"
CONMON = "conmon"
IMAGE_REF = ce.IMAGE_REF
STORAGE_DRIVER = "overlay"

# Where runtimes keep state when podman gives no --root (runc's and pyrunc's defaults).
RUNTIME_DEFAULT_ROOTS = ("/run/runc", "/run/pyrunc")

# Host paths Podman 4.3 creates whatever --root/--runroot/--tmpdir say, deepest
# first: (path, is_dir).  Removed at teardown only if absent at setup.
HOST_PATHS = (
    ("/var/lib/containers/cache/blob-info-cache-v1.boltdb", False),
    ("/var/lib/containers/cache", True),
    ("/var/lib/containers", True),
    ("/run/containers/networks", True),
    ("/run/containers", True),
)


def missing_tools() -> list[str]:
    missing = [t for t in (PODMAN, CONMON, "setsid") if shutil.which(t) is None]
    if not os.access(ce.BUSYBOX, os.X_OK):
        missing.append(f"{ce.BUSYBOX} (Debian package busybox-static)")
    return missing


@dataclass
class PodmanEnv:
    runtime: str
    tmpdir: str = ""
    cgroup_parent: str = field(default_factory=lambda: "/ocitest-podman-" + os.urandom(4).hex())
    cgroup_manager: str = "cgroupfs"  # "systemd": cgroup_parent is then a slice
    _host_before: dict = field(default_factory=dict)
    _dotfiles_before: set = field(default_factory=set)
    _ids: set = field(default_factory=set)

    def __post_init__(self):
        if not self.tmpdir:
            # short: conmon's attach socket path must stay below 108 bytes
            self.tmpdir = tempfile.mkdtemp(prefix="pyrunc-pm-", dir="/tmp")
        self.tmpdir = os.path.realpath(self.tmpdir)
        t = self.tmpdir
        self.graphroot = f"{t}/graph"
        self.runroot = f"{t}/run"
        self.engine_tmp = f"{t}/tmp"
        self.big_tmp = f"{t}/bigtmp"
        self.network_dir = f"{t}/networks"
        self.conf_path = f"{t}/containers.conf"
        self.storage_conf_path = f"{t}/storage.conf"
        self.events_log = f"{t}/events.log"
        self.image_tar = f"{t}/pyrunc-busybox.tar"
        self.runtime_name = os.path.basename(self.runtime)

    # ---- configuration

    def write_config(self):
        for d in (self.graphroot, self.runroot, self.engine_tmp, self.big_tmp,
                  self.network_dir):
            os.makedirs(d, exist_ok=True)
        supports_json = sorted({"crun", "runc", "pyrunc", self.runtime_name})
        conf = f"""\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
network_config_dir = {json.dumps(self.network_dir)}

[engine]
cgroup_manager = "{self.cgroup_manager}"
events_logger = "file"
events_logfile_path = {json.dumps(self.events_log)}
lock_type = "file"
tmp_dir = {json.dumps(self.engine_tmp)}
volume_path = {json.dumps(self.graphroot + "/volumes")}
image_copy_tmp_dir = {json.dumps(self.big_tmp)}
runtime = {json.dumps(self.runtime_name)}
runtime_supports_json = {json.dumps(supports_json)}

[engine.runtimes]
{self.runtime_name} = [{json.dumps(self.runtime)}]
"""
        with open(self.conf_path, "w") as f:
            f.write(conf)
        storage = f"""\
[storage]
driver = "{STORAGE_DRIVER}"
graphroot = {json.dumps(self.graphroot)}
runroot = {json.dumps(self.runroot)}
"""
        with open(self.storage_conf_path, "w") as f:
            f.write(storage)

    def env(self) -> dict:
        env = dict(os.environ)
        for k in ("CONTAINER_HOST", "CONTAINER_CONNECTION", "CONTAINERS_REGISTRIES_CONF",
                  "REGISTRIES_CONFIG_PATH", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"):
            env.pop(k, None)
        env["CONTAINERS_CONF"] = self.conf_path
        env["CONTAINERS_STORAGE_CONF"] = self.storage_conf_path
        env["TMPDIR"] = self.big_tmp
        return env

    def base_args(self) -> list[str]:
        return [PODMAN, "--root", self.graphroot, "--runroot", self.runroot,
                "--tmpdir", self.engine_tmp, "--runtime", self.runtime]

    def podman(self, *args: str, timeout: float = 60.0) -> ce.Result:
        return ce.run([*self.base_args(), *args], timeout=timeout, env=self.env())

    def podman_pty(self, *args: str, timeout: float = 30.0, send: str | None = None,
                   wait_for: re.Pattern | None = ce.SH_PROMPT) -> ce.PtyResult:
        return ce.run_in_pty([*self.base_args(), *args], timeout=timeout, env=self.env(),
                             send=send, wait_for=wait_for)

    def run_args(self, *extra: str) -> list[str]:
        """Leading arguments of `podman run`: no network, our cgroup parent."""
        return ["run", *extra, "--network", "none", "--cgroup-parent", self.cgroup_parent]

    # ---- lifecycle

    def _host_snapshot(self) -> dict:
        return {p: os.path.lexists(p) for p, _d in HOST_PATHS} | {
            r: os.path.lexists(r) for r in RUNTIME_DEFAULT_ROOTS}

    @staticmethod
    def _root_dotfiles() -> set[str]:
        """Files like pyrunc's .seccomp-<hash> in the runtimes' default roots."""
        out = set()
        for root in RUNTIME_DEFAULT_ROOTS:
            try:
                names = os.listdir(root)
            except OSError:
                continue
            out.update(os.path.join(root, n) for n in names
                       if n.startswith(".") and os.path.isfile(os.path.join(root, n)))
        return out

    def start(self):
        self._host_before = self._host_snapshot()
        self._dotfiles_before = self._root_dotfiles()
        self.write_config()
        ce.build_busybox_image(self.image_tar, IMAGE_REF)
        # `pull docker-archive:` rather than `load -i`: load first tries the
        # tarball as an oci-archive, unpacking it under /var/tmp/oci* whatever
        # TMPDIR says; naming the transport reads the docker-archive directly.
        r = self.podman("pull", "docker-archive:" + self.image_tar, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("podman pull docker-archive: failed\n" + r.describe())
        ls = self.podman("images", "--format", "{{.Repository}}:{{.Tag}}", timeout=30)
        if IMAGE_REF not in ls.stdout.split():
            raise RuntimeError(f"image {IMAGE_REF} missing after the pull\n"
                               f"{r.describe()}\n{ls.describe()}")

    def remember(self, name_or_id: str):
        """Note a container's full id (for the teardown's runtime-state check)."""
        r = self.podman("inspect", "--format", "{{.Id}}", name_or_id, timeout=30)
        if r.returncode == 0 and r.stdout.strip():
            self._ids.add(r.stdout.strip())

    def inspect(self, name: str, fmt: str) -> str | None:
        r = self.podman("inspect", "--format", fmt, name, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else None

    def container_dirs(self, cid: str) -> list[str]:
        return [f"{self.graphroot}/{STORAGE_DRIVER}-containers/{cid}",
                f"{self.runroot}/{STORAGE_DRIVER}-containers/{cid}"]

    def runtime_state_dirs(self, cid: str) -> list[str]:
        return [f"{r}/{cid}" for r in RUNTIME_DEFAULT_ROOTS if os.path.isdir(f"{r}/{cid}")]

    def cgroup_dirs(self, cid: str | None = None) -> list[str]:
        """Our cgroup parent (or a container's cgroup below it) in every hierarchy."""
        if self.cgroup_manager == "systemd":
            return []  # systemd's units: systemd removes them
        sub = self.cgroup_parent + (f"/libpod-{cid}" if cid else "")
        return [h["path"] + sub for h in ce.cgroup_hierarchies()]

    # ---- diagnostics

    def diagnostics(self, name: str | None = None) -> str:
        parts = []
        cid = self.inspect(name, "{{.Id}}") if name else None
        if cid:
            for d in self.container_dirs(cid):
                for path in sorted(glob.glob(f"{d}/userdata/**", recursive=True)):
                    base = os.path.basename(path)
                    if os.path.isfile(path) and ("log" in base or base == "exit"):
                        parts.append(f"--- {path} ---\n{ce.tail(path, 4000)}")
        ps = self.podman("ps", "-a", "--no-trunc", timeout=30)
        parts.append(f"--- podman ps -a ---\n{ps.stdout}{ps.stderr}")
        if os.path.exists(self.events_log):
            parts.append(f"--- events log tail ---\n{ce.tail(self.events_log, 3000)}")
        return "\n".join(parts)

    # ---- teardown

    def teardown(self) -> None:
        problems: list[str] = []

        def step(name, fn):
            try:
                fn()
            except Exception as e:  # keep going, report at the end
                problems.append(f"{name}: {type(e).__name__}: {e}")

        step("podman rm -af", self._rm_all)
        step("kill our processes", self._kill_ours)
        step("runtime state", lambda: problems.extend(self._clean_runtime_state()))
        step("remove cgroups", lambda: problems.extend(
            ce.remove_cgroup_trees(self.cgroup_dirs())))
        step("unmount", lambda: problems.extend(ce.unmount_under(self.tmpdir)))
        left = ce.mounts_under(self.tmpdir)
        if left:
            problems.append(f"mounts still present under {self.tmpdir}, not removing it: {left}")
        elif os.environ.get("PYRUNC_TEST_KEEP_TMP"):
            pass
        else:
            step("remove temp dir", lambda: shutil.rmtree(self.tmpdir))
        step("host paths", lambda: problems.extend(self._clean_host_paths()))
        if problems:
            raise RuntimeError("podman test environment cleanup problems:\n  "
                               + "\n  ".join(problems))

    def _known_ids(self) -> set:
        ids = set(self._ids)
        for d in (f"{self.graphroot}/{STORAGE_DRIVER}-containers",
                  f"{self.runroot}/{STORAGE_DRIVER}-containers"):
            try:
                ids.update(n for n in os.listdir(d) if re.fullmatch(r"[0-9a-f]{64}", n))
            except FileNotFoundError:
                pass
        r = self.podman("ps", "-aq", "--no-trunc", timeout=30)
        if r.returncode == 0:
            ids.update(r.stdout.split())
        return ids

    def _rm_all(self):
        if not os.path.exists(self.conf_path):
            return
        self._ids = self._known_ids()
        r = self.podman("rm", "-af", "-t", "0", timeout=60)
        if r.returncode != 0:
            warnings.warn("podman test teardown: podman rm -af failed\n" + r.describe())

    def _our_pids(self) -> list[int]:
        """Processes naming our temp dir on their command line (conmon, podman
        container cleanup, a runtime still working on our bundle), not us."""
        me = os.getpid()
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            argv = ce.cmdline(int(d))
            if any(self.tmpdir in a for a in argv[1:]):
                pids.append(int(d))
        return pids

    def conmon_argvs(self, cid: str) -> list[list[str]]:
        """Command lines of the conmon processes monitoring container cid."""
        out = []
        for pid in self._our_pids():
            argv = ce.cmdline(pid)
            if argv and os.path.basename(argv[0]) == CONMON and cid in argv:
                out.append(argv)
        return out

    def _kill_ours(self):
        pids = self._our_pids()
        ce.kill_and_wait(pids)

    def _clean_runtime_state(self) -> list[str]:
        """Our containers' state in the runtime's default root: `delete
        --force` through the runtime, then remove what is left."""
        problems = []
        for cid in sorted(self._ids):
            if not self.runtime_state_dirs(cid):
                continue
            left = self.runtime_state_dirs(cid)
            r = ce.run([self.runtime, "delete", "--force", cid], timeout=30)
            still = self.runtime_state_dirs(cid)
            if not still:
                warnings.warn(f"runtime state {left} was left after `podman rm -af`; "
                              f"`{self.runtime_name} delete --force` removed it")
            for d in still:
                problems.append(f"runtime state {d} left after `podman rm -af` and "
                                f"`delete --force` ({r.describe()}); removed by hand")
                shutil.rmtree(d, ignore_errors=True)
        return problems

    def _clean_host_paths(self) -> list[str]:
        problems = []
        for path, is_dir in HOST_PATHS:
            if self._host_before.get(path, True) or not os.path.lexists(path):
                continue
            try:
                if is_dir:
                    os.rmdir(path)  # only if empty
                else:
                    os.unlink(path)
            except OSError as e:
                warnings.warn(f"podman created {path} and it cannot go: {e}")
        # the runtime's per-config caches (pyrunc: .seccomp-<hash>) made for
        # our containers in its default root
        for path in sorted(self._root_dotfiles() - self._dotfiles_before):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        for root in RUNTIME_DEFAULT_ROOTS:
            if not self._host_before.get(root, True) and os.path.isdir(root):
                try:
                    os.rmdir(root)
                except OSError:
                    problems.append(f"{root} (created during the test) is not empty: "
                                    f"{sorted(os.listdir(root))}")
        return problems
