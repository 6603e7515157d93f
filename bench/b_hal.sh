#!/usr/bin/env bash
# Reading every board fact (hal_read_all: thermal, cpufreq, throttle,
# memory, storage with ext4 and block devices, clock) after start-up: CPU
# time per read (median over many reads, repeated) and allocations made
# while reading (must be 0). Issue 6 asks for < 1 ms of CPU and none.
set -euo pipefail
build=${1:?usage: b_hal.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/hal_bench
[ -x "$bin" ] || { echo "b_hal: $bin missing (cmake --build $build --target hal_bench)" >&2; exit 1; }
reads=2000
runs=5

echo "## hal: reading every board fact"
echo
echo "Command: \`$bin ROOT $reads\`, $runs runs per root; per read the CPU time"
echo "(CLOCK_PROCESS_CPUTIME_ID) of one hal_read_all, and every malloc/calloc/realloc"
echo "in the process during the reads (libc's own included). Figures: the median of"
echo "the runs' medians and p90s."
echo
echo "| root | board | median µs/read | p90 µs/read | allocations in $reads reads | budget |"
echo "| --- | --- | --- | --- | --- | --- |"
status=0 worst_med=0 worst_allocs=0
for root in / "$here/../tests/fixtures/boards/rpi4" "$here/../tests/fixtures/boards/jetson-nano"; do
    meds=() p90s=() allocs=0 board=
    for _ in $(seq $runs); do
        line=$("$bin" "$root" $reads) || status=1
        meds+=("$(sed -n 's/.*median_us=\([0-9.]*\).*/\1/p' <<<"$line")")
        p90s+=("$(sed -n 's/.*p90_us=\([0-9.]*\).*/\1/p' <<<"$line")")
        a=$(sed -n 's/.*allocs=\([0-9]*\).*/\1/p' <<<"$line")
        allocs=$((allocs > a ? allocs : a))
        board=$(sed -n 's/.*board=\([^ ]*\).*/\1/p' <<<"$line")
    done
    med=$(printf '%s\n' "${meds[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")
    p90=$(printf '%s\n' "${p90s[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")
    name=$root; [ "$root" = / ] || name="tests/fixtures/boards/$(basename "$root")"
    ok=$(awk -v m="$med" -v a="$allocs" 'BEGIN { print (m < 1000 && a == 0) ? "met" : "MISSED" }')
    [ "$ok" = met ] || status=1
    echo "| \`$name\` | $board | $med | $p90 | $allocs | < 1000 µs, 0 allocations: $ok |"
    worst_med=$(awk -v a="$worst_med" -v b="$med" 'BEGIN { print (b > a) ? b : a }')
    worst_allocs=$((allocs > worst_allocs ? allocs : worst_allocs))
done
echo
echo "- goal every board read (hal_read_all) < 1000 µs median with 0 allocations: $( [ "$status" = 0 ] && echo met || echo "NOT met" ) (the slowest median $worst_med µs, at most $worst_allocs allocations)"
echo
echo "\`/\` is this machine (a VM: no thermal zones or cpufreq, one virtio disk); the"
echo "fixture trees are read from the page cache like sysfs, but sysfs attributes"
echo "are generated per read on a board, so expect somewhat more there."
exit $status
