"""The runtime under test, bundles, the in-container probe, and cleanup.

Everything made here is named after the run's token (container ids
cf<token>-NNN-slug, cgroupsPath /pyrunc-conformance-<token>/<id>, a temp dir
pyrunc-conformance-<token>-*) and undone by cleanup(), also after Ctrl-C.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

from .core import Fail, HostSkip, expect
from .host import Host, mountinfo, read

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROBE_SOURCE = os.path.join(REPO, "tests", "helper", "ocitest.c")
BUSYBOX = "/bin/busybox"
PROBE = "/bin/ocitest"                      # the probe's path inside every rootfs
CACHE = "/var/tmp/pyrunc-conformance-cache"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# In the runtime's own environment only: hooks must not see it (environ semantics).
CANARY = "CONFORMANCE_RUNTIME_ONLY=1"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home:/bin/sh\n" \
         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n"


READ_ONLY = ("state", "features", "--version", "list")


@dataclasses.dataclass
class Res:
    """One runtime call."""
    argv: list
    rc: int
    out: str
    err: str
    secs: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def brief(self) -> str:
        if self.timed_out:
            return f"`{' '.join(self.argv[3:])}` timed out after {self.secs:.0f}s"
        lines = [ln for ln in (self.err or self.out).strip().splitlines() if ln.strip()]
        tail = lines[-1][:300] if lines else "(no output)"
        return f"`{' '.join(self.argv[3:5])}` exit {self.rc}: {tail}"


def alive(pid) -> bool:
    """A live process (not a zombie) has this pid."""
    st = read(f"/proc/{pid}/stat")
    return bool(st) and st.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


class Probe:
    """What one `ocitest multi` run printed: outs[i], status[i] ("exit 0" ...)."""

    def __init__(self, res: Res):
        self.res = res
        self.outs: list[str] = []
        self.status: list[str] = []
        self.pid = None
        cur = None
        for line in res.out.splitlines(keepends=True):
            if line.startswith("@@ocitest-multi pid="):
                self.pid = int(line.split("=", 1)[1])
            elif line.startswith("@@ocitest-begin "):
                cur = []
            elif line.startswith("@@ocitest-end "):
                self.outs.append("".join(cur or []))
                self.status.append(line.split(None, 2)[2].strip())
                cur = None
            elif cur is not None:
                cur.append(line)

    def text(self, i: int) -> str:
        if i >= len(self.outs):
            raise Fail(f"the probe printed only {len(self.outs)} of its reports "
                       f"(container exit {self.res.rc}): {self.res.err.strip()[-300:]}")
        return self.outs[i]

    def json(self, i: int):
        t = self.text(i)
        try:
            return json.loads(t)
        except ValueError:
            raise Fail(f"probe report {i} is not JSON ({self.status[i]}): {t[:200]!r} "
                       f"{self.res.err.strip()[-200:]}")


def multi_args(*cmds) -> list[str]:
    """process.args running each probe subcommand (a list) in turn."""
    args = [PROBE, "multi"]
    for i, c in enumerate(cmds):
        if i:
            args.append("---")
        args.extend(c)
    return args


class Bundle:
    def __init__(self, env: "Env", slug: str, args=None):
        self.env = env
        self.id = env.new_id(slug)
        self.dir = os.path.join(env.tmp, "b", self.id)
        self.rootfs = os.path.join(self.dir, "rootfs")
        env.make_rootfs(self.rootfs)
        self.cgroups_path = f"{env.cg_parent}/{self.id}"
        self.config = env.base_config(self.id, self.cgroups_path, args)
        self.config["ociVersion"] = env.oci_version

    @property
    def process(self) -> dict:
        return self.config["process"]

    @property
    def linux(self) -> dict:
        return self.config["linux"]

    def args(self, *args) -> "Bundle":
        self.config["process"]["args"] = list(args)
        return self

    def probe_args(self, *cmds) -> "Bundle":
        return self.args(*multi_args(*cmds))

    def ns(self, *types) -> "Bundle":
        """Set linux.namespaces to these types (no paths)."""
        self.linux["namespaces"] = [{"type": t} for t in types]
        return self

    def add_ns(self, type_: str, path: str | None = None) -> "Bundle":
        self.linux["namespaces"] = [n for n in self.linux["namespaces"] if n["type"] != type_]
        self.linux["namespaces"].append({"type": type_, **({"path": path} if path else {})})
        return self

    def userns(self, host_uid=100000, size=65536) -> "Bundle":
        self.add_ns("user")
        self.linux["uidMappings"] = [{"containerID": 0, "hostID": host_uid, "size": size}]
        self.linux["gidMappings"] = [{"containerID": 0, "hostID": host_uid, "size": size}]
        # sysfs cannot be mounted in a user namespace without its own network one;
        # mqueue needs its ipc one: keep it simple and leave sysfs out.
        self.config["mounts"] = [m for m in self.config["mounts"] if m["type"] != "sysfs"]
        return self

    def write(self) -> str:
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)
        return self.dir

    def path(self, *p) -> str:
        return os.path.join(self.dir, *p)

    def rpath(self, *p) -> str:
        return os.path.join(self.rootfs, *[x.lstrip("/") for x in p])


class Env:
    def __init__(self, runtime: str, root: str | None, verbose: bool, probe: str | None):
        self.runtime = runtime
        self.verbose = verbose
        self.token = secrets.token_hex(3)
        self.tmp = tempfile.mkdtemp(prefix=f"pyrunc-conformance-{self.token}-",
                                    dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
        os.chmod(self.tmp, 0o755)
        self.root = os.path.abspath(root) if root else os.path.join(self.tmp, "state")
        self.cg_parent = f"/pyrunc-conformance-{self.token}"
        self.host = Host()
        self.counter = 0
        self.ids: list[str] = []            # every container id we used
        self.cleanups: list = []            # callbacks, run last-in first-out
        self.memo: dict = {}
        self.rt_env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8",
                       CANARY.split("=")[0]: CANARY.split("=")[1]}
        self.oci_version = self.config_version()
        self.probe_bin = probe or self.build_probe()
        self.template = os.path.join(self.tmp, "template")
        self.build_template(self.template)

    # ---------------------------------------------------------------- setup

    def config_version(self) -> str:
        """The ociVersion of the configs: the runtime's ociVersionMax (features),
        else 1.0.2 (a 1.0 config is compatible with every 1.x runtime;
        configs of a newer minor version need not be, config.md)."""
        r = self.rt("features", timeout=20)
        try:
            v = json.loads(r.out).get("ociVersionMax", "") if r.ok else ""
        except (ValueError, AttributeError):
            v = ""
        return v if re.match(r"^1\.\d+\.\d+", v or "") else "1.0.2"

    def build_probe(self) -> str:
        """Compile tests/helper/ocitest.c statically, cached by its hash."""
        if not os.path.exists(PROBE_SOURCE):
            raise RuntimeError(f"{PROBE_SOURCE} is missing")
        with open(PROBE_SOURCE, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        out = os.path.join(CACHE, f"ocitest-{digest}")
        if os.access(out, os.X_OK):
            return out
        cc = shutil.which("gcc") or shutil.which("cc")
        if not cc:
            raise RuntimeError("gcc is missing: cannot build the probe (apt-get install gcc)")
        os.makedirs(CACHE, exist_ok=True)
        tmp = f"{out}.{os.getpid()}"
        p = subprocess.run([cc, "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp,
                            PROBE_SOURCE], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"building the probe failed: {p.stderr.strip()}")
        os.replace(tmp, out)
        return out

    def build_template(self, rootfs: str) -> None:
        """busybox-static with its applets, the probe, /etc/passwd and /etc/group
        (the layout of scripts/make_bundle.py)."""
        if not os.path.exists(BUSYBOX):
            raise RuntimeError(f"{BUSYBOX} is missing: apt-get install busybox-static")
        for d in ("proc", "sys", "dev", "tmp", "root", "etc", "bin", "mnt", "home"):
            os.makedirs(os.path.join(rootfs, d), exist_ok=True)
        os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
        shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
        shutil.copy2(self.probe_bin, os.path.join(rootfs, "bin", "ocitest"))
        applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        for a in applets:
            if a not in ("busybox", "ocitest"):
                os.symlink("busybox", os.path.join(rootfs, "bin", a))
        with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
            f.write(PASSWD)
        with open(os.path.join(rootfs, "etc", "group"), "w") as f:
            f.write(GROUP)

    def make_rootfs(self, dest: str) -> None:
        """A private copy of the template (binaries hard-linked)."""
        shutil.copytree(self.template, dest, symlinks=True, copy_function=os.link)

    def new_id(self, slug: str) -> str:
        self.counter += 1
        cid = f"cf{self.token}-{self.counter:03d}-{slug}"[:60]
        self.ids.append(cid)
        return cid

    def bundle(self, slug: str, args=None) -> Bundle:
        return Bundle(self, slug, args)

    def base_config(self, cid: str, cgroups_path: str, args=None) -> dict:
        caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        return {
            "ociVersion": "1.3.0",
            "process": {
                "terminal": False,
                "user": {"uid": 0, "gid": 0},
                "args": list(args) if args else [PROBE, "exit", "0"],
                "env": [f"PATH={PATH}", "HOME=/root", f"CONFORMANCE_ID={cid}"],
                "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            },
            "root": {"path": "rootfs", "readonly": False},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                 "options": ["nosuid", "noexec", "nodev"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
            ],
            "linux": {
                "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
                "cgroupsPath": cgroups_path,
                "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            },
        }

    # ------------------------------------------------------------- runtime

    def rt(self, *args, timeout: float = 30, input: str | None = None, stdout=None,
           stderr=None, preexec=None, env=None, cwd=None) -> Res:
        """Run `RUNTIME --root ROOT ARGS...`; never hangs (kills its process
        group at the timeout). A runtime being reinstalled meanwhile (binary
        missing, an import error) gets a few more tries."""
        for attempt in range(20):
            try:
                res = self._rt(args, timeout, input, stdout, stderr, preexec, env, cwd)
            except FileNotFoundError:
                if not os.path.exists(self.runtime) and attempt < 19:
                    time.sleep(0.5)
                    continue
                raise
            # Only queries are retried: a create or run may have done something.
            if res.rc != 0 and attempt < 3 and args and args[0] in READ_ONLY and re.search(
                    r"ModuleNotFoundError|ImportError|No module named", res.err):
                time.sleep(1)
                continue
            return res
        return res

    def _rt(self, args, timeout, input, stdout, stderr, preexec, env, cwd) -> Res:
        argv = [self.runtime, "--root", self.root, *[str(a) for a in args]]
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                             stdout=stdout if stdout is not None else subprocess.PIPE,
                             stderr=stderr if stderr is not None else subprocess.PIPE,
                             start_new_session=True, close_fds=True, preexec_fn=preexec,
                             env=env or self.rt_env, cwd=cwd or self.tmp, text=True)
        timed_out = False
        try:
            out, err = p.communicate(input, timeout=timeout)
        except KeyboardInterrupt:
            try:                        # interrupted: do not leave it running
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            raise
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                out, err = "", ""
        res = Res(argv, p.returncode if p.returncode is not None else -9, out or "", err or "",
                  time.monotonic() - t0, timed_out)
        if self.verbose:
            print(f"      $ {' '.join(argv[3:])} -> {res.rc}{' TIMEOUT' if timed_out else ''}"
                  f" ({res.secs:.2f}s)", flush=True)
            if not res.ok and res.err.strip():
                print("        " + res.err.strip().replace("\n", "\n        ")[-600:], flush=True)
        return res

    def create(self, b: Bundle, *extra, out: str | None = None, timeout: float = 30,
               preexec=None, env=None, bundle_arg: str | None = None) -> Res:
        """`create --bundle DIR ID`; the container's stdio go to files
        (b.path('out'), b.path('create.err')), never pipes (a pipe would stay
        open as long as the container lives)."""
        b.write()
        out = out or b.path("out")
        with open(out, "w") as fo, open(b.path("create.err"), "w+") as fe:
            res = self.rt("create", "--bundle", bundle_arg or b.dir, *extra, b.id, stdout=fo,
                          stderr=fe, timeout=timeout, preexec=preexec, env=env)
            fe.seek(0)
            res.err = fe.read()
        return res

    def start(self, cid: str, **kw) -> Res:
        return self.rt("start", cid, **kw)

    def state(self, cid: str) -> dict | None:
        r = self.rt("state", cid, timeout=15)
        if not r.ok:
            return None
        try:
            return json.loads(r.out)
        except ValueError:
            raise Fail(f"`state {cid}` printed no JSON: {r.out[:200]!r}")

    def kill(self, cid: str, sig: str = "KILL") -> Res:
        return self.rt("kill", cid, sig, timeout=15)

    def delete(self, cid: str, force: bool = False, **kw) -> Res:
        return self.rt("delete", *(["--force"] if force else []), cid, **kw)

    def run(self, b: Bundle, timeout: float = 30, preexec=None) -> Res:
        """Foreground `run --bundle DIR ID` (the runtime deletes the container)."""
        b.write()
        res = self.rt("run", "--bundle", b.dir, b.id, timeout=timeout, preexec=preexec)
        if res.timed_out:
            self.destroy(b.id)
        return res

    def probe(self, b: Bundle, *cmds, timeout: float = 30, preexec=None) -> Probe:
        """Run the probe subcommands in one container; Fail unless it ran."""
        if cmds:
            b.probe_args(*cmds)
        res = self.run(b, timeout=timeout, preexec=preexec)
        p = Probe(res)
        if res.timed_out or not p.outs:
            raise Fail(f"the container did not run: {res.brief()}")
        return p

    def wait_status(self, cid: str, want: str, timeout: float = 10) -> dict | None:
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.state(cid)
            if st and st.get("status") == want:
                return st
            time.sleep(0.05)
        return st

    def destroy(self, cid: str) -> None:
        """Remove a container whatever its status (best effort)."""
        if self.delete(cid, force=True, timeout=20).ok:
            return
        if self.state(cid) is not None:
            self.kill(cid, "KILL")
            self.wait_status(cid, "stopped", 5)
            self.delete(cid, timeout=20)

    def started(self, b: Bundle, *extra) -> dict:
        """create + start a long-running container; its state."""
        r = self.create(b, *extra)
        expect(r.ok, f"create failed: {r.brief()}")
        r = self.start(b.id)
        expect(r.ok, f"start failed: {r.brief()}")
        st = self.state(b.id)
        expect(st is not None, "state failed after start")
        return st

    def created(self, b: Bundle, *extra, **kw) -> dict:
        r = self.create(b, *extra, **kw)
        expect(r.ok, f"create failed: {r.brief()}")
        st = self.state(b.id)
        expect(st is not None and st.get("pid"), f"state after create: {st}")
        return st

    # ------------------------------------------------------------ cgroups

    def cgroup_dirs(self, cgroups_path: str) -> list[str]:
        """Every directory the path names in any cgroup hierarchy, existing."""
        return [d for d in (os.path.join(m, cgroups_path.lstrip("/"))
                            for m in self.host.cgroup_mounts()) if os.path.isdir(d)]

    def proc_cgroup(self, pid: int) -> dict:
        """/proc/PID/cgroup: controller -> path ("" for the v2 hierarchy)."""
        out = {}
        for line in (read(f"/proc/{pid}/cgroup") or "").splitlines():
            _, ctrls, path = line.split(":", 2)
            for c in (ctrls.split(",") if ctrls else [""]):
                out[c] = path
        return out

    def cgroup_dir(self, pid: int, controller: str) -> str:
        """The directory of PID's cgroup holding `controller`."""
        mp = self.host.need_controller(controller)
        cg = self.proc_cgroup(pid)
        key = "" if mp == self.host.v2_mount else controller
        if key not in cg:
            raise Fail(f"the container process is in no {controller or 'v2'} cgroup: {cg}")
        return os.path.join(mp, cg[key].lstrip("/"))

    def cgroup_file(self, pid: int, controller: str, name: str) -> str | None:
        v = read(os.path.join(self.cgroup_dir(pid, controller), name))
        return None if v is None else v.strip()

    # --------------------------------------------------------- leftovers

    def token_pids(self, marker: str) -> list[int]:
        """Live processes whose environment holds CONFORMANCE_ID=<marker...>."""
        needle = f"CONFORMANCE_ID={marker}".encode()
        pids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/environ", "rb") as f:
                        if needle in f.read():
                            if alive(d):
                                pids.append(int(d))
                except OSError:
                    pass
        return pids

    def leftovers(self, b: Bundle) -> list[str]:
        """What a container that must not exist left behind."""
        left = []
        if self.rt("state", b.id, timeout=15).ok:
            left.append("`state` still knows the container")
        dirs = self.cgroup_dirs(b.cgroups_path)
        if dirs:
            left.append(f"cgroup {dirs[0]}")
        if self.token_pids(b.id):
            left.append(f"processes {self.token_pids(b.id)}")
        mps = [m["mount_point"] for m in mountinfo() if m["mount_point"].startswith(b.dir)]
        if mps:
            left.append(f"mounts {mps}")
        return left

    def expect_error(self, b: Bundle, what: str = "the configuration", op: str = "create") -> None:
        """The operation must fail and leave nothing (runtime.md § Errors)."""
        r = self.run(b, timeout=20) if op == "run" else self.create(b, timeout=20)
        if r.ok:
            self.destroy(b.id)
            raise Fail(f"{op} accepted {what} (exit 0)")
        if r.timed_out:
            self.destroy(b.id)
            raise Fail(f"{op} hung on {what}")
        left = self.leftovers(b)
        if left:
            self.destroy(b.id)
            raise Fail(f"{op} failed (exit {r.rc}) but left {', '.join(left)}")

    # -------------------------------------------------------------- misc

    def once(self, key, fn):
        """Memoised scenario: fn() runs once; its value or its Fail/HostSkip
        is handed to every check that asks."""
        if key not in self.memo:
            try:
                self.memo[key] = ("ok", fn())
            except (Fail, HostSkip) as e:
                self.memo[key] = ("raise", e)
        kind, v = self.memo[key]
        if kind == "raise":
            raise type(v)(*v.args)
        return v

    def at_exit(self, fn) -> None:
        self.cleanups.append(fn)

    def sh(self, *argv, check=True, timeout=20) -> subprocess.CompletedProcess:
        """A host command (ip, mount, ...) of the suite's own setup."""
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {p.stderr.strip()}")
        return p

    def clone(self, obj):
        return copy.deepcopy(obj)

    # ------------------------------------------------------------ cleanup

    def cleanup(self) -> list[str]:
        """Undo everything; returns what could not be undone."""
        problems = []
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception as e:          # keep going: the rest must be undone too
                problems.append(f"cleanup: {e}")
        if os.path.isdir(self.root):
            for cid in os.listdir(self.root):
                if cid.startswith(f"cf{self.token}-"):
                    self.destroy(cid)
        for pid in self.token_pids(f"cf{self.token}-"):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        problems += self.remove_cgroups()
        mounts_left = self.unmount_all(self.tmp)
        if not mounts_left:
            rmtree_same_fs(self.tmp)
        else:
            problems += mounts_left + [f"kept {self.tmp}"]
        return problems

    def remove_cgroups(self) -> list[str]:
        left = []
        for mp in self.host.cgroup_mounts():
            top = os.path.join(mp, self.cg_parent.lstrip("/"))
            if not os.path.isdir(top):
                continue
            for attempt in range(50):
                for dirpath, dirnames, _ in os.walk(top, topdown=False):
                    try:
                        os.rmdir(dirpath)
                    except OSError:
                        pass
                if not os.path.isdir(top):
                    break
                time.sleep(0.1)
            if os.path.isdir(top):
                left.append(f"cgroup {top} could not be removed")
        return left

    def unmount_all(self, prefix: str) -> list[str]:
        for _ in range(3):
            mps = sorted({m["mount_point"] for m in mountinfo()
                          if m["mount_point"].startswith(prefix + "/")}, key=len, reverse=True)
            if not mps:
                return []
            for mp in mps:
                subprocess.run(["umount", "-l", mp], capture_output=True)
        mps = [m["mount_point"] for m in mountinfo() if m["mount_point"].startswith(prefix + "/")]
        return [f"mounts left: {mps}"] if mps else []


def rmtree_same_fs(top: str) -> None:
    """rm -rf that never crosses into another mount."""
    dev = os.lstat(top).st_dev
    for dirpath, dirnames, filenames in os.walk(top, topdown=False):
        try:
            if os.lstat(dirpath).st_dev != dev:
                continue
        except OSError:
            continue
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            try:
                st = os.lstat(p)
                if st.st_dev != dev:
                    continue
                if os.path.isdir(p) and not os.path.islink(p):
                    os.rmdir(p)
                else:
                    os.unlink(p)
            except OSError:
                pass
    try:
        os.rmdir(top)
    except OSError:
        pass
