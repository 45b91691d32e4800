"""Concurrent calls on one container id, and many containers at once."""
import concurrent.futures
import copy
import json
import os

from conftest import CGROUP_PARENT, needs_root

pytestmark = needs_root()


def test_parallel_creates_of_one_id(runtime, bundle, inventory):
    before = inventory()
    path = bundle.write()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: runtime("create", "-b", path, bundle.id, check=False),
                                range(8)))
    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1
    for r in losers:
        assert r.returncode == 1
        assert r.stderr.strip().splitlines() == [f"pyrunc: container with id {bundle.id} already exists"]
    assert runtime.state(bundle.id)["status"] == "created"
    runtime("delete", "--force", bundle.id)
    assert inventory() == before


def test_parallel_start_kill_delete_on_one_container(runtime, bundle, inventory):
    before = inventory()
    bundle.args("/ocitest", "sleep", "1000")
    runtime("create", "-b", bundle.write(), bundle.id)
    calls = [["start", bundle.id]] * 3 + [["kill", bundle.id, "KILL"]] * 3 + \
        [["delete", "--force", bundle.id]] * 3 + [["state", bundle.id]] * 3
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        results = list(pool.map(lambda c: runtime(*c, check=False), calls))
    for call, r in zip(calls, results):
        assert r.returncode in (0, 1), (call, r)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (call, r.stderr)
        if r.returncode == 1:
            assert len(r.stderr.strip().splitlines()) == 1, (call, r.stderr)
        if call[0] == "state" and r.returncode == 0:
            assert json.loads(r.stdout)["id"] == bundle.id
    # Three forced deletes raced: one removed it, the others found nothing.
    assert all(r.returncode == 0 for c, r in zip(calls, results) if c[0] == "delete")
    assert bundle.id not in runtime.ids()
    assert inventory() == before


def test_many_containers_two_workers(runtime, bundle, inventory):
    """200 containers created, started and deleted by two workers in parallel:
    no corruption, and the host returns to where it started."""
    before = inventory()
    fds_before = len(os.listdir("/proc/self/fd"))
    bundle.args("/bin/true")
    base = copy.deepcopy(bundle.config)

    def one(i):
        cid = f"{bundle.id}-{i}"
        d = bundle.path / cid
        d.mkdir()
        config = copy.deepcopy(base)
        config["linux"]["cgroupsPath"] = f"{CGROUP_PARENT}/{cid}"
        (d / "config.json").write_text(json.dumps(config))
        r = runtime("run", "-b", d, cid, check=False)
        return cid, r

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, range(200)))
    failed = [(cid, r.returncode, r.stderr) for cid, r in results if r.returncode != 0]
    assert failed == []
    assert runtime.ids() == []
    assert inventory() == before
    assert len(os.listdir("/proc/self/fd")) == fds_before
