"""Settings that run, but give the container more of the host than a default
container gets: warnings, never errors. Inside a user namespace of its own,
capabilities and writable kernel files reach only that namespace, so those
warnings are left out there."""
from ..config import Config
from .findings import Report

# Capabilities that reach past the container (docker's default set has none).
PRIVILEGED = ("CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE",
              "CAP_SYS_TIME", "CAP_SYS_BOOT", "CAP_NET_ADMIN", "CAP_DAC_READ_SEARCH",
              "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_BPF", "CAP_PERFMON", "CAP_SYSLOG",
              "CAP_SYS_RESOURCE", "CAP_LINUX_IMMUTABLE", "CAP_IPC_LOCK")
# Namespaces whose absence shares the host's: what each then exposes.
SHARED = {"pid": "the host's processes are visible and signalable",
          "network": "the host's network interfaces and ports",
          "ipc": "the host's System V IPC and POSIX message queues",
          "uts": "the host's hostname (and the right to change it)",
          "mount": "the host's mounts: the container's are made in them"}


def check(config: dict, report: Report) -> None:
    view = Config(config)
    own_userns = view.has("user")
    process = view.process
    if not own_userns:
        _capabilities(process, report)
    for ns_type, exposes in SHARED.items():
        if not view.has(ns_type):
            report.warning("/linux/namespaces", f"no {ns_type} namespace: {exposes}",
                           f'add {{"type": "{ns_type}"}} unless sharing is the point')
    if view.linux.get("seccomp") is None:
        report.warning("/linux/seccomp", "no seccomp profile: every system call is allowed",
                       "add a profile (containerd's and Podman's defaults are good ones)")
    if not process.get("noNewPrivileges"):
        report.warning("/process/noNewPrivileges", "off: a setuid program in the rootfs can "
                       "gain privileges", "set it to true")
    if not own_userns:
        _kernel_files(view, report)
    _devices(view, report)


def _capabilities(process: dict, report: Report) -> None:
    sets = process.get("capabilities") or {}
    for name in ("bounding", "effective", "permitted", "ambient"):
        risky = [c for c in sets.get(name, []) if c in PRIVILEGED]
        if risky:
            report.warning(f"/process/capabilities/{name}", f"privileged capabilities: "
                           f"{', '.join(risky)}", "drop those the program does not need")


def _kernel_files(view: Config, report: Report) -> None:
    mounts = view.mounts
    readonly = set(view.linux.get("readonlyPaths", []))
    if any(m.get("type") == "proc" for m in mounts) and view.has("mount"):
        if "/proc/sys" not in readonly:
            report.warning("/linux/readonlyPaths", "/proc/sys is writable: the container can "
                           "change the host's kernel settings", 'add "/proc/sys"')
        if not view.linux.get("maskedPaths"):
            report.warning("/linux/maskedPaths", "empty: /proc/kcore, /proc/keys and the like "
                           "are visible", "mask them as `pyrunc spec` does")
    for i, m in enumerate(mounts):
        if m.get("type") == "sysfs" and "ro" not in m.get("options", []):
            report.warning(f"/mounts/{i}/options", f"sysfs at {m['destination']} is writable",
                           'add "ro"')


def _devices(view: Config, report: Report) -> None:
    for i, rule in enumerate(view.resources.get("devices", [])):
        if (rule.get("allow") and rule.get("type", "a") in ("a", "")
                and rule.get("major") in (None, -1) and rule.get("minor") in (None, -1)
                and set(rule.get("access") or "rwm") >= set("rwm")):
            report.warning(f"/linux/resources/devices/{i}", "every device is allowed (rwm): "
                           "the container may open the host's disks", "allow only the devices "
                           "it needs")
