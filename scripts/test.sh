#!/bin/bash
# Set up pyrunc and run the tests (as root). With pytest arguments: just pytest.
# Without: the whole suite in four stages,
#   1. pytest over tests/ (unit + integration) on this host,
#   2. pyrunc's runtime-spec conformance suite, conformance/run, against the
#      installed /usr/local/bin/pyrunc on this host,
#   3. the cgroup-v2 lane (tests/vm/README.md): a QEMU guest with a pure
#      cgroup-v2 host runs the tests marked cgroup_v2 and
#      `conformance/run --cgroup v2-only` (PYRUNC_SKIP_V2_LANE=1 leaves it out),
#   4. the systemd lane: the same guest with systemd as PID 1 runs the tests
#      marked systemd (the systemd cgroup driver, containerd and Podman with
#      systemd cgroups, beside runc), on pure cgroup v2 and then in systemd's
#      hybrid and legacy layouts (PYRUNC_SKIP_SYSTEMD_LANE=1 leaves them out),
# and the last lines sum up each stage. Any stage failing fails the script.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$HERE"
# Each stage's output is also kept, for its result line in the summary.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=()

# stage NAME COMMAND...: run it, its output also into $out/NAME; its status in $status.
stage() {
  local name=$1
  shift
  set +e
  "$@" | tee "$out/$name"
  status=${PIPESTATUS[0]}
  set -e
}

# result NAME SED OTHERWISE: the last line SED prints from the stage's output,
# or OTHERWISE when it prints none.
result() {
  local line
  line=$(sed -nE "$2" "$out/$1" | tr -d '\r' | tail -n 1)
  echo "${line:-$3}"
}

# No path given: setup.cfg's testpaths (tests/) is the whole suite.
stage pytest "$VENV/bin/pytest" -p no:cacheprovider -ra "$@"
rc=$status
pytest=$status
if [ "$rc" = 5 ]; then
  echo "test: pytest collected no tests: that is a failure" >&2
  rc=1
fi
[ "$rc" = 0 ] || failed+=("pytest (status $pytest)")
[ $# -eq 0 ] || exit "$rc"

echo
echo "test: conformance/run --runtime /usr/local/bin/pyrunc"
stage conformance conformance/run --runtime /usr/local/bin/pyrunc
conformance=$status
[ "$conformance" = 0 ] || failed+=("conformance (status $conformance)")

lane=""
if [ -z "${PYRUNC_SKIP_V2_LANE:-}" ]; then
  echo
  stage v2-lane "$VENV/bin/python3" tests/vm/run_v2_lane.py
  lane=$status
  if [ "$lane" = 77 ]; then
    echo "test: !!! the cgroup-v2 lane was SKIPPED (QEMU or the kernel could not be installed) !!!" >&2
  elif [ "$lane" != 0 ]; then
    failed+=("cgroup-v2 lane (status $lane)")
  fi
fi

# The systemd lane three times: systemd on pure cgroup v2, then in its hybrid
# and its legacy (v1 only) layouts.
sdlane=""
sdhlane=""
sdllane=""
if [ -z "${PYRUNC_SKIP_SYSTEMD_LANE:-}" ]; then
  for mode in "" --hybrid --legacy; do
    echo
    stage "systemd-lane$mode" "$VENV/bin/python3" tests/vm/run_v2_lane.py --systemd $mode
    case "$mode" in
      "") sdlane=$status ;;
      --hybrid) sdhlane=$status ;;
      *) sdllane=$status ;;
    esac
    if [ "$status" = 77 ]; then
      echo "test: !!! the systemd$mode lane was SKIPPED (QEMU or the kernel could not be installed) !!!" >&2
    elif [ "$status" != 0 ]; then
      failed+=("systemd$mode lane (status $status)")
    fi
  done
fi

# The verdict, then one result line per stage, last.
echo
if [ ${#failed[@]} != 0 ]; then
  echo "test: summary: FAILED: $(printf '%s, ' "${failed[@]}" | sed 's/, $//')"
elif [ "$lane" = 77 ] || [ "$sdlane" = 77 ] || [ "$sdhlane" = 77 ] || [ "$sdllane" = 77 ]; then
  echo "test: summary: passed, but a QEMU lane was SKIPPED (cgroup-v2: ${lane:-left out}," \
    "systemd: ${sdlane:-left out}, --hybrid: ${sdhlane:-left out}, --legacy: ${sdllane:-left out})"
else
  echo "test: summary: all stages passed"
fi
result pytest '/^=+ .* in [0-9.]+s.* =+$/p' "pytest: no summary line (status $pytest)"
result conformance '/^conformance: [0-9]+ passed/p' "conformance: no result (status $conformance)"
case "$lane" in
  "") ;;
  77) echo "v2-lane: SKIPPED" ;;
  *) result v2-lane 's/^v2-lane: pytest summary: /v2-pytest: /p' "v2-lane: no result (status $lane)"
     result v2-lane 's/^v2-lane: conformance summary: /v2-conformance: /p' "v2-conformance: no result" ;;
esac
case "$sdlane" in
  "") ;;
  77) echo "systemd-lane: SKIPPED" ;;
  *) result systemd-lane 's/^v2-lane: pytest summary: /systemd-pytest: /p' "systemd-lane: no result (status $sdlane)" ;;
esac
case "$sdhlane" in
  "") ;;
  77) echo "systemd-hybrid-lane: SKIPPED" ;;
  *) result systemd-lane--hybrid 's/^v2-lane: pytest summary: /systemd-hybrid-pytest: /p' \
       "systemd-hybrid-lane: no result (status $sdhlane)" ;;
esac
case "$sdllane" in
  "") ;;
  77) echo "systemd-legacy-lane: SKIPPED" ;;
  *) result systemd-lane--legacy 's/^v2-lane: pytest summary: /systemd-legacy-pytest: /p' \
       "systemd-legacy-lane: no result (status $sdllane)" ;;
esac
# pytest's status first (5 counts as 1), else 1 for a failed stage.
[ "$rc" != 0 ] || [ ${#failed[@]} = 0 ] || rc=1
exit "$rc"
