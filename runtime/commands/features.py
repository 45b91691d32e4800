"""`features`: the OCI features document (runtime/features.py builds it)."""
import sys

from ..features import render


def run(args) -> int:
    sys.stdout.write(render())
    return 0
