#!/usr/bin/env bash
# b_node_exporter.sh BUILD_DIR: the anchors of issue 10 items 1 and 3,
# measured in this run: Debian's prometheus-node-exporter on loopback.
#   memory   3 instances side by side (default collectors, each on its own
#            port), scraped every 5 s; after BENCH_ANCHOR_SECONDS (60):
#            VmRSS, Private_Dirty, RssAnon, RssFile of each (bench_mem)
#   bytes    the body of every scrape, plain and gzip (Accept-Encoding);
#            and a scrape on the wire (bench_capture_*: IP + TCP headers,
#            HTTP request and response) on a kept-alive connection, as
#            Prometheus scrapes: (3 scrapes on one connection − 1 scrape) / 2;
#            per hour at Prometheus' usual 15 s interval.
# The figures also go to BUILD_DIR/bench-anchor.env (shell assignments, with
# when they were measured) for the scripts that set ours beside them.
# Every process started here is stopped by pid (bench/lib.sh).
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_node_exporter.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
secs=${BENCH_ANCHOR_SECONDS:-60}
instances=3
every=5
bench_init

bench_ne_start "$instances"
ne=$BENCH_NE
ports=("${BENCH_NE_PORTS[@]}") pids=("${BENCH_NE_PIDS[@]}")
t0=$(date +%s)
: >"$BENCH_TMP/plain"; : >"$BENCH_TMP/gzip"
bench_ne_scrape_for "$secs" "$every" "$BENCH_TMP/plain" "$BENCH_TMP/gzip"
elapsed=$(( $(date +%s) - t0 ))
bench_ne_mem >"$BENCH_TMP/mem"
nscrapes=$(wc -l <"$BENCH_TMP/plain")

# a scrape on the wire, first alone on its connection, then 3 on one connection
wire() { # gzip|plain N -> IP bytes of N scrapes on one connection
    local h=() urls=() pcap=$BENCH_TMP/scrape-$1-$2.pcap
    [ "$1" = gzip ] && h=(-H 'Accept-Encoding: gzip')
    for _ in $(seq "$2"); do urls+=(-o /dev/null "http://127.0.0.1:${ports[0]}/metrics"); done
    bench_capture_start "tcp port ${ports[0]}" "$pcap"
    curl -sf "${h[@]}" "${urls[@]}"
    bench_capture_stop
    bench_capture_bytes "$pcap" "${ports[0]}" | cut -d' ' -f2
}
per_scrape() { awk -v a="$(wire "$1" 3)" -v b="$(wire "$1" 1)" 'BEGIN { printf "%.0f", (a - b) / 2 }'; }
wire_plain=$(per_scrape plain)
wire_gzip=$(per_scrape gzip)
for pid in "${pids[@]}"; do bench_stop "$pid"; done

{
    echo "# bench/b_node_exporter.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "ANCHOR_WHEN=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "ANCHOR_RSS_KB=$(cut -d' ' -f1 "$BENCH_TMP/mem" | bench_stats | cut -d' ' -f1)"
    echo "ANCHOR_PD_KB=$(cut -d' ' -f2 "$BENCH_TMP/mem" | bench_stats | cut -d' ' -f1)"
    echo "ANCHOR_WIRE_PLAIN_B=$wire_plain"
    echo "ANCHOR_WIRE_GZIP_B=$wire_gzip"
} >"$build/bench-anchor.env"

col() { cut -d' ' -f"$1" "$BENCH_TMP/mem" | bench_stats | awk '{ printf "%.1f | %.1f | %.1f", $1 / 1024, $2 / 1024, $3 / 1024 }'; }
kb() { bench_stats <"$1" | awk '{ printf "%.1f | %.1f | %.1f", $1 / 1000, $2 / 1000, $3 / 1000 }'; }
read -r plain_med _ <<<"$(bench_stats <"$BENCH_TMP/plain")"
read -r gzip_med _ <<<"$(bench_stats <"$BENCH_TMP/gzip")"

cat <<MD
## Anchor: prometheus-node-exporter on loopback

$("$ne" --version 2>&1 | head -1) (Debian package), default collectors,
\`prometheus-node-exporter --web.listen-address=127.0.0.1:PORT\`, $instances instances side
by side, each scraped every ${every} s (plain and gzip) for ${elapsed} s; memory read
then from /proc/PID/status and /proc/PID/smaps_rollup. Median of the $instances instances
with min and max. Issue 10's reference figures (measured earlier on this kind
of machine) beside them. Command: \`bench/b_node_exporter.sh\`.

| after ${elapsed} s, $((nscrapes * 2 / instances)) scrapes each | median MiB | min MiB | max MiB | issue 10 reference |
| --- | ---: | ---: | ---: | --- |
| VmRSS | $(col 1) | 20.5 MB |
| Private_Dirty | $(col 2) | 7.0 MB |
| RssAnon | $(col 3) | |
| RssFile | $(col 4) | |

| one scrape of /metrics | median kB | min kB | max kB | issue 10 reference |
| --- | ---: | ---: | ---: | --- |
| body, plain | $(kb "$BENCH_TMP/plain") | 57.6 kB |
| body, gzip | $(kb "$BENCH_TMP/gzip") | 9.5 kB |

On the wire (IP + TCP headers, HTTP request and response; one scrape on a kept-alive
connection, from a capture on lo): plain $(awk -v b="$wire_plain" 'BEGIN { printf "%.1f", b / 1000 }') kB, gzip $(awk -v b="$wire_gzip" 'BEGIN { printf "%.1f", b / 1000 }') kB. Per hour at a
15 s interval (240 scrapes): bodies $(awk -v b="$plain_med" 'BEGIN { printf "%.0f", b * 240 / 1000 }') kB plain / $(awk -v b="$gzip_med" 'BEGIN { printf "%.0f", b * 240 / 1000 }') kB gzip; on the wire
$(awk -v b="$wire_plain" 'BEGIN { printf "%.0f", b * 240 / 1000 }') kB plain / $(awk -v b="$wire_gzip" 'BEGIN { printf "%.0f", b * 240 / 1000 }') kB gzip.
MD
