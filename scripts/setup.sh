#!/bin/bash
# Idempotent set-up on Debian 12 as root: system packages, a virtual environment
# with Debian's python3 at /opt/pyrunc/venv, the build of this tree (cffi module +
# C init), the /usr/local/bin/pyrunc command, and its man pages and bash
# completion. Sourced by demo.sh and test.sh.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "setup: run as root (pyrunc creates namespaces, mounts and cgroups)" >&2; exit 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=/opt/pyrunc/venv
# runc, containerd, podman (with conmon) and docker.io (dockerd 20.10; its docker-init is
# tini) are references and real clients in the tests; uidmap (newuidmap/newgidmap) maps
# subordinate ids for rootless containers; man-db shows pyrunc's man pages (its
# groff-base checks them in the tests); bash-completion loads pyrunc's completion.
# musl-tools builds the static init and front door ~10x smaller than glibc (setup.py).
APT_PACKAGES="gcc libc6-dev musl-tools python3-venv python3-dev libseccomp-dev busybox-static git runc containerd podman conmon uidmap docker.io tini man-db bash-completion"

missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  # No package may start its daemon here: docker.io's init script would mount
  # cgroups and start a dockerd with iptables rules and a docker0 bridge. The
  # Debian way: a policy-rc.d that denies every start (ours only if none exists).
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# pyrunc setup.sh: no service starts during its apt-get install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  apt-get update -q >/dev/null
  rc=0
  apt-get install -y -q --no-install-recommends $missing >/dev/null || rc=$?
  [ -z "$own_policy" ] || rm -f "$policy"
  [ "$rc" = 0 ] || { echo "setup: apt-get install failed ($rc)" >&2; exit 1; }
  # The tests start private daemons only (never /run/docker.pid, never a docker0).
  if [ -e /var/run/docker.pid ] || [ -e /var/run/docker-ssd.pid ] || ip link show docker0 >/dev/null 2>&1; then
    echo "setup: a system dockerd started during the install: stop it and remove docker0" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python3" ]; then
  /usr/bin/python3 -m venv "$VENV"
fi
# grpcio, grpcio-tools, protobuf and websocket-client are the CRI client of the
# Kubernetes lane (tests/integration/test_cri.py).
# (This machine's pip.conf names index directories that may not exist: hide
# pip's warnings about them, keep its errors.)
"$VENV/bin/pip" install -q --disable-pip-version-check --upgrade \
  "pip>=23" "setuptools>=61" wheel "cffi>=1.15" "jsonschema>=4.17" "pytest>=7" "pyroute2>=0.7" \
  "jeepney>=0.8" "grpcio>=1.50" "grpcio-tools>=1.50" "protobuf>=4.21" "websocket-client>=1.0" \
  2> >(grep -v "^WARNING: Location" >&2)
# Build and install this tree (not editable: the installed runtime must not
# depend on where the clone lives).
"$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation --no-deps \
  --force-reinstall "$HERE" 2>&1 | grep -vE "^\s*$|Warning|warning|WARNING|\*\*\*|!!|^\s+(for path|By 20|or your|Pattern)" || true
[ -x "$VENV/bin/pyrunc" ] || { echo "setup: the build failed" >&2; exit 1; }
# The command file itself: python3 -I -S, no site (runtime/entry.py says why).
# -I here too: run from this tree, -m would import the tree's runtime/.
"$VENV/bin/python3" -I -m runtime.entry /usr/local/bin/pyrunc
# The man pages and the bash completion, built into the package
# (runtime/docgen.py), linked into /usr/local/share/man/man8 and
# /usr/share/bash-completion/completions. man finds a page without an index;
# mandb adds new ones to the indexes whatis and apropos read (all of them:
# Debian's /usr/local/man is /usr/local/share/man with an index of its own).
"$VENV/bin/python3" -I -m runtime.docgen --install
if command -v mandb >/dev/null; then mandb -q 2>/dev/null || true; fi
