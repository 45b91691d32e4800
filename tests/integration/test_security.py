"""Regression tests for container breakouts that hit runc."""
import errno
import hashlib
import json
import os
import shutil

import pytest

from conftest import IS_PYRUNC, RUNTIME, needs_root

pytestmark = needs_root()


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def host_binaries() -> list[str]:
    """The runtime, the interpreter that runs it, and pyrunc's C init."""
    paths = [os.path.realpath(RUNTIME)]
    with open(paths[0], "rb") as f:
        first = f.readline()
    if first.startswith(b"#!"):
        paths.append(os.path.realpath(first[2:].split()[0].decode()))
    try:
        import runtime.launcher
        paths.append(runtime.launcher.INIT_BINARY)
    except ImportError:
        pass
    return paths


def test_proc_self_exe_entry_point_cannot_touch_host_binaries(runtime, bundle):
    """runc CVE-2019-5736: an entry point of `#!/proc/self/exe` makes the kernel
    execute whatever binary started the container. Here that is the sealed memfd
    copy of the init, which refuses to run and cannot be written."""
    rootfs = bundle.private_rootfs()
    evil = rootfs / "evil"
    evil.write_text("#!/proc/self/exe\n")
    evil.chmod(0o755)
    # The container overwrites /proc/self/exe again through a second process too.
    bundle.args("/bin/sh", "-c", "/evil; /ocitest write /proc/self/exe x;"
                " /ocitest open-write /proc/1/exe; exit 0")
    before = {p: sha256(p) for p in host_binaries()}
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "ok" not in proc.stdout.split(), proc.stdout
    assert {p: sha256(p) for p in host_binaries()} == before


def test_init_is_a_sealed_memfd(runtime, bundle):
    """While the container waits to be started, its init is not a host file and
    even host root cannot open it for writing."""
    runtime("create", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    if IS_PYRUNC:  # runc 1.1.5's init shows "/" here
        target = os.readlink(f"/proc/{pid}/exe")
        assert target.startswith("/memfd:"), target
    with pytest.raises(OSError) as e:
        os.open(f"/proc/{pid}/exe", os.O_WRONLY)
    assert e.value.errno in (errno.EPERM, errno.ETXTBSY, errno.EACCES)


def test_container_cannot_see_runtime_state(runtime, bundle, runtime_root):
    """Neither the state directory nor the exec fifo is reachable from inside."""
    bundle.args("/bin/sh", "-c", f"ls {runtime_root} 2>&1; ls /proc/1/fd; exit 0")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout
    assert "No such file or directory" in out
    assert out.split("\n", 1)[1].split() == ["0", "1", "2"]


def test_mount_destination_symlink_stays_in_rootfs(runtime, bundle, tmp_path):
    """A mount destination that is a symlink out of the rootfs never reaches the
    host (the CVE-2021-30465 class). runc resolves it inside the rootfs and
    mounts there; pyrunc (openat2 RESOLVE_IN_ROOT) refuses a target that does
    not exist inside. Either way the host is untouched."""
    rootfs = bundle.private_rootfs()
    outside = tmp_path / "outside"
    outside.mkdir()
    (rootfs / "escape").symlink_to(str(outside))
    bundle.config["mounts"].append({"destination": "/escape", "type": "tmpfs", "source": "tmpfs"})
    bundle.args("/bin/true")
    with open("/proc/self/mountinfo") as f:
        before = f.read()
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 0 or "open mount target /escape" in proc.stderr, proc.stderr
    with open("/proc/self/mountinfo") as f:
        assert f.read() == before
    assert list(outside.iterdir()) == []
    shutil.rmtree(outside)


@pytest.mark.parametrize("fd", [3, 4, 5, 6, 7, 8])
def test_cwd_through_a_leaked_fd_cannot_reach_the_host(runtime, bundle, inventory, fd):
    """runc CVE-2024-21626: process.cwd /proc/self/fd/N, N an fd the runtime had
    open, made the container start in a host directory. Either create fails or
    the container sits inside its own root."""
    before = inventory()
    bundle.config["process"]["cwd"] = f"/proc/self/fd/{fd}"
    bundle.args("/bin/sh", "-c", "pwd; ls ..; cat ../../../../../../etc/hostname")
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    if proc.returncode == 0:
        assert not proc.stdout.startswith("(unreachable)"), proc.stdout
        with open("/etc/hostname") as f:
            assert f.read().strip() not in proc.stdout.split()
    else:
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert inventory() == before


@pytest.mark.parametrize("mount_point, link", [
    ("proc", "/HOSTPATH"), ("proc", "../../../../HOSTPATH"), ("sys", "/"), ("proc", "sys")])
def test_symlinked_proc_or_sys_is_refused(runtime, bundle, tmp_path, inventory, mount_point, link):
    """runc CVE-2019-16884 class: a rootfs whose /proc or /sys is a symlink must
    not redirect those mounts anywhere, least of all onto the host."""
    before = inventory()
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    rootfs = bundle.private_rootfs()
    target = rootfs / mount_point
    shutil.rmtree(target)
    target.symlink_to(link.replace("HOSTPATH", str(hostdir).lstrip("/")))
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    # runc's words, and ours on why: "filesystem proc must be mounted on ordinary directory"
    assert "must be mounted on ordinary directory" in proc.stderr
    if IS_PYRUNC:
        fstype = {"proc": "proc", "sys": "sysfs"}[mount_point]
        assert f"{fstype} must be mounted on ordinary directory: the destination (or a " \
            "directory above it) is a symlink" in proc.stderr
    assert list(hostdir.iterdir()) == []
    assert inventory() == before


def test_planted_dev_null_does_not_unmask(runtime, bundle):
    """A rootfs (without a /dev tmpfs) whose /dev/null is a symlink to a file:
    masked paths still read as the null device."""
    rootfs = bundle.private_rootfs()
    (rootfs / "secret").write_text("do not show")
    (rootfs / "dev" / "null").symlink_to("/secret")
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/dev"
                               and not m["destination"].startswith("/dev/")]
    bundle.config["root"]["readonly"] = False
    bundle.args("/bin/sh", "-c", "cat /proc/keys /proc/timer_list; /ocitest stat /dev/null")
    # (runc 1.1.5 hangs on this bundle: hence the short timeout.)
    out = runtime("run", "-b", bundle.write(), bundle.id, timeout=20).stdout
    assert "do not show" not in out
    st = json.loads(out)
    assert (st["type"], st["rdev_major"], st["rdev_minor"]) == ("chr", 1, 3)


def test_other_containers_fifo_is_unreachable(runtime, bundle, tmp_path, rootfs, runtime_root):
    from conftest import Bundle
    other = Bundle(tmp_path / "other", rootfs)
    other.path.mkdir()
    runtime("create", "-b", other.write(), other.id)
    fifo = os.path.join(runtime_root, other.id, "exec.fifo")
    assert os.path.exists(fifo)
    bundle.args("/bin/sh", "-c", f"/ocitest open-write {fifo}; /ocitest ls /proc/1/root/{runtime_root}; true")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout
    assert out.startswith("error: No such file or directory")
    assert other.id not in out
    assert runtime.state(other.id)["status"] == "created"
