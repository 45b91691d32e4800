#!/usr/bin/env python3
"""runtime/'s internal import graph, read from the source with `ast`.

Every import counts, also one inside a function: a cycle hidden in a
function is still a cycle. Prints each module with its line count, what it
imports and its depth (the longest chain of imports below it), then any
cycle. Exit 1 if there is one. tests/unit/test_imports.py runs the same
functions.

    scripts/import_graph.py [SOURCE_DIR]     (default: runtime/ of this tree)
"""
import ast
import os
import sys

PACKAGE = "runtime"


def modules(source_dir: str) -> dict[str, str]:
    """Dotted module name -> file, for every .py under source_dir."""
    found = {}
    for folder, _dirs, files in os.walk(source_dir):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, os.path.dirname(source_dir))[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            found[".".join(rel)] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _import_statements(mods: dict[str, str]):
    """(module, target, names) for every import in every module: target is the
    module `import X` names (names None), or that `from X import a, b` reads
    from, made absolute (names: a, b)."""
    for mod, path in mods.items():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith("__init__.py")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield mod, a.name, None
            elif isinstance(node, ast.ImportFrom) and (node.level or node.module):
                yield mod, _resolve(mod, is_package, node), [a.name for a in node.names]


def imports(source_dir: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its file)."""
    mods = modules(source_dir)
    graph = {mod: set() for mod in mods}
    for mod, target, names in _import_statements(mods):
        # `from . import x` imports submodule x when there is one, else a
        # name the package itself defines.
        subs = [f"{target}.{name}" for name in names or ()]
        for wanted in [sub if sub in mods else target for sub in subs] or [target]:
            if wanted in mods and wanted != mod:
                graph[mod].add(wanted)
    return graph


def unresolved(source_dir: str, generated: set[str]) -> dict[str, set[str]]:
    """Module -> the package modules it imports that have no source file and
    are not built (`generated`): a stale import a deleted module left behind,
    which a test against an older installed copy would not notice."""
    mods = modules(source_dir)
    missing = {}
    for mod, target, _names in _import_statements(mods):
        if target.split(".")[0] == PACKAGE and target not in mods and target not in generated:
            missing.setdefault(mod, set()).add(target)
    return missing


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def depths(graph: dict[str, set[str]]) -> dict[str, int]:
    """The longest import chain below each module (0: imports none of ours).
    Only meaningful without cycles; a cycle's members count once."""
    memo = {}

    def depth(node, seen):
        if node in memo:
            return memo[node]
        below = [depth(n, seen | {node}) + 1 for n in graph[node] if n not in seen | {node}]
        memo[node] = max(below, default=0)
        return memo[node]

    return {m: depth(m, frozenset()) for m in graph}


def main() -> int:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, PACKAGE)
    graph = imports(source)
    files = modules(source)
    deep = depths(graph)
    for mod in sorted(graph):
        with open(files[mod]) as f:
            lines = sum(1 for _ in f)
        short = sorted(m.removeprefix(PACKAGE + ".") for m in graph[mod])
        print(f"{lines:5d}  depth {deep[mod]:2d}  {mod}: {', '.join(short) or '-'}")
    found = cycles(graph)
    total = sum(sum(1 for _ in open(p)) for p in files.values())
    print(f"{len(graph)} modules, {total} lines, deepest chain {max(deep.values())}, "
          f"{len(found)} cycle(s)")
    for group in found:
        print("cycle: " + " <-> ".join(group))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
