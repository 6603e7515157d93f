#!/usr/bin/env bash
# toolchains/deps.sh: (1) what `make test` built is cached and a second run
# does not rebuild it; (2) a file the lock names that the Debian archive does
# not serve fails the build with a message naming that file.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "check_deps: $*" >&2; exit 1; }

# (1) The prefix CMake was configured with is complete, and deps.sh says so
# without building anything.
prefix=$("$top/toolchains/deps.sh" --print-prefix)
[ -z "${1:-}" ] || [ "$1" = "$prefix" ] ||
    fail "the build uses $1 but deps.sh now builds $prefix: re-run make deps"
[ -f "$prefix/.done" ] || fail "no completed dependency prefix at $prefix"
out=$("$top/toolchains/deps.sh" 2>&1)
echo "$out"
grep -q "are cached in $prefix" <<<"$out" || fail "deps.sh did not reuse $prefix"
for f in libmbedtls.a libmbedx509.a libmbedcrypto.a libcoap-3.a libcjson.a; do
    [ -f "$prefix/lib/$f" ] || fail "$f missing from $prefix"
done
grep -q 'COAP_WITH_LIBMBEDTLS 1' "$prefix/include/coap3/coap_defines.h" ||
    fail "libcoap in $prefix is not built with Mbed TLS"

# (2) A copy of toolchains/ whose lock names a file the archive lacks. The
# cache is private to this check; the real sources are copied in so only the
# bogus file is fetched.
work=$(mktemp -d "${TMPDIR:-/tmp}/check_deps.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$top/toolchains" "$work/toolchains"
mkdir -p "$work/cache/sources"
cache=${FLEETMEDIC_CACHE:-$HOME/.cache/fleetmedic}
cp "$cache"/sources/* "$work/cache/sources/"
printf 'cjson 1.7.18-3.1+deb13u1 trixie pool/main/c/cjson cjson_0.0.0-fleetmedic-test.orig.tar.gz %s\n' \
    "$(printf x | sha256sum | cut -d' ' -f1)" >>"$work/toolchains/deps.lock"
if out=$(FLEETMEDIC_CACHE="$work/cache" "$work/toolchains/deps.sh" 2>&1); then
    fail "deps.sh succeeded although deps.lock names a file nobody serves"
fi
echo "$out" | tail -3
grep -q "did not serve cjson_0.0.0-fleetmedic-test.orig.tar.gz" <<<"$out" ||
    fail "the failure does not name the missing file"

# A served file whose bytes differ from the lock is refused too.
sed -i '$d' "$work/toolchains/deps.lock"
echo corrupt >>"$work/cache/sources/cjson_1.7.18.orig.tar.gz"
sed -i 's/^\(cjson .*cjson_1.7.18.orig.tar.gz *\)[0-9a-f]\{64\}$/\10000000000000000000000000000000000000000000000000000000000000000/' \
    "$work/toolchains/deps.lock"
if out=$(FLEETMEDIC_CACHE="$work/cache" "$work/toolchains/deps.sh" 2>&1); then
    fail "deps.sh accepted a source whose sha256 differs from the lock"
fi
echo "$out" | tail -2
grep -q "cjson_1.7.18.orig.tar.gz as the Debian archive serves it has sha256" <<<"$out" ||
    fail "the hash failure does not name the file"
echo "check_deps: ok"
