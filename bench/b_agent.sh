#!/usr/bin/env bash
# b_agent.sh BUILD_DIR: what `fleetmedic-agent run` itself costs the node
# (issue 10 items 1, 2, 7), from bench/agent_bench (see its comment): a
# healthy incident-1 node of real parts (etcd over mTLS, a private dockerd
# with the apiserver pod's containers, journal files written by
# systemd-journal-remote, the apiserver TLS stand-in, /dev/kmsg, the board)
# and a real controller over DTLS-PSK.
#   startup  exec to READY=1 (NOTIFY_SOCKET), every source on / nothing
#            configured, BENCH_AGENT_STARTUP runs (10) each
#   memory   BENCH_AGENT_AGENTS agents (3) side by side, after
#            BENCH_AGENT_STEADY s (60) with a journal trickle, and after a
#            burst of BENCH_AGENT_BURST entries (100000) once read
#   idle     BENCH_AGENT_WINDOWS windows (3) of BENCH_AGENT_WINDOW s (60)
# The anchor in the same run: 3 prometheus-node-exporter instances
# (bench/lib.sh's bench_ne_*, as bench/b_node_exporter.sh), scraped every
# 5 s while the agents run, their memory read after BENCH_ANCHOR_SECONDS (60).
# Two agents are measured, one after the other on the same node and with
# the same controller: BUILD_DIR's (dynamic, the build machine's shared
# libraries) and the boards' static configuration built for this machine,
# BENCH_AGENT_STATIC:
#   auto (default)  BUILD_DIR's sibling x86_64-linux-gnu, brought up to date
#                   with `make cross-x86_64-linux-gnu BUILD=PARENT` (static,
#                   -Os, LTO, stripped, toolchains/deps.sh x86_64-linux-gnu's
#                   libraries: the boards' Mbed TLS configuration and
#                   libsystemd.a, as make cross; cached, incremental)
#   DIR             that build as it is (its firmware-agent/fleetmedic-agent)
#   none            the dynamic agent only (ctest's small run)
# Every process started here is stopped by pid (bench/lib.sh; agent_bench
# stops its own through the harness).
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_agent.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
agent=$build/firmware-agent/fleetmedic-agent
ctl=$build/fleet-controller/fleetmedic-controller
prog=$build/bench/agent_bench
for b in "$agent" "$ctl" "$prog"; do
    [ -x "$b" ] || { echo "b_agent: $b missing (cmake --build $build)" >&2; exit 1; }
done
static=${BENCH_AGENT_STATIC:-auto}
if [ "$static" = auto ]; then
    parent=$(dirname "$build")
    make -C "$here/.." --no-print-directory cross-x86_64-linux-gnu BUILD="$parent" >&2
    static=$parent/x86_64-linux-gnu
fi
builds=("$build")
if [ "$static" != none ]; then
    static=$(readlink -f "$static")
    [ -x "$static/firmware-agent/fleetmedic-agent" ] ||
        { echo "b_agent: no static agent in $static (make cross-x86_64-linux-gnu)" >&2; exit 1; }
    file -L "$static/firmware-agent/fleetmedic-agent" | grep -q 'statically linked' ||
        { echo "b_agent: $static/firmware-agent/fleetmedic-agent is not statically linked" >&2; exit 1; }
    builds+=("$static")
fi
n=${BENCH_AGENT_AGENTS:-3}
steady=${BENCH_AGENT_STEADY:-60}
burst=${BENCH_AGENT_BURST:-100000}
windows=${BENCH_AGENT_WINDOWS:-3}
window=${BENCH_AGENT_WINDOW:-60}
runs=${BENCH_AGENT_STARTUP:-10}
secs=${BENCH_ANCHOR_SECONDS:-60}
bench_init
# A binary just linked sits in dirty page-cache pages, which smaps counts as
# the Private_Dirty of every process mapping it: write them back first.
sync

# One agent_bench per build, the dynamic one first with the anchor beside
# it; each prints into $BENCH_TMP/out.K (K: the build's index).
for k in "${!builds[@]}"; do
    b=${builds[$k]}
    if [ "$k" = 0 ]; then
        bench_ne_start 3
        : >"$BENCH_TMP/ne.plain"; : >"$BENCH_TMP/ne.gzip"
        bench_ne_scrape_for "$secs" 5 "$BENCH_TMP/ne.plain" "$BENCH_TMP/ne.gzip" &
        scraper=$!
        bench_track "$scraper"
    fi
    cmd=("$prog" --agents "$n" --steady "$steady" --burst "$burst" --windows "$windows" --window "$window"
         --startup "$runs" "$b/firmware-agent/fleetmedic-agent" "$ctl")
    echo "b_agent: agent_bench with $b/firmware-agent/fleetmedic-agent" >&2
    "${BENCH_GUARD[@]}" "${cmd[@]}" >"$BENCH_TMP/out.$k" 2>"$BENCH_TMP/err.$k" &
    ab=$!
    bench_track "$ab"
    if [ "$k" = 0 ]; then
        wait "$scraper"
        bench_ne_mem >"$BENCH_TMP/ne.mem"
        for p in "${BENCH_NE_PIDS[@]}"; do bench_stop "$p"; done
    fi
    if ! wait "$ab"; then
        grep -v '^fleetmedic' "$BENCH_TMP/err.$k" | tail -20 >&2
        echo "b_agent: agent_bench failed ($b)" >&2
        exit 1
    fi
    out=$BENCH_TMP/out.$k
    # sanity: every figure there and plausible (never compared with a goal here)
    for w in "startup full" "startup empty" "mem steady" "idle"; do
        grep -q "^$w " "$out" || { echo "b_agent: no '$w' figures ($b)" >&2; exit 1; }
    done
    awk '$1 == "mem" && ($4 <= 0 || $5 <= 0 || $4 < $5 || $4 > 1048576) { bad = 1 }
         $1 == "startup" && ($4 <= 0 || $4 > 20000) { bad = 1 }
         $1 == "idle" && ($4 <= 0 || $6 <= 0 || $7 <= 0 || $8 <= 0) { bad = 1 }
         END { exit bad }' "$out" || { echo "b_agent: implausible figures ($b):" >&2; cat "$out" >&2; exit 1; }
done

# The figures of build K: use K first (sets $out and $what).
use() {
    out=$BENCH_TMP/out.$1
    if [ "$1" = 0 ]; then what="dynamic, \`$(basename "${builds[$1]}")\`"; else what="static, \`$(basename "${builds[$1]}")\`"; fi
}
# column c of the lines starting with the words w: "median | min | max",
# or (cell) "median (min–max)"
mmm() { # WORDS COLUMN [FORMAT]
    awk -v w="$1" -v c="$2" 'index($0, w " ") == 1 { print $c }' "$out" | bench_stats |
        awk -v f="${3:-%.1f}" '{ printf f " | " f " | " f, $1, $2, $3 }'
}
cell() { # WORDS COLUMN
    awk -v w="$1" -v c="$2" 'index($0, w " ") == 1 { print $c }' "$out" | bench_stats |
        awk '{ printf "%d (%d–%d)", $1, $2, $3 }'
}
med() { awk -v w="$1" -v c="$2" 'index($0, w " ") == 1 { print $c }' "$out" | bench_stats | cut -d' ' -f1; }
ne_med() { cut -d' ' -f"$1" "$BENCH_TMP/ne.mem" | bench_stats | cut -d' ' -f1; }
ne_rss=$(ne_med 1) ne_pd=$(ne_med 2)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
goal() { # WORDS COLUMN LIMIT_KB: the highest sample against the goal
    awk -v w="$1" -v c="$2" -v l="$3" 'index($0, w " ") == 1 && $c > m { m = $c }
        END { print (m <= l ? "met" : "NOT met") " (highest " m " kB)" }' "$out"
}
use 0
first=$(awk '$1 == "mem" { print $3; exit }' "$out")
phases=(steady)
grep -q '^mem burst ' "$out" && phases+=(burst)
names=()
for k in "${!builds[@]}"; do names+=("\`$(basename "${builds[$k]}")\`"); done

cat <<MD
## Agent: memory, idle cost and startup of \`fleetmedic-agent run\`

The node: a healthy incident 1 node from the test harness's real parts (etcd over
mTLS with kubeadm's PKI; a private dockerd running the apiserver pod's attempt 24
and its sandbox; journal files written by systemd-journal-remote and followed with
--journal-dir; the apiserver TLS stand-in; the real /dev/kmsg; the board under the
node's root) and \`fleetmedic-controller serve\` (DTLS-PSK) every agent reports to.
The agents run with the defaults (collection of etcd, apiserver and board every
10 s, heartbeat 120 s) but \`--save-interval 0\`: the cursor persisted after every batch is
how an agent is seen to have read to the journal's end. Builds measured, one after the other on the same node: ${names[*]}.
\`$(basename "$build")\` is the optimised dynamic build (the build machine's shared libraries)$(
  [ "${#builds[@]}" = 2 ] && printf '; %s is the boards'"'"' static configuration (make cross: -Os, LTO, --gc-sections, stripped, Mbed TLS trimmed by toolchains/mbedtls-target.h, libsystemd.a from Debian 12'"'"'s systemd source) built for x86_64 (toolchains/deps.sh x86_64-linux-gnu, make cross-x86_64-linux-gnu), so the board'"'"'s memory is measured natively' "${names[1]}").
Command: \`bench/b_agent.sh BUILD_DIR\`, i.e. per build \`${cmd[*]##*/}\`
(bench/agent_bench.c), with 3 \`prometheus-node-exporter --web.listen-address=127.0.0.1:PORT\`
beside the first (scraped every 5 s, their memory read after ${secs} s).

### Memory: $n agents side by side (kB: median, and min–max over the agents)

| build | after | VmRSS | Private_Dirty | RssAnon | RssFile |
| --- | --- | --- | --- | --- | --- |
MD
for k in "${!builds[@]}"; do
    use "$k"
    for ph in "${phases[@]}"; do
        label="${steady} s, a journal trickle (5 entries every 2 s)"
        [ "$ph" = burst ] && label="a burst of $burst entries, once read (the persisted cursor at the journal's end $(med "burst" 4) ms after the append)"
        echo "| $what | $label | $(cell "mem $ph" 4) | $(cell "mem $ph" 5) | $(cell "mem $ph" 6) | $(cell "mem $ph" 7) |"
    done
done
echo "| anchor | node_exporter, same run as the first (median of 3) | $ne_rss | $ne_pd | $(ne_med 3) | $(ne_med 4) |"
echo
for k in "${!builds[@]}"; do
    use "$k"
    echo "- agent ($what) / node_exporter: VmRSS **$(ratio "$(med "mem steady" 4)" "$ne_rss")×**, Private_Dirty **$(ratio "$(med "mem steady" 5)" "$ne_pd")×** (steady)$(
      [ "${#phases[@]}" = 2 ] && echo "; after the burst $(ratio "$(med "mem burst" 4)" "$ne_rss")× and $(ratio "$(med "mem burst" 5)" "$ne_pd")×")"
done
for k in "${!builds[@]}"; do
    use "$k"
    echo "- goal VmRSS ≤ 4096 kB ($what): steady $(goal "mem steady" 4 4096)$([ "${#phases[@]}" = 2 ] && echo ", after the burst $(goal "mem burst" 4 4096)")"
done
for k in "${!builds[@]}"; do
    use "$k"
    echo "- goal Private_Dirty ≤ 1024 kB ($what): steady $(goal "mem steady" 5 1024)$([ "${#phases[@]}" = 2 ] && echo ", after the burst $(goal "mem burst" 5 1024)")"
done
cat <<MD

Where it goes ($first, /proc/PID/smaps grouped by mapping; kB; a static
agent's libc, libsystemd, Mbed TLS ... are in its own binary's mapping):

MD
for k in "${!builds[@]}"; do
    use "$k"
    for ph in "${phases[@]}"; do
        awk -v ph="$ph" -v a="$first" -v what="$what" '$1 == "map" && $2 == ph && $3 == a {
                n = $4
                if (n ~ /\.journal$/) { jr += $5 } else if (n ~ /^lib|^ld-linux/) { lr += $5; lp += $6 }
                else if (n == "[heap]" || n == "[anon]") { hr += $5; hp += $6 }
                else if (n == "fleetmedic-agent") { ar += $5; ap += $6 }
                else { xr += $5; xp += $6 }
            }
            END {
                printf "- %s, %s: heap and anonymous %d (dirty %d); the agent binary %d (dirty %d); shared libraries %d (dirty %d); journal files (sd-journal mmap) %d; stack and the rest %d (dirty %d)\n",
                    what, ph, hr, hp, ar, ap, lr, lp, jr, xr, xp
            }' "$out"
    done
done
for k in "${!builds[@]}"; do
    use "$k"
    echo
    echo "| mapping ($first, $what) | steady Rss kB | steady Private_Dirty kB | burst Rss kB | burst Private_Dirty kB |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    awk -v a="$first" '$1 == "map" && $3 == a && ($2 == "steady" || $2 == "burst") {
            if (!(($4) in seen)) { seen[$4] = 1; order[++m] = $4 }
            r[$2, $4] = $5; d[$2, $4] = $6
        }
        END {
            for (i = 1; i <= m && i <= 12; i++) {
                x = order[i]
                printf "| %s | %d | %d | %s | %s |\n", x, r["steady", x], d["steady", x],
                    (("burst", x) in r) ? r["burst", x] : "–", (("burst", x) in d) ? d["burst", x] : "–"
            }
        }' "$out"
done

# The verdict on the worst agent (its rate over all its windows), not on
# the average of them all: FIELD of the idle lines / DIVISOR against GOAL.
worst() { # FIELD DIVISOR GOAL FORMAT
    awk -v f="$1" -v d="$2" -v g="$3" -v fmt="$4" '$1 == "idle" { s[$2] += $f; t[$2] += $4 }
        END {
            for (a in s) { r = s[a] / t[a] / d; if (!(w in s) || r > best) { best = r; w = a } }
            printf "%s (the worst agent, %s: " fmt ")", best <= g ? "met" : "NOT met", w, best
        }' "$out"
}

cat <<MD

### Idle: nothing written to any part of the node ($windows windows of ${window} s × $n agents)

| build | per agent | median | min | max | goal |
| --- | --- | ---: | ---: | ---: | --- |
MD
for k in "${!builds[@]}"; do
    use "$k"
    cat <<MD
| $what | CPU s per minute (utime + stime, /proc/PID/stat) | $(awk '$1 == "idle" { print $5 / $6 * 60 / $4 }' "$out" | bench_stats | awk '{ printf "%.3f | %.3f | %.3f", $1, $2, $3 }') | |
| $what | % of one core (/proc/PID/task/*/schedstat) | $(awk '$1 == "idle" { print $8 / 1e9 / $4 * 100 }' "$out" | bench_stats | awk '{ printf "%.3f | %.3f | %.3f", $1, $2, $3 }') | ≤ 0.1 % |
| $what | context switches per minute (voluntary + nonvoluntary, every thread) | $(awk '$1 == "idle" { print $7 * 60 / $4 }' "$out" | bench_stats | awk '{ printf "%.0f | %.0f | %.0f", $1, $2, $3 }') | |
| $what | wake-ups per second (context switches / s) | $(awk '$1 == "idle" { print $7 / $4 }' "$out" | bench_stats | awk '{ printf "%.2f | %.2f | %.2f", $1, $2, $3 }') | ≤ 1 |
MD
done
echo
for k in "${!builds[@]}"; do
    use "$k"
    echo "- goal ≤ 1 wake-up per second ($what): $(worst 7 1 1 "%.2f")"
    echo "- goal ≤ 0.1 % of a core ($what): $(worst 8 1e7 0.1 "%.3f %%")"
done
cat <<'MD'
- what wakes an idle agent (strace -f of one, 2026-12-07): only the collection every 10 s,
  about 19 returns of epoll_wait within ~40 ms: a new TCP connection to etcd and one to the
  apiserver, each TLS handshake's flights, one request and answer per etcd call, the board
  reads. Nothing in between (the heartbeat is every 120 s). Before c0ea85c each etcd request
  also waited 40 ms for etcd's delayed ACK of its head (head and body were two writes
  without TCP_NODELAY): a collection took ~300 ms. The rate is the collection's round trips
  over 10 s, so agents differ by what their node answers. Next lever: keep the connections
  to etcd and the apiserver open from one collection to the next (fm_httpc keeps a
  connection alive; the probes open a new one each time), which takes the handshakes'
  wake-ups away, about half; or TLS session resumption.
MD

cat <<MD

### Startup: exec to READY=1 ($runs runs each, one agent at a time, a fresh state dir each)

| build | run's configuration | median ms | min ms | max ms |
| --- | --- | ---: | ---: | ---: |
MD
for k in "${!builds[@]}"; do
    use "$k"
    echo "| $what | every source on (the node above) | $(mmm "startup full" 4) |"
    echo "| $what | nothing configured (empty root and journal dir, --kmsg none; the controller only) | $(mmm "startup empty" 4) |"
done
cat <<MD

From just before fork+exec (agent_bench) to the arrival of the sd_notify datagram
holding READY=1 on the AF_UNIX socket named by NOTIFY_SOCKET.
MD
