#!/usr/bin/env bash
# Reliability: fuzzing. Builds the libFuzzer targets (clang, -DFM_FUZZ=ON)
# next to the optimised build, where `make fuzz` builds them
# (BUILD-DIR/../fuzz), runs each FUZZ_SECONDS (default 60) from its seed
# corpus with a fresh working corpus (tests/fuzz/run.sh), and prints the inputs tried,
# their rate and the corpus each ended with, from run.sh's results file.
# A crash fails the script (bench/run.sh then reports the section as
# failed). FUZZ_TARGETS overrides the list (the Makefile's by default).
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_fuzz.sh BUILD-DIR}")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-$(sed -n 's/^FUZZ_TARGETS *?= *//p' "$top/Makefile")}
fb=$(dirname "$build")/fuzz
deps=$("$top/toolchains/deps.sh" --print-prefix)

cmake -S "$top" -B "$fb" -DCMAKE_C_COMPILER="${FUZZ_CC:-clang}" -DFM_FUZZ=ON \
	-DFM_DEPS_PREFIX="$deps" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
# shellcheck disable=SC2086
cmake --build "$fb" -j "${JOBS:-2}" --target $(printf 'fuzz_%s ' $targets) >&2
rm -rf "$fb/fuzz-corpus" "$fb/fuzz-artifacts"
# shellcheck disable=SC2086
"$top/tests/fuzz/run.sh" "$fb" "$seconds" $targets >&2

results=$fb/fuzz-results.tsv
total=$(awk -F'\t' 'NR > 1 && $3 ~ /^[0-9]+$/ {s += $3} END {print s + 0}' "$results")
n=$(awk 'NR > 1' "$results" | wc -l)
cat <<MD
## Reliability: fuzzing

Every parser of outside input as a libFuzzer target (tests/fuzz/, clang
$(clang --version | sed -n 's/.*clang version \([0-9.]*\).*/\1/p' | head -1), ASan+UBSan), each run ${seconds} s from its seed corpus
(tests/fuzz/corpus/<target>) with a fresh working corpus, one after the
other on this shared machine. "inputs tried" is libFuzzer's count of
executed inputs; "corpus" the inputs (and bytes) it kept, seeds included;
"edges" the coverage it reached in the instrumented parser code (the
libraries it calls, cJSON, libyaml, Mbed TLS, are not instrumented). A
crash fails the run and this section.

| target | inputs tried | inputs/s | corpus | edges | result |
| --- | --- | --- | --- | --- | --- |
$(awk -F'\t' 'NR > 1 {printf "| %s | %s | %s | %s (%s B) | %s | %s |\n", $1, $3, $4, $5, $6, $7, $8}' "$results")

$n targets, $total inputs in all, no crash. \`make test\` runs the same
targets ${FUZZ_CI_SECONDS:-30} s each after ctest (CI).

Command: \`FUZZ_SECONDS=$seconds bench/b_fuzz.sh $build\` (tests/fuzz/run.sh
$fb $seconds $targets)
MD
