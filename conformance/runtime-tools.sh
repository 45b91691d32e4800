#!/bin/bash
# The OCI runtime-tools validation suite as a judge of OCI runtimes.
#
# usage: conformance/runtime-tools.sh --src DIR [--runtime PATH ...]
#            [--only GLOB] [--out DIR] [--build DIR] [--timeout SEC]
#
#   --src DIR      a runtime-tools checkout (tested with commit 0105384)
#   --runtime P    a runtime binary (path or name on PATH); repeatable.
#                  Default: pyrunc, runc, crun (those that are installed).
#   --only GLOB    only the validation files whose name matches (e.g. 'linux_cgroups_*')
#   --out DIR      per-runtime TAP, stderr and exit status of every file
#                  (default: a new temp dir, printed)
#   --build DIR    where the suite is built (default: build-<name> next to
#                  the checkout, else ~/.cache/runtime-tools-build)
#   --timeout SEC  per test file (default 120)
#
# Needs root, Debian's golang-go (1.19) and make. Builds the suite with its own
# vendor/ dir (no network), then runs each validation/*/*.t once per runtime,
# one at a time, and prints a table and one summary line per runtime.
# A cell is "pass" or "FAIL <why>" (the rules are at verdict() below; which
# rule applies to a file is read from its source, at file_kind()).
# Each file runs in a private mount namespace with a private /dev/null
# (run-one.sh); the host's /dev/null is checked after every file.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(dirname "$here")

die() { echo "runtime-tools: $*" >&2; exit 1; }

src= out= build= only='*' timeout=120 runtimes=()
while [ $# -gt 0 ]; do
  case $1 in
    --src) src=${2:?}; shift 2 ;;
    --runtime) runtimes+=("${2:?}"); shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$src" ] || die "--src DIR (a runtime-tools checkout) is required"
[ -f "$src/Makefile" ] && [ -d "$src/validation" ] || die "$src is not a runtime-tools checkout"
src=$(cd "$src" && pwd)
[ "$(id -u)" = 0 ] || die "must run as root (the suite creates containers, cgroups, mounts)"

# Say which Debian packages are missing instead of installing anything.
missing=()
for pair in go:golang-go make:make tar:tar gzip:gzip timeout:coreutils \
            unshare:util-linux flock:util-linux mount:mount umount:mount; do
  command -v "${pair%%:*}" > /dev/null || missing+=("${pair#*:}")
done
[ ${#missing[@]} = 0 ] || die "missing commands; apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"

# Runtimes: given ones must exist; of the defaults, skip those not installed.
if [ ${#runtimes[@]} = 0 ]; then
  for r in pyrunc runc crun; do
    if command -v "$r" > /dev/null; then runtimes+=("$r"); else echo "runtime-tools: $r not installed, skipped" >&2; fi
  done
fi
for i in "${!runtimes[@]}"; do
  # Absolute: the suite runs the runtime from the build dir.
  p=$(command -v "${runtimes[$i]}") || die "runtime ${runtimes[$i]} not found"
  runtimes[$i]=$(cd "$(dirname "$p")" && pwd)/$(basename "$p")
done
[ ${#runtimes[@]} -gt 0 ] || die "no runtime to test"

# Build outside the checkout: a copy of it (without .git), so the user's tree
# stays clean. Never inside this project.
if [ -z "$build" ]; then
  if [ -w "$(dirname "$src")" ]; then build=$(dirname "$src")/build-$(basename "$src")
  else build=${XDG_CACHE_HOME:-$HOME/.cache}/runtime-tools-build; fi
fi
build=$(realpath -m "$build")
case $build/ in "$project"/*) die "build dir $build is inside the project; pass --build" ;; esac
case $build/ in "$src"/*) die "build dir $build is inside the checkout; pass --build" ;; esac
mkdir -p "$build"
marker=$build/.runtime-tools-judge
[ -e "$marker" ] || [ -z "$(ls -A "$build")" ] || die "$build is not empty and not ours; pass --build"
touch -a "$marker"

# Rebuild only when the checkout changed since the last build.
stamp=$build/.built-from
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$src" ] && [ -x "$build/runtimetest" ] &&
   [ -z "$(find "$src" -path "$src/.git" -prune -o -newer "$stamp" -print -quit)" ]; then
  echo "runtime-tools: build in $build is up to date"
else
  echo "runtime-tools: building the suite in $build (log: $build/build.log)"
  # Keep the Go build cache; drop the old copy (stale .go files would become tests).
  find "$build" -mindepth 1 -maxdepth 1 ! -name .gocache ! -name .runtime-tools-judge -exec rm -rf {} +
  tar -C "$src" --exclude=./.git -cf - . | tar -C "$build" -xf -
  commit=$(git -C "$src" describe --dirty --long --always --tags 2> /dev/null || echo unknown)
  # -mod=vendor and GOPROXY=off: the checkout's vendor/ dir, never the network.
  # GOCACHE in the build dir: works without $HOME and leaves the user's cache alone.
  if ! (cd "$build" && GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GOCACHE="$build/.gocache" \
        make runtimetest validation-executables COMMIT="$commit") > "$build/build.log" 2>&1; then
    tail -20 "$build/build.log" >&2
    die "build failed (log: $build/build.log)"
  fi
  echo "$src" > "$stamp"
fi

# Which files must print test lines. Most files check things and print one
# TAP line per check ("tap"): their own t.Ok/t.Pass, util helpers that call
# t.Ok (SpecErrorOK, ValidateLinuxResources*), or util.RuntimeInsideValidate,
# which prints the TAP of runtimetest run inside the container. For them,
# silence means the checks never ran. The others ("quiet": the hook files,
# process_*_fail) print nothing when all is well and a YAML diagnostic, a
# "not ok" or exit 1 when not: silence is their pass. A "quiet" file may call
# RuntimeInsideValidate expecting it to fail (`if err == nil { Fatal }`): such
# a call is not a check. Read from the source (util/ included), so the rule
# follows the checkout being judged.
emitters=$(awk '
  match($0, /^func (\([^)]*\) )?[A-Za-z0-9_]+\(/) {
    fn = substr($0, 1, RLENGTH - 1); sub(/^func (\([^)]*\) )?/, "", fn) }
  fn != "" && /\.(Ok|Pass)\(|os\.Stdout\.Write\(/ { print fn }' \
  "$build"/validation/util/*.go | sort -u | paste -sd '|')
[ -n "$emitters" ] || die "cannot read the test helpers in $build/validation/util"
file_kind() {
  awk -v em="^($emitters)$" '
    /\.(Ok|Pass)\(/ { checks = 1 }
    {
      rest = $0
      while (match(rest, /util\.[A-Za-z0-9_]+/)) {
        name = substr(rest, RSTART + 5, RLENGTH - 5)
        rest = substr(rest, RSTART + RLENGTH)
        if (name !~ em) continue
        # err = util.RuntimeInsideValidate(...): a check unless the next
        # "if err" wants an error ("== nil" -> Fatal).
        if (name == "RuntimeInsideValidate" && $0 !~ /return/) pending = 1
        else checks = 1
      }
    }
    pending && /if .*err [!=]= nil/ { if ($0 !~ /err == nil/) checks = 1; pending = 0 }
    END { print (checks ? "tap" : "quiet") }' "$1"
}

# The validation files: every validation/<name>/<name>.go but util.
tests=()
declare -A kind
for go in "$build"/validation/*/*.go; do
  name=$(basename "${go%.go}")
  [ "$(basename "$(dirname "$go")")" != util ] || continue
  # shellcheck disable=SC2053  # GLOB match on purpose
  [[ $name == $only ]] || continue
  [ -x "${go%.go}.t" ] || die "${go%.go}.t was not built"
  tests+=("${go%.go}.t")
  kind[$name]=$(file_kind "$go")
done
[ ${#tests[@]} -gt 0 ] || die "no validation file matches --only '$only'"

if [ -z "$out" ]; then out=$(mktemp -d "${TMPDIR:-/tmp}/runtime-tools-out.XXXXXX"); fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "runtime-tools: results in $out"

# The suite hard-codes cgroup paths (/cgrouptest, testdir/cgrouptest/...):
# two runs at once on one machine would collide, so take a machine-wide lock.
exec 9> /run/lock/runtime-tools-judge.lock
flock -n 9 || { echo "runtime-tools: another run holds /run/lock/runtime-tools-judge.lock; waiting"; flock 9; }

work=$(mktemp -d "${TMPDIR:-/tmp}/runtime-tools-work.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
# Stdin for every runtime we call here: never the host's /dev/null (see the
# guard below and run-one.sh, which gives the tests a private one).
: > "$work/empty"

# crun 1.8 refuses hybrid cgroups (v1 controllers + cgroup2 at unified):
# run-one.sh then hides unified under a throw-away tmpfs in its private mount
# namespace, so crun sees a plain v1 host.
hybrid=no
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] &&
   [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then hybrid=yes; fi

# Guard: a runtime that chowns its stdio (crun 1.8) once changed the host's
# /dev/null. run-one.sh prevents that; this checks it after every file and
# undoes it loudly if it happened anyway.
null_state() { stat -c %u:%g:%a /dev/null; }
null_start=$(null_state)
[ "$null_start" = 0:0:666 ] ||
  echo "runtime-tools: WARNING: /dev/null is $null_start before the run (expected 0:0:666)" >&2
null_incidents=0

# verdict PREFIX KIND: "pass", or "FAIL" and why.
# tap files: at least one ok, no "not ok", each plan matching its count, exit
# 0. Some files print several TAP streams ("TAP version 13" each, e.g.
# linux_cgroups_cpus): each stream's plan must match its own count. Reasons
# when no test line came: "diag" (a YAML diagnostic: the file found a
# problem), "silent" (exit 0, nothing but a header or "1..0": the checks
# never ran), "no-TAP" (anything else, e.g. create failed, exit 1).
# quiet files: exit 0, no "not ok", no YAML diagnostic; such a pass shows as
# "pass silent".
verdict() {
  awk -v rc="$(cat "$1.rc")" -v kind="$2" '
    function end_stream() {
      if (started && !planned) noplan = 1
      else if (started && plan != n) badplan = badplan sprintf(" plan%d/ran%d", plan, n)
      started = n = planned = 0
    }
    /^TAP version/ { end_stream(); started = 1 }
    /^not ok( |$)/ { nok++; n++; started = 1 }
    /^ok( |$)/     { ok++; n++; started = 1 }
    /^Bail out!/   { bail = 1 }
    /^  ---$/      { diag = 1 }
    /^1\.\.[0-9]+/ { plan = substr($0, 4) + 0; planned = started = 1 }
    END {
      end_stream()
      if (rc == 124 || rc == 137) print "FAIL timeout"
      else if (bail) print "FAIL bail-out"
      else if (nok) print "FAIL " nok " not-ok"
      else if (kind == "quiet") {
        if (rc != 0) print "FAIL exit" rc
        else if (diag && !ok) print "FAIL diag"
        else if (ok) print "pass"
        else print "pass silent"
      }
      else if (!ok && diag) print "FAIL diag"
      else if (!ok && rc == 0) print "FAIL silent"
      else if (!ok) print "FAIL no-TAP"
      else if (noplan) print "FAIL no-plan"
      else if (badplan != "") print "FAIL" badplan
      else if (rc != 0) print "FAIL exit" rc
      else print "pass"
    }' "$1.tap"
}

labels=()
for rt in "${runtimes[@]}"; do
  label=$(basename "$rt")
  labels+=("$label")
  mkdir -p "$out/$label"
  hide=0
  if [ "$label" = crun ] && [ $hybrid = yes ]; then hide=1; fi
  for t in "${tests[@]}"; do
    name=$(basename "${t%.t}")
    # A runtime that cannot print its version is not ready (e.g. being
    # reinstalled): wait up to a minute rather than fail the file for it.
    for _ in $(seq 60); do
      "$rt" --version < "$work/empty" > "$work/version.out" 2>&1 && break; sleep 1
    done
    start=$SECONDS
    null_before=$(null_state)
    rc=0
    RT_HIDE_UNIFIED=$hide "$here/runtime-tools/run-one.sh" "$rt" "$build" "$t" \
      "$out/$label/$name" "$timeout" "$work" < "$work/empty" || rc=$?
    null_after=$(null_state)
    if [ "$null_after" != "$null_before" ]; then
      chown 0:0 /dev/null; chmod 666 /dev/null
      null_incidents=$((null_incidents + 1))
      msg="!!! runtime-tools: HOST /dev/null CHANGED during $name with $label: $null_before -> $null_after; restored to $(null_state) !!!"
      echo "$msg" | tee -a "$out/devnull-incidents.txt" >&2
    fi
    [ $rc != 130 ] || die "interrupted"
    [ -f "$out/$label/$name.rc" ] || echo 1 > "$out/$label/$name.rc"
    verdict "$out/$label/$name" "${kind[$name]}" > "$out/$label/$name.verdict"
    printf '%-8s %-36s %s (%ds)\n' "$label" "$name" "$(cat "$out/$label/$name.verdict")" $((SECONDS - start))
  done
done

# The table, then one line per runtime.
{
  echo
  echo "kind: tap = the file must print test lines (its checks); quiet = silence is its pass"
  printf '%-36s %-5s' file kind; printf ' %-16s' "${labels[@]}"; echo
  for t in "${tests[@]}"; do
    name=$(basename "${t%.t}")
    printf '%-36s %-5s' "$name" "${kind[$name]}"
    for label in "${labels[@]}"; do printf ' %-16s' "$(cat "$out/$label/$name.verdict")"; done
    echo
  done
  echo
  for label in "${labels[@]}"; do
    p=0 s=0 q=0
    for t in "${tests[@]}"; do
      v=$(cat "$out/$label/$(basename "${t%.t}").verdict")
      case $v in pass*) p=$((p + 1)) ;; esac
      case $v in "pass silent") q=$((q + 1)) ;; "FAIL silent") s=$((s + 1)) ;; esac
    done
    echo "runtime-tools $label: $p passed, $((${#tests[@]} - p)) failed of ${#tests[@]}" \
         "($q quiet files passed silent; $s tap files failed silent)"
  done
  echo "runtime-tools: host /dev/null at the end: $(stat -c '%U:%G (%u:%g) mode %a' /dev/null);" \
       "$null_incidents change(s) during the run"
} | tee "$out/summary.txt"
echo "runtime-tools: outputs (NAME.tap, .stderr, .rc) in $out"
