"""linux.netDevices (config-linux.md "Network Devices"): host interfaces moved
into the container's network namespace during create, renamed as asked,
with their permanent global addresses, and set up.

check() runs with the other config checks (no netlink). move() runs in the
parent once the init has its namespaces and waits, before the container is
set up; pyroute2 is imported only then (~200 ms). Nothing moves a device
back: when the namespace dies the kernel returns physical devices to the host
and destroys virtual ones, as the spec requires.
"""
from . import log
from .config import Config
from .errors import ConfigError, PyruncError, strerror

POINTER = "/linux/netDevices"
IFNAMSIZ = 16  # with the NUL
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0


def pointer(host_name: str) -> str:
    return f"{POINTER}/{host_name.replace('~', '~0').replace('/', '~1')}"  # RFC 6901


def target_name(host_name: str, entry: dict) -> str:
    return entry.get("name") or host_name


def _check_name(name: str, where: str) -> None:
    """The kernel's dev_valid_name()."""
    if (not name or len(name.encode()) >= IFNAMSIZ or name in (".", "..")
            or any(c == "/" or c == ":" or c.isspace() for c in name)):
        raise ConfigError(where, f"{name!r} is not a network interface name (1 to "
                                 f"{IFNAMSIZ - 1} bytes, no '/', ':' or white space)")


def check(config: dict, ns_types: set[str]) -> None:
    devices = Config(config).linux.get("netDevices") or {}
    if not devices:
        return
    if "network" not in ns_types:
        raise ConfigError(POINTER, "moving devices needs a network namespace in "
                                   "/linux/namespaces (the host's own cannot receive them)")
    seen = {}
    for host_name, entry in devices.items():
        _check_name(host_name, pointer(host_name))
        name = target_name(host_name, entry)
        _check_name(name, pointer(host_name) + ("/name" if entry.get("name") else ""))
        if "%d" in name:
            continue  # the kernel picks a free name
        if name == "lo":
            raise ConfigError(pointer(host_name) + "/name", "the container already has 'lo'")
        if name in seen:
            raise ConfigError(pointer(host_name) + "/name",
                              f"{name!r} is also the name for {seen[name]!r}: names in the "
                              "container must differ")
        seen[name] = host_name


def move(devices: dict, pid: int) -> None:
    """Move each device into pid's network namespace. Everything is checked
    before the first move: a refused rename can still move the device (seen
    on 6.x kernels), so a clash is found by looking, not by trying."""
    _pyroute2_logs_to_debug()
    from pyroute2 import IPRoute  # deferred: ~200 ms, only for netDevices
    from pyroute2.netlink.exceptions import NetlinkError
    with IPRoute() as host, IPRoute(netns=f"/proc/{pid}/ns/net", flags=0) as inside:
        plans = []
        for host_name, entry in devices.items():
            found = host.link_lookup(ifname=host_name)
            if not found:
                raise ConfigError(pointer(host_name), f"no network device {host_name!r} on the host")
            name = target_name(host_name, entry)
            if "%d" not in name and inside.link_lookup(ifname=name):
                raise ConfigError(pointer(host_name) + ("/name" if entry.get("name") else ""),
                                  f"the container's network namespace already has a device "
                                  f"named {name!r}")
            plans.append((host_name, name, found[0], _permanent_global_addresses(host, found[0])))
        for host_name, name, index, _addrs in plans:
            try:
                host.link("set", index=index, net_ns_pid=pid, ifname=name)
            except NetlinkError as e:
                raise PyruncError(f"config.json: {pointer(host_name)}: cannot move {host_name!r} "
                                  f"into the container as {name!r}: {_describe(e)}") from None
        for host_name, name, index, addrs in plans:
            _set_up(inside, host_name, name, index, addrs)


def _pyroute2_logs_to_debug() -> None:
    """pyroute2 logs through the logging module, whose fallback prints
    warnings on stderr (its netns helper, slow under load, says "no response
    from the child" and retries): they go to pyrunc's debug log instead, so
    an error stays one line on stderr."""
    import logging  # deferred with pyroute2, its only user here
    logger = logging.getLogger("pyroute2")
    if getattr(logger, "pyrunc_debug", False):
        return
    handler = logging.Handler()
    handler.emit = lambda record: log.debug(f"pyroute2: {record.getMessage()}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.pyrunc_debug = True


def _permanent_global_addresses(ipr, index: int) -> list[tuple]:
    out = []
    for msg in ipr.get_addr(index=index):
        flags = msg.get_attr("IFA_FLAGS")
        flags = msg["flags"] if flags is None else flags
        if flags & IFA_F_PERMANENT and msg["scope"] == RT_SCOPE_UNIVERSE:
            out.append((msg["family"], msg.get_attr("IFA_ADDRESS"), msg["prefixlen"],
                        msg.get_attr("IFA_BROADCAST")))
    return out


def _set_up(ipr, host_name: str, name: str, index: int, addrs: list[tuple]) -> None:
    """The move drops the addresses: add them back, then bring the link up."""
    from pyroute2.netlink.exceptions import NetlinkError
    found = ipr.link_lookup(ifname=name) if "%d" not in name else []
    if found:
        index = found[0]  # the kernel keeps the index unless it is taken there
    try:
        for family, address, prefixlen, broadcast in addrs:
            extra = {"broadcast": broadcast} if broadcast else {}
            ipr.addr("add", index=index, family=family, address=address, prefixlen=prefixlen,
                     **extra)
        ipr.link("set", index=index, state="up")
    except NetlinkError as e:
        raise PyruncError(f"config.json: {pointer(host_name)}: set up {name!r} in the "
                          f"container: {_describe(e)}") from None


def _describe(e) -> str:
    code = e.code if isinstance(e.code, int) else 0
    return strerror(code) if code else str(e)
