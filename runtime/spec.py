"""Load config.json and validate it: the project's JSON schema, then the rules a
schema cannot express. Every error names a JSON pointer into config.json.

The verdict on a config comes from the schema compiled into
runtime/_config_check.py at build time; jsonschema is imported only to write
the report on an invalid one.
"""
import os
import stat

from . import _config_check, caps, jsonlite, log, userns
from .config import Config
from .errors import ConfigError, PyruncError, strerror
from .plan_process import RLIMITS
from .userns import check_rootfs_reachable

SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "schema", "config-schema.json")

# Sysctls a container may set, by the namespace that makes them its own.
IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
               "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
UTS_SYSCTLS = {"kernel.hostname", "kernel.domainname"}

# Patterns of our schema, in words.
KNOWN_PATTERNS = {"^/": "must be an absolute path"}


def load(bundle: str) -> dict:
    """Read, parse and validate BUNDLE/config.json."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise PyruncError(f"{path}: no such file or directory (is --bundle right?)") from None
    except IsADirectoryError:
        raise PyruncError(f"{path}: is a directory, not a file") from None
    try:
        config = parse_json(data)
    except UnicodeDecodeError as e:
        raise ConfigError("", f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except ValueError as e:
        if hasattr(e, "lineno"):  # json.JSONDecodeError
            raise ConfigError("", f"invalid JSON at line {e.lineno} column {e.colno}: "
                                  f"{e.msg}") from None
        # e.g. an integer of thousands of digits
        raise ConfigError("", f"invalid JSON: {e}") from None
    except RecursionError:
        raise ConfigError("", "nested too deeply to be a container config") from None
    if not isinstance(config, dict):
        raise ConfigError("", "expected a JSON object at the top level")
    check_strings(config)
    check_schema(config)
    log.debug(f"{path}: valid (checked against the schema)")
    check_semantics(config, bundle)
    return config


def parse_json(data: bytes):
    """json's own C scanner through jsonlite; json itself (~8 ms to import)
    only when that fails: its error names line and column, and it reads the
    UTF-16 and UTF-32 that json.loads accepts."""
    try:
        return jsonlite.loads(data)
    except (ValueError, RecursionError):
        import json  # error path only
        return json.loads(data)


# -- strings the kernel could not take --

def check_strings(value, path=()) -> None:
    """No NUL byte (C strings end there) and no lone surrogate (not UTF-8) in any
    key or string: both would reach the kernel mangled."""
    if isinstance(value, str):
        _check_string(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_string(key, path + (key,))
            check_strings(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_strings(item, path + (i,))


def _check_string(text: str, path) -> None:
    if "\0" in text:
        raise ConfigError(pointer_of(path), "contains a NUL byte")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ConfigError(pointer_of(path), "contains a lone UTF-16 surrogate (not valid UTF-8)") from None


# -- schema --

def pointer_of(path) -> str:
    if not path:
        return ""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def describe(error) -> str:
    """One line for a jsonschema error, in words a person acts on."""
    v = error.validator
    if v == "required":
        missing = [m for m in error.validator_value if m not in error.instance]
        return f"missing required field {missing[0]!r}" if missing else error.message
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"expected {want}, got {_json_type(error.instance)} {_short(error.instance)}"
    if v == "enum":
        choices = ", ".join(repr(c) for c in error.validator_value)
        return f"{_short(error.instance)} is not one of {choices}"
    if v == "minItems" and error.validator_value == 1:
        return "expected a non-empty array"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{error.instance} is out of range ({v} {error.validator_value})"
    if v == "pattern":
        meaning = KNOWN_PATTERNS.get(error.validator_value)
        if meaning:
            return f"{_short(error.instance)} {meaning}"
        return f"{_short(error.instance)} does not match {error.validator_value!r}"
    return error.message


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            int: "integer", float: "number", type(None): "null"}.get(type(value), "value")


def _short(value) -> str:
    text = jsonlite.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validator_class():
    """Draft 2020-12 with JSON's integers only: 2020-12 counts 1.0 as an integer,
    but uid 0.0 is not a uid (runc's Go decoder rejects it too)."""
    import jsonschema  # deferred: ~60 ms to import, needed only for an invalid config's report

    base = jsonschema.Draft202012Validator
    strict = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, x: isinstance(x, int) and not isinstance(x, bool))
    return jsonschema.validators.extend(base, type_checker=strict)


def check_schema(value, file: str = "config.json", definition: str | None = None) -> None:
    """value against the schema, or against one of its $defs (a process, a
    LinuxResources); errors point into `file`. The verdict comes from the
    schema compiled at build time (spec/schema_compiler.py, well under a
    millisecond); jsonschema runs only to write the report on an invalid one."""
    verdict = _config_check.DEFS[definition] if definition else _config_check.valid
    try:
        if verdict(value):
            return
    except RecursionError:
        raise ConfigError("", "nested too deeply to be a container config", file=file) from None
    import jsonschema  # deferred: ~60 ms to import, needed only for the report

    with open(SCHEMA_FILE, "rb") as f:
        schema = jsonlite.loads(f.read())
    if definition:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    validator = validator_class()(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        raise ConfigError(pointer_of(error.absolute_path), describe(error), file=file)
    # The two disagree: tests/unit/test_schema_compiled.py exists so this
    # never happens. jsonschema is the reference, so the value passes.
    log.debug(f"{file}: the compiled schema refused what jsonschema accepts")


def load_process(path: str) -> dict:
    """An OCI process JSON (`exec --process`): the config schema's process part
    and the same semantic checks; errors point into that file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PyruncError(f"--process {path}: {strerror(e.errno)}") from None
    try:
        process = parse_json(data)
    except (ValueError, RecursionError) as e:
        raise ConfigError("", f"invalid JSON: {e}", file=path) from None
    if not isinstance(process, dict):
        raise ConfigError("", "expected a JSON object (an OCI process)", file=path)
    try:
        check_strings(process)
    except ConfigError as e:
        raise ConfigError(e.pointer, e.problem, file=path) from None
    check_schema(process, file=path, definition="processSpec")
    try:
        _check_process(process)
    except ConfigError as e:
        raise ConfigError(e.pointer.removeprefix("/process") or "/", e.problem, file=path) from None
    return process


# -- semantics --

def check_semantics(config: dict, bundle: str) -> None:
    for step in semantic_steps(config, bundle):
        step()


def semantic_steps(config: dict, bundle: str) -> list:
    """The rules beyond the schema, one callable each (raising ConfigError):
    create stops at the first failure, `pyrunc check` runs them all. A step
    may assume only what the schema and the steps before it guarantee."""
    linux = config.get("linux", {})
    ns_types = {ns.get("type") for ns in linux.get("namespaces", [])}
    steps = [lambda: _check_version(config), lambda: _check_process_present(config)]
    if isinstance(config.get("process"), dict):
        steps += process_steps(config["process"])
    steps += [lambda: _check_root(config, bundle), lambda: _check_namespaces(config)]
    if "user" in ns_types:
        steps.append(lambda: check_rootfs_reachable(
            config, os.path.join(bundle, config["root"]["path"])))
    steps += [lambda f=field: _check_needs_uts(config, f, ns_types)
              for field in ("hostname", "domainname") if field in config]
    steps += [lambda i=i: _check_mount_destination(config, i)
              for i in range(len(config.get("mounts", [])))]
    steps += [lambda k=key: _check_sysctl(k, ns_types) for key in linux.get("sysctl", {})]
    steps.append(lambda: _check_devices(config))
    if linux.get("netDevices"):
        steps.append(lambda: _check_net_devices(config, ns_types))
    return steps


def _check_process_present(config: dict) -> None:
    if config.get("process") is None:
        raise ConfigError("/process", "missing: a container needs a process to run")


def _check_needs_uts(config: dict, field: str, ns_types: set[str]) -> None:
    if "uts" not in ns_types:
        raise ConfigError(f"/{field}", f"setting the {field} needs a uts namespace "
                                       "in /linux/namespaces")


def _check_mount_destination(config: dict, i: int) -> None:
    m = config["mounts"][i]
    if not m["destination"].startswith("/"):
        # config.md: it MAY be relative (deprecated), "interpreted as relative to /".
        log.warning(f"/mounts/{i}/destination: {m['destination']!r} is relative "
                    "(deprecated): taken as /" + m["destination"])
        m["destination"] = "/" + m["destination"]
    if _climbs_above_root(m["destination"]):
        raise ConfigError(f"/mounts/{i}/destination",
                          f"{m['destination']!r} climbs above the root with '..'")


def _check_net_devices(config: dict, ns_types: set[str]) -> None:
    from . import netdevices  # feature import
    netdevices.check(config, ns_types)


def _climbs_above_root(path: str) -> bool:
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _check_version(config: dict) -> None:
    version = config["ociVersion"]
    numbers = _version_numbers(version)
    # Compare digits as text first: a 5000-digit number is no version (and
    # int() of it would hit Python's conversion limit).
    if not numbers or numbers[0] != "1" or len(numbers[1]) > 1 or int(numbers[1]) > 3:
        raise ConfigError("/ociVersion", f"unsupported version {version!r}: "
                                         "pyrunc runs configs of version 1.0.0 to 1.3.x")


def _version_numbers(version: str) -> list[str] | None:
    """MAJOR.MINOR.PATCH of a SemVer-like version, as text; a suffix after
    - or + may be anything but a line break."""
    core, suffix = version, ""
    for i, c in enumerate(version):
        if c in "-+":
            core, suffix = version[:i], version[i + 1:]
            break
    numbers = core.split(".")
    if "\n" in suffix or len(numbers) != 3 or not all(n.isdecimal() for n in numbers):
        return None
    return numbers


def _check_process(process: dict) -> None:
    for step in process_steps(process):
        step()


def process_steps(process: dict) -> list:
    """The process's rules, one callable each (as semantic_steps)."""
    capabilities = process.get("capabilities", {})
    return ([lambda: _check_args(process), lambda: _check_cwd(process)]
            + [lambda s=capset: _check_capabilities(capabilities, s) for capset in caps.SETS]
            + [lambda: _check_rlimits(process)])


def _check_args(process: dict) -> None:
    if not process.get("args"):
        raise ConfigError("/process/args", "expected a non-empty array")


def _check_cwd(process: dict) -> None:
    if not process.get("cwd", "/").startswith("/"):
        raise ConfigError("/process/cwd", f"{process['cwd']!r} must be an absolute path")


def _check_capabilities(capabilities: dict, capset: str) -> None:
    for i, name in enumerate(capabilities.get(capset, [])):  # other keys: allowed, ignored
        if name not in caps.NUMBERS:
            raise ConfigError(f"/process/capabilities/{capset}/{i}",
                              f"unknown capability {name!r}")


def _check_rlimits(process: dict) -> None:
    seen = set()
    for i, r in enumerate(process.get("rlimits", [])):
        if r["type"] not in RLIMITS:
            raise ConfigError(f"/process/rlimits/{i}/type", f"unknown rlimit {r['type']!r}")
        if r["type"] in seen:
            raise ConfigError(f"/process/rlimits/{i}/type", f"{r['type']} is set twice")
        seen.add(r["type"])
        if r["soft"] > r["hard"]:
            raise ConfigError(f"/process/rlimits/{i}", f"soft limit {r['soft']} is above "
                                                       f"the hard limit {r['hard']}")


def _check_root(config: dict, bundle: str) -> None:
    if "root" not in config:
        raise ConfigError("/root", "missing: a container needs a root filesystem")
    path = os.path.join(bundle, config["root"]["path"])
    if not os.path.isdir(path):
        problem = "not a directory" if os.path.exists(path) else "no such directory"
        raise ConfigError("/root/path", f"{path}: {problem}")


def _check_namespaces(config: dict) -> set[str]:
    types = set()
    # The raw list (a Config view keeps one entry per type): duplicates are the point.
    for i, ns in enumerate(config.get("linux", {}).get("namespaces", [])):
        if ns["type"] in types:
            raise ConfigError(f"/linux/namespaces/{i}", f"{ns['type']} namespace is listed twice")
        types.add(ns["type"])
        if ns.get("path"):
            _check_namespace_file(ns["path"], f"/linux/namespaces/{i}/path")
    if "mount" not in types:
        _check_without_mount_namespace(config)
    userns.check(config, types)
    return types


def _check_without_mount_namespace(config: dict) -> None:
    """No mount namespace: the container's mounts are made in ours (as runc
    does; delete unmounts them) and it is chrooted, not pivoted. What would
    change the host's own mounts is refused (runc applies some of it to the
    host, or ignores it)."""
    linux = Config(config).linux
    for key, what in (("rootfsPropagation", "would change the host's / propagation"),
                      ("maskedPaths", "would mask the host's paths"),
                      ("readonlyPaths", "would remount the host's paths read-only")):
        if linux.get(key):
            raise ConfigError(f"/linux/{key}", f"needs a mount namespace ({what})")
    if config.get("root", {}).get("readonly"):
        raise ConfigError("/root/readonly", "needs a mount namespace (it would remount "
                                            "the host's mount of the rootfs read-only)")


DEVICE_NUMBER_MAX = 2**32 - 1


def _check_devices(config: dict) -> None:
    for i, dev in enumerate(Config(config).linux.get("devices", [])):
        for field in ("major", "minor"):
            if not 0 <= dev.get(field, 0) <= DEVICE_NUMBER_MAX:
                raise ConfigError(f"/linux/devices/{i}/{field}",
                                  f"{dev[field]} is not a device number (0 to {DEVICE_NUMBER_MAX})")


def _check_namespace_file(path: str, pointer: str) -> None:
    """A namespace file (/proc/PID/ns/X, or a bind mount of one) is a regular
    file to stat; a fifo or a device would block or mislead setns."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigError(pointer, f"{path}: no such file") from None
    except OSError as e:
        raise ConfigError(pointer, f"{path}: {strerror(e.errno)}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(pointer, f"{path}: not a namespace file")


def _check_sysctl(key: str, ns_types: set[str]) -> None:
    pointer = f"/linux/sysctl/{key}"
    if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
        needed = "ipc"
    elif key in UTS_SYSCTLS:
        needed = "uts"
    elif key.startswith("net."):
        needed = "network"
    else:
        raise ConfigError(pointer, "not a namespaced sysctl: a container may not set it")
    if needed not in ns_types:
        raise ConfigError(pointer, f"needs a {needed} namespace of the container's own")
