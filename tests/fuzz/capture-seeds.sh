#!/usr/bin/env bash
# capture-seeds.sh OUTDIR: records what real servers answer, as the seed
# corpora of the fuzz targets are made from it (tests/fuzz/corpus/*/cap-*):
#   - etcd 3.4 (Debian 12's etcd-server) and 3.5 (toolchains/test-tools.sh):
#     /version, /health, /livez?verbose, /readyz?verbose (3.5), the v3 JSON
#     gateway's maintenance status, alarm list, member list, a count-only
#     range, /metrics; and a 3.5 member whose only peer was stopped (no
#     leader: /health 503, a status without "leader");
#   - the kube-apiserver stand-in (tests/harness/apiserver_standin.py) with
#     incident 1's scenario and with etcd down: /livez and /readyz verbose,
#     /version, the node and pod lists, a 401 Status.
# Bodies go to OUTDIR/etcd, OUTDIR/apiserver, OUTDIR/promtext; whole
# responses as they came off the wire (status line, headers, chunked framing
# as sent: curl --raw) to OUTDIR/http. Only loopback; every server started is
# stopped by its pid at the end. Needs etcd, curl, openssl, python3.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
etcd35=$("$top/toolchains/test-tools.sh" --print-etcd35)
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$out"/{etcd,apiserver,promtext,http}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_url URL: until something answers (curl's own deadline, 20 s in all).
wait_url() {
	for _ in $(seq 100); do
		curl -sk -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.2
	done
	echo "capture-seeds: $1 never answered" >&2
	return 1
}

# get NAME URL [curl args]: the body to NAME, the whole response to http/.
get() {
	local dir=$1 name=$2 url=$3
	shift 3
	curl -sk --max-time 15 "$@" -o "$out/$dir/cap-$name" "$url" || true
	curl -sk --max-time 15 --raw -i "$@" -o "$out/http/cap-$dir-$name" "$url" || true
}

# start_etcd BIN NAME CLUSTER CLIENT_PORT PEER_PORT METRICS_PORT: one etcd
# member on plain http loopback ports (CLUSTER: --initial-cluster); its pid
# is the last of pids[].
start_etcd() {
	local bin=$1 name=$2 cluster=$3 cp=$4 pp=$5 mp=$6
	"$bin" --name "$name" --data-dir "$tmp/$name" \
		--listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
		--listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--listen-metrics-urls "http://127.0.0.1:$mp" --initial-cluster "$cluster" \
		--election-timeout 500 --heartbeat-interval 50 >"$tmp/$name.log" 2>&1 &
	pids+=($!)
}

# capture_etcd TAG CLIENT_PORT METRICS_PORT: what etcd answers.
capture_etcd() {
	local tag=$1 u=http://127.0.0.1:$2 mp=$3
	wait_url "$u/version"
	get etcd "$tag-version" "$u/version"
	get etcd "$tag-health" "$u/health" --max-time 12
	get etcd "$tag-livez" "$u/livez?verbose"
	get etcd "$tag-readyz" "$u/readyz?verbose" --max-time 12
	get etcd "$tag-status" "$u/v3/maintenance/status" -X POST -d '{}'
	get etcd "$tag-alarms" "$u/v3/maintenance/alarm" -X POST -d '{"action":"GET"}' --max-time 12
	get etcd "$tag-members" "$u/v3/cluster/member/list" -X POST -d '{}' --max-time 12
	get etcd "$tag-range" "$u/v3/kv/range" -X POST --max-time 12 \
		-d '{"key":"L3JlZ2lzdHJ5L21hc3RlcmxlYXNlcy8=","range_end":"L3JlZ2lzdHJ5L21hc3RlcmxlYXNlczA=","count_only":true}'
	get promtext "$tag-metrics" "http://127.0.0.1:$mp/metrics"
}

for v in 34 35; do
	bin=/usr/bin/etcd
	[ $v = 35 ] && bin=$etcd35
	cp=$(free_port) pp=$(free_port) mp=$(free_port)
	start_etcd "$bin" "etcd$v" "etcd$v=http://127.0.0.1:$pp" "$cp" "$pp" "$mp"
	capture_etcd "etcd$v" "$cp" "$mp"
done

# Two 3.5 members, then the second one stopped: the first has no leader.
cp=$(free_port) pp=$(free_port) mp=$(free_port)
cp2=$(free_port) pp2=$(free_port) mp2=$(free_port)
cluster="a=http://127.0.0.1:$pp,b=http://127.0.0.1:$pp2"
start_etcd "$etcd35" a "$cluster" "$cp" "$pp" "$mp"
start_etcd "$etcd35" b "$cluster" "$cp2" "$pp2" "$mp2"
b_pid=${pids[-1]}
wait_url "http://127.0.0.1:$cp/version"
wait_url "http://127.0.0.1:$cp2/version"
kill "$b_pid"
wait "$b_pid" 2>/dev/null || true
# Until a's leader lease runs out (a few election timeouts) it may still
# think it has one: wait for the status without "leader".
for _ in $(seq 50); do
	curl -s --max-time 2 -X POST -d '{}' "http://127.0.0.1:$cp/v3/maintenance/status" |
		grep -q '"leader"' || break
	sleep 0.2
done
capture_etcd etcd35-noleader "$cp" "$mp"

# The apiserver stand-in, with incident 1's kube-system and with etcd down.
"$here/../harness/pki.sh" "$tmp/pki" pi-master1
pki=$tmp/pki/etc/kubernetes/pki
for sc in incident-etcd-2379 etcd-down; do
	port=$(free_port)
	python3 "$top/tests/harness/apiserver_standin.py" --port "$port" --cert "$pki/apiserver.crt" \
		--key "$pki/apiserver.key" --token fuzz-seed-token \
		--scenario "$top/tests/fixtures/apiserver/$sc.json" >"$tmp/standin-$sc.log" 2>&1 &
	pids+=($!)
	u=https://127.0.0.1:$port
	wait_url "$u/version"
	auth=(-H "Authorization: Bearer fuzz-seed-token")
	get apiserver "$sc-livez" "$u/livez?verbose"
	get apiserver "$sc-readyz" "$u/readyz?verbose"
	get apiserver "$sc-version" "$u/version"
	get apiserver "$sc-nodes" "$u/api/v1/nodes?limit=256" "${auth[@]}"
	get apiserver "$sc-pods" "$u/api/v1/namespaces/kube-system/pods?limit=256" "${auth[@]}"
	get apiserver "$sc-pods-limit2" "$u/api/v1/namespaces/kube-system/pods?limit=2" "${auth[@]}"
	get apiserver "$sc-401" "$u/api/v1/nodes?limit=256"
done
echo "capture-seeds: $(find "$out" -type f | wc -l) files in $out"
