"""Schema fidelity: pyrunc's config schema against the upstream runtime-spec schema.

spec/config-schema.json (draft 2020-12, written from the prose of config.md and
config-linux.md) and the upstream runtime-spec v1.3.0 schema (draft-04, spread
over config-schema.json, defs.json, config-linux.json, ...) judge the same
documents:

* the upstream fixtures schema/test/config/{good,bad}/*.json;
* several thousand configs generated from both schemas by tests/unit/schema_gen.py
  (seeded, deterministic, no network) and mutated: required fields dropped,
  wrong types, out-of-range and integral-float numbers, unknown enum values,
  off-pattern strings, unknown properties, empty arrays and map keys, ...

Wherever the verdicts (valid / invalid) differ, every error of the rejecting
schema must match an entry of DELIBERATE_DIFFERENCES (a documented tightening
or loosening, with the reason) or of KNOWN_SCHEMA_BUGS (a bug in our schema
with the fix the lead should apply; those tests are xfail(strict=True) so they
flip once the schema is fixed).  Anything else fails, showing the config and
both schemas' verdicts and errors.

The upstream schema is a test-only reference: read from
$PYRUNC_OCI_SCHEMA_DIR or /work/shared/reference/runtime-spec/schema, and the
tests that need it are skipped with a message if it is absent.

Run with -s to see the summary: configs generated, agreed, and the number of
tolerated differences per entry.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")
import referencing.jsonschema  # noqa: E402
from jsonschema.exceptions import ValidationError  # noqa: E402
from jsonschema.validators import validator_for  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from schema_gen import Mutator, SchemaWalker, pointer  # noqa: E402

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
OUR_SCHEMA = SPEC_DIR / "config-schema.json"
UPSTREAM_DIR = Path(
    os.environ.get("PYRUNC_OCI_SCHEMA_DIR", "/work/shared/reference/runtime-spec/schema")
)
FIXTURE_DIR = UPSTREAM_DIR / "test" / "config"
SKIP_REASON = (
    f"upstream runtime-spec schema not found at {UPSTREAM_DIR} (test-only reference: "
    "is /work/shared mounted? or set PYRUNC_OCI_SCHEMA_DIR to a runtime-spec/schema checkout)"
)

# The validator class runtime/spec.py check_schema() uses.  Keep the two in step:
# the integral-float known bug below is fixed by changing both.
from runtime.spec import validator_class  # noqa: E402  (the installed pyrunc)

OUR_VALIDATOR_CLASS = validator_class()

SEED = 20250301
CONFIG_COUNT = 4000
TIME_BUDGET_S = 20.0

STRICTER = "stricter"  # ours rejects, upstream accepts
LOOSER = "looser"  # ours accepts, upstream rejects
OURS_ONLY = "ours-only"  # not a disagreement: both accept, the spec text says reject


# --------------------------------------------------------------------------
# Documented differences
# --------------------------------------------------------------------------

DELETE = object()  # witness patch value: remove the member

# A document both schemas accept; each witness patches it to show one difference.
WITNESS_BASE: dict[str, Any] = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
    "linux": {"namespaces": [{"type": "mount"}]},
}


@dataclass(frozen=True)
class Difference:
    """One documented reason for the two schemas to disagree.

    A disagreement is explained by this entry when an error of the rejecting
    schema (ours if direction is STRICTER, upstream if LOOSER) sits at a JSON
    pointer that `pointer` (a regex) fully matches, was raised by one of
    `keywords` (None: any keyword), names only `missing` fields if it is a
    'required' error, and satisfies `when` if given.

    after_fix: names of KNOWN_SCHEMA_BUGS whose fix makes this difference appear;
    until they are gone the entry is not expected to be exercised.
    """

    name: str
    direction: str
    pointer: str
    keywords: tuple[str, ...] | None
    reason: str
    witness: dict[str, Any]
    missing: tuple[str, ...] = ()
    when: Callable[[ValidationError], bool] | None = None
    fix: str = ""
    after_fix: tuple[str, ...] = ()

    def pending(self) -> bool:
        known = {bug.name for bug in KNOWN_SCHEMA_BUGS}
        return any(name in known for name in self.after_fix)

    def explains(self, error: ValidationError) -> bool:
        if self.keywords is not None and error.validator not in self.keywords:
            return False
        if not re.fullmatch(self.pointer, pointer(error.absolute_path), flags=re.DOTALL):
            return False
        if error.validator == "required" and self.missing:
            if _missing_field(error) not in self.missing:
                return False
        return self.when is None or self.when(error)


def _trailing_newline(error: ValidationError) -> bool:
    return isinstance(error.instance, str) and error.instance.endswith("\n")


def _missing_field(error: ValidationError) -> str | None:
    for name in error.validator_value:
        if isinstance(error.instance, dict) and name not in error.instance \
                and error.message == f"{name!r} is a required property":
            return name
    return None


DELIBERATE_DIFFERENCES: tuple[Difference, ...] = (
    # ---- ours is stricter: the prose says MUST, upstream's schema does not check ----
    Difference(
        "ociVersion-semver", STRICTER, r"/ociVersion", ("pattern",),
        "config.md: ociVersion 'MUST be in SemVer v2.0.0 format'; upstream accepts any string.",
        {"/ociVersion": "1.3"},
    ),
    Difference(
        "root-required-off-windows", STRICTER, r"", ("required",),
        "config.md root: 'On all other platforms [than Windows], this field is REQUIRED'; "
        "upstream makes root optional everywhere.",
        {"/root": DELETE}, missing=("root",),
    ),
    Difference(
        "process-args-required-off-windows", STRICTER, r"/process", ("required",),
        "config.md args: 'at least one entry is REQUIRED (non-Windows)'; upstream leaves "
        "args optional.",
        {"/process/args": DELETE}, missing=("args",),
    ),
    Difference(
        "process-args-non-empty", STRICTER, r"/process/args", ("minItems",),
        "config.md args: 'at least one entry is REQUIRED (non-Windows)'; upstream allows [].",
        {"/process/args": []},
    ),
    Difference(
        "process-cwd-absolute", STRICTER, r"/process/cwd", ("pattern",),
        "config.md cwd: 'This value MUST be an absolute path'; upstream accepts any string.",
        {"/process/cwd": "work"},
    ),
    Difference(
        "process-user-uid-gid-required", STRICTER, r"/process/user", ("required",),
        "config.md POSIX process user: uid and gid are '(int, REQUIRED)'; upstream makes "
        "both optional.",
        {"/process/user/gid": DELETE}, missing=("uid", "gid"),
    ),
    Difference(
        "windows-args-or-commandline", STRICTER, r"/process", ("anyOf",),
        "config.md args: on Windows 'commandLine is REQUIRED if this field is omitted'; "
        "upstream does not check it.",
        {"/windows": {"layerFolders": ["C:\\layers\\1"]}, "/process/args": DELETE},
    ),
    Difference(
        "consolesize-uint32", STRICTER, r"/process/consoleSize/(height|width)", ("maximum",),
        "pyrunc caps console rows/columns at uint32 (TIOCSWINSZ takes unsigned short); "
        "the prose says 'uint', upstream allows uint64.",
        {"/process/consoleSize": {"height": 2**32, "width": 80}},
    ),
    Difference(
        "oomscoreadj-kernel-range", STRICTER, r"/process/oomScoreAdj", ("minimum", "maximum"),
        "The kernel's /proc/<pid>/oom_score_adj range is -1000..1000; upstream accepts any "
        "integer, which the runtime could only fail on later.",
        {"/process/oomScoreAdj": 1001},
    ),
    Difference(
        "iopriority-priority-required-0-7", STRICTER, r"/process/ioPriority(/priority)?",
        ("required", "minimum", "maximum"),
        "config.md ioPriority: priority is '(int, REQUIRED)' 'ranging from 0 (highest) to 7 "
        "(lowest)'; upstream makes it an optional int32.",
        {"/process/ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}},
        missing=("priority",),
    ),
    Difference(
        "hook-path-absolute", STRICTER, r"/hooks/[^/]+/\d+/path", ("pattern",),
        "config.md hooks: 'path MUST be absolute'; upstream accepts any string.",
        {"/hooks": {"poststart": [{"path": "true"}]}},
    ),
    Difference(
        "hook-timeout-int32", STRICTER, r"/hooks/[^/]+/\d+/timeout", ("maximum",),
        "config.md hooks: timeout is '(int, OPTIONAL)'; pyrunc bounds it to int32, upstream "
        "has no upper bound.",
        {"/hooks": {"poststart": [{"path": "/bin/true", "timeout": 2**31}]}},
    ),
    Difference(
        "map-keys-non-empty", STRICTER,
        r"/annotations|/(annotations|linux/sysctl|linux/resources/unified)/", ("minLength", "type"),
        "config.md annotations: 'Keys MUST NOT be an empty string'.  Upstream's "
        "mapStringString only constrains keys matching '.{1,}', so the empty key (and any "
        "value under it) passes there; ours rejects the empty annotation key and checks "
        "every sysctl/unified value is a string.",
        {"/annotations": {"": "v"}},
    ),
    Difference(
        "namespace-path-absolute", STRICTER, r"/linux/namespaces/\d+/path", ("pattern",),
        "config-linux.md namespaces: path 'MUST be an absolute path in the runtime mount "
        "namespace'; upstream accepts any string.",
        {"/linux/namespaces": [{"type": "mount", "path": "proc/1/ns/mnt"}]},
    ),
    Difference(
        "masked-readonly-paths-absolute", STRICTER, r"/linux/(maskedPaths|readonlyPaths)/\d+",
        ("pattern",),
        "config-linux.md masked/readonly paths: 'The values MUST be absolute paths in the "
        "container namespace'; upstream accepts any string.",
        {"/linux/maskedPaths": ["proc/kcore"]},
    ),
    Difference(
        "timeoffsets-any-clock", STRICTER,
        r"/linux/timeOffsets/(?!(boottime|monotonic)(/|$))[^/]*(/.*)?",
        ("type", "minimum", "maximum"),
        "config-linux.md timeOffsets: 'The name of the clock is the entry key', every entry "
        "{secs int64, nanosecs uint32}; upstream only types boottime and monotonic.",
        {"/linux/timeOffsets": {"realtime": {"secs": "1"}}},
    ),
    Difference(
        "device-major-minor-required", STRICTER, r"/linux/devices/\d+", ("required",),
        "config-linux.md devices: 'major, minor (int64, REQUIRED unless type is p)'; "
        "upstream makes them optional.",
        {"/linux/devices": [{"type": "c", "path": "/dev/x"}]}, missing=("major", "minor"),
    ),
    Difference(
        "device-type-exact", STRICTER, r"/linux/devices/\d+/type", ("enum",),
        "Upstream checks type with pattern '^[cbup]$', which Python's re (jsonschema's "
        "engine) lets through with a trailing newline ('c\\n'); ours is an enum.",
        {"/linux/devices": [{"type": "c\n", "path": "/dev/x", "major": 1, "minor": 3}]},
    ),
    Difference(
        "cgroup-device-rule-type", STRICTER,
        r"/linux/resources/devices/\d+/type", ("enum",),
        "config-linux.md device allowlist: type is 'a', 'c' or 'b'; upstream accepts any "
        "string. (access, 'a composition of r, w and m', is checked after the schema: other "
        "letters are left out with a warning, as runc ignores them.)",
        {"/linux/resources": {"devices": [{"allow": True, "type": "x"}]}},
    ),
    Difference(
        "pids-limit-floor", STRICTER, r"/linux/resources/pids/limit", ("minimum",),
        "config-linux.md pids: limit is 'the maximum number of tasks ... with -1 indicating "
        "no limit'; values below -1 mean nothing.  Upstream accepts any int64.",
        {"/linux/resources": {"pids": {"limit": -2}}},
    ),
    Difference(
        "blockio-throttle-rate-required", STRICTER,
        r"/linux/resources/blockIO/throttle(Read|Write)(Bps|IOPS)Device/\d+", ("required",),
        "config-linux.md blockIO throttle entries: 'rate (uint64, REQUIRED)'; upstream makes "
        "it optional.",
        {"/linux/resources": {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}}},
        missing=("rate",),
    ),
    Difference(
        "blockio-weightdevice-needs-a-weight", STRICTER,
        r"/linux/resources/blockIO/weightDevice/\d+", ("anyOf",),
        "config-linux.md weightDevice: 'You MUST specify at least one of weight or "
        "leafWeight in a given entry'; upstream does not check it.",
        {"/linux/resources": {"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}}},
    ),
    Difference(
        "memory-limit-floor", STRICTER,
        r"/linux/resources/memory/(limit|reservation|swap|kernel|kernelTCP)", ("minimum",),
        "config-linux.md memory: 'Values for memory specify the limit in bytes, or -1 for "
        "unlimited memory'; upstream accepts any int64.",
        {"/linux/resources": {"memory": {"limit": -2}}},
    ),
    Difference(
        "memory-swappiness-percent", STRICTER, r"/linux/resources/memory/swappiness",
        ("maximum",),
        "vm.swappiness is 0..100 (cgroup v1 memory.swappiness rejects more); upstream "
        "accepts any uint64.",
        {"/linux/resources": {"memory": {"swappiness": 101}}},
    ),
    Difference(
        "rdma-needs-a-limit", STRICTER, r"/linux/resources/rdma/[^/]*", ("anyOf",),
        "config-linux.md rdma: 'You MUST specify at least one of the hcaHandles or "
        "hcaObjects in a given entry'; upstream does not check it.",
        {"/linux/resources": {"rdma": {"mlx5_1": {}}}},
    ),
    Difference(
        "intelrdt-no-newlines", STRICTER, r"/linux/intelRdt/(memBwSchema|schemata/\d+)", ("not",),
        "config-linux.md intelRdt: memBwSchema and schemata 'MUST NOT contain newlines'; "
        "upstream does not check schemata, and its memBwSchema pattern '^MB:[^\\n]*$' "
        "passes a trailing newline under Python's re.",
        {"/linux/intelRdt": {"schemata": ["L3:0=f\nMB:0=100"]}},
    ),
    Difference(
        "memorypolicy-mode-required", STRICTER, r"/linux/memoryPolicy", ("required",),
        "config-linux.md memoryPolicy: 'mode (string, REQUIRED)'; upstream makes it optional.",
        {"/linux/memoryPolicy": {"nodes": "0"}}, missing=("mode",),
    ),
    Difference(
        "seccomp-arg-index-0-5", STRICTER, r"/linux/seccomp/syscalls/\d+/args/\d+/index",
        ("maximum",),
        "A syscall has at most six arguments (seccomp_data.args[6]); upstream accepts any "
        "uint32.",
        {"/linux/seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}},
    ),
    Difference(
        "seccomp-listenermetadata-needs-listenerpath", STRICTER, r"/linux/seccomp",
        ("dependentRequired",),
        "config-linux.md seccomp: listenerMetadata 'MUST NOT be set if listenerPath is not "
        "set'; upstream does not check it.",
        {"/linux/seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"}},
    ),
    Difference(
        "personality-domain-required", STRICTER, r"/linux/personality", ("required",),
        "config-linux.md personality: 'domain (string, REQUIRED)'; upstream makes it "
        "optional.",
        {"/linux/personality": {"flags": []}}, missing=("domain",),
    ),
    Difference(
        "mount-idmappings-in-pairs", STRICTER, r"/mounts/\d+", ("dependentRequired",),
        "config.md mounts: uidMappings 'If specified, it MUST be specified along with "
        "gidMappings' (and vice versa); upstream does not check it.",
        {"/mounts": [{"destination": "/m", "uidMappings": []}]},
    ),
    Difference(
        "pattern-trailing-newline", STRICTER,
        r"/process/rlimits/\d+/type|/linux/resources/hugepageLimits/\d+/pageSize"
        r"|/process/execCPUAffinity/(initial|final)", ("pattern",),
        "Upstream's '^...$' patterns let a value with a trailing newline through under "
        "Python's re, where '$' also matches before a final newline (ECMA-262 regexes, which "
        "JSON Schema specifies, do not); ours end in '$(?!\\n)' and reject it.",
        {"/process/rlimits": [{"type": "RLIMIT_NOFILE\n", "soft": 1, "hard": 1}]},
        when=_trailing_newline,
    ),
    # ---- ours is looser ----
    Difference(
        "rootfspropagation-recursive-forms", LOOSER, r"/linux/rootfsPropagation", ("enum",),
        "The r-forms (rshared, rslave, rprivate, runbindable) are a runc extension that "
        "containerd's CRI plugin sends; refusing them would break containerd.",
        {"/linux/rootfsPropagation": "rslave"},
    ),
    Difference(
        "non-linux-sections-opaque", LOOSER, r"/(windows|solaris|vm|zos|freebsd)(/.*)?", None,
        "pyrunc is a Linux runtime: the windows, solaris, vm, zos and freebsd sections are "
        "accepted as any object and never read.",
        {"/freebsd": {"jail": {"vnet": "disable"}}},
    ),
    Difference(
        "pids-limit-optional", LOOSER, r"/linux/resources/pids", ("required",),
        "config-linux.md v1.3.0 pids: 'limit (int64, OPTIONAL)'; upstream's schema still "
        "says required.  Ours follows the prose.",
        {"/linux/resources": {"pids": {}}}, missing=("limit",),
    ),
    Difference(
        "device-filemode-uint32", LOOSER, r"/linux/devices/\d+/fileMode", ("maximum",),
        "config-linux.md devices: 'fileMode (uint32, OPTIONAL)'; upstream caps it at 511 "
        "(0777), which forbids setuid/setgid/sticky bits.  The runtime masks with 0o7777.",
        {"/linux/devices": [{"type": "c", "path": "/dev/x", "major": 1, "minor": 3,
                             "fileMode": 1023}]},
    ),
)


def _integral_float(error: ValidationError) -> bool:
    return isinstance(error.instance, float) and error.instance.is_integer()


# Bugs in spec/config-schema.json (or in how pyrunc runs it).  Their tests are
# xfail(strict=True): once fixed they XPASS and fail, and the entry must go.
# Empty since the fixes of 2026-11-23. A new bug found here goes in as an entry
# with its witness and fix (and an xfail(strict=True) test of that witness).
KNOWN_SCHEMA_BUGS: tuple[Difference, ...] = ()


# --------------------------------------------------------------------------
# The two schemas
# --------------------------------------------------------------------------

# Obvious typos in the upstream files, repaired in memory only: defs.json's
# ArrayOfUint32 refers to "#definitions/uint32" (no '/'), which no resolver can
# follow, and config-vm.json's hwConfig.irqs uses it.
def _repair_upstream(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#definitions/"):
                value = "#/" + value[1:]
            out[key] = _repair_upstream(value)
        return out
    if isinstance(node, list):
        return [_repair_upstream(v) for v in node]
    return node


@dataclass
class Schemas:
    ours: Any
    upstream: Any
    ours_walker: SchemaWalker
    upstream_walker: SchemaWalker


def _load_ours() -> tuple[Any, SchemaWalker]:
    schema = json.loads(OUR_SCHEMA.read_text(encoding="utf-8"))
    resource = referencing.Resource.from_contents(schema)
    registry = referencing.Registry().with_resource(schema["$id"], resource)
    walker = SchemaWalker("ours", (schema, registry.resolver(base_uri=schema["$id"])),
                          legacy_ref=False)
    return OUR_VALIDATOR_CLASS(schema), walker


def _load_upstream() -> tuple[Any, SchemaWalker]:
    """Upstream config-schema.json with a registry holding its sibling files.

    The files refer to each other by relative name ("defs.json#/definitions/..."),
    so each is registered under its file name: a relative reference made from
    any of them (or from the root, whose base URI is empty) lands on the sibling.
    Files without "$schema" take the dialect of config-schema.json; the validator
    class is validator_for(config-schema.json), and jsonschema switches class by
    validator_for() wherever a referenced file declares its own "$schema".
    """
    root_path = UPSTREAM_DIR / "config-schema.json"
    root = _repair_upstream(json.loads(root_path.read_text(encoding="utf-8")))
    default_spec = referencing.jsonschema.specification_with(root["$schema"])
    documents = []
    resources = []
    for path in sorted(UPSTREAM_DIR.glob("*.json")):
        contents = _repair_upstream(json.loads(path.read_text(encoding="utf-8")))
        documents.append(contents)
        resource = referencing.Resource.from_contents(contents, default_specification=default_spec)
        resources.append((path.name, resource))
    registry = referencing.Registry().with_resources(resources)
    cls = validator_for(root)
    cls.check_schema(root)
    validator = cls(root, registry=registry)
    # Draft-04..07: "$ref" hides its sibling keywords.
    walker = SchemaWalker("upstream", (root, registry.resolver(base_uri=root_path.name)),
                          legacy_ref="draft-0" in root["$schema"], documents=documents)
    return validator, walker


_SCHEMAS: Schemas | None = None


def schemas() -> Schemas:
    global _SCHEMAS
    if not (UPSTREAM_DIR / "config-schema.json").is_file():
        pytest.skip(SKIP_REASON)
    if _SCHEMAS is None:
        ours, ours_walker = _load_ours()
        upstream, upstream_walker = _load_upstream()
        _SCHEMAS = Schemas(ours, upstream, ours_walker, upstream_walker)
    return _SCHEMAS


# --------------------------------------------------------------------------
# Comparing verdicts
# --------------------------------------------------------------------------


@dataclass
class Comparison:
    ours_valid: bool
    upstream_valid: bool
    direction: str | None = None  # STRICTER / LOOSER when they disagree
    errors: list[ValidationError] | None = None  # of the rejecting schema
    explained_by: dict[str, int] | None = None  # entry name -> errors it explains
    unexplained: list[ValidationError] | None = None

    @property
    def agree(self) -> bool:
        return self.ours_valid == self.upstream_valid


ALL_ENTRIES = DELIBERATE_DIFFERENCES + KNOWN_SCHEMA_BUGS


def compare(s: Schemas, doc: Any) -> Comparison:
    result = Comparison(s.ours.is_valid(doc), s.upstream.is_valid(doc))
    if result.agree:
        return result
    if result.ours_valid:
        result.direction, rejecting = LOOSER, s.upstream
    else:
        result.direction, rejecting = STRICTER, s.ours
    result.errors = list(rejecting.iter_errors(doc))
    result.explained_by = {}
    result.unexplained = []
    for error in result.errors:
        entry = next((e for e in ALL_ENTRIES
                      if e.direction == result.direction and e.explains(error)), None)
        if entry is None:
            result.unexplained.append(error)
        else:
            result.explained_by[entry.name] = result.explained_by.get(entry.name, 0) + 1
    return result


def _errors_text(validator: Any, doc: Any) -> str:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return "    (valid)"
    return "\n".join(f"    {pointer(e.absolute_path) or '/'}: [{e.validator}] {e.message[:200]}"
                     for e in errors)


def describe(s: Schemas, doc: Any, title: str) -> str:
    text = json.dumps(doc, indent=1, sort_keys=True, default=repr)
    if len(text) > 4000:
        text = text[:4000] + "\n ... (truncated)"
    return (f"{title}\n  config:\n{text}\n"
            f"  ours ({'valid' if s.ours.is_valid(doc) else 'INVALID'}):\n"
            f"{_errors_text(s.ours, doc)}\n"
            f"  upstream ({'valid' if s.upstream.is_valid(doc) else 'INVALID'}):\n"
            f"{_errors_text(s.upstream, doc)}")


def apply_patch(base: dict, patch: dict[str, Any]) -> dict:
    doc = copy.deepcopy(base)
    for ptr, value in patch.items():
        parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
        target = doc
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if value is DELETE:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = copy.deepcopy(value)
    return doc


# --------------------------------------------------------------------------
# The generated run (once per session, shared by the tests below)
# --------------------------------------------------------------------------


@dataclass
class Run:
    generated: int = 0
    seconds: float = 0.0
    agreed_valid: int = 0
    agreed_invalid: int = 0
    by_origin: collections.Counter = field(default_factory=collections.Counter)
    tolerated: collections.Counter = field(default_factory=collections.Counter)  # entry -> configs
    ops: collections.Counter = field(default_factory=collections.Counter)  # mutation -> uses
    unmutated: collections.Counter = field(default_factory=collections.Counter)  # (origin, valid)
    failures: list[str] = field(default_factory=list)  # first few, in full
    failure_signatures: collections.Counter = field(default_factory=collections.Counter)


_RUN: Run | None = None


def _signature(direction: str, error: ValidationError) -> str:
    generic = re.sub(r"/\d+(?=/|$)", "/<i>", pointer(error.absolute_path))
    return f"{direction}: {generic or '/'} [{error.validator}]"


def differential_run() -> Run:
    global _RUN
    s = schemas()
    if _RUN is not None:
        return _RUN
    run = Run()
    mutator = Mutator([s.ours_walker, s.upstream_walker])
    start = time.perf_counter()
    for i in range(CONFIG_COUNT):
        rng = random.Random(SEED * 1_000_003 + i)
        walker, own = ((s.ours_walker, s.ours) if i % 5 < 3
                       else (s.upstream_walker, s.upstream))
        doc, sites = walker.generate(rng)
        count = rng.choices((0, 1, 2, 3), weights=(15, 60, 17, 8))[0]
        if count == 0:
            run.unmutated[(walker.name, own.is_valid(doc))] += 1
        doc, ops = mutator.mutate(doc, sites, rng, count)
        run.generated += 1
        run.by_origin[walker.name] += 1
        for op in ops:
            run.ops[op.split("@", 1)[0]] += 1
        result = compare(s, doc)
        if result.agree:
            if result.ours_valid:
                run.agreed_valid += 1
            else:
                run.agreed_invalid += 1
            continue
        for name in result.explained_by:
            run.tolerated[name] += 1
        if result.unexplained:
            for error in result.unexplained:
                run.failure_signatures[_signature(result.direction, error)] += 1
            if len(run.failures) < 8:
                run.failures.append(describe(
                    s, doc, f"config #{i} (seed {SEED}, from the {walker.name} schema, "
                            f"mutations {ops or 'none'}): {result.direction} disagreement "
                            "not in DELIBERATE_DIFFERENCES / KNOWN_SCHEMA_BUGS"))
    run.seconds = time.perf_counter() - start
    _RUN = run
    _print_summary(run)
    return run


def _print_summary(run: Run) -> None:
    disagreed = run.generated - run.agreed_valid - run.agreed_invalid
    lines = [
        "",
        f"schema differential: {run.generated} configs in {run.seconds:.1f} s "
        f"({', '.join(f'{n} from {o}' for o, n in sorted(run.by_origin.items()))})",
        f"  agreed: {run.agreed_valid + run.agreed_invalid} "
        f"({run.agreed_valid} both valid, {run.agreed_invalid} both invalid); "
        f"disagreed: {disagreed} "
        f"({'SOME UNEXPLAINED' if run.failure_signatures else 'all explained'})",
        "  unmutated configs valid for the schema they came from: " + ", ".join(
            f"{o} {run.unmutated[(o, True)]}/{run.unmutated[(o, True)] + run.unmutated[(o, False)]}"
            for o in ("ours", "upstream")),
        "  mutations applied: " + ", ".join(f"{k} {v}" for k, v in sorted(run.ops.items())),
        "  tolerated differences (configs per entry):",
    ]
    for entry in ALL_ENTRIES:
        if entry.direction == OURS_ONLY:
            continue
        tag = "KNOWN BUG" if entry in KNOWN_SCHEMA_BUGS else entry.direction
        if entry.pending():
            tag += ", pending a known-bug fix"
        lines.append(f"    {run.tolerated.get(entry.name, 0):6d}  {entry.name} [{tag}]")
    for sig, n in run.failure_signatures.most_common():
        lines.append(f"    {n:6d}  UNEXPLAINED {sig}")
    print("\n".join(lines))


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_upstream_schema_loads_with_registry() -> None:
    s = schemas()
    assert type(s.upstream) is jsonschema.Draft4Validator
    # A reference across files, resolved through the registry.
    assert not s.upstream.is_valid({"ociVersion": "1.0.0", "linux": {"devices": [{"type": "x"}]}})
    # defs.json's ArrayOfUint32 ("#definitions/uint32", repaired in memory) resolves.
    vm = {"ociVersion": "1.0.0", "vm": {"kernel": {"path": "/k"}, "hwConfig": {"irqs": [1, 2]}}}
    assert s.upstream.is_valid(vm)
    vm["vm"]["hwConfig"]["irqs"] = [-1]
    assert not s.upstream.is_valid(vm)


def _fixture_params() -> list[Any]:
    if not FIXTURE_DIR.is_dir():
        return [pytest.param(None, None, id="fixtures-missing",
                             marks=pytest.mark.skip(reason=SKIP_REASON))]
    return [pytest.param(verdict, path, id=f"{verdict}/{path.name}")
            for verdict in ("good", "bad")
            for path in sorted((FIXTURE_DIR / verdict).glob("*.json"))]


@pytest.mark.parametrize(("label", "path"), _fixture_params())
def test_upstream_fixture(label: str, path: Path) -> None:
    s = schemas()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        assert label == "bad", f"{path} is not JSON but filed as good"
        return
    result = compare(s, doc)
    assert result.upstream_valid == (label == "good"), describe(
        s, doc, f"{path}: upstream schema disagrees with the fixture's own label {label!r}")
    assert result.agree or not result.unexplained, describe(
        s, doc, f"{path}: {result.direction} disagreement not documented")


def test_generator_produces_valid_configs() -> None:
    """Unmutated configs should mostly pass the schema they were generated from;
    otherwise the mutations would not be testing single constraints."""
    run = differential_run()
    for origin in ("ours", "upstream"):
        valid = run.unmutated[(origin, True)]
        total = valid + run.unmutated[(origin, False)]
        assert total > 100, f"too few unmutated configs from {origin}: {total}"
        assert valid >= 0.9 * total, f"only {valid}/{total} unmutated {origin} configs are valid"


def test_generated_configs_agree() -> None:
    run = differential_run()
    assert run.generated >= 3000
    assert run.seconds < TIME_BUDGET_S, f"generation + validation took {run.seconds:.1f} s"
    assert not run.failure_signatures, (
        "the schemas disagree where no DELIBERATE_DIFFERENCES / KNOWN_SCHEMA_BUGS entry "
        "explains it:\n" + "\n".join(f"  {n:5d} x {sig}" for sig, n in
                                     run.failure_signatures.most_common())
        + "\n\nfirst cases:\n\n" + "\n\n".join(run.failures))


def test_every_documented_difference_is_exercised() -> None:
    """A table entry the generated configs never hit is either stale or a hole in
    the generator."""
    run = differential_run()
    unused = [e.name for e in ALL_ENTRIES
              if e.direction != OURS_ONLY and not e.pending() and not run.tolerated.get(e.name)]
    assert not unused, f"never exercised by {run.generated} generated configs: {unused}"


def test_entries_are_well_formed() -> None:
    names = [e.name for e in ALL_ENTRIES]
    assert len(names) == len(set(names)), "duplicate entry names"
    for e in ALL_ENTRIES:
        re.compile(e.pointer)
        assert e.direction in (STRICTER, LOOSER, OURS_ONLY), e.name
        assert e.reason and e.witness, e.name
        assert (e in KNOWN_SCHEMA_BUGS) == bool(e.fix), f"{e.name}: fix iff known bug"


@pytest.mark.parametrize("entry", DELIBERATE_DIFFERENCES, ids=lambda e: e.name)
def test_deliberate_difference_witness(entry: Difference) -> None:
    """Each entry's witness shows exactly that difference, in that direction."""
    s = schemas()
    if entry.pending():
        pytest.skip(f"appears once {entry.after_fix} are fixed")
    assert s.ours.is_valid(WITNESS_BASE) and s.upstream.is_valid(WITNESS_BASE)
    doc = apply_patch(WITNESS_BASE, entry.witness)
    result = compare(s, doc)
    assert result.direction == entry.direction, describe(
        s, doc, f"{entry.name}: expected a {entry.direction} disagreement")
    assert not result.unexplained and set(result.explained_by) == {entry.name}, describe(
        s, doc, f"{entry.name}: explained by {result.explained_by}")


