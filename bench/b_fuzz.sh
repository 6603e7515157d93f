#!/usr/bin/env bash
# Reliability: fuzzing. Builds the libFuzzer targets (clang, -DFM_FUZZ=ON)
# next to the optimised build, where `make fuzz` builds them
# (BUILD-DIR/../fuzz), runs each FUZZ_SECONDS (default 60) from its seed
# corpus with a fresh working corpus (tests/fuzz/run.sh), and prints the inputs tried,
# their rate and the corpus each ended with, from run.sh's results file.
# A crash fails the script (bench/run.sh then reports the section as
# failed). FUZZ_TARGETS overrides the list (the Makefile's by default).
# Then the reliability figures beside them: the seed corpora in the repo,
# the crashes the fuzzers found and that were fixed (the corpus files named
# regress-*, with the commit that added each), and SOAK_RUNS (3) soaks of
# SOAK_SECONDS (90) each with this optimised build (tests/soak/soak.c; the
# leak check is ctest's soak/short and `make soak`, under ASan+LSan).
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

### Seed corpora and crashes found

The seeds each target starts from (tests/fuzz/corpus/<target>, in the repo;
replayed in ctest as fuzz-replay/<target>), and every input a fuzzer crashed
on that was fixed and kept as a regression seed (regress-* files):

| target | seed files | seed bytes | regression inputs (commit that fixed it) |
| --- | --- | --- | --- |
MD
nreg=0
for t in $targets; do
	d=$top/tests/fuzz/corpus/$t
	regs=""
	for f in "$d"/regress-*; do
		[ -e "$f" ] || continue
		c=$(git -C "$top" log --follow --format=%h -- "${f#"$top"/}" | tail -n 1)
		regs+="${regs:+, }$(basename "$f") (${c:-uncommitted})"
		nreg=$((nreg + 1))
	done
	echo "| $t | $(find "$d" -type f | wc -l) | $(cat "$d"/* 2>/dev/null | wc -c) | ${regs:--} |"
done
echo
echo "$nreg crashes found by the fuzzers and fixed, each input kept."

# The soak, SOAK_RUNS times, with the optimised agent and controller.
runs=${SOAK_RUNS:-3}
soak_s=${SOAK_SECONDS:-90}
[ "$runs" -gt 0 ] || exit 0
cmake --build "$build" -j "${JOBS:-2}" --target fm_soak fleetmedic-agent fleetmedic-controller >&2
lines=()
for i in $(seq "$runs"); do
	if ! line=$(SOAK_SECONDS=$soak_s FM_SOAK_BUILD=optimised FM_AGENT=$build/firmware-agent/fleetmedic-agent \
		FM_CONTROLLER=$build/fleet-controller/fleetmedic-controller "$build/tests/fm_soak" | grep '^soak:'); then
		echo "b_fuzz: soak run $i failed (its own lines above say why)" >&2
		exit 1
	fi
	echo "soak run $i: $line" >&2
	lines+=("$line")
done
# med KEY: the median of KEY=value over the runs.
med() {
	printf '%s\n' "${lines[@]}" | sed -n "s/.* $1=\([0-9.-]*\).*/\1/p" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
cat <<MD

### Soak

\`run\` on incident 1's real parts (etcd, a private dockerd, journal files)
reporting over DTLS-PSK to a real controller, ${soak_s} s of mixed activity
(journal entries of five rules, containers made, restarted and removed
through \`triage rm\`, triage questions, SIGHUPs); the resident memory of
this optimised agent sampled every 3 s: RssAnon (its own: heap, stacks), on
which the growth is measured, and VmRSS (RssAnon plus the file pages it
maps, mostly the journal files, which grow with the journal written), from
the end of the warm-up (the first third) to the end, medians of 3 samples
each. Medians of $runs runs:

| figure | median |
| --- | --- |
| events driven | $(med events) |
| journal entries | $(med journal_entries) |
| containers made / removed by triage / restarts | $(med containers_made) / $(med removed_by_triage) / $(med restarts) |
| triage questions answered | $(med triage_questions) |
| SIGHUPs | $(med sighups) |
| RssAnon after warm-up / at the end | $(med rss_warm_kb) / $(med rss_end_kb) kB |
| RssAnon growth | $(med growth_pct) % (bound: 10 %) |
| VmRSS after warm-up / at the end | $(med vmrss_warm_kb) / $(med vmrss_end_kb) kB |
| SIGTERM to exit | $(med stop_ms) ms, exit status 0 |

Leaks: the same soak under ASan+LSan is ctest's soak/short (90 s) and
\`make soak\` (30 min); it fails on any sanitizer report.

Command: \`SOAK_RUNS=$runs SOAK_SECONDS=$soak_s bench/b_fuzz.sh $build\`
(FM_SOAK_BUILD=optimised $build/tests/fm_soak, $runs times)
MD
