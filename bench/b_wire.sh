#!/usr/bin/env bash
# Bytes on the wire between `fleetmedic-agent run` and `fleetmedic-controller
# serve` (issue 8, issue 10 item 3): tests/integration/test_wire starts both
# on loopback (DTLS-PSK, Connection ID), captures every datagram with tcpdump
# on lo (filter: the controller's UDP port) and writes each one's IP length
# (IP, UDP and DTLS headers included), direction, DTLS content type and
# phase. The node: a fixture board without faults (generic-aarch64, ext4
# errors cleared), no etcd or apiserver configured, no Docker engine (so
# container-runtime-down and, on a VM without NTP, clock-unsynced stay
# raised: a constant set, which is what an idle link carries). The heartbeat
# is shortened to 1 s and scaled to the default 120 s (30 an hour): an idle
# heartbeat's size does not depend on the interval.
set -euo pipefail
build=${1:?usage: bench/b_wire.sh BUILD-DIR}
cycles=${WIRE_CYCLES:-40}
bin="$build/tests/test_wire"
tsv=$(mktemp)
trap 'rm -f "$tsv"' EXIT
out=$(FMH_WIRE_CYCLES=$cycles FMH_WIRE_TSV="$tsv" FM_AGENT="$build/firmware-agent/fleetmedic-agent" \
      FM_CONTROLLER="$build/fleet-controller/fleetmedic-controller" "$bin" 2>&1) || {
    echo "$out" | grep -v '^fleetmedic' | tail -20 >&2; exit 1; }

# median / min / max of a column of numbers on stdin
stats() { sort -n | awk '{a[NR]=$1} END{ if (NR) printf "%s / %s / %s", a[int((NR+1)/2)], a[1], a[NR]; else printf "-" }'; }
sum() { awk -v p="$1" -v d="$2" '$5==p && (d=="" || $2==d) {s+=$3} END{print s+0}' "$tsv"; }
cnt() { awk -v p="$1" -v d="$2" '$5==p && (d=="" || $2==d) {n++} END{print n+0}' "$tsv"; }

hs_bytes=$(sum handshake ""); hs_n=$(cnt handshake "")
setup_bytes=$(sum setup ""); setup_n=$(cnt setup "")
# idle slots: each up datagram starts one; a down one in the slot is its ACK
idle_bytes=$(sum idle ""); idle_up=$(cnt idle up); idle_down=$(cnt idle down)
# a slot is confirmable when a down datagram follows its up one
slots=$(awk '$5=="idle"' "$tsv" | awk '{ if ($2=="up") { if (n) print kind, up, down; n=1; up=$3; down=0; kind="non" } else { down=$3; kind="con" } } END{ if (n) print kind, up, down }')
non_up=$(echo "$slots" | awk '$1=="non"{print $2}' | stats)
con_up=$(echo "$slots" | awk '$1=="con"{print $2}' | stats)
con_ack=$(echo "$slots" | awk '$1=="con"{print $3}' | stats)
non_n=$(echo "$slots" | awk '$1=="non"' | wc -l)
con_n=$(echo "$slots" | awk '$1=="con"' | wc -l)
per_hb=$(awk -v b="$idle_bytes" -v n="$idle_up" 'BEGIN{printf "%.1f", b/n}')
hour=$(awk -v b="$idle_bytes" -v n="$idle_up" 'BEGIN{printf "%.0f", 30*b/n}')
rp_up=$(awk '$5=="report" && $2=="up"{print $3}' "$tsv" | sort -n | tail -1)
rp_ack=$(awk '$5=="report" && $2=="down"{print $3}' "$tsv" | head -1)
verdict=$([ "$hour" -le 4096 ] && echo "met" || echo "NOT met")

cat <<MD
## Uplink: bytes on the wire

\`fleetmedic-agent run\` and \`fleetmedic-controller serve\` on loopback, DTLS 1.2
PSK (TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256, Connection ID on the
agent's records), captured by tcpdump on lo; every figure is the IP length
(IP 20 + UDP 8 + DTLS record + CoAP), both directions. $idle_up idle
heartbeats at 1 s ($cycles cycles of three), scaled to 30 an hour (120 s).

| what | datagrams | bytes: median / min / max per datagram | total |
| --- | --- | --- | --- |
| DTLS handshake (ClientHello, HelloVerifyRequest, ClientHello+cookie, ServerHello…HelloDone, ClientKeyExchange…Finished, ChangeCipherSpec+Finished) | $hs_n | $(awk '$5=="handshake"{print $3}' "$tsv" | stats) | $hs_bytes |
| session set-up (GET /me, the raised set's report, first heartbeat, their answers) | $setup_n | $(awk '$5=="setup"{print $3}' "$tsv" | stats) | $setup_bytes |
| idle heartbeat, non-confirmable, empty, No-Response 2.xx (nothing comes back) | $non_n | $non_up | |
| idle heartbeat, confirmable (every third: is the session there?) | $con_n | $con_up | |
| its acknowledgement | $con_n | $con_ack | |
| incident 1's first evidence: report (kubelet's line only, no Docker: ~430 B of JSON) + its ACK | 2 | $rp_up + $rp_ack | $((rp_up + rp_ack)) |

- per idle heartbeat, everything included: **$per_hb bytes** ($idle_bytes bytes over $idle_up heartbeats, $idle_down answers)
- a healthy node's hour (30 heartbeats, no handshake: the session outlives
  the hour, see below): **$hour bytes**
- goal a healthy node's hour on the wire ≤ 4096 bytes: $verdict ($hour bytes)
- before this change (commit b8b4637, same capture): every heartbeat a
  confirmable POST with its JSON, answered 2.04: 129 + 63 = 192 bytes a
  heartbeat, 5760 bytes an hour.
- nothing else in an idle hour: libcoap's client sends no keep-alive unless
  coap_context_set_keepalive() is called (we do not); the controller frees a
  server session idle for FC_SERVER_SESSION_IDLE_S (1200 s; libcoap's
  COAP_DEFAULT_SESSION_TIMEOUT is 300 s), and keeps the session a node last
  spoke on referenced for triage relaying anyway; Mbed TLS has no DTLS
  session timer once the handshake is done, and renegotiation is off.

Command: \`FMH_WIRE_CYCLES=$cycles FMH_WIRE_TSV=FILE $bin\` (bench/b_wire.sh)
MD
