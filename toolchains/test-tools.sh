#!/usr/bin/env bash
# Fetch the real servers the tests need beyond Debian 12's packages.
#
#   toolchains/test-tools.sh                 fetch, verify and unpack what is missing
#   toolchains/test-tools.sh --print-etcd35  print where etcd 3.5's binary is (or
#                                            will be); fetches nothing
#
# Every file named in toolchains/test-tools.lock for this machine's
# architecture is fetched with `apt-get download` through a private apt
# configuration (its own sources.list, lists and cache under the cache dir, so
# the machine's apt setup is never touched), verified by sha256 and unpacked
# with `dpkg-deb -x` -- never installed -- into
#
#   $FLEETMEDIC_CACHE/tools/<name>-<version>-<arch>/
#
# FLEETMEDIC_CACHE defaults to ~/.cache/fleetmedic, outside the repository. A
# tool is complete only when its .done stamp exists; a second run with the
# same lock touches no network and returns at once.
#
# Separate from deps.sh on purpose: these tools are not linked into anything,
# so a change here must not change the dependency prefix's hash.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lock="$here/test-tools.lock"
cache="${FLEETMEDIC_CACHE:-$HOME/.cache/fleetmedic}"
tools="$cache/tools"
arch=$(dpkg --print-architecture)

die() { printf 'test-tools.sh: %s\n' "$*" >&2; exit 1; }
say() { printf 'test-tools.sh: %s\n' "$*" >&2; }
# shellcheck source=toolchains/debian-fetch.sh
. "$here/debian-fetch.sh"

# The lock's lines for this architecture: name version suite arch pool file sha256.
lines() { awk -v a="$arch" '!/^#/ && NF == 7 && $4 == a' "$lock"; }
dir_of() { printf '%s/%s-%s-%s\n' "$tools" "$1" "$2" "$arch"; }

if [ "${1:-}" = "--print-etcd35" ]; then
    read -r name version _ < <(lines | awk '$1 == "etcd-server" && $2 ~ /^3\.5\./') ||
        die "test-tools.lock pins no etcd-server 3.5 for $arch"
    printf '%s/usr/bin/etcd\n' "$(dir_of "$name" "$version")"
    exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [--print-etcd35]"
[ -n "$(lines)" ] || die "test-tools.lock pins nothing for $arch: the tests that need these tools cannot run here"

missing=0
while read -r name version suite a pool file sha; do
    [ -f "$(dir_of "$name" "$version")/.done" ] || missing=1
done < <(lines)
if [ "$missing" = 0 ]; then
    say "test tools for $arch are cached in $tools"
    exit 0
fi

# --- fetch and verify ------------------------------------------------------------
debs="$tools/debs"
mkdir -p "$debs"
# shellcheck disable=SC2046 # one suite a word
fm_apt_setup "$tools/apt" deb $(lines | awk '{ print $3 }' | sort -u)
updated=0

fetch() { # NAME VERSION SUITE POOL FILE SHA256
    local name=$1 version=$2 suite=$3 pool=$4 file=$5 sha=$6
    fm_verified "$debs" "$file" "$sha" && return 0
    rm -f "$debs/$file"
    if [ "$updated" = 0 ]; then
        say "fetching binary indices for: $(lines | awk '{ print $3 }' | sort -u | tr '\n' ' ')"
        apt-get "${fm_aptopts[@]}" update >&2 || die "apt-get update with the private source list failed"
        updated=1
    fi
    # apt checks the file against the signed index; the sha256 pins it.
    (cd "$debs" && apt-get "${fm_aptopts[@]}" download "$name:$arch=$version" >&2) ||
        say "apt-get download $name=$version from $suite failed; trying the pool"
    fm_fetch_checked "$debs" test-tools.lock "$name" "$version" "$suite" "$pool" "$file" "$sha"
}

# --- unpack --------------------------------------------------------------------------
# A tool that cannot run here (a newer glibc than the host's, say) fails now,
# not in the middle of a test.
check_tool() { # NAME VERSION DIR
    local upstream=${2#*:} out
    upstream=${upstream%-*}
    case "$1" in
    etcd-server)
        out=$("$3/usr/bin/etcd" --version 2>&1) ||
            die "$3/usr/bin/etcd does not run on this machine: $out"
        grep -q "^etcd Version: $upstream\$" <<<"$out" ||
            die "$3/usr/bin/etcd says '$(head -1 <<<"$out")', test-tools.lock pins $upstream"
        ;;
    esac
}

while read -r name version suite a pool file sha; do
    dir=$(dir_of "$name" "$version")
    [ -f "$dir/.done" ] && continue
    fetch "$name" "$version" "$suite" "$pool" "$file" "$sha"
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$dir.tmp"
    dpkg-deb -x "$debs/$file" "$dir.tmp" || die "dpkg-deb could not unpack $file"
    check_tool "$name" "$version" "$dir.tmp"
    mv "$dir.tmp" "$dir"
    touch "$dir/.done"
    say "$name $version ($arch) unpacked into $dir"
    # What an older lock unpacked or fetched is dead weight now.
    for old in "$tools/$name"-*-"$arch"; do
        [ "$old" = "$dir" ] || rm -rf "$old"
    done
    for old in "$debs/${name}"_*_"$arch".deb; do
        [ "$old" = "$debs/$file" ] || rm -f "$old"
    done
done < <(lines)
say "test tools for $arch are in $tools"
