#!/usr/bin/env bash
# Docker watcher: from a control-plane container's exit (POST /kill on a
# real private dockerd) to the docker.container fact saying "exited", in the
# watcher on the agent's loop. The integration test measures each exit.
set -euo pipefail
build=${1:?usage: bench/b_docker.sh BUILD-DIR}
n=${DOCKER_EXITS:-25}
bin="$build/tests/test_docker"
out=$(FMH_DOCKER_EXITS=$n FM_AGENT="$build/firmware-agent/fleetmedic-agent" "$bin" 2>&1) || {
    echo "$out" | tail -20 >&2; exit 1; }
echo "$out" | sed -n 's/.*docker-exit-latency-ms: \([0-9]*\).*/\1/p' | sort -n > /tmp/b_docker.$$
count=$(wc -l < /tmp/b_docker.$$)
med=$(awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}' /tmp/b_docker.$$)
p99=$(awk '{a[NR]=$1} END{i=int(NR*0.99+0.999); if(i<1)i=1; print a[i]}' /tmp/b_docker.$$)
max=$(tail -1 /tmp/b_docker.$$)
rm -f /tmp/b_docker.$$
cat <<MD
## Docker: container exit to fact

A kube-system etcd container (kubelet name) killed through the Engine API of
a real dockerd (Debian docker.io 20.10, private data root); measured from the
kill request to the watcher's docker.container fact turning "exited" (the
die event on the /events stream), $count exits.

| exits | median | p99 | max | target |
| --- | --- | --- | --- | --- |
| $count | ${med} ms | ${p99} ms | ${max} ms | 100 ms |

- goal exit to fact within 100 ms (median): $([ "$med" -le 100 ] && echo met || echo "NOT met") (${med} ms)

Command: \`FMH_DOCKER_EXITS=$n $bin\` (bench/b_docker.sh)
MD
