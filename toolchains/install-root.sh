#!/usr/bin/env bash
# Installs a board build's agent into a board's root file system (mounted
# Raspberry Pi OS or L4T image, or any directory), as `make install` does:
#
#   toolchains/install-root.sh BUILD_DIR DESTDIR
#
# BUILD_DIR is a configured and built cross build (build/aarch64-linux-gnu).
# Puts /usr/sbin/fleetmedic-agent, /usr/lib/systemd/system/
# fleetmedic-agent.service, /etc/fleetmedic/fleetmedic.conf (an existing one
# is kept: it holds the node's controller and PSK) and /var/lib/fleetmedic
# under DESTDIR, and enables the unit the way `systemctl enable` would, with
# the multi-user.target.wants symlink: systemctl is never run against a
# foreign root.
set -euo pipefail
die() { printf 'install-root.sh: %s\n' "$*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: $0 BUILD_DIR DESTDIR"
build=$1 dest=$2
[ -f "$build/CMakeCache.txt" ] || die "$build is not a configured build (run make cross)"
[ -d "$dest" ] || die "$dest is not a directory"
dest=$(cd "$dest" && pwd)
[ "$dest" != / ] || die "DESTDIR=/ would install into this machine: use the board's .deb there"

conf="$dest/etc/fleetmedic/fleetmedic.conf"
keep=
if [ -f "$conf" ]; then
    keep=$(mktemp)
    cp -p "$conf" "$keep"
fi
DESTDIR="$dest" cmake --install "$build" --prefix /usr --component agent >/dev/null
if [ -n "$keep" ]; then
    cp -p "$keep" "$conf"
    rm -f "$keep"
    echo "install-root.sh: kept the existing $conf"
fi

wants="$dest/etc/systemd/system/multi-user.target.wants"
mkdir -p "$wants"
ln -sfn /usr/lib/systemd/system/fleetmedic-agent.service "$wants/fleetmedic-agent.service"
echo "install-root.sh: fleetmedic-agent installed into $dest and enabled (multi-user.target)"
