#!/bin/bash
# Set up pyrunc and run the benchmark: pyrunc, runc and crun side by side
# (bench/runtimes.py; --help lists its options).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec "$VENV/bin/python3" "$HERE/bench/runtimes.py" "$@"
