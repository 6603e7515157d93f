#!/usr/bin/env bash
# b_retention.sh BUILD_DIR: the controller's retention (issue 25 item 4).
#
#   size     bench/retain_sim year: BENCH_RETAIN_NODES (1000) nodes live a
#            simulated year (BENCH_RETAIN_DAYS, 365) through fc_store's own
#            API, 12 history lines a node a day (two incidents shaped as
#            test_fault_etcd's store shows one etcd kill and restart, 5 lines
#            each, and one unreachable/reachable pair), pruned every
#            simulated hour as serve's fc_retain does with --retain 90d; the
#            file and its -wal every 30 days. retain_sim fails when the file
#            passes BENCH_RETAIN_MAX_MB after the window filled, or grows by
#            10 % from day 120 to the end.
#   ingest   reports stored per second by serve (CPU 0) from coap_load's
#            1,000 DTLS-PSK agents (CPU 1), on copies of one store holding
#            BENCH_RETAIN_FILL_DAYS (100) days of 1,000 other nodes' history
#            (retain_sim fill, ending now): with --retain off, and with
#            --retain 90d, which has ten days of backlog to prune the whole
#            time (a batch of 500 lines every 250 ms); BENCH_RETAIN_RUNS (3)
#            runs each way, alternated. Checked: the backlog shrank during
#            each pruning run, and not in the others.
#   batch    retain_sim drain on another copy: the whole backlog pruned in
#            batches of 500, each timed (how long a report may wait).
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_retention.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
nodes=${BENCH_RETAIN_NODES:-1000}
days=${BENCH_RETAIN_DAYS:-365}
max_mb=${BENCH_RETAIN_MAX_MB:-250}
fill_days=${BENCH_RETAIN_FILL_DAYS:-100}
fill_nodes=${BENCH_RETAIN_FILL_NODES:-1000}
runs=${BENCH_RETAIN_RUNS:-3}
secs=${BENCH_RETAIN_SECONDS:-5}
sim=$build/bench/retain_sim
[ -x "$sim" ] || { echo "bench: $sim missing (cmake --build $build)" >&2; exit 1; }
bench_init
bench_controller "$build" 1000 42
val() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# history lines of a store older than $cutoff (90 days before the fill ended:
# fixed, so the count does not move with the clock)
old_lines() {
    python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True)
print(c.execute("SELECT count(*) FROM history WHERE at < ?", (int(sys.argv[2]),)).fetchone()[0])' "$1" "$cutoff"
}

# --- size: a simulated year ---------------------------------------------------
t0=$(date +%s)
year=$(taskset -c 0 "$sim" year --db "$BENCH_TMP/year/fleet.db" --nodes "$nodes" --days "$days" --retain-days 90 \
    --max-mb "$max_mb") || { echo "$year" >&2; exit 1; }
year_s=$(( $(date +%s) - t0 ))
result=$(grep '^result' <<<"$year")

# --- ingest with and without a pruning backlog ---------------------------------
"$sim" fill --db "$BENCH_TMP/fill.db" --nodes "$fill_nodes" --days "$fill_days" >/dev/null
cutoff=$(( $(date +%s) - 90 * 86400 ))
backlog=$(old_lines "$BENCH_TMP/fill.db")
: >"$BENCH_TMP/off"; : >"$BENCH_TMP/on"; : >"$BENCH_TMP/pruned"
for r in $(seq "$runs"); do
    for mode in off on; do
        rm -f "$BENCH_TMP/run.db" "$BENCH_TMP/run.db-wal" "$BENCH_TMP/run.db-shm"
        cp "$BENCH_TMP/fill.db" "$BENCH_TMP/run.db"
        BENCH_SERVE_EXTRA=(--db "$BENCH_TMP/run.db" --retain "$([ "$mode" = on ] && echo 90d || echo off)")
        bench_serve "$BENCH_TMP/$mode$r" taskset -c 0
        out=$(taskset -c 1 "${BENCH_GUARD[@]}" "$BENCH_LOAD" run --server "127.0.0.1:$BENCH_SERVE_PORT" --nodes 1000 \
            --seed 42 --seconds "$secs" --kind rp) || { echo "$out" >&2; exit 1; }
        val per_s "$(grep '^load kind=rp ' <<<"$out")" >>"$BENCH_TMP/$mode"
        bench_stop "$BENCH_SERVE_PID"
        left=$(old_lines "$BENCH_TMP/run.db")
        if [ "$mode" = on ]; then
            [ "$left" -lt "$backlog" ] || { echo "b_retention: nothing pruned in run $r" >&2; exit 1; }
            echo $((backlog - left)) >>"$BENCH_TMP/pruned"
        elif [ "$left" != "$backlog" ]; then
            echo "b_retention: --retain off pruned $((backlog - left)) lines" >&2; exit 1
        fi
    done
done
cp "$BENCH_TMP/fill.db" "$BENCH_TMP/drain.db"
drain=$(taskset -c 0 "$sim" drain --db "$BENCH_TMP/drain.db" --retain-days 90)
med() { bench_stats <"$1" | awk '{ printf "%.0f", $1 }'; }
off=$(med "$BENCH_TMP/off") on=$(med "$BENCH_TMP/on") pruned=$(med "$BENCH_TMP/pruned")

cat <<MD
## Controller retention: a simulated year of $nodes nodes, and ingest while pruning

\`taskset -c 0 retain_sim year --nodes $nodes --days $days --retain-days 90 --max-mb $max_mb\` (bench/b_retention.sh):
the store filled through fc_store's own API with simulated time ($year_s s here), 12 history lines
a node a day: two incidents, each the 5 lines test_fault_etcd's store holds for one etcd kill and
restart (apiserver raised; etcd raised, explaining it; etcd changed to a timeout; etcd resolved;
its texts), and one unreachable/reachable pair. Pruned every simulated hour as \`serve --retain 90d\`
does (fc_store_prune, batches of 500 until a short one). No VACUUM, auto_vacuum off.

| day | file, MB | -wal, MB | history lines | free pages | lines pruned so far |
| ---: | ---: | ---: | ---: | ---: | ---: |
$(grep '^year' <<<"$year" | while read -r l; do
    echo "| $(val day "$l") | $(mb "$(val db_bytes "$l")") | $(mb "$(val wal_bytes "$l")") | $(val history "$l") | $(val free_pages "$l") | $(val pruned "$l") |"
done)

- goal a year of 1000 nodes under $max_mb MB (file + -wal, pruned to 90 days): $(awk -v b="$(val max_after_full_bytes "$result")" -v m="$max_mb" 'BEGIN { print (b <= m * 1048576) ? "met" : "NOT met" }') ($(mb "$(val max_after_full_bytes "$result")") MB at most)
- Largest file + -wal after the window filled (day 90 on): $(mb "$(val max_after_full_bytes "$result")") MB, under the stated
  bound of $max_mb MB (checked by retain_sim); at day 120 $(mb "$(val at_full_bytes "$result")") MB, at the end
  $(mb "$(val end_bytes "$result")") MB: the freed pages are reused, the file stops growing once 90 days are held.
- Full batches of 500 lines: $(val full_batches "$result"), $(val batch_ms_mean "$result") ms each on average, $(val batch_ms_max "$result") ms the longest.

Ingest while pruning: \`taskset -c 0 fleetmedic-controller serve ... --db COPY --retain off|90d\`,
\`taskset -c 1 coap_load run --nodes 1000 --seconds $secs --kind rp\`, on copies of one store holding
$fill_days days of $fill_nodes other nodes' history ending now (\`retain_sim fill\`, $backlog lines older than
90 days: a backlog that lasts the whole run), $runs runs each way, alternated.

| serve | reports stored /s (median of $runs) | each run, in order |
| --- | ---: | --- |
| --retain off (nothing to prune) | $off | $(paste -sd' ' "$BENCH_TMP/off" | sed 's/ /, /g') |
| --retain 90d (pruning its backlog throughout) | $on | $(paste -sd' ' "$BENCH_TMP/on" | sed 's/ /, /g') |

- ratio pruning / not: $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }'); lines pruned during a pruning run (median): $pruned.
- One batch, the whole backlog of another copy pruned by \`retain_sim drain --retain-days 90\` (CPU 0, no load):
  $(val lines "$drain") lines in $(val batches "$drain") batches of 500, $(val batch_ms_median "$drain") ms each (median),
  p99 $(val batch_ms_p99 "$drain") ms, max $(val batch_ms_max "$drain") ms: what a report can wait behind pruning. The long
  ones are, it seems, those whose commit runs SQLite's automatic WAL checkpoint (every 1,000 pages; under
  strace, a smaller drain made one fdatasync pair every four batches or so), which a report's own commit
  runs just as often at this rate of writing.
MD
