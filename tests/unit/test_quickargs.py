"""quickargs.parse() reads a command line as argparse (cli_parser.py) does, or
leaves it to argparse: whenever it answers, its fields are argparse's."""
import itertools
import random

import pytest

from runtime import quickargs
from runtime.cli_parser import build_parser
from runtime.errors import PyruncError

GLOBALS = [[], ["--root", "/r"], ["--root=/r"], ["--debug"], ["--log", "/l"],
           ["--log-format", "json"], ["--log-format=text"], ["--log-format", "xml"],
           ["--systemd-cgroup"], ["--rootless", "false"], ["--roo", "/r"], ["-h"],
           ["--root"], ["--root", "-x"], ["--version"], ["--", "x"]]
TAILS = {
    "state": [["c1"], [], ["c1", "c2"], ["-h"], ["--", "c1"], ["-c1"]],
    "start": [["c1"], ["c1", "--x"]],
    "pause": [["c1"]], "resume": [["c1"], ["--help"]],
    "kill": [["c1"], ["c1", "KILL"], ["-a", "c1"], ["--all", "c1", "9"], ["c1", "9", "--all"],
             ["c1", "--all", "9"], ["c1", "-9"], ["-a=1", "c1"], ["c1", "1", "2"], ["--al", "c1"]],
    "delete": [["c1"], ["-f", "c1"], ["c1", "--force"], ["--force", "--force", "c1"], ["-F", "c1"]],
    "ps": [["c1"], ["-f", "json", "c1"], ["--format=json", "c1"], ["c1", "-ef"],
           ["--format", "yaml", "c1"], ["c1", "aux"], ["-f", "c1"]],
    "list": [[], ["-q"], ["-f", "json"], ["--format=table", "--quiet"], ["x"], ["-fjson"]],
    "create": [["-b", "/b", "c1"], ["--bundle", "/b", "--pid-file", "/p", "c1"], ["c1"],
               ["--bundle=/b", "--console-socket", "/s", "--no-new-keyring", "c1"],
               ["--preserve-fds", "2", "c1"], ["--preserve-fds", "x", "c1"], ["--no-pivot", "c1", "c2"]],
    "run": [["-d", "-b", "/b", "c1"], ["--detach", "--keep", "c1"], ["c1", "--keep"], ["-b", "/b"]],
    "exec": [["--process", "/p", "--detach", "--pid-file", "/q", "c1"], ["c1", "sh"],
             ["-p", "/p", "-e", "A=1", "-e", "B=2", "--cap", "CAP_KILL", "c1"], ["c1", "--tty"],
             ["-t", "--console-socket", "/s", "-p", "/p", "c1"], ["--preserve-fds=1", "c1"],
             ["--cgroup", "a", "--cgroup", "b:c", "-g", "5", "c1"], ["-u", "1:2", "c1", "-e", "x"]],
    "update": [["-r", "-", "c1"], ["--resources", "/f", "c1"], ["--memory", "64m", "c1"],
               ["--memory=64m", "--cpu-quota", "-1", "c1"], ["c1"], ["--mem", "1", "c1"],
               ["--resources=-", "--pids-limit", "5", "--cpuset-cpus", "0-1", "c1"],
               ["c1", "-r", "-"], ["-r", "-", "c1", "c2"]],
    "features": [[], ["x"], ["-h"]], "spec": [[]], "bogus": [["c1"]],
}


def _argparse(argv):
    try:
        return vars(build_parser().parse_args(argv))
    except (PyruncError, SystemExit):
        return None


def _cases():
    for g, (command, tails) in itertools.product(GLOBALS, TAILS.items()):
        for tail in tails:
            yield g + [command] + tail
    rng = random.Random(3)
    tokens = ["c1", "c2", "-a", "-f", "--force", "json", "--format", "9", "-q", "--all",
              "--root", "/r", "--debug", "state", "kill", "delete", "list", "ps", "TERM", "-x",
              "-b", "-d", "--keep", "-p", "-e", "A=1", "-t", "--preserve-fds", "3", "--pid-file"]
    for _ in range(6000):
        yield [rng.choice(list(TAILS))] + [rng.choice(tokens) for _ in range(rng.randrange(5))]


def test_answers_only_as_argparse_does():
    answered = 0
    for argv in _cases():
        quick = quickargs.parse(argv)
        if quick is None:
            continue
        answered += 1
        assert vars(quick) == _argparse(argv), argv
    assert answered > 300


@pytest.mark.parametrize("argv", [
    ["state", "c1"], ["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "c1", "KILL"],
    ["delete", "--force", "c1"], ["--debug", "ps", "--format", "json", "c1"], ["list", "-q"],
    ["start", "c1"], ["pause", "c1"], ["resume", "c1"], ["kill", "--all", "c1", "9"],
    ["--root", "/r", "--log", "/l", "--log-format", "json", "create", "--bundle", "/b",
     "--pid-file", "/p", "c1"],
    ["--root", "/r", "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/p",
     "--console-socket", "/s", "--no-new-keyring", "c1"],
    ["exec", "--process", "/p", "--detach", "--pid-file", "/q", "c1"],
    ["run", "-d", "--bundle", "/b", "c1"], ["update", "--resources", "-", "c1"]])
def test_reads_what_containerd_and_podman_send(argv):
    quick = quickargs.parse(argv)
    assert quick is not None and vars(quick) == _argparse(argv)


@pytest.mark.parametrize("argv", [
    ["-h"], ["state"], ["state", "--help"], ["kill", "c1", "1", "2"], ["--roo", "/r", "state", "c1"],
    ["exec", "c1", "sh"], ["ps", "c1", "-ef"], ["--log-format", "xml", "state", "c1"],
    ["spec"], ["ps", "c1", "--format", "json"]])
def test_leaves_the_rest_to_argparse(argv):
    assert quickargs.parse(argv) is None
