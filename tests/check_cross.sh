#!/usr/bin/env bash
# The board builds (make cross), checked from the outside:
#
#   tests/check_cross.sh static  BUILD_DIR TRIPLET   the agent and the controller
#       are ARM executables for TRIPLET, statically linked (`file`), with no
#       dynamic section and no NEEDED (`readelf -d`), stripped; the agent (what
#       goes onto the boards) at most FM_SIZE_BUDGET bytes (default 2.5 MB =
#       2621440); the controller's size is printed (bench/b_size.sh reports
#       both)
#   tests/check_cross.sh deps    BUILD_DIR TRIPLET   the build links the prefix
#       toolchains/deps.sh TRIPLET names, deps.sh reuses it without building,
#       its libsystemd.a reads zstd and lz4 journals (and not xz: deps.sh
#       says why), and the libraries deps.sh compiles for size are the ones
#       installed: zstd without a compressor or the legacy formats, none of
#       the five with unwind tables
#   tests/check_cross.sh package BUILD_DIR TRIPLET   the .deb holds the agent,
#       its unit, its config (a conffile) and the state directory, for the
#       right Debian architecture, with no Depends
#   tests/check_cross.sh install BUILD_DIR TRIPLET   make install's script into
#       a temporary root: the same files, the unit enabled by the symlink, an
#       existing config kept
set -euo pipefail
fail() { echo "check_cross: $*" >&2; exit 1; }
[ $# -eq 3 ] || fail "usage: $0 static|deps|package|install BUILD_DIR TRIPLET"
mode=$1 build=$2 triplet=$3
top=$(cd "$(dirname "$0")/.." && pwd)
budget=${FM_SIZE_BUDGET:-2621440}
agent="$build/firmware-agent/fleetmedic-agent"
controller="$build/fleet-controller/fleetmedic-controller"
case "$triplet" in
aarch64-linux-gnu) machine='ARM aarch64' arch=arm64 emu=qemu-aarch64-static ;;
arm-linux-gnueabihf) machine='32-bit LSB executable, ARM, EABI5' arch=armhf emu=qemu-arm-static ;;
*) fail "unknown triplet $triplet" ;;
esac
for tool in file readelf dpkg-deb; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (toolchains/host-packages.sh)"
done

case "$mode" in
static)
    for bin in "$agent" "$controller"; do
        [ -x "$bin" ] || fail "$bin is missing: run make cross"
        what=$(file -b "$bin")
        echo "$(basename "$bin"): $what"
        grep -q "$machine" <<<"$what" || fail "$bin is not an $machine executable"
        grep -q 'statically linked' <<<"$what" || fail "file does not say $bin is statically linked"
        grep -q ', stripped' <<<"$what" || fail "$bin is not stripped"
        dyn=$(readelf -d "$bin" 2>&1)
        if grep -q NEEDED <<<"$dyn"; then
            fail "$bin needs shared libraries: $(grep NEEDED <<<"$dyn")"
        fi
        readelf -l "$bin" | grep -q INTERP && fail "$bin asks for a program interpreter"
        size=$(stat -c %s "$bin")
        if [ "$bin" = "$agent" ]; then
            echo "$(basename "$bin"): $size bytes (budget $budget)"
            [ "$size" -le "$budget" ] || fail "$bin is $size bytes, over the budget of $budget"
        else
            echo "$(basename "$bin"): $size bytes"
        fi
    done
    ;;
deps)
    prefix=$("$top/toolchains/deps.sh" --print-prefix "$triplet")
    used=$(sed -n 's/^FM_DEPS_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
    [ "$used" = "$prefix" ] || fail "$build links $used, deps.sh $triplet now builds $prefix: run make cross"
    [ -f "$prefix/.done" ] || fail "no completed prefix at $prefix"
    out=$("$top/toolchains/deps.sh" "$triplet" 2>&1)
    echo "$out"
    grep -q "are cached in $prefix" <<<"$out" || fail "deps.sh $triplet did not reuse $prefix"
    for f in libmbedtls.a dtls-server/libmbedtls.a libmbedx509.a libmbedcrypto.a libcoap-3.a libcjson.a libsystemd.a libyaml.a \
             libsqlite3.a libzstd.a liblz4.a libcap.a libnghttp2.a libprotobuf-c.a; do
        [ -f "$prefix/lib/$f" ] || fail "$f missing from $prefix"
    done
    [ -e "$prefix/lib/liblzma.a" ] && fail "liblzma.a is in $prefix: no supported journald writes xz"
    undef=$("$triplet-nm" -u "$prefix/lib/libsystemd.a" 2>/dev/null | awk '{ print $2 }' | sort -u)
    for sym in ZSTD_decompressStream LZ4F_decompress; do
        grep -qx "$sym" <<<"$undef" || fail "libsystemd.a does not call $sym: journals compressed so cannot be read"
    done
    grep -qx lzma_code <<<"$undef" && fail "libsystemd.a is built with xz"
    defined=$("$triplet-nm" --defined-only "$prefix/lib/libzstd.a" 2>/dev/null | awk 'NF == 3 { print $3 }')
    grep -qx ZSTD_decompressDCtx <<<"$defined" || fail "libzstd.a does not decompress"
    for sym in ZSTD_compress2 ZSTDv07_decompress; do
        grep -qx "$sym" <<<"$defined" && fail "libzstd.a has $sym: not the decompress-only build of deps.sh"
    done
    for f in libzstd.a liblz4.a libyaml.a libnghttp2.a libprotobuf-c.a; do
        "$triplet-readelf" -SW "$prefix/lib/$f" | grep -q ' \.eh_frame ' &&
            fail "$f has unwind tables: not compiled for size by deps.sh"
    done
    # The trimmed Mbed TLS is the one installed (its header is what libcoap
    # and the agent were compiled against).
    grep -q '^#undef MBEDTLS_SSL_RENEGOTIATION' "$prefix/include/mbedtls/mbedtls_config.h" ||
        fail "$prefix's Mbed TLS is not trimmed by toolchains/mbedtls-target.h"
    ;;
package)
    deb=$(ls "$build"/fleetmedic-agent_*_"$arch".deb 2>/dev/null | head -1)
    [ -n "$deb" ] || fail "no fleetmedic-agent_*_$arch.deb in $build: run make cross"
    list=$(dpkg-deb -c "$deb")
    echo "$list"
    for f in ./usr/sbin/fleetmedic-agent ./usr/lib/systemd/system/fleetmedic-agent.service \
             ./etc/fleetmedic/fleetmedic.conf ./var/lib/fleetmedic/; do
        grep -q " $f\$" <<<"$list" || fail "$deb lacks $f"
    done
    grep -q ' ./usr/sbin/fleetmedic-controller$' <<<"$list" && fail "$deb holds the controller"
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb is not for $arch"
    [ "$(dpkg-deb -f "$deb" Package)" = fleetmedic-agent ] || fail "$deb is not fleetmedic-agent"
    [ -z "$(dpkg-deb -f "$deb" Depends)" ] || fail "$deb depends on something: the agent is static"
    work=$(mktemp -d "${TMPDIR:-/tmp}/check_cross.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    dpkg-deb -e "$deb" "$work/control"
    grep -qx /etc/fleetmedic/fleetmedic.conf "$work/control/conffiles" || fail "the config is not a conffile"
    for s in postinst prerm postrm; do
        [ -x "$work/control/$s" ] || fail "$deb has no executable $s"
    done
    # The packed binary is the build's.
    dpkg-deb -x "$deb" "$work/root"
    cmp "$work/root/usr/sbin/fleetmedic-agent" "$agent" || fail "$deb holds another agent than $agent"
    ;;
install)
    work=$(mktemp -d "${TMPDIR:-/tmp}/check_cross.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    root="$work/root"
    mkdir -p "$root"
    "$top/toolchains/install-root.sh" "$build" "$root"
    cmp "$root/usr/sbin/fleetmedic-agent" "$agent" || fail "the installed agent is not $agent"
    [ -x "$root/usr/sbin/fleetmedic-agent" ] || fail "the installed agent is not executable"
    unit="$root/usr/lib/systemd/system/fleetmedic-agent.service"
    cmp "$unit" "$top/firmware-agent/dist/fleetmedic-agent.service" || fail "the unit is not dist's"
    link="$root/etc/systemd/system/multi-user.target.wants/fleetmedic-agent.service"
    [ -L "$link" ] || fail "the unit is not enabled (no $link)"
    [ "$(readlink "$link")" = /usr/lib/systemd/system/fleetmedic-agent.service ] ||
        fail "$link points to $(readlink "$link")"
    cmp "$root/etc/fleetmedic/fleetmedic.conf" "$top/firmware-agent/dist/fleetmedic.conf" ||
        fail "the config is not dist's"
    [ "$(stat -c %a "$root/var/lib/fleetmedic")" = 700 ] || fail "the state directory is not 0700"
    # The installed agent (under qemu) reads the shipped config: what it
    # misses is the controller, which the config leaves to the node.
    command -v "$emu" >/dev/null || fail "$emu is not installed (toolchains/host-packages.sh)"
    set +e
    err=$("$emu" "$root/usr/sbin/fleetmedic-agent" run --config "$root/etc/fleetmedic/fleetmedic.conf" 2>&1)
    rc=$?
    set -e
    [ "$rc" = 2 ] && grep -q 'run needs --controller' <<<"$err" ||
        fail "run --config with the shipped config: exit $rc, $err"
    # A second install (an upgrade) keeps the node's own config.
    echo 'controller = coaps://192.0.2.1:5684' >>"$root/etc/fleetmedic/fleetmedic.conf"
    "$top/toolchains/install-root.sh" "$build" "$root"
    grep -q '^controller = coaps://192.0.2.1:5684$' "$root/etc/fleetmedic/fleetmedic.conf" ||
        fail "a second install overwrote the node's config"
    # The shipped config: every line a comment or blank but state-dir.
    live=$(grep -Ev '^[[:space:]]*(#|$)' "$top/firmware-agent/dist/fleetmedic.conf")
    [ "$live" = "state-dir = /var/lib/fleetmedic" ] || fail "the default config sets more than state-dir: $live"
    # The unit as the issue asks for it.
    u="$top/firmware-agent/dist/fleetmedic-agent.service"
    for l in Type=notify WatchdogSec=30s Restart=always ProtectSystem=strict ProtectHome=yes \
             PrivateTmp=yes NoNewPrivileges=yes ReadWritePaths=/var/lib/fleetmedic \
             'CapabilityBoundingSet=CAP_SYSLOG CAP_DAC_READ_SEARCH' WantedBy=multi-user.target; do
        grep -qx "$l" "$u" || fail "the unit lacks $l"
    done
    if command -v systemd-analyze >/dev/null; then
        # systemd's own reading of the unit (its binary path is the board's).
        mkdir -p "$work/units"
        sed "s|/usr/sbin/fleetmedic-agent|$root/usr/sbin/fleetmedic-agent|" "$u" >"$work/units/fleetmedic-agent.service"
        out=$(systemd-analyze verify "$work/units/fleetmedic-agent.service" 2>&1) || fail "systemd-analyze verify: $out"
        [ -z "$out" ] || fail "systemd-analyze verify complains: $out"
    else
        fail "systemd-analyze is not installed (package systemd)"
    fi
    ;;
*) fail "unknown mode $mode" ;;
esac
echo "check_cross: $mode $triplet ok"
