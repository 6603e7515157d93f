#!/usr/bin/env bash
# make demo: a real etcd with a kubeadm-like PKI on loopback, and
# fleetmedic-agent probing it over mTLS -- healthy, then with the faults the
# tests cover, then etcd gone. Everything started here is stopped by pid on
# exit, also on Ctrl-C or failure.
set -euo pipefail

agent=$(readlink -f "${1:?usage: demo.sh PATH-TO-fleetmedic-agent}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetmedic-demo.XXXXXX")
etcd_pid=

cleanup() {
    if [ -n "$etcd_pid" ] && kill -0 "$etcd_pid" 2>/dev/null; then
        kill "$etcd_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$etcd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$etcd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { # first port from $1 nobody listens on
    local p=$1
    while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
    echo "$p"
}

title() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*" | sed "s|$work|\$DEMO|g"; "$@" || true; }

title "A kubeadm-like PKI under $work (the node's / for the agent: --root)"
"$here/pki.sh" "$work/root" pi-master1
pki="$work/root/etc/kubernetes/pki/etcd"
ls "$pki"

cport=$(free_port 23790)
pport=$(free_port $((cport + 1)))
url="https://127.0.0.1:$cport"
title "etcd $(etcd --version | head -1 | cut -d' ' -f3) on $url, with --client-cert-auth"
etcd --name pi-master1 --data-dir "$work/etcd" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "pi-master1=http://127.0.0.1:$pport" \
    --client-cert-auth --trusted-ca-file "$pki/ca.crt" \
    --cert-file "$pki/server.crt" --key-file "$pki/server.key" >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 200); do
    grep -q 'ready to serve client requests' "$work/etcd.log" && break
    kill -0 "$etcd_pid" 2>/dev/null || { cat "$work/etcd.log"; exit 1; }
    sleep 0.1
done
grep -q 'ready to serve client requests' "$work/etcd.log" || { tail "$work/etcd.log"; exit 1; }
echo "etcd is up (pid $etcd_pid)"

title "The agent finds kubeadm's healthcheck client certificate under --root"
show "$agent" probe etcd --root "$work/root" --etcd "$url"
show "$agent" probe etcd --root "$work/root" --etcd "$url" --json

title "Faults the agent tells apart"
show "$agent" probe etcd --etcd "$url" --etcd-ca "$work/root/test-pki/wrong-ca.crt" \
    --etcd-cert "$pki/healthcheck-client.crt" --etcd-key "$pki/healthcheck-client.key"
show "$agent" probe etcd --etcd "$url" --etcd-ca "$pki/ca.crt" \
    --etcd-cert "$work/root/test-pki/expired-client.crt" --etcd-key "$work/root/test-pki/expired-client.key"
show "$agent" probe etcd --etcd "$url" --etcd-ca "$pki/ca.crt"

title "etcd stopped: 2379 refuses"
kill "$etcd_pid"; wait "$etcd_pid" 2>/dev/null || true
show "$agent" probe etcd --root "$work/root" --etcd "$url"

title "Done; everything started here is stopped and $work removed"
