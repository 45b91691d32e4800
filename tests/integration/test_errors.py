"""Bad input gives exit 1, one clear line on stderr, no traceback, and leaves the
host as it was: no state dir, cgroup, mount or init process."""
import json
import os
import pathlib

import pytest

from conftest import IS_PYRUNC, needs_root

pytestmark = [needs_root(),
              pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's own error messages")]


def assert_clean_failure(runtime, inventory, before, args, *expected, cwd=None):
    """Exit 1, one line on stderr naming the problem, the same message as the
    one JSON error line in --log, and the host exactly as before."""
    log = os.path.join(runtime.root, f"log-{os.getpid()}.json")
    if os.path.exists(log):
        os.unlink(log)
    proc = runtime("--log", log, "--log-format", "json", *args, check=False, cwd=cwd)
    assert proc.returncode == 1, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    records = [json.loads(line) for line in open(log).read().splitlines()]
    os.unlink(log)
    assert [r["level"] for r in records] == ["error"]
    assert lines[0] == "pyrunc: " + records[0]["msg"]
    assert inventory() == before
    return lines[0]


@pytest.fixture
def before(inventory):
    return inventory()


def create(bundle):
    return ["create", "-b", bundle.write(), bundle.id]


@pytest.mark.parametrize("args0, message", [
    ("nosuchprog", 'exec: "nosuchprog": executable file not found in $PATH'),
    ("/bin/nosuchprog", 'exec: "/bin/nosuchprog": stat /bin/nosuchprog: no such file or directory'),
    ("/etc/passwd", 'exec: "/etc/passwd": permission denied'),
])
def test_missing_or_bad_executable(runtime, bundle, inventory, before, args0, message):
    bundle.args(args0)
    assert_clean_failure(runtime, inventory, before, create(bundle), message)


@pytest.mark.parametrize("command", ["create", "run"])
@pytest.mark.skipif(os.path.isdir("/run/systemd/system"),
                    reason="systemd runs here: the driver works (tests marked systemd)")
def test_systemd_cgroup_without_systemd(runtime, bundle, inventory, before, command):
    """--systemd-cgroup where systemd does not run (this CI host): one line
    naming systemd, nothing made (no directory named like the path)."""
    bundle.config["linux"]["cgroupsPath"] = f"machine.slice:libpod:{bundle.id}"
    assert_clean_failure(runtime, inventory, before,
                         ["--systemd-cgroup", command, "-b", bundle.write(), bundle.id],
                         "--systemd-cgroup: systemd is not running on this host "
                         "(no /run/systemd/system)")
    assert not list(pathlib.Path("/sys/fs/cgroup").glob(f"*/*{bundle.id}*"))


def test_malformed_json(runtime, bundle, inventory, before):
    bundle.write()
    (bundle.path / "config.json").write_text('{"ociVersion": "1.0.2",\n  "process": [}\n')
    assert_clean_failure(runtime, inventory, before, ["create", "-b", bundle.path, bundle.id],
                         "config.json: invalid JSON at line 2 column")


def test_missing_config(runtime, tmp_path, inventory, before):
    assert_clean_failure(runtime, inventory, before, ["create", "-b", tmp_path, "x1"],
                         "config.json: no such file or directory")


@pytest.mark.parametrize("mutate, pointer, words", [
    (lambda c: c["process"].__setitem__("args", "sh"), "/process/args", "expected array"),
    (lambda c: c["process"].__setitem__("args", []), "/process/args", "non-empty"),
    (lambda c: c["process"]["user"].__setitem__("uid", -1), "/process/user/uid", ""),
    (lambda c: c["process"]["user"].__setitem__("uid", 0.0), "/process/user/uid",
     "expected integer, got number 0.0"),
    (lambda c: c["linux"]["namespaces"].append({"type": "mnt"}), "/linux/namespaces/6/type", "mnt"),
    (lambda c: c["process"]["rlimits"][0].pop("hard"), "/process/rlimits/0", "'hard'"),
    (lambda c: c.pop("ociVersion"), "", "'ociVersion'"),
    (lambda c: c.__setitem__("ociVersion", "2.0.0"), "/ociVersion", "1.0.0 to 1.3.x"),
    (lambda c: c.__setitem__("ociVersion", "1." + "9" * 5000 + ".0"), "/ociVersion", "1.0.0 to 1.3.x"),
    (lambda c: c["mounts"].append({"destination": "/a/../../etc", "type": "tmpfs"}),
     "/mounts/7/destination", "climbs above the root"),
    (lambda c: c["process"]["capabilities"]["bounding"].append("CAP_TEST"),
     "/process/capabilities/bounding/3", "CAP_TEST"),
    (lambda c: c["linux"].__setitem__("namespaces", [{"type": "mount"}]), "/hostname", "uts"),
    (lambda c: c["linux"].__setitem__("sysctl", {"kernel.panic": "1"}), "/linux/sysctl/kernel.panic",
     "namespaced"),
    (lambda c: c["root"].__setitem__("path", "/nonexistent-rootfs"), "/root/path", "no such directory"),
    (lambda c: c["mounts"].append({"destination": "/x", "source": "/nonexistent", "options": ["bind"]}),
     "/mounts/7/source", "no such file"),
    (lambda c: c["process"].__setitem__("cwd", "relative"), "/process/cwd", "absolute"),
])
def test_config_errors_name_the_field(runtime, bundle, inventory, before, mutate, pointer, words):
    bundle.config["hostname"] = "h"
    mutate(bundle.config)
    line = assert_clean_failure(runtime, inventory, before, create(bundle), "config.json: ")
    assert (f"config.json: {pointer}: " if pointer else "config.json: ") in line
    assert words in line


def test_failure_inside_the_init_names_the_step(runtime, bundle, inventory, before):
    bundle.config["mounts"].append({"destination": "/bad", "type": "nosuchfs", "source": "none"})
    assert_clean_failure(runtime, inventory, before, create(bundle),
                         "mount none on /bad: no such device")


def test_cwd_that_is_a_file(runtime, bundle, inventory, before):
    bundle.config["process"]["cwd"] = "/ocitest"
    assert_clean_failure(runtime, inventory, before, create(bundle), "not a directory")


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "", "x" * 1025, ".", "..", "a b", "a\nb"])
def test_bad_container_ids(runtime, bundle, inventory, before, bad_id):
    bundle.id = bad_id
    assert_clean_failure(runtime, inventory, before, create(bundle), "invalid container id")


def test_unknown_signal(runtime, bundle, inventory):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    before = inventory()
    assert_clean_failure(runtime, inventory, before, ["kill", bundle.id, "SIGNOPE"], "SIGNOPE")
    assert runtime.state(bundle.id)["status"] == "running"


def test_unknown_flag_is_one_line(runtime, inventory, before):
    assert_clean_failure(runtime, inventory, before, ["create", "--nosuchflag", "x"], "--nosuchflag")


def test_error_in_json_log(runtime, bundle, tmp_path, inventory, before):
    bundle.args("nosuchprog")
    log = tmp_path / "log.json"
    proc = runtime("--log", log, "--log-format", "json", *create(bundle), check=False)
    assert proc.returncode == 1
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error"
    assert "executable file not found" in last["msg"]
    assert inventory() == before


# Found by the fuzzer (tests/fuzz): each was a traceback or a hang.
@pytest.mark.parametrize("raw, words", [
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ('{"ociVersion": "1.0.2", "x": 1' + "0" * 5000 + "}", "invalid JSON"),
    ('{"ociVersion": "1.0.2", "hostname": "\\ud800"}', "/hostname: contains a lone UTF-16 surrogate"),
])
def test_raw_config_that_used_to_trace_back(runtime, bundle, inventory, before, raw, words):
    bundle.write()
    (bundle.path / "config.json").write_text(raw)
    assert_clean_failure(runtime, inventory, before, ["create", "-b", bundle.path, bundle.id], words)


@pytest.mark.parametrize("mutate, words", [
    (lambda c: c["linux"].__setitem__("devices", [{"path": "/dev/x", "type": "c", "major": 2**32,
                                                   "minor": 1}]),
     "/linux/devices/0/major: 4294967296 is not a device number"),
    (lambda c: c["linux"].__setitem__("cgroupsPath", c["linux"]["cgroupsPath"] + "\0x"),
     "/linux/cgroupsPath: contains a NUL byte"),
    (lambda c: c["mounts"].append({"destination": "/a\nb", "type": "nosuchfs", "source": "x"}),
     "mount x on /a\\nb: no such device"),
])
def test_config_that_used_to_trace_back(runtime, bundle, inventory, before, mutate, words):
    mutate(bundle.config)
    assert_clean_failure(runtime, inventory, before, create(bundle), words)


def test_fifo_as_namespace_path(runtime, bundle, inventory, before):
    fifo = bundle.path / "netns"
    os.mkfifo(fifo)
    bundle.config["linux"]["namespaces"] = [ns for ns in bundle.config["linux"]["namespaces"]
                                            if ns["type"] != "network"] + [{"type": "network",
                                                                            "path": str(fifo)}]
    assert_clean_failure(runtime, inventory, before, create(bundle),
                         f"/linux/namespaces/5/path: {fifo}: not a namespace file")


def test_unknown_capability_set_is_ignored(runtime, bundle):
    bundle.config["process"]["capabilities"]["other"] = 5  # unknown keys are allowed
    bundle.args("/bin/true")
    runtime("run", "-b", bundle.write(), bundle.id)
