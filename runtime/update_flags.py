"""runc update's limit flags, as data: the parser (cli_parser.py), the fast
parser (quickargs.py) and the command (commands/update.py) read this one
table, and importing it costs none of argparse.

Each: (flag, LinuxResources section and key, how its value reads, help).
Sizes take k/m/g/t suffixes (powers of 1024)."""
UPDATE_FLAGS = (
    ("--memory", "memory", "limit", "size", "memory limit (bytes, or 64m, 1g; -1: none)"),
    ("--memory-swap", "memory", "swap", "size", "memory+swap limit"),
    ("--memory-reservation", "memory", "reservation", "size", "memory soft limit"),
    ("--kernel-memory", "memory", "kernel", "size", "kernel memory limit"),
    ("--kernel-memory-tcp", "memory", "kernelTCP", "size", "kernel TCP buffer limit"),
    ("--cpu-shares", "cpu", "shares", "int", "CPU shares (relative weight)"),
    ("--cpu-period", "cpu", "period", "int", "CPU CFS period (us)"),
    ("--cpu-quota", "cpu", "quota", "int", "CPU CFS quota (us; -1: none)"),
    ("--cpu-rt-period", "cpu", "realtimePeriod", "int", "CPU realtime period (us)"),
    ("--cpu-rt-runtime", "cpu", "realtimeRuntime", "int", "CPU realtime runtime (us)"),
    ("--cpuset-cpus", "cpu", "cpus", "str", "CPUs to use (0-3,5)"),
    ("--cpuset-mems", "cpu", "mems", "str", "memory nodes to use"),
    ("--pids-limit", "pids", "limit", "int", "maximum number of processes (-1: none)"),
    ("--blkio-weight", "blockIO", "weight", "int", "block IO weight (10-1000)"),
)


def field(flag: str) -> str:
    """The Namespace field of a flag, as argparse names it."""
    return flag[2:].replace("-", "_")
