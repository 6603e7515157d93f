#!/usr/bin/env bash
# `fleetmedic-agent check` wall time with every server down (issue 7: under
# 3 s; issue 10 item 5). Three ways of being down, each the worst of its kind:
#   refused     nothing listens on 2379 / 6443, no Docker socket
#   silent      etcd, apiserver and Docker accept the connection and never
#               answer (a blackholed TLS handshake: every request runs into
#               its deadline)
#   leaderless  a real etcd that lost quorum (1 of 3 members started: it
#               answers TLS but has no leader), apiserver and Docker silent
# The node's PKI (tests/harness/pki.sh) is under --root, so the agent also
# reads and checks every certificate as on a real node.
set -euo pipefail
build=${1:?usage: b_check.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
agent=$build/firmware-agent/fleetmedic-agent
[ -x "$agent" ] || { echo "b_check: $agent missing" >&2; exit 1; }
runs=7
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

"$here/../tests/harness/pki.sh" "$work/root" pi-master1 >/dev/null
mkdir -p "$work/journal"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Listeners that accept and never answer: TCP ports and a unix socket.
silent_tcp1=$(port); silent_tcp2=$(port)
python3 - "$silent_tcp1" "$silent_tcp2" "$work/silent.sock" <<'PY' &
import socket, sys, time
ls = []
for p in sys.argv[1:3]:
    s = socket.socket(); s.bind(("127.0.0.1", int(p))); s.listen(64); ls.append(s)
u = socket.socket(socket.AF_UNIX); u.bind(sys.argv[3]); u.listen(64); ls.append(u)
held = []
while True:
    for s in ls:
        s.setblocking(False)
        try:
            held.append(s.accept())
        except BlockingIOError:
            pass
    time.sleep(0.01)
PY
pids+=($!)

# etcd without quorum: member 1 of a 3-member cluster whose others never start.
pki=$work/root/etc/kubernetes/pki/etcd
cport=$(port); pport=$(port); p2=$(port); p3=$(port)
etcd --name m1 --data-dir "$work/etcd" \
    --listen-client-urls "https://127.0.0.1:$cport" --advertise-client-urls "https://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "m1=http://127.0.0.1:$pport,m2=http://127.0.0.1:$p2,m3=http://127.0.0.1:$p3" \
    --client-cert-auth --trusted-ca-file "$pki/ca.crt" \
    --cert-file "$pki/server.crt" --key-file "$pki/server.key" >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$cport") 2>/dev/null && break
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$silent_tcp1") 2>/dev/null || { echo "b_check: silent listener not up" >&2; exit 1; }
[ -S "$work/silent.sock" ] || { echo "b_check: silent socket not up" >&2; exit 1; }

refused1=$(port); refused2=$(port)
declare -A args=(
    [refused]="--etcd https://127.0.0.1:$refused1 --apiserver https://127.0.0.1:$refused2 --docker-host unix://$work/none.sock"
    [silent]="--etcd https://127.0.0.1:$silent_tcp1 --apiserver https://127.0.0.1:$silent_tcp2 --docker-host unix://$work/silent.sock"
    [leaderless]="--etcd https://127.0.0.1:$cport --apiserver https://127.0.0.1:$silent_tcp2 --docker-host unix://$work/silent.sock"
)

echo "## check with every server down"
echo
echo "Command: \`fleetmedic-agent check --json --kmsg none --journal-dir EMPTY --root PKI-TREE"
echo "--etcd URL --apiserver URL --docker-host unix://SOCK\` (default per-request deadline,"
echo "1 s), $runs runs per case; wall time from exec to exit. Budget (issue 7): under 3 s."
echo
echo "| servers | etcd's state as the agent saw it | median s | min s | max s | exit | budget |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
status=0 worst=0
for case in refused silent leaderless; do
    times=() rc=0 state=
    for _ in $(seq $runs); do
        t0=$(date +%s%N)
        # shellcheck disable=SC2086 # the options are words
        out=$("$agent" check --json --kmsg none --journal-dir "$work/journal" --root "$work/root" ${args[$case]}) || rc=$?
        t1=$(date +%s%N)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
        state=$(python3 -c 'import json,sys; f=[x for x in json.load(sys.stdin)["facts"] if x.get("kind")=="etcd.endpoint"]; print(f[0].get("state","?") if f else "none")' <<<"$out" 2>/dev/null || echo "?")
    done
    sorted=$(printf '%s\n' "${times[@]}" | sort -g)
    med=$(sed -n "$(( (runs + 1) / 2 ))p" <<<"$sorted"); min=$(head -1 <<<"$sorted"); max=$(tail -1 <<<"$sorted")
    ok=$(awk -v m="$max" 'BEGIN { print (m < 3) ? "met" : "MISSED" }')
    [ "$ok" = met ] || status=1
    worst=$(awk -v a="$worst" -v b="$max" 'BEGIN { print (b > a) ? b : a }')
    echo "| $case | $state | $med | $min | $max | $rc | < 3 s (max): $ok |"
done
echo
echo "- goal check with every server down, under 3 s: $(awk -v m="$worst" 'BEGIN { print (m < 3) ? "met" : "NOT met" }') (the slowest run $worst s)"
echo
echo "Sources are asked side by side (fm_gather: each source in a child process of its own),"
echo "each request with its own 1 s deadline but the apiserver's /livez, which is given 2.5 s"
echo "(FM_APISERVER_HEALTH_MS: kube-apiserver's own etcd check may take 2 s before it answers);"
echo "the whole gathering is cut at 2.8 s. \"silent\" is the worst case: every request waits its"
echo "whole deadline, in parallel, so the slowest source, the apiserver's 2.5 s, is the time."
exit $status
