#!/bin/busybox sh
# Guest init of the cgroup-v2 lane (tests/vm/run_v2_lane.py; see tests/vm/README.md).
#
# Stage 1 runs as /init of the lane's busybox initramfs: it loads the 9p, virtio
# and overlay modules, mounts the host's / read-only over virtio-9p (tag
# "hostroot"), puts a tmpfs overlay on top, and switch_roots into the overlay.
# Stage 2 is this same file read from the host's tree (`$pyrunc_lane_init`),
# running as PID 1 on the overlay: it mounts proc, sys, dev, /run, /tmp and
# cgroup2 on /sys/fs/cgroup (the kernel has `cgroup_no_v1=all`), mounts the run's
# directory read-write (tag "lane"), runs `$pyrunc_lane/run.sh` (pytest, then
# conformance/run, as written by the host; it keeps to the time limit), reports,
# and powers off.
#
# The host reads these lines on the serial console:
#   PYRUNC-V2-LANE-CONTROLLERS=<cgroup.controllers of the root cgroup>
#   PYRUNC-V2-LANE-PIVOT_ROOT=ok|failed       pivot_root(2) on the overlay root
#   PYRUNC-V2-LANE-BEGIN / PYRUNC-V2-LANE-END   around run.sh
#   PYRUNC-V2-LANE-EXIT=<run.sh's exit status: pytest's>
#   PYRUNC-V2-LANE-ERROR: <why the lane itself failed>
# Kernel command line parameters reach us as environment variables:
#   pyrunc_lane=DIR          the run's directory on the host (run.sh, results)
#   pyrunc_lane_init=PATH    this file's path on the host
#   pyrunc_lane_repo=DIR     the clone's directory on the host (kept visible under /tmp)
#   pyrunc_lane_timeout=S    seconds run.sh may take (its commands then get SIGINT)
#   pyrunc_lane_msize=N      9p msize
#   pyrunc_lane_debug=1      trace this script (set -x)
# $pyrunc_lane/mounts lists "TAG PATH" of further read-write 9p shares (--rw).

[ -n "$pyrunc_lane_debug" ] && set -x
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# Busybox applets by name: after switch_root, PATH finds the host's own tools.
bb=/bin/busybox

say() { echo "PYRUNC-V2-LANE: $*"; }

halt_guest() {
    sync
    # ACPI power-off ends QEMU; the sysrq and PID 1's exit (a panic, and
    # panic=-1 with -no-reboot ends QEMU too) are fallbacks.
    $bb poweroff -f
    echo o > /proc/sysrq-trigger 2>/dev/null
    $bb sleep 5
    exit 1
}

die() {
    echo "PYRUNC-V2-LANE-ERROR: $*"
    halt_guest
}

ninep_opts="trans=virtio,version=9p2000.L,msize=${pyrunc_lane_msize:-512000}"

stage1() {
    $bb mount -t proc proc /proc || die "mount /proc"
    $bb mount -t sysfs sysfs /sys || die "mount /sys"
    $bb mount -t devtmpfs devtmpfs /dev 2>/dev/null
    # /lane-modules: module files in load order (dependencies first), written
    # by the host from modules.dep.
    while read -r ko; do
        [ -n "$ko" ] || continue
        $bb insmod "/lib/modules/$ko" || die "insmod $ko"
    done < /lane-modules
    $bb mkdir -p /mnt/host /mnt/rw /newroot
    # The host's / never changes under a run, so a loose cache is safe (and
    # much faster); the overlay takes every write.
    $bb mount -t 9p -o "ro,$ninep_opts,cache=loose" hostroot /mnt/host || die "mount 9p hostroot"
    $bb mount -t tmpfs -o mode=755 tmpfs /mnt/rw || die "mount tmpfs for the overlay"
    $bb mkdir -p /mnt/rw/upper /mnt/rw/work
    $bb mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work \
        overlay /newroot || die "mount overlay"
    [ -f "/newroot$pyrunc_lane_init" ] || die "$pyrunc_lane_init is not visible through 9p"
    $bb mount --move /dev /newroot/dev || die "move /dev"
    $bb umount /sys
    $bb umount /proc
    # pivot_root(2) does not work from the initramfs (rootfs); after
    # switch_root the root is the overlay and containers can pivot.
    exec $bb switch_root /newroot /bin/busybox sh "$pyrunc_lane_init" stage2
    die "switch_root failed"
}

stage2() {
    $bb mount -t proc proc /proc || die "mount /proc"
    $bb mount -t sysfs sysfs /sys || die "mount /sys"
    [ -c /dev/null ] || $bb mount -t devtmpfs devtmpfs /dev || die "mount /dev"
    $bb mkdir -p /dev/pts /dev/shm /dev/mqueue
    $bb mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || die "mount devpts"
    $bb mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || die "mount /dev/shm"
    $bb mount -t mqueue mqueue /dev/mqueue 2>/dev/null
    $bb mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run || die "mount /run"
    # A fresh /tmp would hide a clone that lives under the host's /tmp: keep
    # the clone's directory (from the overlay) where it was, on top of it.
    case "$pyrunc_lane_repo" in
        /tmp/*) $bb mkdir -p /run/lane-repo &&
                $bb mount --bind "$pyrunc_lane_repo" /run/lane-repo || die "bind $pyrunc_lane_repo" ;;
    esac
    $bb mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || die "mount /tmp"
    case "$pyrunc_lane_repo" in
        /tmp/*) $bb mkdir -p "$pyrunc_lane_repo" &&
                $bb mount --move /run/lane-repo "$pyrunc_lane_repo" || die "move $pyrunc_lane_repo back" ;;
    esac
    # With systemd's options: nsdelegate, memory_recursiveprot. The root's
    # cgroup.subtree_control stays empty (the kernel's default): enabling
    # controllers below is the runtime's job.
    $bb mount -t cgroup2 -o nsdelegate,memory_recursiveprot none /sys/fs/cgroup \
        || die "mount cgroup2"
    # The run's directory (often under the host's /tmp): read-write, same path.
    $bb mkdir -p "$pyrunc_lane" || die "mkdir $pyrunc_lane"
    $bb mount -t 9p -o "$ninep_opts,cache=none" lane "$pyrunc_lane" || die "mount 9p lane"
    # Host directories the runner was asked to share read-write (--rw), same paths.
    while read -r tag dir; do
        [ -n "$tag" ] || continue
        $bb mkdir -p "$dir" && $bb mount -t 9p -o "$ninep_opts,cache=none" "$tag" "$dir" \
            || die "mount 9p $tag on $dir"
    done < "$pyrunc_lane/mounts"
    $bb hostname pyrunc-v2-lane
    $bb ip link set lo up 2>/dev/null

    echo "PYRUNC-V2-LANE-CONTROLLERS=$($bb cat /sys/fs/cgroup/cgroup.controllers)"
    say "kernel $($bb uname -r), $($bb grep -c ^processor /proc/cpuinfo) cpus," \
        "$($bb awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo)," \
        "root $($bb awk '$5 == "/" {print $9}' /proc/self/mountinfo | $bb tail -n 1)"
    # pivot_root(2) into a fresh tmpfs from a private mount namespace, as a
    # runtime does: this must work on the overlay (it would not on the initramfs).
    if $bb unshare -m $bb sh -c "$bb mount --make-rprivate / && $bb mkdir -p /tmp/.pivot &&
            $bb mount -t tmpfs tmpfs /tmp/.pivot && $bb mkdir /tmp/.pivot/old &&
            cd /tmp/.pivot && $bb pivot_root . old" 2>/dev/null; then
        echo "PYRUNC-V2-LANE-PIVOT_ROOT=ok"
    else
        echo "PYRUNC-V2-LANE-PIVOT_ROOT=failed"
    fi
    $bb rmdir /tmp/.pivot 2>/dev/null
    [ -f "$pyrunc_lane/run.sh" ] || die "$pyrunc_lane/run.sh is missing"

    echo "PYRUNC-V2-LANE-BEGIN"
    # run.sh runs each command under what is left of the limit: SIGINT first
    # (pytest and conformance/run stop and still print their summary), KILL
    # 20 s later. ash, as PID 1, also reaps the orphans (container inits)
    # while it waits.
    /bin/busybox sh "$pyrunc_lane/run.sh" "${pyrunc_lane_timeout:-540}" < /dev/null
    rc=$?
    echo "PYRUNC-V2-LANE-END"
    echo "$rc" > "$pyrunc_lane/rc"
    echo "PYRUNC-V2-LANE-EXIT=$rc"
    halt_guest
}

case "$1" in
    stage2) stage2 ;;
    *) stage1 ;;
esac
