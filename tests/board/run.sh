#!/usr/bin/env bash
# tests/board/run.sh ARCH BUILD_TOP [OUT_DIR]      ARCH: arm64 | armhf
#
# The board in a box: boots Debian 12 for ARCH (tests/board/image.sh, built
# once and cached) in qemu-system under software emulation, as a board: a
# Cortex-A72 (the Pi 4's core; armhf: a Cortex-A15) with 1 GiB, systemd as
# PID 1, real journald, and NO network device (-nic none): everything the
# test needs runs inside the guest on its own loopback. Into the guest, over
# a virtio-9p share, go what `make cross` built for ARCH -- the agent's .deb
# and the static controller -- the kubeadm PKI and manifests of
# tests/harness/tree.sh, and tests/board/guest.sh, which the image's
# fm-board.service runs at boot; the guest writes its log and its TAP lines
# back to the share and powers off.
#
# BUILD_TOP is the directory holding BUILD_TOP/aarch64-linux-gnu or
# BUILD_TOP/arm-linux-gnueabihf (make cross). The share, the guest's log,
# its console and its results are kept in OUT_DIR (default: a new directory
# under /tmp, printed). The run's own copy-on-write overlay of the image is
# deleted at the end; the image is never written. The exit status is the
# guest script's (0: every check passed), 124 when the guest did not finish
# within FM_BOARD_TIMEOUT seconds (default 1500), 2 on a usage error.
set -euo pipefail

die() { printf 'board/run.sh: %s\n' "$*" >&2; exit 2; }
say() { printf 'board/run.sh: %s\n' "$*" >&2; }

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 arm64|armhf BUILD_TOP [OUT_DIR]"
arch=$1 top=$(cd "$2" && pwd) || die "no build directory $2"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
case "$arch" in
arm64) triplet=aarch64-linux-gnu qemu=qemu-system-aarch64 cpu=cortex-a72 console=ttyAMA0 ;;
armhf) triplet=arm-linux-gnueabihf qemu=qemu-system-arm cpu=cortex-a15 console=ttyAMA0 ;;
*) die "unknown architecture $arch (arm64 or armhf)" ;;
esac
build="$top/$triplet"
deb=$(ls "$build"/fleetmedic-agent_*_"$arch".deb 2>/dev/null | head -1) || true
[ -n "$deb" ] || die "no fleetmedic-agent_*_$arch.deb in $build: run make cross"
controller="$build/fleet-controller/fleetmedic-controller"
[ -x "$controller" ] || die "$controller is missing: run make cross"
for tool in "$qemu" qemu-img openssl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (toolchains/host-packages.sh)"
done

image=$("$here/image.sh" "$arch") || die "the $arch image could not be built"

out=${3:-}
if [ -z "$out" ]; then out=$(mktemp -d /tmp/fm-board-"$arch".XXXXXX); fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
share="$out/share"
rm -rf "$share"
mkdir -p "$share"
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    rm -f "$out/overlay.qcow2"
}
trap cleanup EXIT

# What the guest gets: the product as built, the node's files, the script.
cp "$deb" "$share/"
cp "$controller" "$share/fleetmedic-controller"
# The DTLS load generator of bench/ (static in the board builds): the
# handshake's CPU time on the board.
[ -x "$build/bench/coap_load" ] && cp "$build/bench/coap_load" "$share/coap_load"
cp "$here/guest.sh" "$share/guest.sh"
chmod 755 "$share/guest.sh"
"$repo/tests/harness/tree.sh" "$share/node" kubeadm >/dev/null || die "tree.sh failed"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$share/psk.hex"
printf '%s\n' "$arch" >"$share/arch"
# The incident's kubelet lines, as kubelet wrote them (the seed's journal).
grep -h '^MESSAGE=.*is already in use by container' \
    "$repo/tests/fixtures/journal/incident-etcd-2379.export" | sed 's/^MESSAGE=//' >"$share/kubelet-conflict.lines"
[ -s "$share/kubelet-conflict.lines" ] || die "no conflict lines in the incident's journal fixture"

qemu-img create -q -f qcow2 -F raw -b "$image/root.img" "$out/overlay.qcow2" || die "qemu-img failed"
: >"$out/console.log"
start=$(date +%s)
say "booting the $arch board (log: $out/console.log, results: $share/guest.log)"
"$qemu" -M virt -cpu "$cpu" -smp 2 -m 1024 -accel tcg,thread=multi \
    -nic none -display none -monitor none -serial "file:$out/console.log" -no-reboot \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=$console panic=-1 systemd.show_status=0 quiet" \
    -drive "if=none,file=$out/overlay.qcow2,format=qcow2,id=hd,cache=unsafe" \
    -device virtio-blk-pci,drive=hd \
    -device virtio-rng-pci \
    -virtfs "local,path=$share,mount_tag=fmshare,security_model=none,id=fm" &
qemu_pid=$!

limit=${FM_BOARD_TIMEOUT:-1500}
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ $(($(date +%s) - start)) -ge "$limit" ]; then
        say "the guest did not finish within $limit s; its console's end:"
        tail -40 "$out/console.log" >&2 || true
        [ -f "$share/guest.log" ] && tail -60 "$share/guest.log" >&2
        exit 124
    fi
    sleep 1
done
wait "$qemu_pid" || true
qemu_pid=
say "the guest ran $(($(date +%s) - start)) s"

if [ ! -f "$share/guest.rc" ]; then
    say "the guest wrote no result; its console's end:"
    tail -60 "$out/console.log" >&2 || true
    [ -f "$share/guest.log" ] && cat "$share/guest.log" >&2
    exit 1
fi
cat "$share/guest.log"
rc=$(cat "$share/guest.rc")
[ "$rc" = 0 ] || say "the guest script failed ($rc); the log above, the console in $out/console.log"
exit "$rc"
