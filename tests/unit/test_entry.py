"""The pyrunc command (runtime/entry.py): a symlink to the front door, whose
Python command file is isolated, without site, and runs the installed pyrunc
whatever the caller's environment says."""
import os
import subprocess

from runtime import entry


def test_command_file_runs_pyrunc_isolated(tmp_path):
    path = tmp_path / "pyrunc"
    entry.write(str(path))
    assert os.readlink(path) == entry.FRONT
    with open(entry.SCRIPT) as f:
        assert f.read().splitlines()[0].endswith(" -IS")
    assert os.stat(entry.SCRIPT).st_mode & 0o777 == 0o755
    # A PYTHONPATH with a module named `runtime` must not be what runs.
    decoy = tmp_path / "decoy" / "runtime"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy ran')\n")
    env = dict(os.environ, PYTHONPATH=str(decoy.parent))
    proc = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                          env=env, cwd=decoy.parent, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("pyrunc version ")
    # It leaves by os._exit, after flushing: output through a pipe is whole,
    # and a failure's exit status is kept.
    proc = subprocess.run([str(path), "--root", str(tmp_path / "root"), "state", "nope"],
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stderr) == (1, "pyrunc: container does not exist\n")
    proc = subprocess.run([str(path), "--root", str(tmp_path / "root"), "list", "-f", "json"],
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, "[]\n")


def test_rewrite_replaces_a_symlink_not_its_target(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep")
    link = tmp_path / "pyrunc"
    link.symlink_to(target)
    entry.write(str(link))
    assert target.read_text() == "keep" and os.readlink(link) == entry.FRONT


def test_static_programs_are_small_musl_builds():
    """The init is copied into a memfd on every create and the front door
    starts on every call: setup.py builds both with musl (scripts/setup.sh
    installs musl-tools). Static glibc would make each ~700 KB."""
    for program in ("pyrunc-init", "pyrunc-front"):
        path = os.path.join(os.path.dirname(entry.FRONT), program)
        with open(path, "rb") as f:
            image = f.read()
        assert image[:4] == b"\x7fELF", program
        assert b"/lib64/ld-linux" not in image and b"ld-musl" not in image, \
            f"{program} is dynamically linked"
        assert len(image) < 200_000, f"{program}: {len(image)} bytes: built without musl-gcc?"
