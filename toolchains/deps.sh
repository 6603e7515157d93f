#!/usr/bin/env bash
# Build fleetmedic's pinned dependencies from Debian source packages.
#
#   toolchains/deps.sh [--print-prefix] [TRIPLET [TOOLCHAIN_FILE]]
#
# TRIPLET is native (the default: Mbed TLS, libcoap, cJSON and libmicrohttpd; the rest are
# the host's -dev packages, the @host lines of the lock), aarch64-linux-gnu,
# arm-linux-gnueabihf or x86_64-linux-gnu. The last is no board: the boards'
# static configuration built for an x86_64 build machine with its native gcc,
# so bench/b_agent.sh measures the static agent beside the dynamic one
# without an emulator. For a cross triplet (toolchain file default:
# toolchains/TRIPLET.cmake) the prefix holds every library the static agent
# and controller link: the three above built for size (Mbed TLS with
# toolchains/mbedtls-target.h), libsystemd.a built from Debian 12's systemd
# source with meson (only the library; every optional feature off but the
# journal's compressors), and the static libraries of Debian 12's target -dev
# packages (the @target lines: libyaml, SQLite, zstd, lz4, libcap, nghttp2,
# protobuf-c) with pkg-config files pointing into the prefix, five of them
# compiled again from source for size (see below).
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

case "$triplet" in
native) debarch= ;;
aarch64-linux-gnu) debarch=arm64 cpu_family=aarch64 cpu=aarch64 ;;
arm-linux-gnueabihf) debarch=armhf cpu_family=arm cpu=armv7 ;;
x86_64-linux-gnu) debarch=amd64 cpu_family=x86_64 cpu=x86_64 ;;
*) die "unknown triplet '$triplet' (native, aarch64-linux-gnu, arm-linux-gnueabihf, x86_64-linux-gnu)" ;;
esac
cross_files=() mbedtls_config=
if [ -n "$debarch" ]; then
    [ -n "$toolchain" ] || toolchain="$here/$triplet.cmake"
    [ -f "$toolchain" ] || die "no toolchain file $toolchain"
    mbedtls_config="$here/mbedtls-target.h"
    cross_files=("$here/linux-cross.cmake" "$mbedtls_config")
fi

# The controller's SSL library (toolchains/mbedtls-dtls-server.h) is in every
# prefix: a change to it is a new prefix, like any other input here.
dtls_server_config="$here/mbedtls-dtls-server.h"
stamp=$(cat "$lock" "$0" "$here/debian-fetch.sh" ${toolchain:+"$toolchain"} "${cross_files[@]}" \
        "$dtls_server_config" |
        sha256sum | cut -c1-12)
prefix="$cache/deps/$triplet-$stamp"
if [ "$print_prefix" = 1 ]; then printf '%s\n' "$prefix"; exit 0; fi
if [ -f "$prefix/.done" ]; then
    touch "$prefix" # in use: see the pruning at the end
    say "dependencies for $triplet are cached in $prefix"
    exit 0
fi

# --- the host's -dev packages: right upstream version? ----------------------
[ -n "$debarch" ] || while read -r tag name version; do
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

# --- the target's -dev packages (cross only) -----------------------------------
# Straight from the pool by the lock's sha256: no index is needed, so the
# indexes' version skew between architectures cannot get in the way.
targets() { awk -v a="$debarch" '$1 == "@target" && NF == 8 && $5 == a' "$lock"; }
debs="$cache/debs"
if [ -n "$debarch" ]; then
    [ -n "$(targets)" ] || die "deps.lock has no @target lines for $debarch"
    mkdir -p "$debs"
    while read -r _ name version suite _ pool file sha; do
        fm_fetch_checked "$debs" deps.lock "$name" "$version" "$suite" "$pool" "$file" "$sha"
    done < <(targets)
    say "$debarch packages verified against deps.lock"
fi

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
# The boards' libraries are built for size: one section a function, so
# --gc-sections in the final link drops what the programs do not call; not
# position-independent (the programs are static, not PIE); no unwind tables
# (C without exceptions: they would only serve a debugger's backtrace).
cross_cflags="-ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"
[ -n "$debarch" ] && cmake_common+=(-DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_POSITION_INDEPENDENT_CODE=OFF
    "-DCMAKE_C_FLAGS=$cross_cflags")
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
# DTLS with Connection ID, PSK, no threading (the agent has one thread). The
# boards get it trimmed by toolchains/mbedtls-target.h, appended to the
# default configuration header itself, so the header the prefix installs is
# the one the library was built with (no MBEDTLS_CONFIG_FILE to pass on).
if [ -n "$mbedtls_config" ]; then
    cat "$mbedtls_config" >>"$src/include/mbedtls/mbedtls_config.h"
fi
build "$src" "$work/mbedtls" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
      -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON \
      -DMBEDTLS_FATAL_WARNINGS=OFF

# The controller's libmbedtls.a: the same sources and configuration plus
# toolchains/mbedtls-dtls-server.h (DTLS record buffers sized for CoAP, see
# there), only the SSL library built again, installed beside the other as
# lib/dtls-server/libmbedtls.a. The two macros it sets must appear in no
# installed header but as ssl.h's defaults: then no structure differs between
# the two builds, and what was compiled against the installed headers
# (libcoap, fm_coap, fm_tls) links against either.
say "building Mbed TLS's SSL library again for the controller (DTLS record buffers)"
uses=$(grep -rnE 'MBEDTLS_SSL_(IN|OUT)_CONTENT_LEN' "$prefix/include" | sed "s|^$prefix/include/||" |
       grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)' |
       grep -vE '^mbedtls/ssl\.h:[0-9]+:#(if !defined\(|define )MBEDTLS_SSL_(IN|OUT)_CONTENT_LEN(\)| 16384)$' || true)
[ -z "$uses" ] || die "Mbed TLS's installed headers use the record buffer sizes beyond their defaults: $uses"
cp -a "$src" "$src-dtls-server"
cat "$dtls_server_config" >>"$src-dtls-server/include/mbedtls/mbedtls_config.h"
db="$work/mbedtls-dtls-server"
cmake -S "$src-dtls-server" -B "$db" "${cmake_common[@]}" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
      -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON \
      -DMBEDTLS_FATAL_WARNINGS=OFF >"$db.log" 2>&1 &&
    cmake --build "$db" -j "$jobs" --target mbedtls >>"$db.log" 2>&1 ||
    { tail -40 "$db.log" >&2; die "building the controller's Mbed TLS failed (log: $db.log)"; }
mkdir -p "$prefix/lib/dtls-server"
cp "$db/library/libmbedtls.a" "$prefix/lib/dtls-server/libmbedtls.a"
cp "$dtls_server_config" "$prefix/lib/dtls-server/"

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
      -DENABLE_THREAD_SAFE=OFF -DENABLE_Q_BLOCK=OFF -DWITH_OBSERVE_PERSIST=OFF \
      -DMBEDTLS_INCLUDE_DIRS="$prefix/include" \
      -DMBEDTLS_LIBRARY="$prefix/lib/libmbedtls.a" -DMBEDX509_LIBRARY="$prefix/lib/libmbedx509.a" \
      -DMBEDCRYPTO_LIBRARY="$prefix/lib/libmbedcrypto.a"

grep -q 'COAP_WITH_LIBMBEDTLS 1' "$prefix/include/coap3/coap_defines.h" ||
    die "libcoap was not built with Mbed TLS"

say "building libmicrohttpd (no HTTPS, static)"
src=$(unpack libmicrohttpd)
mb="$work/libmicrohttpd"
mkdir -p "$mb"
# The controller's HTTP side (issue 24): plain HTTP on loopback or behind a
# reverse proxy, so no TLS library; epoll, no threads of its own beyond the
# one the controller polls from (MHD_USE_INTERNAL_POLLING_THREAD unused).
mhd_host=() mhd_cflags="-O2"
[ -n "$debarch" ] && mhd_host=(--host="$triplet" CC="$triplet-gcc" AR="$triplet-gcc-ar" RANLIB="$triplet-gcc-ranlib") \
    mhd_cflags="-Os $cross_cflags"
(cd "$mb" && "$src/configure" --prefix="$prefix" --libdir="$prefix/lib" --enable-static --disable-shared \
    --disable-https --without-gnutls --disable-curl --disable-doc --disable-examples \
    --disable-dauth --disable-bauth --disable-postprocessor --disable-httpupgrade --disable-sendfile \
    --enable-epoll=yes --disable-nls --with-pic "${mhd_host[@]}" CFLAGS="$mhd_cflags") >"$mb.log" 2>&1 ||
    { tail -40 "$mb.log" >&2; die "configuring libmicrohttpd failed (log: $mb.log)"; }
{ make -C "$mb" -j "$jobs" && make -C "$mb" install; } >>"$mb.log" 2>&1 ||
    { tail -40 "$mb.log" >&2; die "building libmicrohttpd failed (log: $mb.log)"; }
[ -f "$prefix/lib/libmicrohttpd.a" ] || die "libmicrohttpd.a is missing from $prefix"

if [ -n "$debarch" ]; then
    say "unpacking Debian 12's $debarch -dev packages into the prefix"
    sysroot="$work/sysroot"
    mkdir -p "$sysroot" "$prefix/lib/pkgconfig" "$prefix/include"
    while read -r _ _ _ _ _ _ file _; do
        dpkg-deb -x "$debs/$file" "$sysroot" || die "dpkg-deb could not unpack $file"
    done < <(targets)
    cp -a "$sysroot/usr/include/." "$prefix/include/"
    if [ -d "$sysroot/usr/include/$triplet" ]; then
        cp -a "$sysroot/usr/include/$triplet/." "$prefix/include/"
    fi
    cp "$sysroot/usr/lib/$triplet/"*.a "$prefix/lib/"
    for pc in "$sysroot/usr/lib/$triplet/pkgconfig/"*.pc; do
        # mount.pc names libselinux, which nothing here links: systemd's
        # meson only asks whether libmount is there.
        sed -e "s|^prefix=.*|prefix=$prefix|" -e 's|^exec_prefix=.*|exec_prefix=${prefix}|' \
            -e 's|^libdir=.*|libdir=${prefix}/lib|' -e 's|^includedir=.*|includedir=${prefix}/include|' \
            -e '/^Requires.private:/s/ *libselinux//' "$pc" >"$prefix/lib/pkgconfig/$(basename "$pc")"
    done

    # For size (issue 27): the static libraries of five of those packages
    # compiled again from the same version's Debian source, -Os with a
    # section a function and no unwind tables (Debian builds them -O2/-O3
    # with unwind tables and whole objects: 290 kB more in the aarch64 agent),
    # replacing the packages' (their headers and .pc files are the same
    # version's and stay). zstd is built to decompress only (the journal is
    # only read here; libsystemd's compressing calls are in sections
    # --gc-sections drops) and without the pre-1.0 legacy formats no journald
    # ever wrote.
    say "compiling zstd (decompress-only), lz4, libyaml, nghttp2 and protobuf-c for size"
    size_cflags="-Os $cross_cflags"
    xmake=(make -j "$jobs" CC="$triplet-gcc" AR="$triplet-gcc-ar")
    src=$(unpack libzstd)
    # ZSTD_LIB_MINIFY: zstd's own switch for size (no legacy formats, one
    # Huffman and one sequence decoder, no forced inlining; about half the
    # speed on the few journal fields big enough to be compressed, > 512 B).
    (cd "$src/lib" && CFLAGS="$size_cflags" "${xmake[@]}" libzstd.a ZSTD_LIB_COMPRESSION=0 \
        ZSTD_LIB_DICTBUILDER=0 ZSTD_LIB_DEPRECATED=0 ZSTD_LIB_MINIFY=1) >"$work/zstd.log" 2>&1 ||
        { tail -40 "$work/zstd.log" >&2; die "building zstd failed (log: $work/zstd.log)"; }
    cp "$src/lib/libzstd.a" "$prefix/lib/"
    src=$(unpack lz4)
    (cd "$src/lib" && CFLAGS="$size_cflags" "${xmake[@]}" liblz4.a) >"$work/lz4.log" 2>&1 ||
        { tail -40 "$work/lz4.log" >&2; die "building lz4 failed (log: $work/lz4.log)"; }
    cp "$src/lib/liblz4.a" "$prefix/lib/"
    # CMake builds (cmake_common: MinSizeRel, cross_cflags) into their own
    # directories; only the library is taken.
    sizebuild() { # NAME LIBRARY-IN-BUILD-DIR cmake-args...
        local name=$1 lib=$2 d="$work/$1-size" s; shift 2
        s=$(unpack "$name")
        { cmake -S "$s" -B "$d" "${cmake_common[@]}" "$@" &&
          cmake --build "$d" -j "$jobs"; } >"$d.log" 2>&1 ||
            { tail -40 "$d.log" >&2; die "building $name failed (log: $d.log)"; }
        cp "$d/$lib" "$prefix/lib/"
    }
    sizebuild libyaml libyaml.a -DBUILD_TESTING=OFF
    sizebuild nghttp2 lib/libnghttp2.a -DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON \
        -DENABLE_SHARED_LIB=OFF -DENABLE_DOC=OFF
    # protobuf-c's runtime is one file; its build system would want protoc.
    src=$(unpack protobuf-c)
    "$triplet-gcc" $size_cflags -I"$src" -c "$src/protobuf-c/protobuf-c.c" -o "$work/protobuf-c.o" &&
        rm -f "$prefix/lib/libprotobuf-c.a" &&
        "$triplet-gcc-ar" rcs "$prefix/lib/libprotobuf-c.a" "$work/protobuf-c.o" ||
        die "building protobuf-c failed"

    # Which journald writes what (systemd's meson, since 249: zstd if built
    # with it, else lz4, else xz; before 249 the same order in journal-file.c;
    # zstd exists since 246, lz4 since 216): Debian 12 and Raspberry Pi OS
    # bookworm (252), Ubuntu 22.04 (249) and 24.04 (255), L4T R36 (22.04):
    # zstd. Ubuntu 20.04 (245: before zstd) and so L4T R35, Ubuntu 18.04
    # (237) and so L4T R32: lz4. None of them writes xz: only a journald
    # older than 216 or built without both. So no xz: an entry's field a
    # journald from before 2014 compressed is skipped by
    # sd_journal_enumerate_available_data, the rest of the entry is read.
    say "building libsystemd (systemd 252, static, journal with zstd and lz4)"
    src=$(unpack systemd)
    cat >"$work/meson-cross.ini" <<EOF
[binaries]
c = '$triplet-gcc'
ar = '$triplet-gcc-ar'
strip = '$triplet-strip'
pkgconfig = 'pkg-config'
[properties]
pkg_config_libdir = '$prefix/lib/pkgconfig'
[host_machine]
system = 'linux'
cpu_family = '$cpu_family'
cpu = '$cpu'
endian = 'little'
EOF
    # systemd 252 has no auto_features: every optional dependency is turned
    # off by name. Only libsystemd.a is built, so the boolean options (which
    # programs to build) matter only where they would look for a library.
    off=()
    for o in split-usr split-bin repart sysupdate homed remote nss-mymachines nss-resolve importd \
             man html seccomp selinux apparmor polkit acl audit blkid fdisk kmod pam pwquality \
             microhttpd libcryptsetup libcryptsetup-plugins libcurl libidn2 libidn libiptc qrencode \
             gcrypt gnutls openssl p11kit libfido2 tpm2 elfutils zlib bzip2 xkbcommon pcre2 glib dbus \
             gnu-efi log-message-verification bpf-framework; do
        off+=("-D$o=false")
    done
    sb="$work/systemd"
    # Debian's meson, ninja and python3 (with python3-jinja2), whatever else
    # comes first on PATH.
    debpath=/usr/bin:/bin:$PATH
    PATH=$debpath meson setup "$sb" "$src" --cross-file "$work/meson-cross.ini" "${off[@]}" \
        -Dxz=false -Dlz4=true -Dzstd=true -Dstatic-libsystemd=no-pic -Dmode=release \
        -Dtests=false -Dslow-tests=false -Dfuzz-tests=false -Dtranslations=false -Dutmp=false \
        -Defi=false -Dtpm=false -Dhwdb=false -Dsmack=false -Dima=false -Didn=false \
        -Dnss-myhostname=false -Dnss-systemd=false -Dkernel-install=false -Danalyze=false \
        -Dbuildtype=minsize -Db_ndebug=true \
        -Dc_args="$cross_cflags -I$prefix/include" \
        -Dc_link_args="-L$prefix/lib" >"$sb.log" 2>&1 ||
        { tail -40 "$sb.log" >&2; die "configuring systemd failed (log: $sb.log)"; }
    # version.h first: libsystemd's sources include it, but its target does
    # not depend on it.
    { PATH=$debpath ninja -C "$sb" version.h &&
      PATH=$debpath ninja -C "$sb" -j "$jobs" libsystemd.a; } >>"$sb.log" 2>&1 ||
        { tail -40 "$sb.log" >&2; die "building libsystemd.a failed (log: $sb.log)"; }
    cp "$sb/libsystemd.a" "$prefix/lib/"
    mkdir -p "$prefix/include/systemd"
    for h in _sd-common sd-bus sd-bus-protocol sd-bus-vtable sd-daemon sd-device sd-event sd-gpt \
             sd-hwdb sd-id128 sd-journal sd-login sd-messages sd-path; do
        cp "$src/src/systemd/$h.h" "$prefix/include/systemd/"
    done
    # What a static link of libsystemd.a needs (pkg-config --static).
    cat >"$prefix/lib/pkgconfig/libsystemd.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: systemd
Description: systemd library, static (sd-journal, sd_notify)
Version: 252
Libs: -L\${libdir} -lsystemd
Libs.private: -lzstd -llz4 -lcap -lrt -pthread
Cflags: -I\${includedir}
EOF
    for f in libsystemd.a libyaml.a libsqlite3.a libzstd.a liblz4.a libcap.a libnghttp2.a libprotobuf-c.a; do
        [ -f "$prefix/lib/$f" ] || die "$f is missing from $prefix"
    done
fi

{ printf 'triplet %s\n' "$triplet"; cat "$lock"; } >"$prefix/deps.lock"
touch "$prefix/.done"
rm -rf "$work"
# Prefixes built from an older lock or script are dead weight once no
# checkout has used them for two weeks (another branch's worktree may still be
# configured against one; every run touches the prefix it uses).
find "$cache/deps" -mindepth 1 -maxdepth 1 -name "$triplet-*" ! -path "$prefix" -mtime +14 \
    -exec rm -rf {} + 2>/dev/null || true
say "dependencies for $triplet built into $prefix"
