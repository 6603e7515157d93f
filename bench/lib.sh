# bench/lib.sh: helpers shared by bench/b_*.sh (sourced, not run).
#
#   bench_init                 a temp dir ($BENCH_TMP) and an EXIT trap that stops
#                              every process started with bench_track, by pid, and
#                              removes the temp dir
#   bench_track PID            stop PID at exit (TERM, then KILL after 5 s)
#   bench_stop PID             stop it now, the same way, and reap it
#   bench_stats                numbers on stdin, one a line -> "MEDIAN MIN MAX COUNT"
#   bench_mem PID              -> "VmRSS Private_Dirty RssAnon RssFile" in kB
#                              (/proc/PID/status and /proc/PID/smaps_rollup)
#   bench_free_port tcp|udp    a free port on 127.0.0.1 a moment ago
#   bench_wait_listen tcp|udp PORT [SECONDS]
#                              until something listens on 127.0.0.1:PORT (default 10 s)
#   bench_wait_line FILE REGEX [SECONDS] [PID]
#                              until FILE holds a line matching REGEX (grep -E); fails
#                              at the deadline (default 30 s) or when PID exits
#   bench_capture_start FILTER PCAP
#                              tcpdump on lo with the BPF FILTER into PCAP; returns once
#                              tcpdump captures; its pid in $BENCH_CAPTURE_PID (tracked)
#   bench_capture_stop         stops that tcpdump; fails when the kernel dropped packets
#   bench_capture_bytes PCAP [PORT]
#                              -> "PACKETS BYTES": the IP datagrams in PCAP (to or from
#                              PORT when given), BYTES their IP total length, i.e. the
#                              IP and UDP/TCP headers and everything above them (what a
#                              link carries, without the link layer's own framing)
#   bench_controller BUILD_DIR NODES SEED
#                              the controller and the load generator: $BENCH_CTL,
#                              $BENCH_LOAD (checked), and a --keys file for coap_load's
#                              NODES nodes in $BENCH_KEYS
#   bench_serve DIR [CMD...]   `fleetmedic-controller serve` on a free UDP port of
#                              127.0.0.1 with $BENCH_KEYS and a fresh DIR/fleet.db (or
#                              --db $BENCH_SERVE_DB when set: a PostgreSQL database), run
#                              under CMD when given (e.g. taskset -c 0); returns once it
#                              listens: $BENCH_SERVE_PID (tracked), $BENCH_SERVE_PORT,
#                              log in DIR/serve.log
#   bench_ne_start N           the anchor: N instances of Debian's prometheus-node-exporter
#                              (default collectors), each on a free port of 127.0.0.1;
#                              returns once each listens: $BENCH_NE (the binary),
#                              BENCH_NE_PORTS and BENCH_NE_PIDS (tracked)
#   bench_ne_scrape PORT [gzip]
#                              one scrape of /metrics -> the body's bytes as received
#   bench_ne_scrape_for SECONDS EVERY PLAIN GZIP
#                              scrapes every instance (plain, then gzip) every EVERY s for
#                              SECONDS, appending each body's size to the file PLAIN or GZIP
#   bench_ne_mem               bench_mem of every instance, one line each
#
# Every waiting function polls with a deadline: none sleeps "long enough".
# What these start runs under $BENCH_GUARD (setpriv --pdeathsig TERM): it is
# stopped by pid at exit, and by the kernel should the script be killed.

BENCH_PIDS=()
BENCH_GUARD=(setpriv --pdeathsig TERM)
BENCH_TMP=
BENCH_CAPTURE_PID=
BENCH_CAPTURE_LOG=
BENCH_CAPTURE_FILE=

bench_init() {
    BENCH_TMP=$(mktemp -d)
    trap bench_cleanup EXIT
}

bench_track() { BENCH_PIDS+=("$1"); }

bench_stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null && bench_stop "$p"
    done
    [ -n "$BENCH_TMP" ] && rm -rf "$BENCH_TMP"
    return 0
}

bench_stats() {
    sort -g | awk 'NF { a[++n] = $1 }
        END { if (!n) exit 1
              m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
              print m, a[1], a[n], n }'
}

bench_mem() {
    local pid=$1 st
    st=$(awk '/^(VmRSS|RssAnon|RssFile):/ { v[$1] = $2 }
        END { if (v["VmRSS:"] == "") exit 1; print v["VmRSS:"], v["RssAnon:"] + 0, v["RssFile:"] + 0 }' \
        "/proc/$pid/status") || return 1
    awk -v st="$st" '/^Private_Dirty:/ { pd = $2 }
        END { if (pd == "") exit 1; split(st, v, " "); print v[1], pd, v[2], v[3] }' "/proc/$pid/smaps_rollup"
}

bench_free_port() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

bench_wait_listen() {
    local proto=$1 port=$2 end=$(( $(date +%s) + ${3:-10} )) flag=-Htln
    [ "$proto" = udp ] && flag=-Huln
    until ss "$flag" "sport = :$port" | grep -q .; do
        [ "$(date +%s)" -lt "$end" ] || { echo "bench: nothing listens on $proto port $port" >&2; return 1; }
        sleep 0.05
    done
}

bench_wait_line() {
    local file=$1 re=$2 end=$(( $(date +%s) + ${3:-30} )) pid=${4:-}
    until grep -Eq "$re" "$file" 2>/dev/null; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            grep -Eq "$re" "$file" 2>/dev/null && return 0
            echo "bench: process $pid exited before '$re' showed in $file" >&2
            return 1
        fi
        [ "$(date +%s)" -lt "$end" ] || { echo "bench: no '$re' in $file in time" >&2; return 1; }
        sleep 0.02
    done
}

bench_capture_start() {
    local filter=$1 pcap=$2
    command -v tcpdump >/dev/null || { echo "bench: tcpdump missing (toolchains/host-packages.sh)" >&2; return 1; }
    BENCH_CAPTURE_LOG=$pcap.log
    BENCH_CAPTURE_FILE=$pcap
    "${BENCH_GUARD[@]}" tcpdump -i lo -n -U --immediate-mode -s 128 -w "$pcap" "$filter" 2>"$BENCH_CAPTURE_LOG" &
    BENCH_CAPTURE_PID=$!
    bench_track "$BENCH_CAPTURE_PID"
    bench_wait_line "$pcap.log" 'listening on' 10 "$BENCH_CAPTURE_PID"
}

bench_capture_stop() {
    local pid=$BENCH_CAPTURE_PID log=$BENCH_CAPTURE_LOG size last=-1 same=0 end got seen dropped
    # tcpdump writes what it has read; let it read what the kernel holds
    # (the file stops growing) before asking it to stop, and check after
    end=$(( $(date +%s) + 10 ))
    while [ "$same" -lt 3 ] && [ "$(date +%s)" -lt "$end" ]; do
        size=$(stat -c %s "$BENCH_CAPTURE_FILE" 2>/dev/null || echo 0)
        if [ "$size" = "$last" ]; then same=$((same + 1)); else same=0; last=$size; fi
        sleep 0.1
    done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    BENCH_CAPTURE_PID=
    got=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$log")
    seen=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter.*/\1/p' "$log")
    dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$log")
    # on lo the filter sees every packet twice (sent and received) and
    # tcpdump keeps one of them
    if [ -z "$got" ] || { [ "$got" != "$seen" ] && [ $((2 * got)) != "$seen" ]; } || [ "${dropped:-0}" != 0 ]; then
        echo "bench: tcpdump captured ${got:-?} of ${seen:-?} packets (${dropped:-?} dropped by the kernel); the byte counts would be short" >&2
        return 1
    fi
}

bench_capture_bytes() {
    python3 - "$@" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
port = int(sys.argv[2]) if len(sys.argv) > 2 else None
magic = data[:4]
if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    e = "<"
elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
    e = ">"
else:
    sys.exit("bench_capture_bytes: %s is not a pcap file" % sys.argv[1])
linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFFFFF
link = {1: 14, 113: 16, 276: 20, 0: 4, 12: 0, 101: 0}.get(linktype)
if link is None:
    sys.exit("bench_capture_bytes: link type %d not handled" % linktype)
off, packets, total = 24, 0, 0
while off + 16 <= len(data):
    incl, orig = struct.unpack(e + "II", data[off + 8:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    ip = pkt[link:]
    if not ip:
        continue
    v = ip[0] >> 4
    if v == 4:
        hl, proto = (ip[0] & 15) * 4, ip[9]
    elif v == 6:
        hl, proto = 40, ip[6]
    else:
        continue
    if port is not None:
        if proto not in (6, 17) or len(ip) < hl + 4:
            continue
        sp, dp = struct.unpack(">HH", ip[hl:hl + 4])
        if port not in (sp, dp):
            continue
    packets += 1
    total += orig - link
print(packets, total)
PY
}

bench_controller() {
    BENCH_CTL=$1/fleet-controller/fleetmedic-controller
    BENCH_LOAD=$1/bench/coap_load
    local b
    for b in "$BENCH_CTL" "$BENCH_LOAD"; do
        [ -x "$b" ] || { echo "bench: $b missing (cmake --build $1)" >&2; return 1; }
    done
    BENCH_KEYS=$BENCH_TMP/keys
    "$BENCH_LOAD" keys "$2" "$3" >"$BENCH_KEYS"
    chmod 600 "$BENCH_KEYS"
}

# BENCH_SERVE_EXTRA: more of serve's options (an array; empty by default);
# BENCH_SERVE_DB: serve's --db instead of DIR/fleet.db (empty by default)
BENCH_SERVE_EXTRA=()
BENCH_SERVE_DB=
bench_serve() {
    local dir=$1
    shift
    rm -rf "$dir" && mkdir -p "$dir"
    BENCH_SERVE_PORT=$(bench_free_port udp)
    "$@" "${BENCH_GUARD[@]}" "$BENCH_CTL" serve --listen "127.0.0.1:$BENCH_SERVE_PORT" --keys "$BENCH_KEYS" \
        --db "${BENCH_SERVE_DB:-$dir/fleet.db}" "${BENCH_SERVE_EXTRA[@]}" >"$dir/serve.log" 2>&1 &
    BENCH_SERVE_PID=$!
    bench_track "$BENCH_SERVE_PID"
    bench_wait_listen udp "$BENCH_SERVE_PORT" 10
}

bench_ne_start() {
    local i p
    BENCH_NE=$(command -v prometheus-node-exporter || true)
    [ -n "$BENCH_NE" ] || { echo "bench: prometheus-node-exporter missing (toolchains/host-packages.sh)" >&2; return 1; }
    BENCH_NE_PORTS=() BENCH_NE_PIDS=()
    for i in $(seq "$1"); do
        p=$(bench_free_port tcp)
        "${BENCH_GUARD[@]}" "$BENCH_NE" --web.listen-address="127.0.0.1:$p" >"$BENCH_TMP/ne$i.log" 2>&1 &
        BENCH_NE_PIDS+=($!)
        bench_track "$!"
        BENCH_NE_PORTS+=("$p")
    done
    for p in "${BENCH_NE_PORTS[@]}"; do bench_wait_listen tcp "$p" 10; done
}

bench_ne_scrape() {
    local h=()
    [ "${2:-}" = gzip ] && h=(-H 'Accept-Encoding: gzip')
    curl -sf "${h[@]}" -o /dev/null -w '%{size_download}\n' "http://127.0.0.1:$1/metrics"
}

bench_ne_scrape_for() {
    local secs=$1 every=$2 plain=$3 gzip=$4 t0 next now p
    t0=$(date +%s)
    next=$t0
    while [ "$(date +%s)" -lt $((t0 + secs)) ]; do
        for p in "${BENCH_NE_PORTS[@]}"; do
            bench_ne_scrape "$p" >>"$plain"
            bench_ne_scrape "$p" gzip >>"$gzip"
        done
        next=$((next + every))
        now=$(date +%s)
        # the scrape interval is the workload's schedule, not a wait for an event
        [ "$next" -gt "$now" ] && sleep $((next - now))
    done
    return 0
}

bench_ne_mem() {
    local pid
    for pid in "${BENCH_NE_PIDS[@]}"; do bench_mem "$pid" || return 1; done
}

# The five mappings with the most Private_Dirty in an smaps file:
# "[heap] 1328 kB, [stack] 164 kB, ..." (b_journal, b_board).
bench_smaps_by_mapping() { # SMAPS
    [ -r "$1" ] || { echo "(no smaps)"; return; }
    awk '/^[0-9a-f]+-[0-9a-f]+ / { m = (NF >= 6) ? $6 : "[anon]"; sub(/.*\//, "", m) }
         /^Private_Dirty:/ { pd[m] += $2 }
         END { for (k in pd) if (pd[k] > 0) printf "%d\t%s\n", pd[k], k }' "$1" |
        sort -nr | head -5 | awk -F'\t' '{ printf "%s%s %d kB", (NR > 1 ? ", " : ""), $2, $1 }'
}
