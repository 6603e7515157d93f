#!/usr/bin/env bash
# run.sh BUILD_DIR SECONDS TARGET...: runs each libFuzzer target
# (BUILD_DIR/tests/fuzz/fuzz_TARGET) for SECONDS, starting from its seed
# corpus tests/fuzz/corpus/TARGET (read only: new inputs go to
# BUILD_DIR/fuzz-corpus/TARGET) with tests/fuzz/TARGET.dict when there is
# one. A crash, leak or timeout fails the run: the input is written to
# BUILD_DIR/fuzz-artifacts/ and the script says how to keep it as a
# regression seed (after the bug is fixed). Prints each target's last status
# line (runs, coverage).
#
# BUILD_DIR/fuzz-results.tsv gets one line per target (a header first):
#   target seconds runs exec_per_s corpus_inputs corpus_bytes coverage result
# runs is libFuzzer's count of inputs tried (-print_final_stats=1:
# stat::number_of_executed_units in LLVM 14, number_of_executed_runs in
# some other releases);
# corpus_inputs and corpus_bytes are the corpus it ended with ("corp:" of
# its last status line: the seeds that add coverage plus what it found);
# coverage its "cov:" (edges); result "ok" or "FAILED".
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILD_DIR SECONDS TARGET..." >&2
	exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results=$build/fuzz-results.tsv
printf 'target\tseconds\truns\texec_per_s\tcorpus_inputs\tcorpus_bytes\tcoverage\tresult\n' >"$results"

# stat LOG NAME...: the value of libFuzzer's final stat::NAME (the first
# NAME it printed), or "?".
stat() {
	local log=$1 v n
	shift
	for n in "$@"; do
		v=$(sed -n "s/^stat::$n: *\([0-9]*\).*/\1/p" "$log" | tail -n 1)
		if [ -n "$v" ]; then
			echo "$v"
			return
		fi
	done
	echo "?"
}

# The corpus size of the last status line ("corp: 57/3112b"), as two
# tab-separated fields, and its "cov:".
last_corpus() {
	local line
	line=$(grep -E '^#[0-9]+.*corp: [0-9]+/' "$1" | tail -n 1 || true)
	local inputs bytes cov
	inputs=$(sed -n 's/.*corp: \([0-9]*\)\/.*/\1/p' <<<"$line")
	bytes=$(sed -n 's/.*corp: [0-9]*\/\([0-9]*[bKM]*\).*/\1/p' <<<"$line")
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$line")
	case $bytes in
	*Mb) bytes=$((${bytes%Mb} * 1048576)) ;;
	*Kb) bytes=$((${bytes%Kb} * 1024)) ;;
	*b) bytes=${bytes%b} ;;
	esac
	printf '%s\t%s\t%s' "${inputs:-?}" "${bytes:-?}" "${cov:-?}"
}

status=0
for t in "$@"; do
	bin=$build/tests/fuzz/fuzz_$t
	work=$build/fuzz-corpus/$t
	art=$build/fuzz-artifacts
	log=$build/fuzz-$t.log
	mkdir -p "$work" "$art"
	args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$art/$t-")
	if [ -f "$here/$t.dict" ]; then
		args+=(-dict="$here/$t.dict")
	fi
	echo "fuzz $t: ${seconds}s, seeds from tests/fuzz/corpus/$t (log: $log)"
	result=ok
	if "$bin" "${args[@]}" "$work" "$here/corpus/$t" >"$log" 2>&1; then
		grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
		grep -E '^Done [0-9]+ runs' "$log" || true
	else
		status=1
		result=FAILED
		echo "fuzz $t: FAILED; the end of $log:" >&2
		tail -n 40 "$log" >&2
		echo "fuzz $t: fix the bug, then keep the input as a regression seed:" \
			"cp $art/$t-<crash-file> tests/fuzz/corpus/$t/" >&2
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seconds" \
		"$(stat "$log" number_of_executed_runs number_of_executed_units)" \
		"$(stat "$log" average_exec_per_sec)" "$(last_corpus "$log")" "$result" >>"$results"
done
echo "fuzz: results in $results"
column -t -s $'\t' "$results" 2>/dev/null || cat "$results"
exit $status
