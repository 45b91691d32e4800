"""linux.netDevices: host interfaces moved into the container's network
namespace, renamed, with their permanent global addresses, up; bad input
leaves the devices on the host and nothing else behind.

The devices are veth ends: this host's kernel has no dummy driver (no
modules), and a veth end is a virtual device like the spec's examples.
"""
import json
import os
import subprocess

import pytest

from conftest import IS_PYRUNC, assert_one_line_error, needs_root, wait_for

pytestmark = [needs_root(),
              pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 has no netDevices (runc 1.3)")]


@pytest.fixture
def veth():
    """A veth pair on the host: the first end has 10.199.N.2/24 and
    fd00:199::N/64 (permanent, global) besides two that must stay behind.
    Removed at the end if still on the host."""
    from pyroute2 import IPRoute
    tag = os.urandom(3).hex()
    names = (f"pa{tag}", f"pb{tag}")
    n = int(tag[:2], 16) % 250 + 1
    try:
        with IPRoute() as ipr:
            ipr.link("add", ifname=names[0], kind="veth", peer=names[1])
            index = ipr.link_lookup(ifname=names[0])[0]
            ipr.addr("add", index=index, address=f"10.199.{n}.2", prefixlen=24)
            ipr.addr("add", index=index, address=f"fd00:199::{n:x}", prefixlen=64)
        # Not to be moved: a dynamic address (finite lifetime) and a host-scope one.
        subprocess.run(["ip", "addr", "add", f"10.198.{n}.2/24", "dev", names[0], "valid_lft",
                        "1000", "preferred_lft", "1000"], check=True)
        subprocess.run(["ip", "addr", "add", f"10.197.{n}.2/24", "dev", names[0], "scope", "host"],
                       check=True)
        yield names, f"10.199.{n}.2/24", f"fd00:199::{n:x}/64"
    finally:
        with IPRoute() as ipr:
            for name in names:
                for index in ipr.link_lookup(ifname=name):
                    ipr.link("del", index=index)


def on_host(name: str) -> bool:
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def inside(runtime, bundle, cid) -> str:
    return runtime("exec", cid, "/bin/sh", "-c", "ip -o link; ip -o addr").stdout


def test_device_moves_renamed_with_addresses_and_up(runtime, bundle, veth):
    (end, peer), v4, v6 = veth
    bundle.config["linux"]["netDevices"] = {end: {"name": "ctr0"}}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert not on_host(end) and on_host(peer)
    out = inside(runtime, bundle, bundle.id)
    link = next(line for line in out.splitlines() if ": ctr0@" in line or ": ctr0:" in line)
    assert "<" in link and ",UP" in link.split("<")[1].split(">")[0]
    assert any("ctr0" in line and f"inet {v4}" in line for line in out.splitlines())
    assert any("ctr0" in line and f"inet6 {v6}" in line for line in out.splitlines())
    assert "10.198." not in out and "10.197." not in out  # only permanent, global ones
    runtime("kill", bundle.id, "KILL")
    runtime.wait_status(bundle.id, "stopped")
    runtime("delete", bundle.id)
    # A virtual device dies with the namespace, which the kernel tears down
    # in a work queue after its last process: soon after delete, not in it.
    wait_for(lambda: not on_host(end) and not on_host(peer), "the veth pair to go", timeout=5)


def test_host_name_kept_and_template(runtime, bundle, veth):
    (end, peer), _v4, _v6 = veth
    bundle.config["linux"]["netDevices"] = {end: {}, peer: {"name": "eth%d"}}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    names = [line.split(": ")[1].split("@")[0]
             for line in inside(runtime, bundle, bundle.id).splitlines() if "link/" in line]
    assert end in names and "eth0" in names


@pytest.mark.parametrize("case", ["clash", "missing", "bad-name", "no-netns"])
def test_bad_input_leaves_devices_and_nothing_else(runtime, bundle, veth, inventory, case):
    (end, peer), _v4, _v6 = veth
    before = inventory()
    if case == "clash":
        devices, pointer = {end: {"name": "ctr0"}, peer: {"name": "ctr0"}}, f"/linux/netDevices/{peer}/name"
    elif case == "missing":
        devices, pointer = {end: {}, "nosuch0": {}}, "/linux/netDevices/nosuch0"
    elif case == "bad-name":
        devices, pointer = {end: {"name": "a/b"}}, f"/linux/netDevices/{end}/name"
    else:
        devices, pointer = {end: {}}, "/linux/netDevices"
        bundle.config["linux"]["namespaces"] = [
            ns for ns in bundle.config["linux"]["namespaces"] if ns["type"] != "network"]
    bundle.config["linux"]["netDevices"] = devices
    bundle.args("/ocitest", "exit", "0")
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert_one_line_error(proc, pointer)
    assert on_host(end) and on_host(peer)
    assert inventory() == before


def test_device_moves_into_a_joined_namespace(runtime, bundle, veth):
    """A container joining another's network namespace by path takes its
    devices there: the first container sees it."""
    (end, _peer), v4, _v6 = veth
    first = bundle.id + "a"
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), first)
    pid = runtime.state(first)["pid"]
    for ns in bundle.config["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = f"/proc/{pid}/ns/net"
    bundle.config["linux"]["netDevices"] = {end: {"name": "ctr0"}}
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert not on_host(end)
    for cid in (first, bundle.id):
        assert any("ctr0" in line and f"inet {v4}" in line
                   for line in inside(runtime, bundle, cid).splitlines())


def test_clash_inside_a_joined_namespace(runtime, bundle, veth, tmp_path):
    """A name taken in the namespace the container joins: refused before
    anything moves (the kernel, refusing the rename, can still move it)."""
    (end, peer), _v4, _v6 = veth
    # A first container owns a network namespace where 'lo' and 'ctr0' exist.
    first = bundle.id + "a"
    bundle.config["linux"]["netDevices"] = {peer: {"name": "ctr0"}}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), first)
    try:
        pid = runtime.state(first)["pid"]
        config = json.loads((bundle.path / "config.json").read_text())
        config["linux"]["netDevices"] = {end: {"name": "ctr0"}}
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = f"/proc/{pid}/ns/net"
        (bundle.path / "config.json").write_text(json.dumps(config))
        proc = runtime("create", "-b", bundle.path, bundle.id, check=False)
        assert proc.returncode == 1
        assert f"/linux/netDevices/{end}/name" in proc.stderr, proc.stderr
        assert "already has a device named 'ctr0'" in proc.stderr
        assert on_host(end), proc.stderr
        assert bundle.id not in runtime.ids()
    finally:
        runtime("delete", "--force", first, check=False)
