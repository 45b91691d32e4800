"""Checks pyrunc's own OCI runtime-spec v1.3.0 JSON schemas (spec/*.json).

* every schema is a valid Draft 2020-12 schema, self-contained (only
  internal "#..." references) and carries the expected "$id";
* every upstream runtime-spec fixture under
  schema/test/{config,state,features}/{good,bad}/*.json gets the same verdict
  from our schema (good = valid, bad = invalid, unparsable JSON = bad);
* a few hand-written invalid documents fail at exactly the expected field.

No root privileges are needed.  The upstream fixtures are read from
$PYRUNC_OCI_SCHEMA_TESTS if set, else from the shared reference checkout.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

jsonschema = pytest.importorskip("jsonschema")
from jsonschema import Draft202012Validator  # noqa: E402

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
SCHEMA_FILES = {
    "config": SPEC_DIR / "config-schema.json",
    "state": SPEC_DIR / "state-schema.json",
    "features": SPEC_DIR / "features-schema.json",
}

FIXTURE_ROOT = Path(
    os.environ.get(
        "PYRUNC_OCI_SCHEMA_TESTS",
        "/work/shared/reference/runtime-spec/schema/test",
    )
)

# Platform sections that pyrunc's config schema accepts as opaque objects.
UNMODELLED_PLATFORMS = ("freebsd", "windows", "solaris", "vm", "zos")


def _load_schema(kind: str) -> dict[str, Any]:
    with SCHEMA_FILES[kind].open(encoding="utf-8") as fh:
        return json.load(fh)


def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(_load_schema(kind))


def _walk_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _walk_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_refs(item)


# --------------------------------------------------------------------------
# The schemas themselves
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_is_valid_draft_2020_12(kind: str) -> None:
    schema = _load_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://pyrunc.dev/spec/{kind}-schema.json"


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_is_self_contained(kind: str) -> None:
    schema = _load_schema(kind)
    defs = schema.get("$defs", {})
    for ref in _walk_refs(schema):
        assert ref.startswith("#/$defs/"), f"non-local $ref {ref!r}"
        assert ref[len("#/$defs/"):] in defs, f"dangling $ref {ref!r}"


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_uses_two_space_indent(kind: str) -> None:
    lines = SCHEMA_FILES[kind].read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        indent = len(line) - len(line.lstrip(" "))
        assert "\t" not in line, f"line {number}: tab character"
        assert indent % 2 == 0, f"line {number}: odd indentation"


# --------------------------------------------------------------------------
# Upstream fixtures
# --------------------------------------------------------------------------


def _fixture_params() -> list[Any]:
    if not FIXTURE_ROOT.is_dir():
        return [
            pytest.param(
                None,
                None,
                None,
                marks=pytest.mark.skip(
                    reason=f"upstream runtime-spec fixtures not found at {FIXTURE_ROOT} "
                    "(is /work/shared mounted? or set PYRUNC_OCI_SCHEMA_TESTS)"
                ),
                id="fixtures-missing",
            )
        ]
    params = []
    for kind in sorted(SCHEMA_FILES):
        for verdict in ("good", "bad"):
            for path in sorted((FIXTURE_ROOT / kind / verdict).glob("*.json")):
                marks = []
                platform = path.stem.split("-", 1)[0]
                if kind == "config" and verdict == "bad" and platform in UNMODELLED_PLATFORMS:
                    marks.append(
                        pytest.mark.skip(
                            reason=f"pyrunc is Linux-only: config-schema.json deliberately "
                            f"accepts any object for the '{platform}' section, so this "
                            f"{platform}-specific bad fixture cannot be rejected"
                        )
                    )
                params.append(
                    pytest.param(
                        kind, verdict, path, marks=marks, id=f"{kind}/{verdict}/{path.name}"
                    )
                )
    assert params, f"no fixtures found under {FIXTURE_ROOT}"
    return params


@pytest.mark.parametrize(("kind", "verdict", "path"), _fixture_params())
def test_upstream_fixture_verdict(kind: str, verdict: str, path: Path) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        assert verdict == "bad", f"{path} is not valid JSON but is filed as good"
        return
    errors = sorted(_validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path))
    if verdict == "good":
        assert not errors, "\n".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors
        )
    else:
        assert errors, f"{path} should be rejected but validated"


# --------------------------------------------------------------------------
# Hand-written documents
# --------------------------------------------------------------------------

BASE_CONFIG: dict[str, Any] = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {
        "cwd": "/",
        "args": ["sh"],
        "user": {"uid": 0, "gid": 0},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}],
    },
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "mount"}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
        "seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["ptrace"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
                }
            ],
        },
        "resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]},
    },
}


def _config(**patch: Any) -> dict[str, Any]:
    """Deep copy of BASE_CONFIG with edits keyed by '__'-joined paths (a__0__b=value; None deletes)."""
    doc = copy.deepcopy(BASE_CONFIG)
    for dotted, value in patch.items():
        keys: list[Any] = [int(k) if k.isdigit() else k for k in dotted.split("__")]
        target = doc
        for key in keys[:-1]:
            target = target[key]
        if value is None:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return doc


def test_base_config_is_valid() -> None:
    errors = list(_validator("config").iter_errors(BASE_CONFIG))
    assert not errors, [e.message for e in errors]


BAD_CONFIGS = [
    pytest.param(
        _config(process__args="sh"),
        ["process", "args"],
        "type",
        id="process.args-not-array",
    ),
    pytest.param(
        _config(linux__namespaces__1__type="mnt"),
        ["linux", "namespaces", 1, "type"],
        "enum",
        id="unknown-namespace-type",
    ),
    pytest.param(
        _config(process__rlimits__0__hard=None),
        ["process", "rlimits", 0],
        "required",
        id="rlimit-missing-hard",
    ),
    pytest.param(
        _config(process__user__uid=-1),
        ["process", "user", "uid"],
        "minimum",
        id="negative-uid",
    ),
    pytest.param(
        _config(process__user__gid=2**32),
        ["process", "user", "gid"],
        "maximum",
        id="gid-above-uint32",
    ),
    pytest.param(
        _config(linux__devices__0__minor=None),
        ["linux", "devices", 0],
        "required",
        id="char-device-without-minor",
    ),
    pytest.param(
        _config(linux__seccomp__syscalls__0__args__0__index=6),
        ["linux", "seccomp", "syscalls", 0, "args", 0, "index"],
        "maximum",
        id="seccomp-arg-index-out-of-range",
    ),
    pytest.param(
        _config(linux__seccomp__defaultAction="SCMP_ACT_DENY"),
        ["linux", "seccomp", "defaultAction"],
        "enum",
        id="seccomp-unknown-action",
    ),
    pytest.param(
        _config(linux__resources__hugepageLimits__0__pageSize="2mb"),
        ["linux", "resources", "hugepageLimits", 0, "pageSize"],
        "pattern",
        id="hugepage-size-lowercase",
    ),
    pytest.param(
        _config(process__cwd="relative/dir"),
        ["process", "cwd"],
        "pattern",
        id="relative-cwd",
    ),
    pytest.param(
        _config(process__args=[]),
        ["process", "args"],
        "minItems",
        id="empty-args",
    ),
    pytest.param(
        _config(root=None),
        [],
        "required",
        id="missing-root-on-linux",
    ),
    pytest.param(
        _config(hooks={"poststart": [{"path": "/bin/true", "timeout": 0}]}),
        ["hooks", "poststart", 0, "timeout"],
        "minimum",
        id="hook-timeout-zero",
    ),
]


@pytest.mark.parametrize(("document", "error_path", "validator"), BAD_CONFIGS)
def test_bad_config_error_path(document: dict[str, Any], error_path: list[Any], validator: str) -> None:
    errors = list(_validator("config").iter_errors(document))
    assert len(errors) == 1, [(list(e.absolute_path), e.message) for e in errors]
    (error,) = errors
    assert list(error.absolute_path) == error_path, error.message
    assert error.validator == validator, error.message


def test_windows_config_may_omit_root_and_use_commandline() -> None:
    doc = {
        "ociVersion": "1.3.0",
        "process": {"cwd": "C:\\", "commandLine": "cmd.exe", "user": {"username": "x"}},
        "windows": {"layerFolders": ["C:\\layers\\1"]},
    }
    assert not list(_validator("config").iter_errors(doc))


def test_unknown_properties_are_ignored() -> None:
    doc = _config(**{"com.example.extra": {"a": 1}, "process__futureField": True})
    assert not list(_validator("config").iter_errors(doc))


@pytest.mark.parametrize(
    ("document", "error_path", "validator"),
    [
        pytest.param(
            {"ociVersion": "1.3.0", "id": "c1", "status": "paused", "bundle": "/b"},
            ["status"],
            "enum",
            id="unknown-status",
        ),
        pytest.param(
            {"ociVersion": "1.3.0", "id": "c1", "status": "running", "bundle": "/b"},
            [],
            "required",
            id="running-without-pid",
        ),
        pytest.param(
            {"ociVersion": "1.3.0", "id": "c1", "status": "stopped", "pid": -5, "bundle": "/b"},
            ["pid"],
            "minimum",
            id="negative-pid",
        ),
    ],
)
def test_bad_state_error_path(document: dict[str, Any], error_path: list[Any], validator: str) -> None:
    errors = list(_validator("state").iter_errors(document))
    assert len(errors) == 1, [(list(e.absolute_path), e.message) for e in errors]
    assert list(errors[0].absolute_path) == error_path
    assert errors[0].validator == validator


def test_state_creating_and_stopped_may_omit_pid() -> None:
    validator = _validator("state")
    for status in ("creating", "stopped"):
        doc = {"ociVersion": "1.3.0", "id": "c1", "status": status, "bundle": "/b"}
        assert not list(validator.iter_errors(doc)), status


def test_features_accepts_null_for_optional_properties() -> None:
    doc = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.3.0",
        "hooks": None,
        "mountOptions": None,
        "annotations": None,
        "linux": {"namespaces": None, "cgroup": {"v2": None}, "intelRdt": None},
    }
    assert not list(_validator("features").iter_errors(doc))


def test_features_rejects_null_version() -> None:
    errors = list(
        _validator("features").iter_errors({"ociVersionMin": "1.0.0", "ociVersionMax": None})
    )
    assert [list(e.absolute_path) for e in errors] == [["ociVersionMax"]]
