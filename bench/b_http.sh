#!/usr/bin/env bash
# b_http.sh BUILD_DIR: the controller's HTTP side (issue 24) with 1,000 nodes.
#
# `fleetmedic-controller serve` pinned to CPU 0, bench/coap_load on CPU 1:
# BENCH_HTTP_NODES (1000) DTLS-PSK agents sending incident-1-sized reports
# for BENCH_HTTP_SECONDS (3) s, with and without `--http` (ingest within
# noise of without is the claim), BENCH_HTTP_RUNS (3) runs each, alternated.
# Then, on the store the last run left (1,000 nodes, each with a raised
# diagnosis), curl asks / , /api/v1/nodes and /metrics 20 times each:
# median and max of curl's time_total, and the bytes.
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_http.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
runs=${BENCH_HTTP_RUNS:-3}
secs=${BENCH_HTTP_SECONDS:-3}
nodes=${BENCH_HTTP_NODES:-1000}
bench_init
bench_controller "$build" "$nodes" 42
val() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
: >"$BENCH_TMP/off" ; : >"$BENCH_TMP/on"
for r in $(seq "$runs"); do
    for mode in off on; do
        BENCH_SERVE_EXTRA=()
        if [ "$mode" = on ]; then
            hport=$(bench_free_port tcp)
            BENCH_SERVE_EXTRA=(--http "127.0.0.1:$hport")
        fi
        bench_serve "$BENCH_TMP/$mode$r" taskset -c 0
        [ "$mode" = on ] && bench_wait_listen tcp "$hport" 10
        out=$(taskset -c 1 "${BENCH_GUARD[@]}" "$BENCH_LOAD" run --server "127.0.0.1:$BENCH_SERVE_PORT" --nodes "$nodes" \
            --seed 42 --seconds "$secs" --kind rp) || { echo "$out" >&2; exit 1; }
        val per_s "$(grep '^load kind=rp ' <<<"$out")" >>"$BENCH_TMP/$mode"
        if [ "$mode" = on ] && [ "$r" = "$runs" ]; then
            for path in / /api/v1/nodes /metrics; do
                f=$BENCH_TMP/t$(tr '/' '_' <<<"$path")
                : >"$f"
                for _ in $(seq 20); do
                    curl -sf -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$hport$path" >>"$f"
                done
            done
            shown=$(curl -sf "http://127.0.0.1:$hport/api/v1/nodes" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
            [ "$shown" = "$nodes" ] || { echo "b_http: /api/v1/nodes lists $shown nodes, want $nodes" >&2; exit 1; }
        fi
        bench_stop "$BENCH_SERVE_PID"
    done
done
med() { bench_stats <"$1" | awk '{ printf "%.0f", $1 }'; }
ms() { cut -d' ' -f1 "$1" | bench_stats | awk '{ printf "%.1f | %.1f", $1 * 1000, $3 * 1000 }'; }
bytes() { cut -d' ' -f2 "$1" | bench_stats | awk '{ printf "%.0f", $1 }'; }
off=$(med "$BENCH_TMP/off") on=$(med "$BENCH_TMP/on")
cat <<MD
## Controller HTTP side: $nodes nodes

\`taskset -c 0 fleetmedic-controller serve ... [--http 127.0.0.1:PORT]\` on a fresh
SQLite database each run, \`taskset -c 1 coap_load run --nodes $nodes --seconds $secs --kind rp\`,
$runs runs each way, alternated (bench/b_http.sh).

| | reports stored /s (median of $runs) |
| --- | --- |
| without --http | $off |
| with --http | $on |

- ratio with / without: $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }') (the HTTP side reads the store only when asked).
- goal ingest with \`--http\` within 10 % of without (ratio ≥ 0.90): $(awk -v a="$on" -v b="$off" 'BEGIN { r = a / b; printf "%s (%.2f)", (r >= 0.90 ? "met" : "NOT met"), r }')

curl on the store the last run left ($nodes nodes, each with a raised diagnosis), 20 requests each:

| path | time_total ms, median | max | bytes |
| --- | --- | --- | --- |
| / | $(ms "$BENCH_TMP/t_") | $(bytes "$BENCH_TMP/t_") |
| /api/v1/nodes | $(ms "$BENCH_TMP/t_api_v1_nodes") | $(bytes "$BENCH_TMP/t_api_v1_nodes") |
| /metrics | $(ms "$BENCH_TMP/t_metrics") | $(bytes "$BENCH_TMP/t_metrics") |

- /metrics per node: $(awk -v b="$(bytes "$BENCH_TMP/t_metrics")" -v n="$nodes" 'BEGIN { printf "%.0f", b / n }') bytes (node_up, last_seen and one fleetmedic_diagnosis series per raised code).
MD
