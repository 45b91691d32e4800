"""Deterministic config.json generator for the schema differential test.

SchemaWalker walks a JSON Schema (pyrunc's own draft 2020-12 schema, or the
upstream runtime-spec draft-04 schema spread over several files) and builds
documents that the walked schema should accept; every value it writes is
recorded as a Site (JSON path + the merged constraints that applied there).
mutate() then damages a document at chosen sites: a required field dropped, a
value of the wrong type, an out-of-range or integral-float number, an unknown
enum value, an off-pattern string, an unknown property, an empty array or map
key, ...  Everything is driven by a random.Random the caller seeds, so a given
seed always yields the same document.

Only the keywords that the pyrunc and upstream config schemas use are
understood: type, enum, const, minimum, maximum, pattern, not/pattern,
minItems, minLength, properties, required, items (object and draft-04 tuple
form), additionalProperties, patternProperties, propertyNames,
dependentRequired, allOf, anyOf, oneOf, if/then/else and $ref.  Annotations
(description, deprecated, $comment, ...) are ignored.
"""

from __future__ import annotations

import copy
import functools
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable

Path = tuple[Any, ...]
Node = tuple[Any, Any]  # (schema, referencing.Resolver)


class GenerationError(Exception):
    """The generator met a schema construct it cannot satisfy."""


# --------------------------------------------------------------------------
# Sample values
# --------------------------------------------------------------------------

# Every string the generator may write where a schema has a pattern, and every
# string a "bad_string" mutation may put anywhere: samples that satisfy each
# pattern of either schema, and near misses of each.
STRING_POOL: tuple[str, ...] = (
    "", "x", "value", "hello world", "relative/dir", "./rel", "../up", "C:\\",
    "/", "/abs", "/usr/bin/true", "/proc/kcore", "/dev/null", "/var/run/netns/x",
    "/proc/1/ns/net", "/\n", "x\ny",
    # ociVersion
    "1.0.0", "1.2.0", "1.3.0", "1.3.0-rc.1", "1.3.0+dev", "1.3.0-rc.1+build.5",
    "0.1.0", "1.3", "v1.3.0", "01.3.0", "1.3.0-", "1.3.0\n", "1.3.0-rc..1",
    # rlimit names
    "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_MSGQUEUE", "RLIMIT_NO_FILE",
    "RLIMIT_", "RLIMIT__", "rlimit_nofile", "RLIMIT_NOFILE\n", "RLIMIT_nofile",
    # hugepage sizes
    "2MB", "64KB", "1GB", "16GB", "1TB", "2PB", "1EB", "2mb", "64kB", "0MB",
    "2MiB", "2M", "2MB\n",
    # intel RDT
    "MB:0=100", "MB:0=100;1=50", "MB:", "MB:0=100\nL3:0=f", "MB:x\n",
    "L3:0=ff", "L3:0=ff;1=f0", "mb:0=100",
    # cpu lists
    "0-3,7", "0", "0-3, 7", "1,2,3", " ", "a-b", "0-3\n", "all",
    # cgroup device rules
    "rwm", "rw", "r", "m", "rwx", "rw\n", "RWM",
    # device types
    "a", "c", "b", "u", "p", "c\n", "cb", "C",
)

# Plain strings, chosen by the name of the field they go in when no pattern
# applies.  Relative paths are included on purpose: where only one schema
# demands an absolute path, the difference must show up.
STRINGS_BY_FIELD: dict[str, tuple[str, ...]] = {
    "ociVersion": ("1.0.0", "1.2.0", "1.3.0", "1.3.0-rc.1", "1.0"),
    "path": ("/dev/fuse", "/usr/bin/hook", "rootfs", "/proc/1/ns/net", "relative"),
    "cwd": ("/", "/root", "/tmp", "work"),
    "destination": ("/proc", "/dev", "/sys/fs/cgroup", "tmp"),
    "source": ("proc", "tmpfs", "/src", "sysfs"),
    "type": ("proc", "bind", "tmpfs"),
    "cgroupsPath": ("/ocitest/c1", "system.slice:ocitest:c1"),
    "hostname": ("box", ""),
    "cpus": ("0-3", "0"),
    "mems": ("0",),
    "nodes": ("0-3,7", "0"),
    "closID": ("c1",),
    "l3CacheSchema": ("L3:0=ff", "L3:0=ff\nL3:1=f0"),
    "username": ("ContainerUser",),
    "commandLine": ("cmd.exe /c dir",),
}
GENERIC_STRINGS: tuple[str, ...] = ("x", "value", "/abs/path", "relative", "a b", "")

# Keys for open maps (additionalProperties / patternProperties), by map name.
MAP_KEYS: dict[str, tuple[str, ...]] = {
    "annotations": ("org.opencontainers.image.os", "com.example.key"),
    "sysctl": ("net.ipv4.ip_forward", "kernel.shmmax"),
    "unified": ("memory.max", "pids.max", "io.weight"),
    "rdma": ("mlx5_0", "mlx5_1"),
    "netDevices": ("eth0", "ens1"),
    "timeOffsets": ("boottime", "monotonic", "realtime"),
}
GENERIC_MAP_KEYS: tuple[str, ...] = ("key1", "key2", "com.example.k")

# Integers a mutation tries: every bound of every integer type either schema
# uses, and one past it.
INT_POOL: tuple[int, ...] = (
    -(2**63) - 1, -(2**63), -(2**31) - 1, -(2**31), -1001, -1000, -2, -1,
    0, 1, 5, 6, 7, 8, 100, 101, 511, 512, 1000, 1001, 65535, 65536,
    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
)

# One value of each JSON type, for "wrong_type" mutations.
TYPED_VALUES: dict[str, Any] = {
    "string": "wrong",
    "integer": 7,
    "number": 1.5,
    "boolean": True,
    "null": None,
    "array": ["wrong"],
    "object": {"wrong": 1},
}

# Optional root properties that are not Linux: rarely generated.
RARE_ROOT_KEYS = {"windows": 0.04, "solaris": 0.03, "vm": 0.03, "zos": 0.03, "freebsd": 0.03}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------
# Merged constraints of one location
# --------------------------------------------------------------------------


@dataclass
class Facts:
    """The constraints of every (sub)schema that applies at one location, merged."""

    types: set[str] | None = None
    enum: list[Any] | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    patterns: list[str] = field(default_factory=list)
    not_patterns: list[str] = field(default_factory=list)
    min_items: int = 0
    min_length: int = 0
    props: dict[str, list[Node]] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    tuple_items: list[list[Node]] = field(default_factory=list)
    additional: list[Node] = field(default_factory=list)
    pattern_props: list[tuple[str, Node]] = field(default_factory=list)
    key_min_length: int = 0
    dep_required: dict[str, list[str]] = field(default_factory=dict)

    def is_map(self) -> bool:
        return bool(self.additional or self.pattern_props)

    def int_range(self) -> tuple[int | None, int | None]:
        lo = None if self.minimum is None else int(self.minimum)
        hi = None if self.maximum is None else int(self.maximum)
        return lo, hi


@dataclass
class Site:
    path: Path
    kind: str  # JSON type of the value written there
    facts: Facts


class SchemaWalker:
    """Generates documents from one schema.

    legacy_ref: draft-04..07 semantics, where "$ref" makes sibling keywords
    ignored; draft 2019-09+ merges them (False).
    documents: every schema document the root may reach (for the enum pool).
    """

    def __init__(self, name: str, root: Node, *, legacy_ref: bool, documents: tuple = (),
                 then_probability: float = 0.15):
        self.name = name
        self.root = root
        self.documents = tuple(documents)  # every schema file, for the enum pool
        self.legacy_ref = legacy_ref
        self.then_probability = then_probability
        self._ref_cache: dict[int, tuple[dict, Node]] = {}

    # -- constraints --

    def flatten(self, nodes: list[Node], rng: random.Random) -> Facts:
        facts = Facts()
        stack = list(reversed(nodes))
        budget = 500
        while stack:
            budget -= 1
            if budget < 0:
                raise GenerationError(f"{self.name}: runaway $ref/allOf expansion")
            schema, resolver = stack.pop()
            if schema is True or schema == {}:
                continue
            if schema is False:
                raise GenerationError(f"{self.name}: 'false' schema cannot be generated")
            if "$ref" in schema:
                stack.append(self._lookup(schema, resolver))
                if self.legacy_ref:
                    continue
            self._merge_keywords(facts, schema, resolver, stack, rng)
        return facts

    def _lookup(self, schema: dict, resolver: Any) -> Node:
        # A schema object lives in exactly one resource, so its identity fixes the
        # base URI its "$ref" is resolved against.
        key = id(schema)
        hit = self._ref_cache.get(key)
        if hit is None:
            resolved = resolver.lookup(schema["$ref"])
            hit = self._ref_cache[key] = (schema, (resolved.contents, resolved.resolver))
        return hit[1]

    def _merge_keywords(self, facts: Facts, schema: dict, resolver: Any, stack: list[Node],
                        rng: random.Random) -> None:
        if "type" in schema:
            t = schema["type"]
            new = {t} if isinstance(t, str) else set(t)
            if "number" in new:
                new.add("integer")
            facts.types = new if facts.types is None else facts.types & new
        if "enum" in schema or "const" in schema:
            values = list(schema["enum"]) if "enum" in schema else [schema["const"]]
            facts.enum = values if facts.enum is None else [v for v in facts.enum if v in values]
        if "minimum" in schema:
            m = schema["minimum"]
            facts.minimum = m if facts.minimum is None else max(facts.minimum, m)
        if "maximum" in schema:
            m = schema["maximum"]
            facts.maximum = m if facts.maximum is None else min(facts.maximum, m)
        if "pattern" in schema:
            facts.patterns.append(schema["pattern"])
        if isinstance(schema.get("not"), dict):
            negated = schema["not"]
            if set(negated) == {"pattern"}:
                facts.not_patterns.append(negated["pattern"])
            # other "not" forms are not used by the config schemas
        if "minItems" in schema:
            facts.min_items = max(facts.min_items, schema["minItems"])
        if "minLength" in schema:
            facts.min_length = max(facts.min_length, schema["minLength"])
        for key, sub in schema.get("properties", {}).items():
            facts.props.setdefault(key, []).append((sub, resolver))
        for key in schema.get("required", []):
            if key not in facts.required:
                facts.required.append(key)
        items = schema.get("items")
        if isinstance(items, dict):
            facts.items.append((items, resolver))
        elif isinstance(items, list):
            for i, sub in enumerate(items):
                while len(facts.tuple_items) <= i:
                    facts.tuple_items.append([])
                facts.tuple_items[i].append((sub, resolver))
        if isinstance(schema.get("additionalProperties"), dict):
            facts.additional.append((schema["additionalProperties"], resolver))
        for pattern, sub in schema.get("patternProperties", {}).items():
            facts.pattern_props.append((pattern, (sub, resolver)))
        names = schema.get("propertyNames")
        if isinstance(names, dict) and "minLength" in names:
            facts.key_min_length = max(facts.key_min_length, names["minLength"])
        for key, deps in schema.get("dependentRequired", {}).items():
            facts.dep_required.setdefault(key, []).extend(deps)
        for sub in reversed(schema.get("allOf", [])):
            stack.append((sub, resolver))
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                stack.append((rng.choice(schema[keyword]), resolver))
        if "if" in schema:
            if "then" in schema and rng.random() < self.then_probability:
                stack.append((schema["then"], resolver))
                stack.append((schema["if"], resolver))
            elif "else" in schema:
                stack.append((schema["else"], resolver))

    # -- documents --

    def generate(self, rng: random.Random) -> tuple[Any, list[Site]]:
        sites: list[Site] = []
        doc = self._value([self.root], (), 0, rng, sites)
        return doc, sites

    def _value(self, nodes: list[Node], path: Path, depth: int, rng: random.Random,
               sites: list[Site]) -> Any:
        facts = self.flatten(nodes, rng)
        if facts.enum is not None:
            choices = [v for v in facts.enum
                       if facts.types is None or json_type(v) in facts.types]
            if not choices:
                raise GenerationError(f"{self.name}: empty enum at {path}")
            value = rng.choice(choices)
            sites.append(Site(path, json_type(value), facts))
            return value
        kind = self._kind(facts, rng)
        sites.append(Site(path, kind, facts))
        if kind == "object":
            return self._object(facts, path, depth, rng, sites)
        if kind == "array":
            return self._array(facts, path, depth, rng, sites)
        if kind == "string":
            return self._string(facts, path, rng)
        if kind == "integer":
            return self._integer(facts, rng)
        if kind == "number":
            return rng.choice((0.5, 2.25, 10))
        if kind == "boolean":
            return rng.random() < 0.5
        return None

    @staticmethod
    def _kind(facts: Facts, rng: random.Random) -> str:
        if facts.types is not None:
            if not facts.types:
                raise GenerationError("contradictory types")
            order = ("object", "array", "string", "integer", "number", "boolean", "null")
            return rng.choice([t for t in order if t in facts.types])
        if facts.props or facts.required or facts.is_map():
            return "object"
        if facts.items or facts.tuple_items or facts.min_items:
            return "array"
        if facts.patterns or facts.not_patterns:
            return "string"
        if facts.minimum is not None or facts.maximum is not None:
            return "integer"
        return rng.choice(("object", "string"))  # unconstrained

    def _optional_probability(self, path: Path, key: str, depth: int) -> float:
        if depth == 0 and key in RARE_ROOT_KEYS:
            return RARE_ROOT_KEYS[key]
        return (0.55, 0.5, 0.4, 0.3, 0.25)[min(depth, 4)] if depth < 8 else 0.0

    def _object(self, facts: Facts, path: Path, depth: int, rng: random.Random,
                sites: list[Site]) -> dict:
        chosen = list(facts.required)
        for key in facts.props:
            if key not in chosen and rng.random() < self._optional_probability(path, key, depth):
                chosen.append(key)
        if facts.is_map() and depth < 8:
            name = path[-1] if path else ""
            pool = MAP_KEYS.get(name, GENERIC_MAP_KEYS)
            for _ in range(rng.choice((0, 1, 1, 2))):
                key = rng.choice(pool)
                if key not in chosen and len(key) >= facts.key_min_length:
                    chosen.append(key)
        changed = True
        while changed:  # dependentRequired closure
            changed = False
            for key, deps in facts.dep_required.items():
                if key in chosen:
                    for dep in deps:
                        if dep not in chosen:
                            chosen.append(dep)
                            changed = True
        out: dict[str, Any] = {}
        for key in chosen:
            nodes = list(facts.props.get(key, []))
            matched = False
            for pattern, node in facts.pattern_props:
                if re.search(pattern, key):
                    nodes.append(node)
                    matched = True
            if key not in facts.props and not matched:
                nodes.extend(facts.additional)
            out[key] = self._value(nodes, path + (key,), depth + 1, rng, sites)
        return out

    def _array(self, facts: Facts, path: Path, depth: int, rng: random.Random,
               sites: list[Site]) -> list:
        if facts.tuple_items:
            n = rng.randint(0, len(facts.tuple_items))
        else:
            n = rng.choice((0, 1, 1, 2, 2, 3)) if depth < 8 else 0
        n = max(n, facts.min_items)
        out = []
        for i in range(n):
            if facts.tuple_items:
                nodes = facts.tuple_items[i] if i < len(facts.tuple_items) else []
            else:
                nodes = facts.items
            out.append(self._value(list(nodes), path + (i,), depth + 1, rng, sites))
        return out

    @staticmethod
    def _string(facts: Facts, path: Path, rng: random.Random) -> str:
        if facts.patterns or facts.not_patterns or facts.min_length:
            pool = _matching_strings(tuple(facts.patterns), tuple(facts.not_patterns),
                                     facts.min_length)
            if not pool:
                raise GenerationError(f"no sample string at {path} for patterns "
                                      f"{facts.patterns} / not {facts.not_patterns}")
            return rng.choice(pool)
        name = next((p for p in reversed(path) if isinstance(p, str)), "")
        return rng.choice(STRINGS_BY_FIELD.get(name, GENERIC_STRINGS))

    @staticmethod
    def _integer(facts: Facts, rng: random.Random) -> int:
        lo, hi = facts.int_range()
        span_lo = lo if lo is not None else -2000
        span_hi = hi if hi is not None else 2000
        if span_lo > span_hi:
            raise GenerationError(f"empty integer range {lo}..{hi}")
        r = rng.random()
        if r < 0.45:
            small = [v for v in range(-2, 11) if span_lo <= v <= span_hi]
            if small:
                return rng.choice(small)
        if r < 0.7:
            return rng.choice([v for v in (span_lo, span_hi) if v is not None])
        return rng.randint(span_lo, span_hi)


@functools.lru_cache(maxsize=None)
def _matching_strings(patterns: tuple[str, ...], not_patterns: tuple[str, ...],
                      min_length: int) -> tuple[str, ...]:
    return tuple(s for s in STRING_POOL
                 if len(s) >= min_length
                 and all(re.search(p, s) for p in patterns)
                 and not any(re.search(p, s) for p in not_patterns))


# --------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------


def _get(doc: Any, path: Path) -> tuple[bool, Any]:
    cur = doc
    for part in path:
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            cur = cur[part]
        else:
            return False, None
    return True, cur


def _set(doc: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    ok, parent = _get(doc, path[:-1])
    assert ok
    parent[path[-1]] = value
    return doc


def _enum_pool(walkers: list[SchemaWalker]) -> list[Any]:
    """Every enum/const value in every schema reachable from the walkers' roots."""
    seen: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "enum" and isinstance(value, list):
                    for v in value:
                        if v not in seen:
                            seen.append(v)
                elif key == "const" and value not in seen:
                    seen.append(value)
                visit(value)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    for walker in walkers:
        visit(walker.root[0])
        for document in walker.documents:
            visit(document)
    return seen


class Mutator:
    """Applies named, schema-aware mutations to generated documents."""

    def __init__(self, walkers: list[SchemaWalker]):
        self.enum_pool = _enum_pool(walkers)
        self.ops: dict[str, Callable[[Any, Site, Any, random.Random], tuple[bool, Any]]] = {
            "drop_required": self._drop_required,
            "drop_key": self._drop_key,
            "extra_property": self._extra_property,
            "empty_key": self._empty_key,
            "wrong_type": self._wrong_type,
            "null": self._null,
            "empty_array": self._empty_array,
            "bad_item": self._bad_item,
            "out_of_range": self._out_of_range,
            "integral_float": self._integral_float,
            "bad_enum": self._bad_enum,
            "bad_string": self._bad_string,
            "newline_suffix": self._newline_suffix,
        }
        self.by_kind = {
            "object": ("drop_required", "drop_required", "drop_key", "extra_property",
                       "empty_key", "wrong_type", "null"),
            "array": ("empty_array", "empty_array", "bad_item", "wrong_type", "null"),
            "string": ("bad_string", "bad_string", "bad_enum", "newline_suffix",
                       "wrong_type"),
            "integer": ("out_of_range", "out_of_range", "out_of_range", "integral_float",
                        "wrong_type"),
            "number": ("wrong_type",),
            "boolean": ("wrong_type", "null"),
            "null": ("wrong_type",),
        }

    def mutate(self, doc: Any, sites: list[Site], rng: random.Random, count: int
               ) -> tuple[Any, list[str]]:
        """Apply up to `count` mutations; returns the document and 'op@/pointer' labels."""
        applied: list[str] = []
        attempts = 0
        while len(applied) < count and attempts < 20 * count:
            attempts += 1
            site = rng.choice(sites)
            ok, value = _get(doc, site.path)
            if not ok:
                continue  # removed by an earlier mutation
            op = rng.choice(self.by_kind[json_type(value)])
            changed, doc = self.ops[op](doc, site, value, rng)
            if changed:
                applied.append(f"{op}@{pointer(site.path)}")
        return doc, applied

    # -- objects --

    @staticmethod
    def _drop_required(doc, site, value, rng):
        present = [k for k in site.facts.required if k in value]
        if not present:
            return False, doc
        del value[rng.choice(present)]
        return True, doc

    @staticmethod
    def _drop_key(doc, site, value, rng):
        if not value:
            return False, doc
        del value[rng.choice(sorted(value))]
        return True, doc

    @staticmethod
    def _extra_property(doc, site, value, rng):
        value[rng.choice(("com.example.unknown", "futureField", "x-extension"))] = \
            rng.choice((1, "s", True, None, [1], {"a": 1}))
        return True, doc

    @staticmethod
    def _empty_key(doc, site, value, rng):
        if not site.facts.is_map():
            return False, doc
        value[""] = rng.choice(("v", 1, None, {"a": 1}))
        return True, doc

    # -- any value --

    @staticmethod
    def _wrong_type(doc, site, value, rng):
        current = json_type(value)
        others = [t for t in TYPED_VALUES if t != current]
        replacement = copy.deepcopy(TYPED_VALUES[rng.choice(others)])
        return True, _set(doc, site.path, replacement)

    @staticmethod
    def _null(doc, site, value, rng):
        return True, _set(doc, site.path, None)

    # -- arrays --

    @staticmethod
    def _empty_array(doc, site, value, rng):
        if not value:
            return False, doc
        value.clear()
        return True, doc

    @staticmethod
    def _bad_item(doc, site, value, rng):
        value.append(copy.deepcopy(rng.choice(list(TYPED_VALUES.values()))))
        return True, doc

    # -- numbers --

    @staticmethod
    def _out_of_range(doc, site, value, rng):
        lo, hi = site.facts.int_range()
        pool = list(INT_POOL)
        if lo is not None:
            pool += [lo - 1, lo - 1, lo]
        if hi is not None:
            pool += [hi + 1, hi + 1, hi]
        return True, _set(doc, site.path, rng.choice(pool))

    @staticmethod
    def _integral_float(doc, site, value, rng):
        if abs(value) > 2**53:
            return False, doc
        return True, _set(doc, site.path, float(value))

    # -- strings --

    def _bad_enum(self, doc, site, value, rng):
        near = [value.lower(), value.upper(), "r" + value, value + "_X", value[:-1],
                "UNKNOWN_VALUE", ""]
        return True, _set(doc, site.path, rng.choice(near + [
            v for v in self.enum_pool if isinstance(v, str)]))

    @staticmethod
    def _bad_string(doc, site, value, rng):
        return True, _set(doc, site.path, rng.choice(STRING_POOL))

    @staticmethod
    def _newline_suffix(doc, site, value, rng):
        return True, _set(doc, site.path, value + "\n")


def pointer(path: Path) -> str:
    """RFC 6901 JSON pointer for a path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
