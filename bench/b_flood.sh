#!/bin/bash
# Journal flood, repeated (issue 18): tests/faults/test_fault_flood run
# FMH_FLOOD_RUNS times (5) at each writer rate of FMH_FLOOD_RATES ("100000
# 10000": as fast as systemd-journal-remote takes it, and throttled), one
# after the other. Each run's FAULT line is a row; per rate, the median and
# max of the three container exits' latency to the controller during the
# flood (each run's median and max of three), and whether every run counted
# exactly the lines written.
# Usage: bench/b_flood.sh BUILD_DIR (ctest's output: BUILD_DIR/bench-flood.log)
set -euo pipefail
build=${1:?usage: b_flood.sh BUILD_DIR}
runs=${FMH_FLOOD_RUNS:-5}
rates=${FMH_FLOOD_RATES:-100000 10000}
out=$build/bench-flood.log
# said relative to the checkout: the figures go into a committed file
shown=${build#"$(git rev-parse --show-toplevel 2>/dev/null)/"}
: >"$out"

# key=value from a FAULT line
val() { grep -oE "(^| )$2=[^ ]+" <<<"$1" | sed -E "s/.*$2=//"; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'; }

echo "## Journal flood, repeated"
echo
echo "Command: \`FMH_FLOOD_RUNS=$runs FMH_FLOOD_RATES=\"$rates\" bench/b_flood.sh $shown\` (\`FMH_FLOOD_RATE=R ctest -R fault/test_fault_flood -V\` per run: a 30 s flood of kubelet's conflict line through systemd-journal-remote into the journal \`fleetmedic-agent run\` follows, three control-plane containers exiting in dockerd during it, a triage request during it; exit_ms: exit to the controller's \`show\`)."
echo
echo "| rate asked /s | run | result | reached /s | lines | counted | exit_ms median | exit_ms max | triage_ms | catch-up ms | agent CPU % | RssAnon peak kB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
summary=()
failed=0
for rate in $rates; do
	meds=()
	maxes=()
	ok=0
	for run in $(seq 1 "$runs"); do
		log=$(mktemp)
		if (cd "$build" && FMH_FLOOD_RATE=$rate ctest -R 'fault/test_fault_flood$' -V) >"$log" 2>&1; then
			result=passed
			ok=$((ok + 1))
		else
			result=failed
			failed=1
		fi
		cat "$log" >>"$out"
		fl=$(grep -E '^[0-9]+: FAULT test_fault_flood ' "$log" | tail -n 1 || true)
		rm -f "$log"
		if [ -z "$fl" ]; then
			echo "| $rate | $run | $result | - | - | - | - | - | - | - | - | - |"
			continue
		fi
		med=$(val "$fl" exit_seen_ms)
		max=$(val "$fl" exit_seen_max_ms)
		meds+=("$med")
		maxes+=("$max")
		echo "| $rate | $run | $result | $(val "$fl" reached_per_s) | $(val "$fl" lines) | $(val "$fl" counted) | $med | $max | $(val "$fl" triage_ms) | $(val "$fl" catchup_ms) | $(val "$fl" cpu_flood_pct) | $(val "$fl" anon_peak_kb) |"
	done
	if [ ${#meds[@]} -gt 0 ]; then
		m=$(printf '%s\n' "${meds[@]}" | median)
		x=$(printf '%s\n' "${maxes[@]}" | sort -n | tail -n 1)
		summary+=("- writer asked for $rate lines/s: $ok of $runs runs passed (every line counted once); container exit to the controller during the flood: median of the runs' medians $m ms, max $x ms.")
	else
		summary+=("- writer asked for $rate lines/s: $ok of $runs runs passed; no figures.")
	fi
done
echo
printf '%s\n' "${summary[@]}"
echo
echo "For comparison, the same exit on a quiet node: test_fault_docker's exit_seen_ms in \"Reliability: faults survived\"."
if [ "$failed" != 0 ]; then
	echo "b_flood: a run failed; ctest's output: $out" >&2
fi
