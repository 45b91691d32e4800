"""runtime/preload.py: create, run and exec load their modules from one file.
It must give the modules a normal import gives, and step aside whenever the
file is not exactly true (another interpreter, a changed source, a failing
module)."""
import marshal
import os
import subprocess
import sys

import pytest

from runtime import preload

SITE = os.path.dirname(os.path.dirname(os.path.abspath(preload.__file__)))


def _python(code: str, *args) -> subprocess.CompletedProcess:
    """A fresh -I -S interpreter of this installation, as the command file."""
    return subprocess.run([sys.executable, "-I", "-S", "-c",
                           f"import sys; sys.path.append({SITE!r})\n" + code, *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("argv, command", [
    (["create", "x"], "create"), (["--root", "create", "run", "x"], "run"),
    (["--log", "f", "--log-format", "json", "--debug", "exec", "c"], "exec"),
    (["--rootless=true", "state", "x"], "state"), (["--version"], None), ([], None)])
def test_the_command_word(argv, command):
    assert preload.command_of(argv) == command


def test_the_global_flags_with_a_value_are_quickargs():
    from runtime.quickargs import GLOBAL_VALUES
    assert set(preload._VALUED) == set(GLOBAL_VALUES)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = tmp_path_factory.mktemp("preload")
    preload.build(str(directory))
    return directory


def test_the_same_modules_as_an_import(built):
    for command, modules in preload.COMMANDS.items():
        code = (f"from runtime import preload\nimport runtime.cli, {', '.join(modules)}\n"
                "print(sorted(m for m in sys.modules if m.startswith('runtime')))")
        normal = _python(code)
        loaded = _python(f"from runtime import preload\nassert preload.preload(sys.argv[1:], "
                         f"{str(built)!r})\n" + code, command)
        assert normal.returncode == loaded.returncode == 0, normal.stderr + loaded.stderr
        assert loaded.stdout == normal.stdout
    # The preloaded modules are the real ones: the launcher finds its init.
    proc = _python(f"from runtime import preload\npreload.preload(['create'], {str(built)!r})\n"
                   "import runtime.launcher, os\nprint(type(runtime.launcher).__name__, "
                   "os.path.exists(runtime.launcher.INIT_BINARY), "
                   "runtime.launcher.__spec__ is None)")
    assert proc.stdout.split() == ["module", "True", "True"], proc.stderr


def test_the_installed_files_are_used(tmp_path):
    """The install wrote them, and they are still true."""
    proc = _python("from runtime import preload\nprint(preload.preload(sys.argv[1:]))",
                   "--root", str(tmp_path), "create", "x")
    assert proc.stdout == "True\n", proc.stderr


def _rewrite(path, change):
    with open(path, "rb") as f:
        tag, entries = marshal.loads(f.read())
    tag, entries = change(tag, entries)
    with open(path, "wb") as f:
        f.write(marshal.dumps((tag, entries)))


@pytest.mark.parametrize("damage", ["another interpreter", "a changed source",
                                    "a failing module", "not a preload file"])
def test_a_file_that_is_not_true_is_left_alone(built, tmp_path, damage):
    target = tmp_path / "_preload-create.bin"
    target.write_bytes((built / "_preload-create.bin").read_bytes())
    if damage == "another interpreter":
        _rewrite(target, lambda tag, entries: ("cpython-27", entries))
    elif damage == "a changed source":
        _rewrite(target, lambda tag, entries: (tag, [entries[0][:2] + (entries[0][2] + 1,)
                                                     + entries[0][3:]] + entries[1:]))
    elif damage == "a failing module":
        boom = compile("raise ImportError('boom')", "x", "exec")
        _rewrite(target, lambda tag, entries: (tag, entries[:-1] + [entries[-1][:5] + (boom,)]))
    else:
        target.write_bytes(b"not marshal data")
    proc = _python(f"from runtime import preload\n"
                   f"print(preload.preload(['create'], {str(tmp_path)!r}), "
                   "sorted(m for m in sys.modules if m.startswith('runtime')))")
    assert proc.stdout == "False ['runtime', 'runtime.preload']\n", proc.stderr
