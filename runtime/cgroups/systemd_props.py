"""The properties of a container's systemd unit: the unit's own (Slice,
Delegate, ...), linux.resources as systemd's resource properties, and runc's
`org.systemd.property.NAME` annotations.

Resources go through the cgroup v2 mapping first (v2_resources.writes: the
same checks, the same values as the files), and each file systemd has a
property for becomes that property, as runc 1.1 maps them:

    memory.max MemoryMax   memory.low MemoryLow   memory.min MemoryMin
    memory.high MemoryHigh memory.swap.max MemorySwapMax
    cpu.weight CPUWeight   cpu.max CPUQuotaPerSecUSec (rounded up to 10 ms,
                           as systemd keeps it in percent) + CPUQuotaPeriodUSec
    cpuset.cpus AllowedCPUs            cpuset.mems AllowedMemoryNodes
    pids.max TasksMax      io.weight "default N" IOWeight
    devices → DevicePolicy, DeviceAllow

The files are still written into the unit's cgroup afterwards (as runc does),
so whatever systemd has no property for is set too. A property value is
jeepney's variant: (D-Bus signature, value).
"""
from ..errors import ConfigError
from . import v2_resources

UINT64_MAX = 2**64 - 1  # systemd's "infinity"
ANNOTATION = "org.systemd.property."
CPU_QUOTA_STEP = 10000  # µs per second: systemd stores CPUQuota in whole percent


def unit_properties(slice_name: str, pid: int, container_id: str, v1: bool = False) -> list:
    """v1: on a v1 or hybrid host block I/O is accounted by its v1 name."""
    return [
        ("Description", ("s", f"pyrunc container {container_id}")),
        ("Slice", ("s", slice_name)),
        ("Delegate", ("b", True)),
        ("DefaultDependencies", ("b", False)),
        ("PIDs", ("au", [pid])),
        ("MemoryAccounting", ("b", True)),
        ("CPUAccounting", ("b", True)),
        ("BlockIOAccounting" if v1 else "IOAccounting", ("b", True)),
        ("TasksAccounting", ("b", True)),
    ]


def resource_properties(resources: dict, read=lambda name: None) -> list:
    """linux.resources (Go's zero values already dropped) as unit properties."""
    props = []
    for name, value, _pointer in v2_resources.writes(resources, read):
        props += _file_property(name, value.strip())
    if resources.get("devices") is not None:
        props += device_properties(resources["devices"])
    return props


def v1_resource_properties(resources: dict) -> list:
    """On a v1 or hybrid host, systemd's v1 names, as runc 1.1's legacy
    manager sends them: MemoryLimit, CPUShares, CPUQuotaPerSecUSec (and
    its period), AllowedCPUs, AllowedMemoryNodes, TasksMax, BlockIOWeight,
    and the devices. (The files, v1's, are written afterwards as usual.)"""
    props = []
    mem = resources.get("memory") or {}
    if mem.get("limit"):
        props.append(("MemoryLimit", ("t", _infinite(mem["limit"]))))
    cpu = resources.get("cpu") or {}
    if cpu.get("shares"):
        props.append(("CPUShares", ("t", cpu["shares"])))
    if cpu.get("quota") or cpu.get("period"):
        props += cpu_quota(cpu.get("quota") or 0, cpu.get("period") or 100000)
    for key, prop in (("cpus", "AllowedCPUs"), ("mems", "AllowedMemoryNodes")):
        if cpu.get(key):
            props.append((prop, ("ay", list_to_bits(cpu[key]))))
    limit = (resources.get("pids") or {}).get("limit")
    if limit is not None and (limit > 0 or limit == -1):
        props.append(("TasksMax", ("t", _infinite(limit))))
    weight = (resources.get("blockIO") or {}).get("weight")
    if weight:
        props.append(("BlockIOWeight", ("t", weight)))
    if resources.get("devices") is not None:
        props += device_properties(resources["devices"])
    return props


def _infinite(value: int) -> int:
    return UINT64_MAX if value < 0 else value


def _file_property(name: str, value: str) -> list:
    try:
        if name in _MEMORY:
            return [(_MEMORY[name], ("t", _number(value)))]
        if name == "pids.max":
            return [("TasksMax", ("t", _number(value)))]
        if name == "cpu.weight":
            return [("CPUWeight", ("t", int(value)))]
        if name == "io.weight" and value.startswith("default "):
            return [("IOWeight", ("t", int(value.split()[1])))]
        if name == "cpu.max":
            quota, period = value.split()
            return cpu_quota(-1 if quota == "max" else int(quota), int(period))
        if name in ("cpuset.cpus", "cpuset.mems"):
            prop = "AllowedCPUs" if name == "cpuset.cpus" else "AllowedMemoryNodes"
            return [(prop, ("ay", list_to_bits(value)))]
    except ValueError:
        return []  # (a unified value systemd would not take: the file write reports it)
    return []


_MEMORY = {"memory.max": "MemoryMax", "memory.low": "MemoryLow", "memory.min": "MemoryMin",
           "memory.high": "MemoryHigh", "memory.swap.max": "MemorySwapMax"}


def _number(value: str) -> int:
    return UINT64_MAX if value == "max" else int(value)


def cpu_quota(quota: int, period: int) -> list:
    """cpu.max as systemd takes it: the quota per second of wall time, in µs,
    rounded up to whole percent (else the cgroup gets less than asked)."""
    per_sec = UINT64_MAX  # quota -1 or 0 ("not set", a period alone): no limit
    if quota > 0:
        per_sec = quota * 1_000_000 // period
        if per_sec % CPU_QUOTA_STEP:
            per_sec = (per_sec // CPU_QUOTA_STEP + 1) * CPU_QUOTA_STEP
    return [("CPUQuotaPeriodUSec", ("t", period)), ("CPUQuotaPerSecUSec", ("t", per_sec))]


def list_to_bits(text: str) -> bytes:
    """A cpuset list ("0-3,8") as systemd's bitmask: byte i, bit j is
    CPU (or node) 8i+j."""
    numbers = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        numbers.update(range(int(low), int(high or low) + 1))
    if not numbers:
        return b""
    out = bytearray(max(numbers) // 8 + 1)
    for n in numbers:
        out[n // 8] |= 1 << (n % 8)
    return bytes(out)


# -- devices --

def device_properties(rules: list, proc_devices: str = "/proc/devices") -> list:
    """The device rules, as the v1 model runs them (devices_bpf.emulate), as
    DevicePolicy and DeviceAllow. systemd takes an allow list only: a list
    that allows all but some devices gets DevicePolicy=auto (systemd adds no
    device filter), and the container's own device program, attached by the
    v2 manager, enforces the rules exactly. (runc denies every device then.)"""
    from .devices_bpf import access_letters, emulate  # feature import
    default_allow, exceptions = emulate(rules)
    if default_allow:
        return [("DevicePolicy", ("s", "auto"))]
    allow = []
    for (kind, major, minor), access in sorted(exceptions.items()):
        kind_name = "char" if kind == "c" else "block"
        if major < 0 and minor >= 0:
            continue  # "c *:5": systemd cannot say it; the device program does
        if major < 0:
            path = f"{kind_name}-*"
        elif minor < 0:
            group = _device_group(proc_devices, kind_name, major)
            if group is None:
                continue  # no driver of that major now: nothing to allow yet
            path = f"{kind_name}-{group}"
        else:
            path = f"/dev/{kind_name}/{major}:{minor}"
        allow.append((path, access_letters(access)))
    return [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", allow))]


def _device_group(proc_devices: str, kind_name: str, major: int) -> str | None:
    """The driver name of a major number in /proc/devices ("136 pts")."""
    section = None
    try:
        with open(proc_devices) as f:
            for line in f:
                line = line.strip()
                if line.endswith("devices:"):
                    section = "char" if line.startswith("Character") else "block"
                elif section == kind_name and line:
                    number, _, name = line.partition(" ")
                    if number == str(major):
                        return name
    except OSError:
        return None
    return None


# -- annotations --

def annotation_properties(annotations: dict) -> list:
    """`org.systemd.property.NAME` = a GVariant text value, as runc reads
    them; NAMEs ending in a lowercase letter then "Sec" take seconds and
    become NAME-in-USec."""
    props = []
    for key, text in sorted((annotations or {}).items()):
        if not key.startswith(ANNOTATION):
            continue
        name = key[len(ANNOTATION):]
        pointer = f"/annotations/{key.replace('~', '~0').replace('/', '~1')}"
        if not (name[:1].isascii() and name[:1].isupper() and name.isascii() and name.isalnum()):
            raise ConfigError(pointer, f"{name!r} is not a systemd property name")
        try:
            value = parse_gvariant(text)
        except ValueError as e:
            raise ConfigError(pointer, f"{text!r} is not a GVariant value: {e}") from None
        if name.endswith("Sec") and len(name) > 3 and "a" <= name[-4] <= "z":
            name = name[:-3] + "USec"
            if value[0] not in _NUMBER_SIGNATURES or value[1] < 0:
                raise ConfigError(pointer, f"{text!r}: seconds must be a number")
            value = ("t", int(value[1] * 1_000_000))
        props.append((name, value))
    return props


_TYPES = {"boolean": "b", "byte": "y", "int16": "n", "uint16": "q", "int32": "i",
          "uint32": "u", "int64": "x", "uint64": "t", "double": "d", "string": "s",
          "objectpath": "o"}
_NUMBER_SIGNATURES = set("ynqiuxtd")


def parse_gvariant(text: str) -> tuple:
    """The part of GVariant's text format systemd properties use: booleans,
    numbers (int32 unless a type word such as "uint64" comes first), strings
    in single or double quotes, and arrays of one of those ("@as []" for an
    empty one). Returns (signature, value)."""
    parser = _GVariant(text.strip())
    value = parser.value()
    if parser.rest():
        raise ValueError(f"unexpected {parser.rest()!r}")
    return value


class _GVariant:
    def __init__(self, text: str):
        self.text, self.i = text, 0

    def rest(self) -> str:
        return self.text[self.i:].strip()

    def _skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def value(self, want: str | None = None) -> tuple:
        self._skip()
        text = self.text[self.i:]
        if text.startswith("@"):
            sig, _, _ = text[1:].partition(" ")
            self.i += 1 + len(sig)
            return self.value(sig)
        word = text.split(None, 1)[0] if text else ""
        if word in _TYPES and len(text) > len(word):
            self.i += len(word)
            return self.value(_TYPES[word])
        if text.startswith("["):
            return self._array(want)
        if text[:1] in ("'", '"'):
            return self._string(want)
        token = ""
        while self.i < len(self.text) and self.text[self.i] not in ",] \t":
            token += self.text[self.i]
            self.i += 1
        if token in ("true", "false"):
            if want not in (None, "b"):
                raise ValueError(f"{token} is not of type {want}")
            return "b", token == "true"
        return _number_value(token, want)

    def _string(self, want) -> tuple:
        if want not in (None, "s", "o"):
            raise ValueError(f"a string is not of type {want}")
        quote, out = self.text[self.i], ""
        self.i += 1
        while self.i < len(self.text):
            c = self.text[self.i]
            self.i += 1
            if c == "\\" and self.i < len(self.text):
                out += self.text[self.i]
                self.i += 1
            elif c == quote:
                return want or "s", out
            else:
                out += c
        raise ValueError("unterminated string")

    def _array(self, want) -> tuple:
        if want is not None and not want.startswith("a"):
            raise ValueError(f"an array is not of type {want}")
        item_sig = want[1:] if want else None
        self.i += 1
        items = []
        while True:
            self._skip()
            if self.text[self.i:self.i + 1] == "]":
                self.i += 1
                break
            sig, value = self.value(item_sig)
            if item_sig not in (None, sig):
                raise ValueError("array items of different types")
            item_sig = sig
            items.append(value)
            self._skip()
            if self.text[self.i:self.i + 1] == ",":
                self.i += 1
            elif self.text[self.i:self.i + 1] != "]":
                raise ValueError("expected ',' or ']'")
        if item_sig is None:
            raise ValueError("an empty array needs its type (@as [])")
        return "a" + item_sig, items


def _number_value(token: str, want: str | None) -> tuple:
    if not token:
        raise ValueError("a value is missing")
    if want == "d" or (want is None and any(c in token for c in ".eE")):
        return "d", float(token)
    number = int(token, 0)
    sig = want or "i"
    if sig not in _NUMBER_SIGNATURES:
        raise ValueError(f"{token} is not of type {sig}")
    bits = {"y": 8, "n": 16, "q": 16, "i": 32, "u": 32, "x": 64, "t": 64}[sig]
    signed = sig in "nix"
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= number <= high:
        raise ValueError(f"{token} is out of range for its type")
    return sig, number
