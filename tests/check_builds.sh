#!/usr/bin/env bash
# tests/check_builds.sh DEPS_PREFIX: the project builds in every standard
# build type with both compilers, warnings as errors (issue 26 item 4):
# Release and MinSizeRel with gcc and clang, -DFM_WERROR=ON, agent,
# controller and hal (the tests' own build types are Debug under ASan,
# RelWithDebInfo, clang's fuzz build and the static MinSizeRel board builds,
# which `make test` builds anyway). Then a plain configure, as a packager
# with another compiler would run it, must not pass -Werror.
# The build trees are temporary and removed at the end.
set -euo pipefail
prefix=${1:?usage: check_builds.sh DEPS_PREFIX}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/fm-builds.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "check_builds: $*" >&2; exit 1; }
for cc in gcc clang; do
    command -v "$cc" >/dev/null || fail "$cc is not installed (toolchains/host-packages.sh)"
    for type in Release MinSizeRel; do
        b="$work/$cc-$type"
        if ! cmake -S "$top" -B "$b" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$type" -DFM_WERROR=ON \
            -DFM_TESTS=OFF -DFM_DEPS_PREFIX="$prefix" >"$b.log" 2>&1 ||
            ! cmake --build "$b" -j "$(nproc)" >>"$b.log" 2>&1; then
            grep -E "error|Error" "$b.log" | head -20 >&2
            fail "$cc $type does not build (warnings are errors)"
        fi
        grep -q -- '-Werror' "$b/compile_commands.json" || fail "$cc $type: FM_WERROR=ON but no -Werror"
        echo "check_builds: $cc $type builds with -Werror"
    done
done
b="$work/plain"
cmake -S "$top" -B "$b" -DFM_TESTS=OFF -DFM_DEPS_PREFIX="$prefix" >"$b.log" 2>&1 || fail "a plain configure fails"
if grep -q -- '-Werror' "$b/compile_commands.json"; then fail "a plain configure turns warnings into errors"; fi
echo "check_builds: a plain configure leaves warnings warnings"
