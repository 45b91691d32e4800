"""The few fields of an ELF file that tell whether it can run in a rootfs:
its class and machine, its loader (PT_INTERP), and the libraries and search
paths its dynamic section names (DT_NEEDED, DT_RPATH, DT_RUNPATH). Read with
pread from an fd; anything malformed is "not ELF"."""
import os
import struct

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 1, 5, 15, 29

# e_machine -> the name people know it by; uname's machine -> the ones it runs.
MACHINES = {3: "i386", 62: "x86_64", 40: "arm", 183: "aarch64", 243: "riscv64",
            21: "ppc64", 22: "s390x", 8: "mips", 258: "loongarch64"}
NATIVE = {"x86_64": {62, 3}, "aarch64": {183, 40}, "riscv64": {243}, "ppc64le": {21},
          "s390x": {22}, "loongarch64": {258}, "i686": {3}, "armv7l": {40}}


class Elf:
    __slots__ = ("bits", "machine", "interp", "needed", "search")

    def __init__(self, bits: int, machine: int):
        self.bits, self.machine = bits, machine
        self.interp: str | None = None
        self.needed: list[str] = []
        self.search: list[str] = []  # DT_RPATH and DT_RUNPATH entries, unexpanded

    def machine_name(self) -> str:
        return MACHINES.get(self.machine, f"machine {self.machine}")


def runs_here(machine: int) -> bool:
    return machine in NATIVE.get(os.uname().machine, set())


def read(fd: int) -> Elf | None:
    try:
        return _read(fd)
    except (struct.error, OSError, ValueError, UnicodeDecodeError):
        return None


def _read(fd: int) -> Elf | None:
    ident = os.pread(fd, 64, 0)
    if ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    wide = ident[4] == 2
    order = "<" if ident[5] == 1 else ">"
    machine = struct.unpack_from(order + "H", ident, 18)[0]
    if wide:
        phoff, = struct.unpack_from(order + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", ident, 54)
        ph_fmt, dyn_fmt = order + "IIQQQQQQ", order + "qQ"
    else:
        phoff, = struct.unpack_from(order + "I", ident, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", ident, 42)
        ph_fmt, dyn_fmt = order + "IIIIIIII", order + "iI"
    elf = Elf(64 if wide else 32, machine)
    table = os.pread(fd, phentsize * min(phnum, 256), phoff)
    loads, dynamic = [], None
    for i in range(min(phnum, 256)):
        fields = struct.unpack_from(ph_fmt, table, i * phentsize)
        if wide:
            p_type, _flags, offset, vaddr, _paddr, filesz = fields[:6]
        else:
            p_type, offset, vaddr, _paddr, filesz = fields[:5]
        if p_type == PT_INTERP:
            elf.interp = os.pread(fd, min(filesz, 4096), offset).split(b"\0")[0].decode()
        elif p_type == PT_LOAD:
            loads.append((vaddr, filesz, offset))
        elif p_type == PT_DYNAMIC:
            dynamic = (offset, min(filesz, 1 << 16))
    if dynamic:
        _read_dynamic(fd, elf, dynamic, loads, dyn_fmt)
    return elf


def _read_dynamic(fd: int, elf: Elf, dynamic: tuple, loads: list, fmt: str) -> None:
    data = os.pread(fd, dynamic[1], dynamic[0])
    size = struct.calcsize(fmt)
    entries, strtab = [], None
    for pos in range(0, len(data) - size + 1, size):
        tag, value = struct.unpack_from(fmt, data, pos)
        if tag == 0:
            break
        if tag == DT_STRTAB:
            strtab = _file_offset(value, loads)
        elif tag in (DT_NEEDED, DT_RPATH, DT_RUNPATH):
            entries.append((tag, value))
    if strtab is None:
        return
    for tag, value in entries:
        text = os.pread(fd, 4096, strtab + value).split(b"\0")[0].decode()
        if tag == DT_NEEDED:
            elf.needed.append(text)
        else:
            elf.search += [p for p in text.split(":") if p]


def _file_offset(vaddr: int, loads: list) -> int | None:
    for start, size, offset in loads:
        if start <= vaddr < start + size:
            return vaddr - start + offset
    return None
