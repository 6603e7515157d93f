#!/bin/bash
# Reliability: faults survived. Runs the fault tests (ctest -L fault) in
# BUILD_DIR and tabulates each: name, what it injects, passed/failed, wall
# time, and the figures of its FAULT line (tests/faults/README.md).
# Usage: bench/b_faults.sh BUILD_DIR (ctest's output: BUILD_DIR/bench-faults.log)
set -euo pipefail
build=${1:?usage: b_faults.sh BUILD_DIR}
# ctest's whole output is kept beside the build, for a test that failed.
out=$build/bench-faults.log
cmd="ctest -L fault -V --test-dir $build"
# A fault test that fails fails the bench (after the table is printed: the
# failure is in it, and in $out).
faults_rc=0
(cd "$build" && ctest -L fault -V) >"$out" 2>&1 || faults_rc=$?

echo "## Reliability: faults survived"
echo
echo "Command: \`$cmd\` (each test: real etcd / dockerd / journal files, \`fleetmedic-agent run\` reporting to \`fleetmedic-controller serve\`; one run each, the figures are that run's)."
echo
echo "| test | injects | result | wall s | figures |"
echo "| --- | --- | --- | --- | --- |"
# ctest's summary lines: "1/4 Test #61: fault/test_fault_etcd ....   Passed   22.97 sec"
grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: fault/' "$out" | while read -r line; do
	name=$(sed -E 's/.*: fault\/([^ ]+) .*/\1/' <<<"$line")
	wall=$(sed -E 's/.* ([0-9.]+) sec.*/\1/' <<<"$line")
	if grep -q ' Passed ' <<<"$line"; then result=passed; else result=failed; fi
	fl=$(grep -E "^[0-9]+: FAULT $name " "$out" | tail -n 1 | sed -E "s/^[0-9]+: FAULT $name //" || true)
	injects=$(grep -oE 'injects=[^ ]+' <<<"$fl" | sed 's/injects=//' || true)
	figures=$(sed -E 's/injects=[^ ]+ ?//' <<<"$fl")
	echo "| $name | ${injects:--} | $result | $wall | ${figures:--} |"
done
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: fault/.* Passed ' "$out" || true)
total=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: fault/' "$out" || true)
echo
echo "$passed of $total fault tests passed."
if [ "$passed" != "$total" ]; then
	echo
	echo "The failed tests' output: $out."
	echo "b_faults: $((total - passed)) fault tests failed; their output: $out" >&2
fi
if [ "$faults_rc" != 0 ]; then
    echo "bench: a fault test failed (ctest exit $faults_rc); see $out" >&2
    exit 1
fi
