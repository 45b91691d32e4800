import signal

import pytest

from runtime.cli import main
from runtime.cli_parser import build_parser
from runtime.errors import PyruncError
from runtime.ids import check_id
from runtime.signals import parse_signal


@pytest.mark.parametrize("text, num", [
    ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigterm", 15), ("term", 15), ("HUP", 1),
    ("RTMIN+2", signal.SIGRTMIN + 2), ("SIGRTMAX-1", signal.SIGRTMAX - 1), ("0", 0)])
def test_signals(text, num):
    assert parse_signal(text) == num


@pytest.mark.parametrize("text", ["SIGNOPE", "-1", "999", "RTMIN+99", "", "1" * 5000,
                                  "RTMIN+" + "1" * 5000])
def test_bad_signals(text):
    with pytest.raises(PyruncError):
        parse_signal(text)


@pytest.mark.parametrize("cid", ["a", "A-b_c+d.e", "x" * 1024, ".hidden"])
def test_good_ids(cid):
    assert check_id(cid) == cid


@pytest.mark.parametrize("cid", ["", ".", "..", "../x", "a/b", "x" * 1025, "a b", "é"])
def test_bad_ids(cid):
    with pytest.raises(PyruncError, match="invalid container id"):
        check_id(cid)


def test_global_flags_both_forms():
    p = build_parser()
    a = p.parse_args(["--root", "/r", "--log", "/l", "--log-format=json", "create", "-b", "/b",
                      "--pid-file", "/p", "--preserve-fds", "2", "id1"])
    assert (a.root, a.log, a.log_format, a.bundle, a.pid_file, a.preserve_fds, a.container_id) == \
        ("/r", "/l", "json", "/b", "/p", 2, "id1")
    a = p.parse_args(["kill", "--all", "c", "KILL"])
    assert (a.all, a.container_id, a.signal) == (True, "c", "KILL")
    assert p.parse_args(["kill", "c"]).signal == "TERM"
    assert p.parse_args(["delete", "-f", "c"]).force
    # No --root: the command picks the default (rootless.default_root) once parsed.
    assert p.parse_args(["state", "c"]).root is None


def test_usage_error_is_exit_1(capsys):
    assert main(["create"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pyrunc: ")


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pyrunc version ") and out[2] == "spec: 1.3.0"


@pytest.mark.parametrize("value", ["maybe", "", "yes"])
def test_rootless_value_is_checked_for_every_command(capsys, value):
    assert main(["--rootless", value, "--root", "/nonexistent", "list"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"pyrunc: --rootless {value}: must be true, false or auto"]


@pytest.mark.parametrize("value", ["true", "1", "False", "auto"])
def test_rootless_values_runc_takes(capsys, value):
    assert main(["--rootless", value, "--root", "/nonexistent", "list", "-q"]) == 0


def test_spec_rootless_is_not_the_global_rootless():
    a = build_parser().parse_args(["--rootless", "false", "spec", "--rootless"])
    assert (a.rootless, a.spec_rootless) == ("false", True)
    assert build_parser().parse_args(["spec"]).rootless == "auto"
