"""The compiled validator (spec/schema_compiler.py, installed as
runtime._config_check) gives jsonschema's verdict.

jsonschema stays the reference: it writes the report for an invalid config.
The compiled module answers valid/invalid for every config on the hot path,
so a disagreement would let an invalid config through (or refuse a valid
one). Checked on the schema differential test's corpus (schema_gen: configs
generated from our schema and mutated, plus the upstream schema's when the
reference is present), the upstream fixtures, every config the tests keep,
and one schema per compiled keyword with its edge cases.
"""
import json
import random
import re
import sys
from pathlib import Path

import pytest
import referencing

from conftest import REPO
from runtime import _config_check, spec

sys.path.insert(0, str(REPO / "spec"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from schema_compiler import PATTERN_TESTS, SchemaCompileError, compile_schema  # noqa: E402
from schema_gen import Mutator, SchemaWalker  # noqa: E402

SCHEMA = json.loads((REPO / "spec" / "config-schema.json").read_text())
UPSTREAM = Path("/work/shared/reference/runtime-spec/schema")
REFERENCE = spec.validator_class()(SCHEMA)
CORPUS_SIZE = 3000
SEED = 20261207


def _compile(schema: dict):
    namespace: dict = {}
    exec(compile(compile_schema(schema), "<compiled>", "exec"), namespace)
    return namespace


def test_installed_module_is_compiled_from_this_tree():
    installed = Path(_config_check.__file__).read_text()
    assert installed == compile_schema(SCHEMA, source="config-schema.json")


def _walker() -> SchemaWalker:
    resource = referencing.Resource.from_contents(SCHEMA)
    registry = referencing.Registry().with_resource(SCHEMA["$id"], resource)
    return SchemaWalker("ours", (SCHEMA, registry.resolver(base_uri=SCHEMA["$id"])),
                        legacy_ref=False)


def _agree(doc, where: str) -> None:
    want = REFERENCE.is_valid(doc)
    assert _config_check.valid(doc) is want, (
        f"{where}: jsonschema says {'valid' if want else 'invalid'}, the compiled module "
        f"the opposite\n{json.dumps(doc, default=repr)[:3000]}")
    process = doc.get("process") if isinstance(doc, dict) else None
    if process is not None:
        want = REFERENCE.evolve(schema={"$defs": SCHEMA["$defs"],
                                        "$ref": "#/$defs/processSpec"}).is_valid(process)
        assert _config_check.DEFS["processSpec"](process) is want, f"{where}: /process"


def test_generated_and_mutated_configs_agree():
    walker = _walker()
    mutator = Mutator([walker])
    valid = invalid = 0
    for i in range(CORPUS_SIZE):
        rng = random.Random(SEED * 1_000_003 + i)
        doc, sites = walker.generate(rng)
        doc, ops = mutator.mutate(doc, sites, rng, rng.choice((0, 1, 1, 2, 3)))
        _agree(doc, f"config #{i}, mutations {ops}")
        if REFERENCE.is_valid(doc):
            valid += 1
        else:
            invalid += 1
    # The corpus tests both verdicts, many times each.
    assert valid > CORPUS_SIZE // 10 and invalid > CORPUS_SIZE // 3, (valid, invalid)


@pytest.mark.skipif(not (UPSTREAM / "test" / "config").is_dir(),
                    reason=f"the upstream runtime-spec fixtures are not at {UPSTREAM}")
def test_upstream_fixtures_agree():
    paths = sorted((UPSTREAM / "test" / "config").glob("*/*.json"))
    assert paths
    parsed = 0
    for path in paths:
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue  # a fixture of JSON that does not parse: no schema sees it
        _agree(doc, str(path))
        parsed += 1
    assert parsed > len(paths) // 2


def test_kept_configs_agree():
    paths = [p for p in (REPO / "tests").rglob("*.json")
             if isinstance(json.loads(p.read_text()), dict)]
    from runtime.defaults import default_config
    _agree(default_config(), "pyrunc spec")
    for path in paths:
        _agree(json.loads(path.read_text()), str(path))


# One schema per keyword: the edge cases where Python and JSON schema differ.
KEYWORD_CASES = [
    ({"type": "integer"}, [1, -5, 2**70], [1.0, True, "1", None]),
    ({"type": "number", "minimum": 0, "maximum": 10}, [0, 10, 2.5], [-1, 10.5, 11, "x", True]),
    ({"minimum": 0}, ["x", True, None], [-1]),
    ({"type": ["string", "null"]}, ["", None], [0, [], {}]),
    ({"enum": [1, "a", None]}, [1, 1.0, "a", None], [True, "b", 2]),
    ({"enum": [True]}, [True], [1, False]),
    ({"const": {"a": [1, False]}}, [{"a": [1, False]}, {"a": [1.0, False]}],
     [{"a": [1, 0]}, {"a": [True, False]}, {"a": [1]}]),
    ({"exclusiveMinimum": 0, "exclusiveMaximum": 2}, [1, 1.5, "x"], [0, 2]),
    ({"pattern": "^/", "minLength": 2, "maxLength": 3}, ["/a", "/ab", 7], ["a/", "/", "/abc"]),
    ({"minItems": 1, "maxItems": 2, "items": {"type": "string"}}, [["a"], ["a", "b"], "x"],
     [[], ["a", "b", "c"], [1]]),
    ({"uniqueItems": True}, [[1, True], [1, "1"], [[1], [True]]], [[1, 1.0], [{"a": 1}, {"a": 1}]]),
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}},
      "additionalProperties": False}, [{"a": "x"}], [{}, {"a": 1}, {"a": "x", "b": 1}, []]),
    ({"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": {"type": "null"}},
     [{"x-a": 1, "b": None}, {}], [{"x-a": "1"}, {"b": 0}]),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, [{"ab": 1}, "not an object"], [{"A": 1}]),
    ({"dependentRequired": {"a": ["b", "c"]}}, [{"a": 1, "b": 1, "c": 1}, {"b": 1}],
     [{"a": 1, "b": 1}]),
    ({"anyOf": [{"type": "string"}, {"minimum": 5}]}, ["x", 5, None], [4]),
    ({"oneOf": [{"type": "integer"}, {"minimum": 5}]}, [1, 5.5], [6]),
    ({"allOf": [{"minimum": 1}, {"maximum": 3}], "not": {"const": 2}}, [1, 3], [0, 2, 4]),
    ({"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}},
     [{"a": 1, "b": 1}, {"c": 1}], [{"a": 1}, {"b": 1}]),
    ({"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}},
                         "additionalProperties": False}}, "$ref": "#/$defs/node"},
     [{}, {"next": {"next": {}}}], [{"next": {"next": {"x": 1}}}, {"next": 1}]),
    ({"properties": {"a": False, "b": True}}, [{"b": 1}, {}], [{"a": None}]),
]


@pytest.mark.parametrize(("schema", "good", "bad"), KEYWORD_CASES,
                         ids=lambda v: ",".join(sorted(set(v) - {"$defs"}))
                         if isinstance(v, dict) else "")
def test_keyword_matches_jsonschema(schema, good, bad):
    compiled = _compile(schema)["valid"]
    reference = spec.validator_class()(schema)
    for doc in good + bad:
        assert compiled(doc) is reference.is_valid(doc), doc
        assert reference.is_valid(doc) is any(doc is g for g in good), doc


PATTERN_SAMPLES = ["", "/", "/a", "a/", "\n", "a\nb", "MB:", "MB:x", "mb:", "RLIMIT_", "RLIMIT_NOFILE",
                   "RLIMIT_NOFILE\n", "RLIMIT_nofile", "RLIMIT_ÀB", "0-3,5", "0-3 ,5\n", "1a",
                   "2MB", "1GB", "0KB", "10KB\n", "2TB", "MB", "1.0.0", "1.0.0-rc.1+b.2",
                   "01.0.0", "1.0", "1.0.0-", "1.0.0-01", "1.0.0-0a", "1.0.0+", "1.0.0+a..b",
                   "1.0.0-x-y.0", "1.0.0\n", "1.0.0-١", "١.0.0", "1.0.0+ü"]


@pytest.mark.parametrize("pattern", sorted(PATTERN_TESTS))
def test_plain_pattern_test_is_the_regex(pattern):
    """The compiled module's string tests in place of re, against re itself on
    fixed samples and on random strings over each pattern's alphabet."""
    compiled = _compile({"pattern": pattern})["valid"]
    regex = re.compile(pattern)
    rng = random.Random(pattern)
    alphabet = "".join(sorted(set(pattern.replace("\\", "")) | set("0123456789.-+aZ:\n/ü")))
    samples = PATTERN_SAMPLES + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
                                 for _ in range(20000)]
    samples += [rng.choice(PATTERN_SAMPLES[1:]) + rng.choice(alphabet) for _ in range(2000)]
    for text in samples:
        assert compiled(text) is (regex.search(text) is not None), repr(text)


def test_other_patterns_still_match_by_regex():
    compiled = _compile({"pattern": "^a+b$"})["valid"]
    assert compiled("aab") and not compiled("ab ") and compiled(5)


@pytest.mark.parametrize(("schema", "message"), [
    ({"format": "uri"}, "keyword 'format' is not compiled"),
    ({"$ref": "other.json#/x"}, "only #/$defs/<name> refs"),
    ({"items": [{"type": "string"}]}, "only one schema for every item"),
    ({"type": "decimal"}, "unknown type 'decimal'"),
])
def test_an_uncompiled_keyword_stops_the_build(schema, message):
    with pytest.raises(SchemaCompileError, match=message.replace("$", r"\$")):
        compile_schema(schema)
