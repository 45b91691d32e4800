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
# With `pyrunc_lane_systemd=1` (run_v2_lane.py --systemd) stage 1 itself mounts
# /tmp, the run's directory and the --rw shares on the overlay, copies the
# run's `etc/` (systemd units, drop-ins and masks written by the host) over the
# overlay's /etc, and switch_roots into /lib/systemd/systemd instead: systemd
# mounts proc, sys, /run and cgroup2 itself, starts `systemd.unit=` (the
# run's pyrunc-lane.target: dbus and pyrunc-lane.service), and the service runs
# this file again as `service`: the checks of stage 2, the checks of systemd
# and its D-Bus API, run.sh, and the power-off.
#
# The host reads these lines on the serial console:
#   PYRUNC-V2-LANE-CONTROLLERS=<cgroup.controllers of the root cgroup>
#   PYRUNC-V2-LANE-PIVOT_ROOT=ok|failed       pivot_root(2) on the overlay root
#   PYRUNC-V2-LANE-SYSTEMD=<systemctl is-system-running>   (systemd mode)
#   PYRUNC-V2-LANE-DBUS=ok|failed             StartTransientUnit over the system bus (systemd mode)
#   PYRUNC-V2-LANE-BEGIN / PYRUNC-V2-LANE-END   around run.sh
#   PYRUNC-V2-LANE-EXIT=<run.sh's exit status: pytest's>
#   PYRUNC-V2-LANE-ERROR: <why the lane itself failed>
# Kernel command line parameters reach us as environment variables (in
# systemd mode, pyrunc-lane.service sets them again for `service`):
#   pyrunc_lane=DIR          the run's directory on the host (run.sh, results)
#   pyrunc_lane_init=PATH    this file's path on the host
#   pyrunc_lane_repo=DIR     the clone's directory on the host (kept visible under /tmp)
#   pyrunc_lane_timeout=S    seconds run.sh may take (its commands then get SIGINT)
#   pyrunc_lane_msize=N      9p msize
#   pyrunc_lane_systemd=1    stage 1 execs systemd, not stage 2
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

# mount_lane_dirs ROOT: a fresh tmpfs on ROOT/tmp (a clone that lives under the
# host's /tmp stays visible: it is kept, from the overlay, where it was, on
# top of it), the run's directory read-write at its host path (often under
# /tmp), and the --rw shares. ROOT is "" in stage 2, /newroot in stage 1.
mount_lane_dirs() {
    r=$1
    case "$pyrunc_lane_repo" in
        /tmp/*) $bb mkdir -p "$r/run/lane-repo" &&
                $bb mount --bind "$r$pyrunc_lane_repo" "$r/run/lane-repo" || die "bind $pyrunc_lane_repo" ;;
    esac
    $bb mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/tmp" || die "mount /tmp"
    case "$pyrunc_lane_repo" in
        /tmp/*) $bb mkdir -p "$r$pyrunc_lane_repo" &&
                $bb mount --move "$r/run/lane-repo" "$r$pyrunc_lane_repo" || die "move $pyrunc_lane_repo back" ;;
    esac
    # The run's directory (often under the host's /tmp): read-write, same path.
    $bb mkdir -p "$r$pyrunc_lane" || die "mkdir $pyrunc_lane"
    $bb mount -t 9p -o "$ninep_opts,cache=none" lane "$r$pyrunc_lane" || die "mount 9p lane"
    # Host directories the runner was asked to share read-write (--rw), same paths.
    while read -r tag dir; do
        [ -n "$tag" ] || continue
        $bb mkdir -p "$r$dir" && $bb mount -t 9p -o "$ninep_opts,cache=none" "$tag" "$r$dir" \
            || die "mount 9p $tag on $dir"
    done < "$r$pyrunc_lane/mounts"
}

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
    if [ -n "$pyrunc_lane_systemd" ]; then
        [ -x /newroot/lib/systemd/systemd ] || die "/lib/systemd/systemd is not installed on the host"
        # systemd mounts proc, sys, /dev/shm, /dev/pts and cgroup2 itself, but
        # nothing else that the run needs: /run (fresh, as systemd would mount
        # it: nothing of the host's /run shows through), /tmp and the run's
        # directories are mounted here.
        $bb mount -t tmpfs -o mode=755,nosuid,nodev,size=20%,nr_inodes=800k tmpfs /newroot/run \
            || die "mount /run"
        mount_lane_dirs /newroot
        # The host's /.dockerenv would make systemd take the guest for a Docker
        # container (and read its options from its argv, not from the kernel's
        # command line): the overlay hides it.
        $bb rm -f /newroot/.dockerenv || die "hide /.dockerenv"
        # The run's units, drop-ins and masks (written by the host) into the
        # overlay's /etc: the host's /etc never changes.
        [ -d "/newroot$pyrunc_lane/etc/systemd" ] || die "$pyrunc_lane/etc/systemd is missing"
        $bb cp -a "/newroot$pyrunc_lane/etc/." /newroot/etc/ || die "copy the run's units into /etc"
    fi
    $bb mount --move /dev /newroot/dev || die "move /dev"
    $bb umount /sys
    $bb umount /proc
    # pivot_root(2) does not work from the initramfs (rootfs); after
    # switch_root the root is the overlay and containers can pivot.
    if [ -n "$pyrunc_lane_systemd" ]; then
        exec $bb switch_root /newroot /lib/systemd/systemd
    fi
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
    mount_lane_dirs ""
    # With systemd's options: nsdelegate, memory_recursiveprot. The root's
    # cgroup.subtree_control stays empty (the kernel's default): enabling
    # controllers below is the runtime's job.
    $bb mount -t cgroup2 -o nsdelegate,memory_recursiveprot none /sys/fs/cgroup \
        || die "mount cgroup2"
    $bb hostname pyrunc-v2-lane
    $bb ip link set lo up 2>/dev/null
    check_host
    run_tests
}

# The guest is what the tests need: cgroup v2 with its controllers, and
# pivot_root(2) on the root.
check_host() {
    # (systemd's hybrid and legacy modes: the v1 controllers.)
    echo "PYRUNC-V2-LANE-CONTROLLERS=$($bb cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
        $bb awk '$4 == 1 && $2 > 0 {printf "%s ", $1}' /proc/cgroups)"
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
}

# systemd is PID 1 and done booting, and its D-Bus API works through
# dbus-daemon (the system bus, as a runtime's systemd cgroup driver uses it):
# a transient scope with Delegate=yes takes a process.
check_systemd() {
    state=$($bb timeout 60 systemctl is-system-running --wait 2>/dev/null)
    echo "PYRUNC-V2-LANE-SYSTEMD=${state:-unknown}"
    [ "$state" = degraded ] && systemctl --failed --no-legend --plain --no-pager 2>&1 |
        while read -r line; do say "failed unit: $line"; done
    $bb sleep 120 &
    pid=$!
    unit=pyrunc-lane-dbus-$pid.scope
    dbus=failed
    if $bb timeout 30 busctl --system call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
            org.freedesktop.systemd1.Manager StartTransientUnit 'ssa(sv)a(sa(sv))' \
            "$unit" fail 2 PIDs au 1 "$pid" Delegate b true 0 >/dev/null; then
        # The job moves the process into the scope's cgroup.
        # (Hybrid and legacy modes: systemd's own hierarchies hold it, name=systemd
        # and, hybrid, cgroup2.)
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
            if $bb grep -q ":/.*/$unit\$" "/proc/$pid/cgroup"; then
                dbus=ok
                break
            fi
            $bb usleep 250000
        done
        [ "$dbus" = ok ] || say "$unit: process $pid is in $($bb cat /proc/$pid/cgroup), not in the scope"
    fi
    kill "$pid"
    wait "$pid" 2>/dev/null
    echo "PYRUNC-V2-LANE-DBUS=$dbus"
}

run_tests() {
    [ -f "$pyrunc_lane/run.sh" ] || die "$pyrunc_lane/run.sh is missing"
    echo "PYRUNC-V2-LANE-BEGIN"
    # run.sh runs each command under what is left of the limit: SIGINT first
    # (pytest and conformance/run stop and still print their summary), KILL
    # 20 s later. ash, as PID 1, also reaps the orphans (container inits)
    # while it waits (systemd does in systemd mode).
    /bin/busybox sh "$pyrunc_lane/run.sh" "${pyrunc_lane_timeout:-540}" < /dev/null
    rc=$?
    echo "PYRUNC-V2-LANE-END"
    echo "$rc" > "$pyrunc_lane/rc"
    echo "PYRUNC-V2-LANE-EXIT=$rc"
    halt_guest
}

# pyrunc-lane.service in systemd mode: systemd (PID 1) mounted the API file
# systems and cgroup2, stage 1 the run's directories.
service() {
    say "systemd mode: up $($bb cut -d' ' -f1 /proc/uptime) s"
    check_host
    check_systemd
    run_tests
}

case "$1" in
    stage2) stage2 ;;
    service) service ;;
    *) stage1 ;;
esac
