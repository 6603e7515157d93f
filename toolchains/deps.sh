#!/usr/bin/env bash
# Build fleetmedic's pinned dependencies from Debian source packages.
#
#   toolchains/deps.sh [--print-prefix] [TRIPLET [TOOLCHAIN_FILE]]
#
# Every source file named in toolchains/deps.lock is fetched with
# `apt-get source --download-only` through a private apt configuration (its own
# sources.list, lists and cache under the cache dir, so the machine's apt setup
# is never touched), verified by sha256, unpacked with dpkg-source (Debian's
# patches applied) and built statically into a prefix:
#
#   $FLEETMEDIC_CACHE/deps/<triplet>-<hash of deps.lock and this script>/
#
# FLEETMEDIC_CACHE defaults to ~/.cache/fleetmedic: outside the repository, so a
# fresh clone reuses what an earlier build made. A prefix is complete only when
# its .done stamp exists; a second run with the same lock returns at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lock="$here/deps.lock"
cache="${FLEETMEDIC_CACHE:-$HOME/.cache/fleetmedic}"
print_prefix=0
if [ "${1:-}" = "--print-prefix" ]; then print_prefix=1; shift; fi
triplet="${1:-native}"
toolchain="${2:-}"

die() { printf 'deps.sh: %s\n' "$*" >&2; exit 1; }
say() { [ "$print_prefix" = 1 ] || printf 'deps.sh: %s\n' "$*" >&2; }
# shellcheck source=toolchains/debian-fetch.sh
. "$here/debian-fetch.sh"

stamp=$(cat "$lock" "$0" "$here/debian-fetch.sh" ${toolchain:+"$toolchain"} | sha256sum | cut -c1-12)
prefix="$cache/deps/$triplet-$stamp"
if [ "$print_prefix" = 1 ]; then printf '%s\n' "$prefix"; exit 0; fi
if [ -f "$prefix/.done" ]; then
    say "dependencies for $triplet are cached in $prefix"
    exit 0
fi

# --- the host's -dev packages: right upstream version? ----------------------
while read -r tag name version; do
    [ "$tag" = "@host" ] || continue
    have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null) ||
        die "$name is not installed (run 'make deps' as root)"
    upstream=${have#*:}; upstream=${upstream%-*}
    case "$upstream" in
        "$version"|"$version".*|"$version"+*) ;;
        *) die "$name $have is installed, deps.lock pins upstream $version" ;;
    esac
done <"$lock"

# --- fetch and verify the source packages ------------------------------------
dl="$cache/sources"
mkdir -p "$dl"
suites=$(awk '!/^[#@]/ && NF == 6 { print $3 }' "$lock" | sort -u)
# shellcheck disable=SC2086 # one suite a word
fm_apt_setup "$cache/apt" deb-src $suites

missing=0
while read -r name version suite pool file sha; do
    fm_verified "$dl" "$file" "$sha" || missing=1
done < <(awk '!/^[#@]/ && NF == 6' "$lock")

if [ "$missing" = 1 ]; then
    say "fetching source indices for: $suites"
    apt-get "${fm_aptopts[@]}" update >&2 || die "apt-get update with the private source list failed"
    for pkg in $(awk '!/^[#@]/ && NF == 6 { print $1 "=" $2 }' "$lock" | sort -u); do
        # A version can lose one of its files (libcoap3 4.3.5: the .dsc is 404);
        # what counts is the files deps.lock names, checked below.
        (cd "$dl" && apt-get "${fm_aptopts[@]}" source --download-only "$pkg" >&2) ||
            say "apt-get source $pkg did not fetch every file; checking the ones deps.lock needs"
    done
    while read -r name version suite pool file sha; do
        fm_fetch_checked "$dl" deps.lock "$name" "$version" "$suite" "$pool" "$file" "$sha"
    done < <(awk '!/^[#@]/ && NF == 6' "$lock")
fi
say "all sources verified against deps.lock"

# --- unpack and build -----------------------------------------------------------
work="$cache/build/$triplet-$stamp"
rm -rf "$work" "$prefix"
mkdir -p "$work" "$prefix"

unpack() { # NAME -> prints the source directory
    local name=$1 dsc orig
    dsc=$(awk -v n="$name" '$1 == n && $5 ~ /\.dsc$/ { print $5 }' "$lock")
    if [ -n "$dsc" ]; then
        (cd "$work" && dpkg-source --no-check -x "$dl/$dsc" "$name-src" >&2)
    else
        orig=$(awk -v n="$name" '$1 == n && $5 ~ /\.orig\.tar/ { print $5 }' "$lock")
        mkdir -p "$work/$name-src"
        tar -C "$work/$name-src" --strip-components=1 -xf "$dl/$orig"
    fi
    printf '%s\n' "$work/$name-src"
}

cmake_common=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix"
              -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POSITION_INDEPENDENT_CODE=ON
              -DBUILD_SHARED_LIBS=OFF -DCMAKE_PREFIX_PATH="$prefix"
              -DCMAKE_FIND_ROOT_PATH="$prefix")
[ -n "$toolchain" ] && cmake_common+=(-DCMAKE_TOOLCHAIN_FILE="$toolchain")
jobs=$(nproc)

build() { # SRC BUILD-DIR cmake-args...
    local src=$1 b=$2; shift 2
    cmake -S "$src" -B "$b" "${cmake_common[@]}" "$@" >"$b.log" 2>&1 ||
        { tail -40 "$b.log" >&2; die "configuring $(basename "$src") failed (log: $b.log)"; }
    cmake --build "$b" -j "$jobs" >>"$b.log" 2>&1 ||
        { tail -40 "$b.log" >&2; die "building $(basename "$src") failed (log: $b.log)"; }
    cmake --install "$b" >>"$b.log" 2>&1 || die "installing $(basename "$src") failed"
}

say "building Mbed TLS"
src=$(unpack mbedtls)
# Mbed TLS's default configuration already has what we use: TLS 1.2 and 1.3,
# DTLS with Connection ID, PSK, no threading (the agent has one thread).
# Trimming it for size is the cross-build issue's job.
build "$src" "$work/mbedtls" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
      -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON \
      -DMBEDTLS_FATAL_WARNINGS=OFF

say "building cJSON"
src=$(unpack cjson)
build "$src" "$work/cjson" -DENABLE_CJSON_TEST=OFF -DENABLE_CJSON_UTILS=OFF \
      -DBUILD_SHARED_AND_STATIC_LIBS=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=OFF \
      -DENABLE_TARGET_EXPORT=ON

say "building libcoap (DTLS backend: Mbed TLS, epoll)"
src=$(unpack libcoap3)
build "$src" "$work/libcoap" -DDTLS_BACKEND=mbedtls -DENABLE_DTLS=ON -DWITH_EPOLL=ON \
      -DENABLE_EXAMPLES=OFF -DENABLE_DOCS=OFF -DENABLE_TESTS=OFF -DENABLE_OSCORE=OFF \
      -DENABLE_TCP=OFF -DENABLE_WS=OFF -DENABLE_AF_UNIX=OFF -DENABLE_PROXY_CODE=OFF \
      -DENABLE_THREAD_SAFE=OFF -DMBEDTLS_INCLUDE_DIRS="$prefix/include" \
      -DMBEDTLS_LIBRARY="$prefix/lib/libmbedtls.a" -DMBEDX509_LIBRARY="$prefix/lib/libmbedx509.a" \
      -DMBEDCRYPTO_LIBRARY="$prefix/lib/libmbedcrypto.a"

grep -q 'COAP_WITH_LIBMBEDTLS 1' "$prefix/include/coap3/coap_defines.h" ||
    die "libcoap was not built with Mbed TLS"

{ printf 'triplet %s\n' "$triplet"; cat "$lock"; } >"$prefix/deps.lock"
touch "$prefix/.done"
rm -rf "$work"
# Prefixes built from an older lock or script are dead weight now.
for old in "$cache/deps/$triplet"-*; do
    [ "$old" = "$prefix" ] || rm -rf "$old"
done
say "dependencies for $triplet built into $prefix"
