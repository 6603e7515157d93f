#!/usr/bin/env bash
# Docker watcher: from a control-plane container's exit (POST /kill on a
# real private dockerd) to the docker.container fact saying "exited", in the
# watcher on the agent's loop; beside it, in the same run, Debian's own
# `docker events` client on the same daemon seeing the same die event (a
# thread in the test stamps each of its lines as it arrives). The
# integration test measures each exit.
set -euo pipefail
build=${1:?usage: bench/b_docker.sh BUILD-DIR}
n=${DOCKER_EXITS:-25}
bin="$build/tests/test_docker"
out=$(FMH_DOCKER_EXITS=$n FM_AGENT="$build/firmware-agent/fleetmedic-agent" "$bin" 2>&1) || {
    echo "$out" | tail -20 >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n 's/.*docker-exit-latency-ms: \([0-9.]*\) docker-events-ms: \([0-9.]*\).*/\1 \2/p' <<<"$out" >"$tmp/pairs"
count=$(wc -l <"$tmp/pairs")
[ "$count" -eq "$n" ] || { echo "b_docker: $count of $n exits measured" >&2; exit 1; }
stats() { # column -> "median p99 max"
    cut -d' ' -f"$1" "$tmp/pairs" | sort -g |
        awk '{ a[NR] = $1 } END { i = int(NR * 0.99 + 0.999); if (i < 1) i = 1;
                                  printf "%.1f %.1f %.1f", a[int((NR + 1) / 2)], a[i], a[NR] }'
}
read -r med p99 max <<<"$(stats 1)"
read -r cmed cp99 cmax <<<"$(stats 2)"
ratio=$(awk -v a="$med" -v b="$cmed" 'BEGIN { printf "%.2f", a / b }')
# per exit: the watcher's time over the CLI's, then their median
pratio=$(awk '{ print $1 / $2 }' "$tmp/pairs" | sort -g | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] }')
cat <<MD
## Docker: container exit to fact

A kube-system etcd container (kubelet name) killed through the Engine API of
a real dockerd (Debian docker.io 20.10, private data root); measured from the
kill request to the watcher's docker.container fact turning "exited" (the
die event on the /events stream), $count exits; in the same run, from the same
kill, to Debian's \`docker events\` client (on the same daemon, subscribed to
start and die) printing that container's die line.

| from the kill to | median ms | p99 ms | max ms |
| --- | ---: | ---: | ---: |
| the agent's docker.container fact "exited" | $med | $p99 | $max |
| \`docker events\` printing the die | $cmed | $cp99 | $cmax |

- the agent / \`docker events\`: $ratio (medians), $pratio (median of the per-exit ratios)
- goal the agent within 10 % of the runtime's own event client (median per-exit ratio ≤ 1.10): $(awk -v r="$pratio" 'BEGIN { print (r <= 1.10) ? "met" : "NOT met" }') ($pratio)
- goal exit to fact within 100 ms (median): $(awk -v m="$med" 'BEGIN { print (m <= 100) ? "met" : "NOT met" }') ($med ms)

Most of either figure is the runtime's own: dockerd learns the exit from
containerd's shim before it sends the die event to every subscriber.

Command: \`FMH_DOCKER_EXITS=$n $bin\` (bench/b_docker.sh)
MD
