"""User namespaces (config-linux.md "User namespace mappings").

A new user namespace is made by the clone with the others (so they belong to
it); the parent writes its gid_map and uid_map while the init waits, and the
init then becomes root of the namespace (setresgid/setresuid 0) before it
touches the rootfs. Joining one by path needs no maps. In a user namespace
the kernel refuses mknod and cgroup-v1 mounts: devices are bind-mounted from
the host and v1 hierarchies bound (cgroups Manager.container_mounts), as runc.
A caller other than root (rootless.py) writes a map of its own id alone, and
leaves the others to newuidmap/newgidmap.
"""
import os

from .config import Config
from .errors import ConfigError, PyruncError, strerror

MAPS = (("uidMappings", "uid_map"), ("gidMappings", "gid_map"))
ID_LIMIT = 2**32


def user_namespace(config: dict) -> dict | None:
    return Config(config).namespace("user")


def check(config: dict, ns_types: set[str]) -> None:
    linux = Config(config).linux
    given = [key for key, _file in MAPS if linux.get(key)]
    ns = user_namespace(config)
    if ns is None:
        if os.geteuid() != 0:
            raise ConfigError("/linux/namespaces", f"pyrunc runs as uid {os.geteuid()}: a "
                              "rootless container needs a user namespace (`pyrunc spec "
                              "--rootless` writes such a config)")
        if given:
            raise ConfigError(f"/linux/{given[0]}", "mappings need a user namespace in "
                                                    "/linux/namespaces")
        return
    if ns.get("path"):
        _check_joined_mappings(ns["path"], linux, given)
        return
    for key, _file in MAPS:
        if not linux.get(key):
            raise ConfigError(f"/linux/{key}", "a new user namespace needs mappings (the "
                                               "container's root must map to a host id)")
        for i, m in enumerate(linux[key]):
            for field in ("containerID", "hostID"):
                if m[field] + m["size"] > ID_LIMIT:
                    raise ConfigError(f"/linux/{key}/{i}", f"{field} + size passes {ID_LIMIT - 1}")
            if m["size"] == 0:
                raise ConfigError(f"/linux/{key}/{i}/size", "an empty mapping")


def _check_joined_mappings(path: str, linux: dict, given: list[str]) -> None:
    """A joined namespace has its maps already. Mappings given too (runc wants
    them, CRI sends them) must be the namespace's own; checked where the path
    names a process (/proc/PID/ns/user), whose maps can be read."""
    pid = _process_of(path)
    if not pid or not given:
        return
    for key, name in MAPS:
        if not linux.get(key):
            continue
        try:
            with open(f"/proc/{pid}/{name}") as f:
                theirs = sorted(tuple(map(int, line.split())) for line in f if line.strip())
        except OSError:
            return  # the namespace check reports a path that went away
        ours = sorted((m["containerID"], m["hostID"], m["size"]) for m in linux[key])
        if ours != theirs:
            raise ConfigError(f"/linux/{key}", f"differ from the joined user namespace's "
                                               f"({path}: {theirs})")


def host_id(mappings: list[dict], container_id: int) -> int | None:
    for m in mappings:
        if m["containerID"] <= container_id < m["containerID"] + m["size"]:
            return m["hostID"] + container_id - m["containerID"]
    return None


def check_rootfs_reachable(config: dict, rootfs: str) -> None:
    """The init sets up the rootfs as the namespace's root: every directory
    on the way must let that host id through (runc just says EACCES)."""
    if not new_user_namespace(config):
        return
    linux = config["linux"]
    uid, gid = (host_id(linux[key], 0) for key, _file in MAPS)
    for key, value in (("uidMappings", uid), ("gidMappings", gid)):
        if value is None:
            raise ConfigError(f"/linux/{key}", "container id 0 is not mapped: the init "
                                               "needs a root in the namespace")
    path = os.path.abspath(rootfs)
    while True:
        st = os.stat(path)
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            raise ConfigError("/root/path", f"{path} cannot be searched by the container's "
                                            f"root (host uid {uid}, gid {gid}), which mounts "
                                            "the rootfs: let it through (o+x) or move the bundle")
        if path == "/":
            return
        path = os.path.dirname(path)


def new_user_namespace(config: dict) -> bool:
    return Config(config).creates("user")


def _must_deny_setgroups(linux: dict) -> bool:
    """A caller without CAP_SETGID may write a gid_map of its own gid alone,
    and only once setgroups(2) is denied in the namespace (user_namespaces(7))."""
    return os.geteuid() != 0 and _own_id_only(linux["gidMappings"], os.getegid())


def denies_setgroups(config: dict) -> bool:
    """Whether the container's user namespace (new, or joined by a
    /proc/PID/ns/user path) will refuse setgroups(2)."""
    ns = user_namespace(config)
    if ns is None:
        return False
    if not ns.get("path"):
        return _must_deny_setgroups(config["linux"])
    pid = _process_of(ns["path"])
    return bool(pid) and setgroups_denied_in(pid)


def _process_of(path: str) -> str | None:
    """PID of /proc/PID/ns/user (or "self"); None for any other path."""
    parts = path.split("/")
    if len(parts) == 5 and parts[0] == "" and parts[1] == "proc" and parts[3:] == ["ns", "user"] \
            and (parts[2] == "self" or (parts[2].isdigit() and parts[2].isascii())):
        return parts[2]
    return None


def setgroups_denied_in(pid: int | str) -> bool:
    """Whether process pid's user namespace refuses setgroups (exec joins it)."""
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            return f.read().strip() == "deny"
    except OSError:
        return False


def _own_id_only(mappings: list[dict], own: int) -> bool:
    return len(mappings) == 1 and mappings[0]["size"] == 1 and mappings[0]["hostID"] == own


def write_mappings(pid: int, linux: dict) -> None:
    """gid_map, then uid_map, each in one write (the kernel takes one). Root
    writes them; any other caller writes a map of its own id alone, and hands
    the others to the setuid newuidmap/newgidmap, which check /etc/subuid and
    /etc/subgid (runc's rootless rules)."""
    for key, name in reversed(MAPS):
        own = os.getegid() if key == "gidMappings" else os.geteuid()
        if os.geteuid() != 0 and not _own_id_only(linux[key], own):
            _map_with_tool(pid, key, linux[key])
            continue
        if key == "gidMappings" and _must_deny_setgroups(linux):
            _write(f"/proc/{pid}/setgroups", "deny", key)
        text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux[key])
        _write(f"/proc/{pid}/{name}", text, key)


def _write(path: str, text: str, key: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise PyruncError(f"config.json: /linux/{key}: write {path}: "
                          f"{strerror(e.errno)}") from None


def _map_with_tool(pid: int, key: str, mappings: list[dict]) -> None:
    import shutil  # deferred: a rootless create with subordinate ids needs these
    import subprocess  # (~10 ms), nothing else does
    tool, ids, table = (("newuidmap", "uid", "/etc/subuid") if key == "uidMappings"
                        else ("newgidmap", "gid", "/etc/subgid"))
    own = os.geteuid() if ids == "uid" else os.getegid()
    why = (f"config.json: /linux/{key}: maps more than your own {ids} ({own}), which a "
           f"non-root user can do only with {tool} and ranges in {table}")
    path = shutil.which(tool) or (f"/usr/bin/{tool}" if os.path.exists(f"/usr/bin/{tool}")
                                  else None)
    if path is None:
        raise PyruncError(f"{why}: {tool} is not installed (Debian package uidmap)")
    args = [str(v) for m in mappings for v in (m["containerID"], m["hostID"], m["size"])]
    done = subprocess.run([path, str(pid), *args], capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise PyruncError(f"{why}: {said}")
