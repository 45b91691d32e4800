"""Id-mapped bind mounts: files owned by root on disk show as the mapped
owner inside, and files made inside land with the on-disk owner."""
import os

import pytest

from conftest import IS_PYRUNC, assert_one_line_error, needs_root
from test_userns import HOST_ID, mapped

pytestmark = [needs_root(),
              pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 has no id-mapped mounts "
                                                       "(runc 1.2)")]


@pytest.fixture
def shared(reachable):
    """A host directory owned by root with one root-owned file."""
    d = reachable / "shared"
    d.mkdir()
    (d / "file").write_text("x")
    os.chmod(d, 0o777)
    return d


def owners(runtime, bundle, cid, path="/data") -> list[str]:
    out = runtime("exec", cid, "/bin/sh", "-c", f"stat -c '%u:%g' {path} {path}/file").stdout
    return out.split()


def test_idmap_with_the_containers_user_namespace(runtime, bundle, reachable, shared):
    mapped(bundle, reachable)
    bundle.config["mounts"].append({"destination": "/data", "type": "bind",
                                    "source": str(shared), "options": ["rbind", "idmap"]})
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    # disk uid 0 -> host 100000 through the mount -> root inside
    assert owners(runtime, bundle, bundle.id) == ["0:0", "0:0"]
    runtime("exec", bundle.id, "/bin/sh", "-c", "echo y > /data/made")
    st = os.stat(shared / "made")
    assert (st.st_uid, st.st_gid) == (0, 0)  # back to the disk's ids


def test_without_idmap_the_files_are_unmapped(runtime, bundle, reachable, shared):
    mapped(bundle, reachable)
    bundle.config["mounts"].append({"destination": "/data", "type": "bind",
                                    "source": str(shared), "options": ["rbind"]})
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert owners(runtime, bundle, bundle.id) == ["65534:65534", "65534:65534"]


def test_mount_mappings_of_its_own(runtime, bundle, reachable, shared):
    """Disk 0 -> host 101000 (the mount's mapping) = container 1000."""
    mapped(bundle, reachable)
    own = [{"containerID": 0, "hostID": HOST_ID + 1000, "size": 1}]
    bundle.config["mounts"].append({"destination": "/data", "type": "bind",
                                    "source": str(shared), "options": ["bind", "idmap"],
                                    "uidMappings": own, "gidMappings": own})
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert owners(runtime, bundle, bundle.id) == ["1000:1000", "1000:1000"]


def test_idmap_without_a_user_namespace(runtime, bundle, shared):
    own = [{"containerID": 0, "hostID": 4242, "size": 1}]
    bundle.config["mounts"].append({"destination": "/data", "type": "bind",
                                    "source": str(shared), "options": ["rbind", "ridmap"],
                                    "uidMappings": own, "gidMappings": own})
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert owners(runtime, bundle, bundle.id) == ["4242:4242", "4242:4242"]


@pytest.mark.parametrize("case, pointer, text", [
    ("not-bind", "/mounts/{i}/options", "must be bind mounts"),
    ("one-map", "/mounts/{i}", "'gidMappings' is a dependency of 'uidMappings'"),  # schema
    ("no-maps", "/mounts/{i}/options", "or a new user namespace"),
])
def test_bad_id_mapped_mounts(runtime, bundle, inventory, shared, case, pointer, text):
    before = inventory()
    m = {"destination": "/data", "type": "bind", "source": str(shared), "options": ["rbind", "idmap"]}
    if case == "not-bind":
        m = {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}
    elif case == "one-map":
        m["uidMappings"] = [{"containerID": 0, "hostID": 4242, "size": 1}]
    bundle.config["mounts"].append(m)
    pointer = pointer.format(i=len(bundle.config["mounts"]) - 1)
    bundle.args("/ocitest", "exit", "0")
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert_one_line_error(proc, pointer, text)
    assert inventory() == before
