#!/bin/bash
# Set up pyrunc and run the benchmarks (pyrunc and runc side by side).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec "$VENV/bin/python3" "$HERE/bench/run_vs_runc.py" "$@"
