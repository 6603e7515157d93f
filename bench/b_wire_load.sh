#!/usr/bin/env bash
# b_wire_load.sh BUILD_DIR: bytes on the wire of our protocol (issue 10 item 3),
# from a capture on lo (tcpdump; bench/lib.sh bench_capture_*): IP datagrams
# whole, i.e. IP + UDP headers + DTLS records + CoAP.
#
# For now the controller's side with a generated client (bench/coap_load
# wire: libcoap + Mbed TLS through fm_coap, as the agent's uplink): one
# session that only completes the DTLS-PSK handshake, one that sends K
# healthy heartbeats, one that sends K incident-1-sized reports, one request
# at a time, each session closed (close_notify) before the next. Told apart
# by source port; per exchange = (bytes of the heartbeat session − bytes of
# the handshake-only session) / K, so the handshake and the close cancel.
# The agent's own figures (`fleetmedic-agent run`, healthy node-hour from
# its real heartbeats) are bench/b_wire.sh's.
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_wire_load.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
runs=${BENCH_WIRE_RUNS:-3}
count=20
seed=7
bench_init
bench_controller "$build" 3 "$seed"

for f in hs hs_pk hb hb_pk rp rp_pk; do : >"$BENCH_TMP/$f"; done
for r in $(seq "$runs"); do
    bench_serve "$BENCH_TMP/run$r"
    port=$BENCH_SERVE_PORT
    bench_capture_start "udp port $port" "$BENCH_TMP/wire$r.pcap"
    out=$("$BENCH_LOAD" wire --server "127.0.0.1:$port" --count "$count" --seed "$seed") || {
        echo "$out" >&2; tail -20 "$BENCH_TMP/run$r/serve.log" >&2; exit 1; }
    bench_capture_stop
    bench_stop "$BENCH_SERVE_PID"
    v() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$out"; }
    read -r k0 b0 <<<"$(bench_capture_bytes "$BENCH_TMP/wire$r.pcap" "$(v port_handshake)")"
    read -r k1 b1 <<<"$(bench_capture_bytes "$BENCH_TMP/wire$r.pcap" "$(v port_hb)")"
    read -r k2 b2 <<<"$(bench_capture_bytes "$BENCH_TMP/wire$r.pcap" "$(v port_rp)")"
    [ "$k0" -gt 0 ] || { echo "b_wire: the capture holds no packet of the handshake session" >&2; exit 1; }
    echo "$b0" >>"$BENCH_TMP/hs"; echo "$k0" >>"$BENCH_TMP/hs_pk"
    awk -v a="$b1" -v b="$b0" -v k="$count" 'BEGIN { print (a - b) / k }' >>"$BENCH_TMP/hb"
    awk -v a="$k1" -v b="$k0" -v k="$count" 'BEGIN { print (a - b) / k }' >>"$BENCH_TMP/hb_pk"
    awk -v a="$b2" -v b="$b0" -v k="$count" 'BEGIN { print (a - b) / k }' >>"$BENCH_TMP/rp"
    awk -v a="$k2" -v b="$k0" -v k="$count" 'BEGIN { print (a - b) / k }' >>"$BENCH_TMP/rp_pk"
    # a retransmission would be counted as part of an exchange
    for f in hb_pk rp_pk; do
        [ "$(tail -1 "$BENCH_TMP/$f")" = 2 ] || {
            echo "b_wire: $(tail -1 "$BENCH_TMP/$f") datagrams per ${f%_pk} exchange, not 2 (a retransmission?)" >&2; exit 1; }
    done
    hb_payload=$(v hb_bytes); rp_payload=$(v rp_bytes)
    cid=$(sed -n 's/.*Connection ID \([a-z]*\).*/\1/p' "$BENCH_TMP/run$r/serve.log" | head -1)
done

anchor=
if [ -r "$build/bench-anchor.env" ]; then
    # shellcheck disable=SC1091 # written by b_node_exporter.sh
    . "$build/bench-anchor.env"
    anchor=$(awk -v hb="$(bench_stats <"$BENCH_TMP/hb" | cut -d' ' -f1)" -v g="$ANCHOR_WIRE_GZIP_B" -v p="$ANCHOR_WIRE_PLAIN_B" -v w="$ANCHOR_WHEN" 'BEGIN {
        printf "Beside the anchor (b_node_exporter.sh, measured %s): a node_exporter scrape every 15 s\n", w
        printf "carries %.0f kB per hour with gzip (%.0f kB plain); heartbeats every 120 s at these figures %.1f kB,\n", g * 240 / 1000, p * 240 / 1000, hb * 30 / 1000
        printf "**%.0fx** less than the gzip scrape.\n", (g * 240) / (hb * 30) }')
fi
row() { bench_stats <"$1" | awk -v p="${2:-0}" '{ printf "%.*f | %.*f | %.*f", p, $1, p, $2, p, $3 }'; }
read -r hb _ <<<"$(bench_stats <"$BENCH_TMP/hb")"
read -r hs _ <<<"$(bench_stats <"$BENCH_TMP/hs")"
hour() { awk -v b="$hb" -v i="$1" 'BEGIN { printf "%.0f", 3600 / i * b }'; }

cat <<MD
## Bytes on the wire: controller side, generated client

A capture on lo (\`tcpdump -i lo "udp port PORT"\`), each datagram counted whole
from its IP header on (IP + UDP + DTLS record + CoAP; the link's own framing
left out), between \`fleetmedic-controller serve\` and \`coap_load wire --count $count\`
(libcoap 4.3.5 + Mbed TLS 3.6 through fm_coap, DTLS-PSK, Connection ID asked
for; the controller said "Connection ID ${cid:-?}"). $runs runs, median with min and max.
Payloads: heartbeat $hb_payload bytes of JSON (healthy: \`{"q":0,"n":0,"w":0,"h":"811c9dc5","i":120}\`),
report $rp_payload bytes (incident 1 cut to the 320-byte budget, as in b_controller).

| exchange | bytes median | min | max | datagrams |
| --- | ---: | ---: | ---: | ---: |
| heartbeat: CON POST /hb + piggybacked 2.04 ACK | $(row "$BENCH_TMP/hb" 1) | $(bench_stats <"$BENCH_TMP/hb_pk" | cut -d' ' -f1) |
| incident-1 report: CON POST /rp + piggybacked 2.04 ACK | $(row "$BENCH_TMP/rp" 1) | $(bench_stats <"$BENCH_TMP/rp_pk" | cut -d' ' -f1) |
| DTLS-PSK session: handshake (with cookie exchange) + close_notify | $(row "$BENCH_TMP/hs" 0) | $(bench_stats <"$BENCH_TMP/hs_pk" | cut -d' ' -f1) |

A node-hour if every heartbeat were a confirmable POST with its JSON (this client's way,
not the agent's), on one long-lived session: every 60 s $(hour 60) B, every 120 s $(hour 120) B,
every 300 s $(hour 300) B. A session that has to be set up again (serve frees a server session
idle for FC_SERVER_SESSION_IDLE_S, 1200 s; a NAT binding may expire sooner) costs
$(awk -v h="$hs" 'BEGIN { printf "%.0f", h }') B more each time. Command: \`bench/b_wire_load.sh BUILD_DIR\`.
The goal (a healthy node-hour ≤ 4 kB) is judged on the agent's own figure, from \`run\`
(non-confirmable empty heartbeats, every third confirmable, GET /me per session): the
"Uplink: bytes on the wire" section (b_wire.sh).
${anchor:+
$anchor}
MD
