"""The OCI features document (runtime-spec v1.3.0 features.md, features-linux.md).

document() says what this build of pyrunc recognizes and implements; the spec
asks for the runtime's abilities, not the host's. The lists come from the code
that acts on them wherever the code has one:

- capabilities: caps.NAMES (kernel number order, as runc prints them);
- mountOptions: the keys of mountopts' FLAG_OPTIONS, PROPAGATION_OPTIONS,
  RECURSIVE_OPTIONS and IDMAP_OPTIONS, sorted; filesystem data options are
  never listed (the spec says SHOULD NOT);
- linux.namespaces: the keys of plan.NAMESPACE_FLAGS, sorted;
- linux.memoryPolicy: process_attrs' MPOL_MODES and MPOL_FLAGS, sorted.

mountopts and plan take their constants from runtime._consts (generated from
the C headers at build time), not from the cffi module: they are imported as
they are.
"""
import os

from . import (OCI_VERSION, __version__, caps, jsonlite, mountopts, plan, process_attrs,
               seccomp_names)
from ._native import lib
from .seccomp import flag_supported
from .seccomp_compile import architectures

OCI_VERSION_MIN = "1.0.0"

# config.md "POSIX-platform Hooks", in the order they run.
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")

ANNOTATION_VERSION = "io.github.pyrunc.version"
ANNOTATION_COMMIT = "io.github.pyrunc.commit"


_HERE = os.path.dirname(os.path.abspath(__file__))
COMMIT_FILE = os.path.join(_HERE, "COMMIT")


def commit() -> str:
    """The git commit the installed package was built from (setup.py writes the
    COMMIT file next to this module), or "unknown"."""
    try:
        with open(COMMIT_FILE) as f:
            return f.read().strip() or "unknown"
    except OSError:
        return "unknown"


def mount_options() -> list[str]:
    """Every mount option name mountopts.parse() acts on, sorted."""
    return sorted({*mountopts.FLAG_OPTIONS, *mountopts.PROPAGATION_OPTIONS,
                   *mountopts.RECURSIVE_OPTIONS, *mountopts.IDMAP_OPTIONS})


def namespaces() -> list[str]:
    """The namespace types plan.py can create or join, sorted."""
    return sorted(plan.NAMESPACE_FLAGS)


def seccomp_features() -> dict:
    """Actions this kernel has, archs this libseccomp knows, flags both ways."""
    return {
        "enabled": True,
        "actions": [name for name, value in seccomp_names.ACTIONS.items()
                    if lib.pyrunc_seccomp_action_available(value)],
        "operators": list(seccomp_names.OPERATORS),
        "archs": architectures(),
        "knownFlags": list(seccomp_names.FLAGS),
        "supportedFlags": [name for name, flag in seccomp_names.FLAGS.items()
                           if flag_supported(flag)],
    }


def document() -> dict:
    """The features document, keys in the spec's order (runc prints them so)."""
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": list(caps.NAMES),
            "cgroup": {
                "v1": True,
                "v2": True,
                # --systemd-cgroup: systemd's own instance, and rootless the
                # user's (cgroups/systemd.py).
                "systemd": True,
                "systemdUser": True,
                "rdma": True,  # linux.resources.rdma: v1 controller or rdma.max
            },
            "seccomp": seccomp_features(),
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "memoryPolicy": {"modes": sorted(process_attrs.MPOL_MODES),
                             "flags": sorted(process_attrs.MPOL_FLAGS)},
            "intelRdt": {
                # linux.intelRdt is refused (process_attrs.check_intel_rdt).
                "enabled": False,
                "schemata": False,
                "monitoring": False,
            },
            "mountExtensions": {"idmap": {"enabled": True}},
            "netDevices": {"enabled": True},
        },
        "annotations": {
            ANNOTATION_COMMIT: commit(),
            ANNOTATION_VERSION: __version__,
        },
        "potentiallyUnsafeConfigAnnotations": [],
    }


def render(doc: dict | None = None) -> str:
    """The text `pyrunc features` prints: as `runc features` (Go's
    json.MarshalIndent with four spaces, struct order, then a newline)."""
    return jsonlite.dumps(document() if doc is None else doc, indent=4) + "\n"
