"""The config on its own: readable JSON, every schema error (not only the
first, as create reports), then each rule of spec.semantic_steps. A rule that
cannot run because the schema already failed on what it reads is skipped:
its field has an error already."""
import os
import re

from .. import jsonlite, log, spec
from ..errors import ConfigError, PyruncError
from .findings import Report

# The fix for a problem, by the words of its message (spec.py and the schema
# descriptions, spec.describe). The first match wins.
HINTS = (
    (r"setting the (\w+) needs a uts namespace", 'add {"type": "uts"} to /linux/namespaces, '
                                                 "or remove the field"),
    (r"needs a (\w+) namespace of the container's own", 'add {"type": "%s"} to '
                                                        "/linux/namespaces, or remove the sysctl"),
    (r"not a namespaced sysctl", "set it on the host (sysctl -w), not in the container"),
    (r"climbs above the root", "use a path inside the container"),
    (r"unsupported version", 'set ociVersion to a 1.x version from "1.0.0" to "1.3.0"'),
    (r"listed twice", "keep one of the entries"),
    (r"unknown capability", "use a name from capabilities(7), such as CAP_NET_ADMIN"),
    (r"is set twice", "keep one of the entries"),
    (r"above the hard limit", "lower the soft limit or raise the hard one"),
    (r"no such directory", "create it, or fix root.path (relative to the bundle)"),
    (r"not a directory", "root.path must name the rootfs directory"),
    (r"needs a mount namespace", 'add {"type": "mount"} to /linux/namespaces, or remove '
                                 "the field"),
    (r"missing required field '(\w+)'", "add the field %r"),
    (r"expected a non-empty array", "give at least one element"),
    (r"expected (\w+)", "make it %s"),
    (r"is not one of", "use one of the values listed"),
    (r"is out of range", "use a value in range"),
    (r"must be an absolute path", "start it with /"),
    (r"mappings need a user namespace", 'add {"type": "user"} to /linux/namespaces, or '
                                        "remove the mappings"),
    (r"a new user namespace needs mappings", "map the container's root to a host id (`pyrunc "
                                             "spec --rootless` writes an example)"),
    (r"invalid JSON", "fix the syntax (python3 -m json.tool config.json shows where)"),
    (r"no such file", "fix the path, or create the file"),
    (r"unknown rlimit", "use a name from getrlimit(2), such as RLIMIT_NOFILE"),
    (r"cannot be granted", "drop it from the sets, or run pyrunc with it in its bounding set"),
    (r"is relative \(deprecated\)", "start it with /"),
    (r"AppArmor is not enabled", "remove apparmorProfile, or enable AppArmor on the host"),
    (r"SELinux is not enabled", "remove selinuxLabel, or enable SELinux on the host"),
    (r"not supported by this libseccomp", "remove the architecture"),
    (r"not supported by this kernel", "remove the flag"),
    (r"cannot be the default action", "use SCMP_ACT_NOTIFY in rules only"),
)


# What a rule or check raises when it reads a part the schema refused.
FRAGILE = (KeyError, TypeError, AttributeError, IndexError, ValueError)


def hint_for(message: str) -> str:
    for pattern, hint in HINTS:
        m = re.search(pattern, message)
        if m:
            return hint % m.group(1) if "%" in hint else hint
    return ""


def add_error(report: Report, e: ConfigError) -> None:
    report.error(e.pointer, e.problem, hint_for(e.problem))


def load(bundle: str, report: Report) -> dict | None:
    """config.json parsed and checked; None when it cannot be read as a config
    at all (the report says why)."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        report.error(None, f"{path}: {e.strerror.lower()}",
                     "--bundle names the directory that holds config.json")
        return None
    try:
        config = spec.parse_json(data)
        if not isinstance(config, dict):
            raise ConfigError("", "expected a JSON object at the top level")
        spec.check_strings(config)
    except (ValueError, RecursionError) as e:
        message = (f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
                   if hasattr(e, "lineno") else f"invalid JSON: {e}")
        report.error("", message, hint_for("invalid JSON"))
        return None
    except ConfigError as e:
        add_error(report, e)
        return None
    schema_ok = _schema(config, report)
    _semantics(config, bundle, report, schema_ok)
    return config


def _add_unless_reported(report: Report, e: ConfigError) -> None:
    """A rule's error, unless the schema has one for the same field already."""
    if not any(f.pointer == e.pointer for f in report.errors()):
        add_error(report, e)


def _schema(config: dict, report: Report) -> bool:
    """Every schema error, each described as create describes its first."""
    try:
        spec.check_schema(config)
        return True
    except ConfigError:
        pass
    import jsonschema  # only for an invalid config, as spec.check_schema

    with open(spec.SCHEMA_FILE, "rb") as f:
        validator = spec.validator_class()(jsonlite.loads(f.read()))
    seen = set()
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        best = jsonschema.exceptions.best_match([error])
        finding = (spec.pointer_of(best.absolute_path), spec.describe(best))
        if finding not in seen:
            seen.add(finding)
            report.error(*finding, hint_for(finding[1]))
    return False


def _semantics(config: dict, bundle: str, report: Report, schema_ok: bool) -> None:
    for step in spec.semantic_steps(config, bundle):
        try:
            step()
        except ConfigError as e:
            _add_unless_reported(report, e)
        except PyruncError as e:
            report.error(None, str(e))
        except FRAGILE:
            if schema_ok:
                raise  # a valid config must never break a check: a bug to see
            # The schema refused what this rule reads: reported above.


def collect_warnings(report: Report):
    """log.warning's lines as warning findings ("POINTER: message"), while
    the checks run; returns the function that stops collecting."""
    def sink(msg: str) -> None:
        pointer, sep, rest = msg.partition(": ")
        if sep and pointer.startswith("/") and " " not in pointer:
            report.warning(pointer, rest, hint_for(rest))
        else:
            report.warning(None, msg, hint_for(msg))
    log.collect_warnings(sink)
    return lambda: log.collect_warnings(None)
