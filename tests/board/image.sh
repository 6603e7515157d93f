#!/usr/bin/env bash
# tests/board/image.sh ARCH        ARCH: arm64 | armhf
#
# Builds (once) the root file system of a Debian 12 board for the board tests
# (tests/board/run.sh): Debian's own packages for ARCH from Debian's archive
# with mmdebstrap, systemd as PID 1, journald, the archive's kernel and its
# initramfs, Debian's etcd-server and e2fsprogs (debugfs), and one unit of
# ours, fm-board.service, which at boot mounts the host's share (virtio-9p,
# tag "fmshare") on /mnt/fm, runs /mnt/fm/guest.sh if there is one, writes
# its exit status to /mnt/fm/guest.rc and powers the guest off. Nothing of
# the product is in the image: the .deb comes through the share each run.
#
# The result is cached under $FLEETMEDIC_CACHE/board/ARCH-HASH/ (HASH: this
# script's own text, so a change here builds a new image):
#     root.img  ext4, the root file system (a run boots a copy-on-write
#               overlay of it, never it)
#     vmlinuz initrd.img   the kernel and initramfs to boot it with
#     .done     written last; without it the directory is rebuilt
# Prints the directory on stdout. Needs root: mmdebstrap's root mode and the
# binfmt_misc registration of qemu-user (which it makes if missing).
#
#   tests/board/image.sh --print-dir ARCH   prints the directory, builds nothing
set -euo pipefail

die() { printf 'board/image.sh: %s\n' "$*" >&2; exit 1; }
say() { printf 'board/image.sh: %s\n' "$*" >&2; }

print_only=0
if [ "${1:-}" = --print-dir ]; then print_only=1; shift; fi
[ $# -eq 1 ] || die "usage: $0 [--print-dir] arm64|armhf"
arch=$1
case "$arch" in
arm64) kernel=linux-image-arm64 qemu_name=aarch64 ;;
armhf) kernel=linux-image-armmp-lpae qemu_name=arm ;;
*) die "unknown architecture $arch (arm64 or armhf)" ;;
esac

cache="${FLEETMEDIC_CACHE:-$HOME/.cache/fleetmedic}"
hash=$(sha256sum "$0" | cut -c1-12)
dir="$cache/board/$arch-$hash"
if [ $print_only = 1 ]; then echo "$dir"; exit 0; fi
if [ -f "$dir/.done" ]; then echo "$dir"; exit 0; fi

[ "$(id -u)" = 0 ] || die "building the $arch image needs root (mmdebstrap's root mode, binfmt_misc)"
for tool in mmdebstrap mkfs.ext4 "qemu-$qemu_name-static"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (toolchains/host-packages.sh)"
done

# A foreign architecture's maintainer scripts run under qemu-user, through
# binfmt_misc: mount it and register qemu-user's entry as Debian's
# qemu-user-static package describes it, if the host has not.
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
    mount -t binfmt_misc binfmt_misc "$binfmt" || die "cannot mount binfmt_misc on $binfmt"
fi
if [ ! -e "$binfmt/qemu-$qemu_name" ]; then
    conf="/usr/lib/binfmt.d/qemu-$qemu_name.conf"
    [ -f "$conf" ] || die "$conf is missing (qemu-user-static)"
    cat "$conf" >"$binfmt/register" || die "cannot register $conf with binfmt_misc"
fi
grep -qx enabled "$binfmt/qemu-$qemu_name" || die "binfmt_misc's qemu-$qemu_name is not enabled"

rm -rf "$dir"
mkdir -p "$dir"
work=$(mktemp -d "$cache/board/.build-$arch.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# What a headless board's Debian has, and what the tests use of it: systemd
# and journald, udev, the kernel, etcd-server (its own unit disabled: the
# test starts etcd with kubeadm's PKI), debugfs for the corrupted file system,
# procps for ps/pgrep and /proc figures.
pkgs=systemd,systemd-sysv,udev,dbus,kmod,procps,e2fsprogs,util-linux,mount,etcd-server,initramfs-tools,$kernel

cat >"$work/fm-board.service" <<'EOF'
[Unit]
Description=fleetmedic board test: run the host's script from the share
After=local-fs.target systemd-journald.service
Wants=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/fm-board-boot
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF

cat >"$work/fm-board-boot" <<'EOF'
#!/bin/sh
# Runs the host's /mnt/fm/guest.sh once, then powers the guest off.
mkdir -p /mnt/fm
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 fmshare /mnt/fm; then
    echo "fm-board-boot: cannot mount the share" >/dev/console
    systemctl poweroff --no-block
    exit 1
fi
rc=0
if [ -x /mnt/fm/guest.sh ]; then
    /mnt/fm/guest.sh >/mnt/fm/guest.log 2>&1 || rc=$?
else
    echo "fm-board-boot: no /mnt/fm/guest.sh" >/dev/console
    rc=127
fi
echo "$rc" >/mnt/fm/guest.rc.tmp && mv /mnt/fm/guest.rc.tmp /mnt/fm/guest.rc
sync
systemctl poweroff --no-block
EOF

# The initramfs needs only what mounts a virtio disk of qemu's virt machine:
# with Debian's MODULES=most, mkinitramfs walks every module under qemu-user
# (ten minutes a run, and the kernel's and udev's triggers run it twice).
# Set before the kernel is installed; conf.d and modules.d are not conffiles.
echo MODULES=list >"$work/initramfs.conf"
printf '%s\n' virtio_pci virtio_mmio virtio_blk virtio_rng ext4 crc32c_generic >"$work/initramfs.modules"

say "building Debian 12 $arch into $dir (once; minutes under qemu-user)"
mmdebstrap --mode=root --arch="$arch" --variant=minbase \
    --include="$pkgs" \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"' \
    --essential-hook="copy-in $work/initramfs.conf /etc/initramfs-tools/conf.d" \
    --essential-hook="copy-in $work/initramfs.modules /usr/share/initramfs-tools/modules.d" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='echo fm-board >"$1/etc/hostname"' \
    --customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 fm-board\n::1 localhost\n" >"$1/etc/hosts"' \
    --customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
    --customize-hook="copy-in $work/fm-board.service /etc/systemd/system" \
    --customize-hook="copy-in $work/fm-board-boot /usr/local/sbin" \
    --customize-hook='chmod 755 "$1/usr/local/sbin/fm-board-boot"' \
    --customize-hook='chroot "$1" systemctl enable fm-board.service' \
    --customize-hook='chroot "$1" systemctl disable etcd.service' \
    --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer systemd-networkd-wait-online.service' \
    --customize-hook='chroot "$1" passwd -d root' \
    --customize-hook='echo "Storage=persistent" >>"$1/etc/systemd/journald.conf"' \
    --customize-hook="cp \"\$1\"/boot/vmlinuz-* $work/vmlinuz" \
    --customize-hook="cp \"\$1\"/boot/initrd.img-* $work/initrd.img" \
    bookworm "$work/root" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >&2 ||
    die "mmdebstrap failed"

# The root file system as an ext4 image, built from the tree without a
# mount (mke2fs -d keeps owners, modes, links and device nodes).
truncate -s 3G "$work/root.img"
mkfs.ext4 -q -L fm-board -d "$work/root" "$work/root.img" || die "mkfs.ext4 -d failed"
mv "$work/root.img" "$work/vmlinuz" "$work/initrd.img" "$dir/"
date -u +%FT%TZ >"$dir/.done"
say "done: $dir"
echo "$dir"
