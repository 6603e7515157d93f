#!/usr/bin/env bash
# run.sh BUILD_DIR SECONDS TARGET...: runs each libFuzzer target
# (BUILD_DIR/tests/fuzz/fuzz_TARGET) for SECONDS, starting from its seed
# corpus tests/fuzz/corpus/TARGET (read only: new inputs go to
# BUILD_DIR/fuzz-corpus/TARGET) with tests/fuzz/TARGET.dict when there is
# one. A crash, leak or timeout fails the run: the input is written to
# BUILD_DIR/fuzz-artifacts/ and the script says how to keep it as a
# regression seed. Prints each target's last status line (runs, coverage).
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILD_DIR SECONDS TARGET..." >&2
	exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
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
	if "$bin" "${args[@]}" "$work" "$here/corpus/$t" >"$log" 2>&1; then
		grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
		grep -E '^Done [0-9]+ runs' "$log" || true
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
	else
		status=1
		echo "fuzz $t: FAILED; the end of $log:" >&2
		tail -n 40 "$log" >&2
		echo "fuzz $t: keep the input as a seed: cp $art/$t-<crash-file> tests/fuzz/corpus/$t/" >&2
	fi
done
exit $status
