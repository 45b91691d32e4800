"""The features document (runtime/features.py) and its schema (spec/features-schema.json).

Which copy of pyrunc is tested: under /opt/pyrunc/venv/bin/pytest, `import runtime`
finds the *installed* package (site-packages), which may predate this source
tree. These tests load the source tree's runtime/ under the name "pyrunc_src"
(importlib, from this file's repository) and test its features.py. The build
makes runtime._consts (constants from the C headers) and the cffi modules,
which only the installed package has: the installed ones stand in for the
source tree's; the tests are skipped with the reason when they cannot be
imported or the source modules need a newer build of them.

No root needed. The upstream runtime-spec schema is a read-only, test-only
reference ($PYRUNC_OCI_SCHEMA_DIR or /work/shared/reference/runtime-spec/schema).
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")
from jsonschema import Draft202012Validator  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "spec" / "features-schema.json"
UPSTREAM_DIR = Path(
    os.environ.get("PYRUNC_OCI_SCHEMA_DIR", "/work/shared/reference/runtime-spec/schema")
)
SRC = "pyrunc_src"

SPEC_HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop"]
SPEC_NAMESPACES = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}


def _source_package():
    if SRC not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            SRC, REPO / "runtime" / "__init__.py",
            submodule_search_locations=[str(REPO / "runtime")])
        module = importlib.util.module_from_spec(spec)
        sys.modules[SRC] = module
        spec.loader.exec_module(module)
        # The document probes the kernel and libseccomp through the installed
        # cffi modules (the source tree has no built ones).
        for ext in ("_native", "_seccomp", "_consts", "_config_check"):
            sys.modules.setdefault(f"{SRC}.{ext}", importlib.import_module(f"runtime.{ext}"))
    return sys.modules[SRC]


def _source_module(name: str):
    _source_package()
    return importlib.import_module(f"{SRC}.{name}")


features = _source_module("features")
seccomp = _source_module("seccomp_names")


@pytest.fixture(scope="module")
def native_modules():
    """Source-tree mountopts, plan and spec, on the installed built modules."""
    try:
        native = importlib.import_module("runtime._native")
    except ImportError as e:
        pytest.skip(f"runtime._native is not importable ({e}): build/install pyrunc into "
                    "/opt/pyrunc/venv to compare with mountopts/plan")
    sys.modules.setdefault(f"{SRC}._native", native)
    try:
        return {name: _source_module(name) for name in ("mountopts", "plan", "spec")}
    except (ImportError, AttributeError) as e:
        pytest.skip(f"the source tree needs a newer runtime._native than the installed one "
                    f"({e}): reinstall pyrunc")


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)




def _errors(validator, doc) -> list[tuple[list, str]]:
    return [(list(e.absolute_path), e.validator) for e in validator.iter_errors(doc)]


# --------------------------------------------------------------------------
# The document against the schema
# --------------------------------------------------------------------------


def test_document_validates(validator) -> None:
    doc = features.document()
    assert _errors(validator, doc) == []
    # pyrunc has no Intel RDT code (linux.intelRdt is refused), resctrl or not.
    assert doc["linux"]["intelRdt"]["enabled"] is False


def test_document_of_this_host_validates(validator) -> None:
    assert _errors(validator, features.document()) == []


def _drop(path):
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _set(path, value):
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


@pytest.mark.parametrize("mutate, where, keyword", [
    pytest.param(_drop(["ociVersionMin"]), [], "required", id="no-ociVersionMin"),
    pytest.param(_drop(["ociVersionMax"]), [], "required", id="no-ociVersionMax"),
    pytest.param(_set(["ociVersionMin"], None), ["ociVersionMin"], "type", id="null-ociVersionMin"),
    pytest.param(_set(["ociVersionMax"], "1.3"), ["ociVersionMax"], "pattern", id="not-semver"),
    pytest.param(_set(["ociVersionMax"], "1.3.0\n"), ["ociVersionMax"], "pattern",
                 id="semver-trailing-newline"),
    pytest.param(_set(["hooks", 0], "preStart"), ["hooks", 0], "enum", id="unknown-hook"),
    pytest.param(_set(["hooks"], SPEC_HOOKS + ["poststart"]), ["hooks"], "uniqueItems",
                 id="hook-twice"),
    pytest.param(_set(["linux", "namespaces", 0], "net"), ["linux", "namespaces", 0], "enum",
                 id="unknown-namespace"),
    pytest.param(_set(["linux", "capabilities", 0], "chown"), ["linux", "capabilities", 0],
                 "pattern", id="bad-capability"),
    pytest.param(_set(["mountOptions", 0], ""), ["mountOptions", 0], "minLength",
                 id="empty-mount-option"),
    pytest.param(_set(["linux", "cgroup", "v2"], "true"), ["linux", "cgroup", "v2"], "type",
                 id="string-bool"),
    pytest.param(_set(["linux", "seccomp", "actions"], ["SCMP_ACT_MAYBE"]),
                 ["linux", "seccomp", "actions", 0], "enum", id="unknown-seccomp-action"),
    pytest.param(_set(["linux", "memoryPolicy", "modes"], ["MPOL_ANY"]),
                 ["linux", "memoryPolicy", "modes", 0], "enum", id="unknown-mpol-mode"),
    pytest.param(_set(["annotations", "io.github.pyrunc.version"], 1),
                 ["annotations", "io.github.pyrunc.version"], "type", id="non-string-annotation"),
    pytest.param(_set(["annotations", ""], "x"), ["annotations"], "minLength",
                 id="empty-annotation-key"),
    # features.md: no properties the spec does not define (annotations excepted).
    pytest.param(_set(["checkpoint"], True), [], "additionalProperties", id="unknown-top-level"),
    pytest.param(_set(["linux", "intelRDT"], {}), ["linux"], "additionalProperties",
                 id="misspelt-linux-key"),
    pytest.param(_set(["linux", "cgroup", "v3"], True), ["linux", "cgroup"],
                 "additionalProperties", id="unknown-cgroup-key"),
])
def test_schema_rejects(validator, tmp_path, mutate, where, keyword) -> None:
    doc = features.document()
    mutate(doc)
    assert _errors(validator, doc) == [(where, keyword)]


def test_schema_accepts_null_and_extension_annotations(validator) -> None:
    doc = {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "hooks": None,
           "potentiallyUnsafeConfigAnnotations": None,
           "annotations": {"com.example.anything": "goes"},
           "linux": {"seccomp": {"enabled": None, "actions": None}, "mountExtensions": None}}
    assert _errors(validator, doc) == []


# --------------------------------------------------------------------------
# The document against the code
# --------------------------------------------------------------------------


def test_versions(tmp_path, native_modules) -> None:
    doc = features.document()
    assert doc["ociVersionMin"] == "1.0.0"
    assert doc["ociVersionMax"] == _source_package().OCI_VERSION
    as_tuple = [tuple(int(n) for n in doc[k].split("-")[0].split("."))
                for k in ("ociVersionMin", "ociVersionMax")]
    assert as_tuple[0] <= as_tuple[1]
    # features.md: the runtime MUST accept both as config.json ociVersion.
    for key in ("ociVersionMin", "ociVersionMax"):
        native_modules["spec"]._check_version({"ociVersion": doc[key]})


def test_hooks(tmp_path) -> None:
    assert features.document()["hooks"] == SPEC_HOOKS


def test_capabilities_are_caps_names(tmp_path) -> None:
    caps = _source_module("caps")
    assert features.document()["linux"]["capabilities"] == list(caps.NAMES)


def test_namespaces_are_plan_namespace_flags(tmp_path, native_modules) -> None:
    plan = native_modules["plan"]
    doc = features.document()
    assert doc["linux"]["namespaces"] == sorted(plan.NAMESPACE_FLAGS)
    assert set(plan.NAMESPACE_FLAGS) == SPEC_NAMESPACES


def test_mount_options_are_what_mountopts_parses(tmp_path, native_modules) -> None:
    mountopts = native_modules["mountopts"]
    listed = features.document()["mountOptions"]
    tables = (mountopts.FLAG_OPTIONS, mountopts.PROPAGATION_OPTIONS, mountopts.RECURSIVE_OPTIONS,
              mountopts.IDMAP_OPTIONS)
    assert listed == sorted(set().union(*tables))
    assert len(listed) == len(set(listed))
    for option in listed:  # each one is acted on, none goes to the kernel as data
        assert mountopts.parse([option]).data == "", option
    # Recursive and propagation options are there.
    assert {"rro", "rnosuid", "rbind", "rprivate", "rslave", "shared"} <= set(listed)


def test_linux_switches(tmp_path) -> None:
    linux = features.document()["linux"]
    assert linux["cgroup"] == {"v1": True, "v2": True, "systemd": True, "systemdUser": True,
                               "rdma": True}
    sc = linux["seccomp"]
    assert sc["enabled"] is True
    # This 6.x kernel has every action; libseccomp 2.5.4 knows x86 but not loongarch64.
    assert sc["actions"] == list(seccomp.ACTIONS)
    assert sc["operators"] == list(seccomp.OPERATORS)
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"} <= set(sc["archs"])
    assert "SCMP_ARCH_LOONGARCH64" not in sc["archs"]
    assert sc["knownFlags"] == list(seccomp.FLAGS)
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
    assert "SECCOMP_FILTER_FLAG_TSYNC" in sc["supportedFlags"]
    assert linux["apparmor"] == {"enabled": False}
    assert linux["selinux"] == {"enabled": False}
    assert linux["memoryPolicy"] == {
        "modes": ["MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED",
                  "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"],
        "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]}
    assert linux["intelRdt"] == {"enabled": False, "schemata": False, "monitoring": False}
    assert linux["mountExtensions"] == {"idmap": {"enabled": True}}
    assert linux["netDevices"] == {"enabled": True}


def test_annotations_and_order(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(features, "COMMIT_FILE", str(tmp_path / "COMMIT"))
    doc = features.document()
    assert doc["annotations"] == {"io.github.pyrunc.commit": "unknown",
                                  "io.github.pyrunc.version": _source_package().__version__}
    assert doc["potentiallyUnsafeConfigAnnotations"] == []
    (tmp_path / "COMMIT").write_text("0123456789ab\n")
    assert features.document()["annotations"][
        "io.github.pyrunc.commit"] == "0123456789ab"
    assert list(doc) == ["ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux",
                         "annotations", "potentiallyUnsafeConfigAnnotations"]
    assert list(doc["annotations"]) == sorted(doc["annotations"])  # as Go prints a map


def test_documents_are_independent(tmp_path) -> None:
    first = features.document()
    pristine = copy.deepcopy(first)
    first["hooks"].clear()
    first["linux"]["cgroup"]["v1"] = False
    assert features.document() == pristine


def test_render_is_runc_format(tmp_path) -> None:
    doc = features.document()
    text = features.render(doc)
    assert text.endswith("}\n") and json.loads(text) == doc
    assert text.splitlines()[1] == '    "ociVersionMin": "1.0.0",'  # four-space indent


def test_no_jsonschema_import() -> None:
    """Like state and list, the features command reads no config: it must not
    load jsonschema. (It does load the cffi modules: the seccomp section asks
    the kernel and libseccomp what they support.)"""
    probe = ("import sys; from runtime import features; features.render(); "
             "print('jsonschema' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                          text=True, timeout=30, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False"]


def test_seccomp_archs_are_the_schemas() -> None:
    schema = json.loads((REPO / "spec" / "config-schema.json").read_text())
    assert list(seccomp.ARCHS) == schema["$defs"]["seccompArch"]["enum"]


# --------------------------------------------------------------------------
# Differential: the upstream runtime-spec schema (read-only reference)
# --------------------------------------------------------------------------


def _fix_upstream_refs(node):
    # defs.json writes one reference as "#definitions/uint32" (no slash).
    if isinstance(node, dict):
        return {k: ("#/" + v[1:] if k == "$ref" and isinstance(v, str)
                    and v.startswith("#definitions/") else _fix_upstream_refs(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_fix_upstream_refs(v) for v in node]
    return node


@pytest.fixture(scope="module")
def upstream_validator():
    root_path = UPSTREAM_DIR / "features-schema.json"
    if not root_path.is_file():
        pytest.skip(f"no upstream features schema at {root_path} (test-only reference: is "
                    "/work/shared mounted? or set PYRUNC_OCI_SCHEMA_DIR to a "
                    "runtime-spec/schema checkout)")
    referencing = pytest.importorskip("referencing")
    import referencing.jsonschema
    from jsonschema.validators import validator_for

    root = _fix_upstream_refs(json.loads(root_path.read_text(encoding="utf-8")))
    dialect = referencing.jsonschema.specification_with(root["$schema"])
    # The files name each other relatively ("defs.json#/..."): register each
    # under its file name and resolve from the root's file name.
    resources = [(path.name, referencing.Resource.from_contents(
        _fix_upstream_refs(json.loads(path.read_text(encoding="utf-8"))),
        default_specification=dialect)) for path in sorted(UPSTREAM_DIR.glob("*.json"))]
    registry = referencing.Registry().with_resources(resources)
    cls = validator_for(root)
    cls.check_schema(root)
    return cls({"$ref": root_path.name}, registry=registry)


def test_upstream_schema_accepts_document(upstream_validator) -> None:
    doc = features.document()
    assert [(list(e.absolute_path), e.message) for e in upstream_validator.iter_errors(doc)] == []


@pytest.mark.parametrize("mutate", [
    pytest.param(_drop(["ociVersionMax"]), id="no-ociVersionMax"),
    pytest.param(_set(["linux", "namespaces", 0], "net"), id="unknown-namespace"),
    pytest.param(_set(["linux", "cgroup", "rdma"], "yes"), id="string-bool"),
    pytest.param(_set(["hooks"], "prestart"), id="hooks-not-array"),
])
def test_both_schemas_reject(upstream_validator, validator, tmp_path, mutate) -> None:
    """The upstream validator is live (its references resolve and it rejects),
    and ours agrees on these."""
    doc = features.document()
    mutate(doc)
    assert list(upstream_validator.iter_errors(doc))
    assert list(validator.iter_errors(doc))


@pytest.mark.parametrize("mutate", [
    pytest.param(_set(["hooks", 0], "preStart"), id="unknown-hook"),
    pytest.param(_set(["checkpoint"], True), id="unknown-property"),
    pytest.param(_set(["hooks"], SPEC_HOOKS + SPEC_HOOKS), id="duplicates"),
])
def test_ours_is_stricter(upstream_validator, validator, tmp_path, mutate) -> None:
    """Deliberate tightenings (see the schema's description): upstream has no
    hook enum, leaves objects open and allows duplicates."""
    doc = features.document()
    mutate(doc)
    assert not list(upstream_validator.iter_errors(doc))
    assert list(validator.iter_errors(doc))
