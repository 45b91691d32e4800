#!/bin/bash
# Run one runtime-tools validation file against one runtime, then clean up
# what it left behind. Called by conformance/runtime-tools.sh. It runs in a
# private mount namespace of its own (it re-executes itself under unshare),
# so mounts made here and by the test die with it.
#
# usage: run-one.sh RUNTIME BUILD_DIR TEST_T OUT_PREFIX TIMEOUT WORK_DIR
#   writes OUT_PREFIX.tap (stdout), .stderr, .rc (exit status; 124 = timeout)
# env: RT_HIDE_UNIFIED=1  hide the host's cgroup2 at /sys/fs/cgroup/unified
#      under a throw-away tmpfs (crun 1.8 refuses hybrid cgroups)
set -uo pipefail

if [ "${RT_PRIVATE_NS:-}" != "$$" ]; then
  # unshare execs us (no fork): our pid stays, and marks the namespace as ours.
  export RT_PRIVATE_NS=$$
  exec unshare -m --propagation slave "$0" "$@"
fi
# Everything below changes mounts: refuse unless our mount namespace is not
# our caller's (i.e. unshare really made a private one).
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink "/proc/$PPID/ns/mnt")" ]; then
  echo "run-one: not in a private mount namespace; refusing to mount anything" >&2
  exit 1
fi
runtime=$1 build=$2 test=$3 out=$4 timeout=$5 work=$6

# crun's view of a plain v1 host: a throw-away tmpfs over the cgroup2 mount
# (in this namespace only; the host's cgroup mounts are never touched).
# RT_SCRATCH: that tmpfs, which the cgroup searches below skip.
if [ "${RT_HIDE_UNIFIED:-}" = 1 ]; then
  if ! mount -t tmpfs -o size=1m rt-judge-unified /sys/fs/cgroup/unified; then
    echo "run-one: cannot hide /sys/fs/cgroup/unified" >&2
    exit 1
  fi
  RT_SCRATCH=/sys/fs/cgroup/unified
fi

# Ctrl-C: the test gets it (through timeout); we still clean up, then say so.
interrupted=0
trap 'interrupted=1' INT TERM

priv=$(mktemp -d "$work/t.XXXXXX") || exit 1
mkdir "$priv/root" "$priv/tmp" "$priv/dev"

# A private /dev/null. The Go harness gives every "RUNTIME create" the
# /dev/null it opens itself as stdin (os/exec does so for a nil Stdin), and
# crun 1.8 chowns the files behind the container's stdio to the container
# user: with the host's /dev/null that changed the owner of the machine's
# /dev/null. So here (this namespace only) /dev/null is a node of our own, on
# a small tmpfs (TMPDIR may be nodev), and the test's stdin is that node too.
if ! mount -t tmpfs -o size=64k,mode=755 rt-judge-dev "$priv/dev" ||
   ! mknod -m 666 "$priv/dev/null" c 1 3 ||
   ! mount --bind "$priv/dev/null" /dev/null ||
   [ "$(stat -c %d:%i /dev/null)" != "$(stat -c %d:%i "$priv/dev/null")" ]; then
  echo "run-one: cannot put a private node over /dev/null" >&2
  umount "$priv/dev" 2>/dev/null; rm -rf --one-file-system "$priv"
  exit 1
fi
exec < /dev/null   # the private node: runtimes we call below get it as stdin

# 0755, as /tmp would be: a container root mapped to another uid
# (linux_uid_mappings) must meet only the test's own permissions.
chmod 755 "$work" "$priv" "$priv/tmp"
# The suite calls "$RUNTIME create|start|state|kill|delete ...": a wrapper
# gives every call a private state root, so other users of the runtime on this
# machine never see (or collide with) our containers. A runtime being
# reinstalled may be missing for a moment: wait for it (up to 30 s) rather
# than fail the call with "not found".
cat > "$priv/runtime" <<EOF
#!/bin/sh
i=0
while [ ! -x '$runtime' ] && [ \$i -lt 30 ]; do sleep 1; i=\$((i + 1)); done
exec '$runtime' --root '$priv/root' "\$@"
EOF
chmod 755 "$priv/runtime"

# Cgroup dirs the suite hard-codes: /cgrouptest (absolute cgroupsPath),
# testdir/cgrouptest/container (relative: runtimes put it below their own
# cgroup) and pids/cgrouptest (delete_only_create_resources). We remove only
# the ones that appear during this test.
cg_dirs() {
  find /sys/fs/cgroup -mindepth 1 -maxdepth 5 -type d \
    \( -path "${RT_SCRATCH:-/nonexistent}" -prune -o \
       \( -name cgrouptest -o -name testdir \) -prune -print \) 2>/dev/null | sort
}
# Container cgroups named by the suite's uuid ids (no cgroupsPath): the
# runtime must remove them at delete. Only reported: another user's
# container could be named like that.
uuid_dirs() {
  find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d \
    \( -path "${RT_SCRATCH:-/nonexistent}" -prune -o -print \) 2>/dev/null |
    grep -E '/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$' | sort
}
before=$(cg_dirs)
before_uuid=$(uuid_dirs)

# The test files look for ./runtimetest and ./rootfs-amd64.tar.gz in the cwd;
# TMPDIR is where they make bundles. Not under prove: the files' TAP has
# JSON-style YAML blocks that its parser rejects. timeout signals the whole
# process group (test, runtime, container processes that stayed in it).
(cd "$build" && exec env RUNTIME="$priv/runtime" TMPDIR="$priv/tmp" \
  timeout -k 10 "$timeout" "$test") > "$out.tap" 2> "$out.stderr" < "$priv/dev/null"
echo $? > "$out.rc"

# Containers the test did not delete (failed or timed-out tests). The
# runtime may be briefly missing (being reinstalled): wait for it first. A
# container we cannot delete keeps $priv (its state) for the user.
for _ in $(seq 60); do "$runtime" --version > /dev/null 2>&1 && break; sleep 1; done
keep=0
for id in $( ( "$priv/runtime" list -q 2>/dev/null; ls "$priv/root" 2>/dev/null ) | sort -u); do
  timeout 30 "$priv/runtime" delete --force "$id" > /dev/null 2>&1
  if "$priv/runtime" state "$id" > /dev/null 2>&1; then
    echo "run-one: $(basename "$test"): could not delete container $id (state in $priv/root)" >&2
    keep=1
  fi
done

# Without a mount namespace (linux_ns_itype) the runtime mounts proc, sysfs,
# tmpfs... on the bundle's rootfs in our namespace: unmount everything below
# $priv, deepest first, before removing it.
awk -v p="$priv/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo |
  sort -r | while read -r m; do
    m=$(printf '%b' "${m//\\/\\0}")   # mountinfo's \040 (space) -> \0040 for %b
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done

# New cgroup dirs: rmdir bottom-up (never rm -r on cgroupfs); a container's
# processes may take a moment to go, so retry.
for d in $(comm -13 <(echo "$before") <(cg_dirs)); do
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$d" ] || break
    sleep 0.5
  done
  [ -d "$d" ] && echo "run-one: could not remove cgroup $d" >&2
done

for d in $(comm -13 <(echo "$before_uuid") <(uuid_dirs)); do
  echo "run-one: $(basename "$test"): cgroup $d was left behind" >&2
done

# --one-file-system: never descend into a mount we failed to remove.
if [ $keep = 0 ]; then rm -rf --one-file-system "$priv"; fi
[ $interrupted = 0 ] || exit 130
