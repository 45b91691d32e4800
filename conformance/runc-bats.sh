#!/bin/bash
# Run runc v1.1.5's own integration suite (tests/integration/*.bats) against
# runtimes that claim to be runc drop-ins, and score each test by its class
# (conformance/runc-bats/classes.txt: behaviour, cli or excluded).
#
# usage: conformance/runc-bats.sh --src DIR [--runtime PATH ...] [--only FILE.bats ...]
#                                  [--out DIR] [--timeout SECONDS]
#   --src      a runc v1.1.5 checkout (Go 1.19 and its vendor/ dir build the helpers)
#   --runtime  runtime binary to judge, called exactly as the suite calls runc
#              (repeatable; default: pyrunc and runc from PATH)
#   --only     run only these .bats files (repeatable; default: every file that has
#              a non-excluded test)
#   --out      build, image and log dir (default ${TMPDIR:-/tmp}/runc-bats)
#   --timeout  seconds allowed per .bats file and runtime (default 900)
#
# Prints one line per test (class, file, name, result per runtime: ok / not ok / skip (why)
# / not run) and per runtime and class "runc-bats RT CLASS: N passed, M failed, K skipped
# of T"; keeps OUT/logs/RT/FILE.tap (bats TAP with each failure's output), OUT/results.tsv
# and OUT/report.txt.
#
# Needs: bats, jq, gawk, script(1), gcc with a static libc, go 1.19, libseccomp-dev;
# debootstrap for the debian image (else hooks.bats fails: it needs DEBIAN_IMAGE).
# Runs as root on a host with v1 (or hybrid) cgroups. The checkout is never written:
# the suite is copied to OUT/build/tree and adapted there by the sed steps below.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
classes="$here/runc-bats/classes.txt"
src="" out="${TMPDIR:-/tmp}/runc-bats" timeout=900
runtimes=() only=()

die() { echo "runc-bats: $*" >&2; exit 1; }
note() { echo "runc-bats: $*" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--src) src=$(readlink -f "$2"); shift 2 ;;
	--runtime) runtimes+=("$2"); shift 2 ;;
	--only) only+=("$(basename "$2")"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h | --help) sed -n '2,23p' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
[ -n "$src" ] || die "--src DIR (a runc v1.1.5 checkout) is required"
[ -f "$src/tests/integration/helpers.bash" ] || die "$src: no tests/integration/helpers.bash"
[ "$(id -u)" = 0 ] || die "must run as root (the suite's root tests need it)"
for t in bats jq gawk script gcc go timeout; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
[ ${#runtimes[@]} -gt 0 ] || runtimes=(pyrunc runc)
for i in "${!runtimes[@]}"; do
	rt=$(command -v "${runtimes[i]}") || die "runtime not found: ${runtimes[i]}"
	runtimes[i]=$rt
done
mkdir -p "$out"
out=$(readlink -f "$out")
build="$out/build" tree="$out/build/tree" images="$out/build/images"
mkdir -p "$build" "$images" "$out/logs"

# --- helpers: contrib/cmd binaries where helpers.bash looks for them (../../contrib/cmd/X/X)
build_helpers() {
	local c
	mkdir -p "$build/gocache" "$build/gopath"
	for c in recvtty sd-helper seccompagent; do
		local bin="$build/bin/$c"
		[ -x "$bin" ] && continue
		note "building $c"
		# seccompagent needs cgo + libseccomp and the seccomp tag, as runc's Makefile does.
		(cd "$src" && GOFLAGS=-mod=vendor GOCACHE="$build/gocache" GOPATH="$build/gopath" \
			CGO_ENABLED=1 go build -tags seccomp -o "$bin" "./contrib/cmd/$c") ||
			die "go build of contrib/cmd/$c failed"
	done
}

# --- images: rootfs tarballs built locally (no registry). tests untar them with
# `tar --exclude './dev/*' -C rootfs -xf IMAGE`.
build_busybox() {
	local tarball="$images/busybox.tar" r="$images/busybox.rootfs" a
	[ -f "$tarball" ] && return
	/bin/busybox --list >/dev/null 2>&1 && ! ldd /bin/busybox >/dev/null 2>&1 ||
		die "needs a static /bin/busybox (Debian busybox-static)"
	note "building busybox rootfs"
	rm -rf "$r"
	mkdir -p "$r"/{bin,dev,etc,home,root,tmp,usr/bin,usr/sbin,sbin,var/spool/mail,var/www}
	chmod 0755 "$r"
	chmod 1777 "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	# Every applet in /bin, as in the docker busybox image the suite downloads.
	for a in $("$r/bin/busybox" --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	# The users and groups of the docker busybox image (tests use 1000, 100, 65534).
	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		sys:x:3:3:sys:/dev:/bin/false
		sync:x:4:100:sync:/bin:/bin/sync
		mail:x:8:8:mail:/var/spool/mail:/bin/false
		www-data:x:33:33:www-data:/var/www:/bin/false
		operator:x:37:37:Operator:/var:/bin/false
		nobody:x:65534:65534:nobody:/home:/bin/false
	EOF
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		sys:x:3:
		adm:x:4:
		tty:x:5:
		disk:x:6:
		lp:x:7:
		mail:x:8:
		kmem:x:9:
		wheel:x:10:root
		cdrom:x:11:
		dialout:x:18:
		floppy:x:19:
		video:x:28:
		audio:x:29:
		tape:x:32:
		www-data:x:33:
		operator:x:37:
		utmp:x:43:
		plugdev:x:46:
		staff:x:50:
		lock:x:54:
		netdev:x:82:
		users:x:100:
		nogroup:x:65534:
	EOF
	tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf "$r"
}

# debian: debootstrap minbase of the host's suite, when debootstrap is installed.
build_debian() {
	local tarball="$images/debian.tar" r="$images/debian.rootfs"
	[ -f "$tarball" ] && return
	if ! command -v debootstrap >/dev/null; then
		note "no debootstrap: no DEBIAN_IMAGE, hooks.bats (runc run (hooks library tests)) will fail"
		return
	fi
	note "building debian rootfs (debootstrap --variant=minbase)"
	rm -rf "$r"
	local suite
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	debootstrap --variant=minbase "$suite" "$r" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
		>"$images/debootstrap.log" 2>&1 || {
		note "debootstrap failed (see $images/debootstrap.log): hooks.bats will fail"
		rm -rf --one-file-system "$r"
		return
	}
	tar --numeric-owner --exclude "./var/cache/apt/archives/*.deb" -C "$r" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf --one-file-system "$r"
}

# --- the suite: a fresh copy of tests/integration in $tree, adapted by these steps.
prepare_tree() {
	rm -rf "$tree"
	mkdir -p "$tree/tests" "$tree/contrib/cmd"
	cp -a "$src/tests/integration" "$tree/tests/integration"
	cp "$src/go.mod" "$tree/go.mod" # spec.bats reads the runtime-spec version from it
	local c
	for c in recvtty sd-helper seccompagent; do
		mkdir -p "$tree/contrib/cmd/$c"
		ln -s "$build/bin/$c" "$tree/contrib/cmd/$c/$c"
	done
	# seccomp-notify.bats runs this script from the checkout's contrib dir.
	cp "$src/contrib/cmd/seccompagent/gen-seccomp-example-cfg.sh" "$tree/contrib/cmd/seccompagent/"

	local it="$tree/tests/integration" h="$tree/tests/integration/helpers.bash"
	# 1. get-images.sh downloads from a registry: replace it by one that prints our tarballs.
	{
		echo '#!/bin/bash'
		echo '# Written by conformance/runc-bats.sh: locally built images, no registry.'
		echo "echo BUSYBOX_IMAGE=$images/busybox.tar"
		[ -f "$images/debian.tar" ] && echo "echo DEBIAN_IMAGE=$images/debian.tar"
		true
	} >"$it/get-images.sh"
	# 2. On v1/hybrid hosts helpers.bash takes every controller in /proc/cgroups, and
	#    create_parent then mkdirs /sys/fs/cgroup/<controller>/... even for controllers that
	#    are not mounted (net_cls, perf_event...): plain directories in the host's
	#    /sys/fs/cgroup tmpfs. Keep only controllers mounted as a v1 hierarchy.
	grep -q "CGROUP_SUBSYSTEMS=\$(awk '!/^#/ {print \$1}' /proc/cgroups)" "$h" ||
		die "helpers.bash: v1 controller list not found (not runc v1.1.5?)"
	sed -i "s|CGROUP_SUBSYSTEMS=\$(awk '!/^#/ {print \$1}' /proc/cgroups)|CGROUP_SUBSYSTEMS=\$(awk '!/^#/ \\&\\& \$2 != 0 {print \$1}' /proc/cgroups \\| while read -r g; do gawk -v g=\"\$g\" '\$(NF-2) == \"cgroup\" \\&\\& (\",\" \$NF \",\") ~ (\",\" g \",\") { f = 1 } END { exit !f }' /proc/self/mountinfo \\&\\& echo \"\$g\"; done)|" "$h"
	grep -q 'CGROUP_SUBSYSTEMS=$(awk .*mountinfo' "$h" || die "helpers.bash: controller patch failed"
	# 3. A cgroup parent of our own per run (RUNC_BATS_TAG), so that concurrent runs never
	#    share /runc-cgroups-integration-test (tests only match the prefix).
	sed -i 's|REL_PARENT_PATH="/runc-cgroups-integration-test${slash_pod}"|REL_PARENT_PATH="/runc-cgroups-integration-test-${RUNC_BATS_TAG}${slash_pod}"|' "$h"
	grep -q 'integration-test-${RUNC_BATS_TAG}' "$h" || die "helpers.bash: cgroup parent patch failed"
}

# --- one .bats file against one runtime, under script(1) for a controlling terminal.

# recvtty / seccompagent daemons that a file started: their pid files lie in its tmp dir.
# A test that fails before killing its own recvtty leaves it holding bats' fd 3, and
# bats then waits for it forever.
kill_daemons() {
	local f
	for f in "$1"/bats-run-*/runc.*/tty/pid "$1"/bats-run-*/runc-tmp-recvtty.*/recvtty.pid \
		"$1"/seccompagent.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
	done
}

cleanup_run() {
	local rt=$1 tmp=$2 tag=$3 d m f
	# Containers left by a killed file: delete them in their private state dirs.
	for d in "$tmp"/bats-run-*/runc.*/state "$tmp"/bats-run-*/runc.*/alt/state; do
		[ -d "$d" ] || continue
		for c in $("$rt" --root "$d" list -q 2>/dev/null); do
			"$rt" --root "$d" delete -f "$c" >/dev/null 2>&1 || true
		done
	done
	kill_daemons "$tmp"
	# Mounts left under the file's tmp dir (hooks, sshfs), deepest first, before rm.
	for m in $(awk -v p="$tmp/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$tmp"
	# Our cgroup parents (remove_parent misses the hybrid "unified" tree).
	for d in /sys/fs/cgroup/*/runc-cgroups-integration-test-"$tag"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
		[ -d "$d" ] && note "left behind: $d"
	done
	true
}

run_file() { # runtime-path label file
	local rt=$1 label=$2 file=$3
	local tag="$label-$$" log="$out/logs/$label/${file%.bats}.tap" tmp="$out/tmp/$label-${file%.bats}"
	mkdir -p "$out/logs/$label" "$tmp"
	local before after rc=0 null_before null_after
	before=$(ls /sys/fs/cgroup)
	# A runtime that chowns its stdio must spare /dev/null: watch the host's.
	null_before=$(stat -c %u:%g:%a /dev/null)
	# TMPDIR private: bats puts its run dir (bundles, state roots) and the seccomp agent
	# socket there. RUNC is what helpers.bash calls for `runc`.
	TMPDIR="$tmp" RUNC="$rt" RUNC_BATS_TAG="$tag" \
		timeout -k 20 "$timeout" script -qefc "bats --tap '$tree/tests/integration/$file'" /dev/null \
		</dev/null >"$log.raw" &
	local pid=$! plan n done_at=""
	# Watchdog: once every test has reported, give bats 15 s to exit, then end the
	# daemons that keep it waiting.
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		plan=$(tr -d '\r' <"$log.raw" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p')
		n=$(tr -d '\r' <"$log.raw" | grep -cE '^(not )?ok [0-9]+ ' || true)
		[ -n "$plan" ] && [ "$n" -ge "$plan" ] || continue
		: "${done_at:=$SECONDS}"
		if [ $((SECONDS - done_at)) -ge 15 ]; then
			note "$label $file: bats still waits after its last test: ending its daemons"
			kill_daemons "$tmp"
			done_at=$SECONDS
		fi
	done
	wait "$pid" || rc=$?
	tr -d '\r' <"$log.raw" >"$log" && rm -f "$log.raw"
	[ "$rc" = 124 ] && echo "# runc-bats: TIMEOUT after ${timeout}s" >>"$log"
	cleanup_run "$rt" "$tmp" "$tag"
	null_after=$(stat -c %u:%g:%a /dev/null)
	[ "$null_before" = "$null_after" ] ||
		note "WARNING: host /dev/null changed during $label $file: $null_before -> $null_after"
	after=$(ls /sys/fs/cgroup)
	if [ "$before" != "$after" ]; then
		note "WARNING: $label $file changed the /sys/fs/cgroup tmpfs: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
	fi
}

# TAP of one file -> "result<TAB>name<TAB>reason" lines.
parse_tap() {
	gawk '
		/^ok [0-9]+ / {
			sub(/^ok [0-9]+ /, "")
			if (match($0, / # skip ?/)) { print "skip\t" substr($0, 1, RSTART - 1) "\t" substr($0, RSTART + RLENGTH); next }
			print "ok\t" $0 "\t"; next
		}
		/^not ok [0-9]+ / { sub(/^not ok [0-9]+ /, ""); print "not ok\t" $0 "\t" }
	' "$1"
}

# --- main
build_helpers
build_busybox
build_debian
prepare_tree

# Files to run: those with a non-excluded test, or exactly the --only ones.
mapfile -t all_files < <(grep -v '^#' "$classes" | awk -F' [|] ' '$1 != "excluded" { print $2 }' | sort -u)
[ ${#only[@]} -gt 0 ] && all_files=("${only[@]}")
for f in "${all_files[@]}"; do
	[ -f "$tree/tests/integration/$f" ] || die "no such test file: $f"
done

labels=()
for rt in "${runtimes[@]}"; do
	label=$(basename "$rt")
	labels+=("$label")
	rm -rf "$out/logs/$label"
	for f in "${all_files[@]}"; do
		note "$label: $f"
		run_file "$rt" "$label" "$f"
	done
done

# --- report: one line per test, then per runtime and class totals.
results="$out/results.tsv" # label file name result reason
: >"$results"
for label in "${labels[@]}"; do
	for f in "${all_files[@]}"; do
		parse_tap "$out/logs/$label/${f%.bats}.tap" | gawk -F'\t' -v l="$label" -v f="$f" -v OFS='\t' '{ print l, f, $2, $1, $3 }' >>"$results"
	done
done
gawk -F'\t' -v labels="${labels[*]}" -v files=" ${all_files[*]} " '
	BEGIN { nl = split(labels, L, " ") }
	FNR == NR { r[$1 SUBSEP $2 SUBSEP $3] = $4 ($5 != "" ? " (" $5 ")" : ""); next }
	/^#/ || NF == 0 { next }
	{
		split($0, c, / [|] /)
		cls = c[1]; f = c[2]; name = c[3]
		if (index(files, " " f " ") == 0) next
		line = sprintf("%-9s %s: %s", cls, f, name)
		for (i = 1; i <= nl; i++) {
			k = L[i] SUBSEP f SUBSEP name
			res = (k in r) ? r[k] : "not run"
			line = line sprintf("  [%s: %s]", L[i], res)
			if (cls == "excluded") continue
			total[L[i], cls]++
			if (res == "ok") pass[L[i], cls]++
			else if (res ~ /^skip/) skip[L[i], cls]++
			else fail[L[i], cls]++
		}
		print line
	}
	END {
		print ""
		for (i = 1; i <= nl; i++)
			for (j = 1; j <= 2; j++) {
				cls = (j == 1) ? "behaviour" : "cli"
				printf "runc-bats %s %s: %d passed, %d failed, %d skipped of %d\n", L[i], cls,
					pass[L[i], cls], fail[L[i], cls], skip[L[i], cls], total[L[i], cls]
			}
	}
' "$results" "$classes" | tee "$out/report.txt"
