"""`checkpoint` and `restore`: runc's CRIU commands, refused clearly."""
from ..errors import PyruncError


def run(args) -> int:
    raise PyruncError(f"{args.command}: not supported: pyrunc has no CRIU checkpoint/restore")
