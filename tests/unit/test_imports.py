"""The house rules of runtime/ (docs/architecture.md), read from the source:
no import cycle, anywhere (in-function imports count); no module over 450
lines; which kind of cgroup host this is, known only inside runtime/cgroups;
and commands that read no config free of jsonschema and cffi by their
imports alone (test_light_commands.py runs them)."""
import ast
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import import_graph  # noqa: E402

RUNTIME = REPO / "runtime"
MAX_LINES = 450
# Words that ask which kind of host this is: the cgroup2 hierarchy's key,
# and the Manager's and Hierarchy's answers.
HOST_KIND_WORDS = ("unified", "is_v2", ".kind")


def test_no_import_cycle():
    graph = import_graph.imports(str(RUNTIME))
    assert "runtime.commands.create" in graph  # the graph sees the packages
    assert import_graph.cycles(graph) == []


# Built from csrc/ and the schema at install time, not in the source tree.
GENERATED = {"runtime._consts", "runtime._native", "runtime._seccomp"}


def test_every_import_names_a_module_of_the_source_tree():
    assert import_graph.unresolved(str(RUNTIME), GENERATED) == {}


def test_the_unresolved_check_finds_a_stale_import(tmp_path):
    pkg = tmp_path / "runtime"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from ._native import x\n")
    (pkg / "sub" / "__init__.py").write_text("from .gone import Y\nfrom . import here\n")
    (pkg / "sub" / "here.py").write_text("import runtime.sub.here\n")
    assert import_graph.unresolved(str(pkg), GENERATED) == {"runtime.sub": {"runtime.sub.gone"}}


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_graph.cycles(graph) == [["a", "b", "c"]]
    assert import_graph.cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_too_long():
    long = {str(p.relative_to(REPO)): n for p in RUNTIME.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _code_strings_and_names(path) -> list[str]:
    """String constants (docstrings left out) and attribute names in code."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            out.append(node.value)
        elif isinstance(node, ast.Attribute):
            out.append("." + node.attr)
            if node.attr == "is_v2":
                out.append("is_v2")
    return out


def test_host_kind_known_only_inside_the_cgroups_package():
    outside = [p for p in RUNTIME.rglob("*.py") if "cgroups" not in p.relative_to(RUNTIME).parts]
    found = {}
    for path in outside:
        words = [w for w in _code_strings_and_names(path)
                 if any(k == w or (k == "unified" and k in w) for k in HOST_KIND_WORDS)]
        if words:
            found[str(path.relative_to(REPO))] = words
    assert found == {}
