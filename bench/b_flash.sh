#!/usr/bin/env bash
# b_flash.sh BUILD_DIR: what `fleetmedic-agent run` writes to the card its
# --state-dir is on (issue 27 item 4, "flash writes"): bytes
# (/proc/PID/io write_bytes) and fsync + fdatasync calls (strace -c attached
# to the agent) over one window of BENCH_FLASH_WINDOW s (600), per hour.
#
# Three nodes, each followed by BENCH_FLASH_AGENTS agents (3) per mode; the
# modes side by side in the same run: the default (--save-interval 5m) and
# --save-interval 0 (the journal cursor written after every batch of
# entries of ours, as before issue 27):
#   healthy  a kubelet trickle: one routine line every 10 s
#   storm    kubelet at 1,000 lines a minute (17 lines every 1.02 s), every
#            10th its container-name conflict line (a pod stuck in a loop)
#   outage   the trickle, the controller stopped for the whole window, and
#            the board's ext4 error counter set and cleared every 60 s (a
#            diagnosis raised and resolved once a minute: reports queued)
# Journal files are written by systemd-journal-remote, one directory per
# node (the agents of a node all follow it). Every agent reports to a real
# serve over DTLS-PSK; its log goes through a pipe to another process (on a
# node, journald), so write_bytes is the state dir's alone. The state dirs
# are on this machine's ext4 (/tmp).
# Every process started here is stopped by pid (bench/lib.sh).
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_flash.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
agent=$build/firmware-agent/fleetmedic-agent
window=${BENCH_FLASH_WINDOW:-600}
per=${BENCH_FLASH_AGENTS:-3}
remote=${FMH_JOURNAL_REMOTE:-/lib/systemd/systemd-journal-remote}
for b in "$agent" "$remote"; do
    [ -x "$b" ] || { echo "b_flash: $b missing" >&2; exit 1; }
done
command -v strace >/dev/null || { echo "b_flash: strace missing" >&2; exit 1; }
bench_init
T=$BENCH_TMP
[ "$(stat -f -c %T "$T")" != tmpfs ] || { echo "b_flash: $T is tmpfs: write_bytes would be 0" >&2; exit 1; }

nodes=(healthy storm outage)
# the modes of a node: the default (30m), 0 (every batch) and, on the
# healthy node, 1m standing for 30m with time compressed 30 times
modes_of() { if [ "$1" = healthy ]; then echo default scaled every; else echo default every; fi; }
n_agents=$(( 7 * per ))
bench_controller "$build" "$n_agents" 27

# The journal writer: COUNT entries every PERIOD s into DIR/remote.journal,
# every EVERY-th (0: none) kubelet's conflict line; until killed (with a
# sixth argument: once).
cat >"$T/writer.py" <<'PY'
import os, subprocess, sys, time
remote, d, period, count, every = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
once = len(sys.argv) > 6
boot = open("/proc/sys/kernel/random/boot_id").read().strip().replace("-", "")
routine = "I1206 21:05:33.780814 1115 kubelet.go:1914] SyncLoop (housekeeping): status of pod kube-proxy-7x2lq_kube-system unchanged"
conflict = ('E1206 21:05:33.780814 1115 pod_workers.go:191] Error syncing pod 1403dda53affdfee1130475a6d9609da '
            '("kube-apiserver-pi-master1_kube-system(1403dda53affdfee1130475a6d9609da)"), skipping: failed to '
            '"StartContainer" for "kube-apiserver" with CreateContainerError: "Error response from daemon: Conflict. '
            'The container name \\"/k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24\\" '
            'is already in use by container \\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b\\". '
            'You have to remove (or rename) that container to be able to reuse that name."')
n, nxt = 0, time.monotonic()
while True:
    rt, mono = time.time_ns() // 1000, time.monotonic_ns() // 1000
    out = []
    for i in range(count):
        n += 1
        msg = conflict if every and n % every == 0 else routine
        out.append("__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n_TRANSPORT=stdout\n"
                   "_SYSTEMD_UNIT=kubelet.service\nSYSLOG_IDENTIFIER=kubelet\nPRIORITY=6\nMESSAGE=%s\n\n"
                   % (rt + i, mono + i, boot, msg))
    tmp = os.path.join(d, "..", "in.export")
    with open(tmp, "w") as f:
        f.write("".join(out))
    subprocess.run([remote, "--split-mode=none", "--output=" + os.path.join(d, "remote.journal"), tmp],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if once:
        break
    nxt += period
    time.sleep(max(0.0, nxt - time.monotonic()))
PY

for node in "${nodes[@]}"; do
    mkdir -p "$T/$node/journal"
    cp -a "$top/tests/fixtures/boards/rpi4" "$T/$node/root"
done

# one serve for the healthy and storm nodes, one for the outage node's
bench_serve "$T/serve-up"
up_port=$BENCH_SERVE_PORT
bench_serve "$T/serve-down"
down_port=$BENCH_SERVE_PORT down_pid=$BENCH_SERVE_PID

# an entry in every journal before the agents start: each writes its
# first cursor then
for node in "${nodes[@]}"; do
    python3 "$T/writer.py" "$remote" "$T/$node/journal" 0 1 0 once
done
declare -A writer
start_writer() { # NODE PERIOD COUNT EVERY
    "${BENCH_GUARD[@]}" python3 "$T/writer.py" "$remote" "$T/$1/journal" "$2" "$3" "$4" &
    writer[$1]=$!
    bench_track "$!"
}
start_writer healthy 10 1 0
start_writer outage 10 1 0

declare -a a_pid a_node a_mode a_dir
i=0
for node in "${nodes[@]}"; do
    port=$up_port
    [ "$node" = outage ] && port=$down_port
    for mode in $(modes_of "$node"); do
        for r in $(seq "$per"); do
            d=$T/a$i
            mkdir -p "$d"
            read -r ident hex < <(sed -n "$((i + 2))p" "$BENCH_KEYS")
            printf '%s\n' "$hex" >"$d/psk"
            chmod 600 "$d/psk"
            extra=()
            [ "$mode" = every ] && extra+=(--save-interval 0)
            [ "$mode" = scaled ] && extra+=(--save-interval 1m)
            [ "$node" = outage ] && extra+=(--collect-interval 10s)
            cmd=("$agent" run --controller "coaps://127.0.0.1:$port" --psk-identity "$ident" --psk-file "$d/psk"
                 --state-dir "$d/state" --root "$T/$node/root" --journal-dir "$T/$node/journal" --kmsg none
                 --docker-host unix:///nonexistent/docker.sock "${extra[@]}")
            [ "$i" = 0 ] && healthy_cmd="${cmd[*]}"
            # the log through a pipe: what journald would take and write
            "${BENCH_GUARD[@]}" "${cmd[@]}" 2>&1 | cat >"$d/log" &
            # the pipeline's first process becomes the agent at its exec
            end=$(( $(date +%s) + 10 ))
            until pid=$(pgrep -f -n -- "fleetmedic-agent run .*--psk-identity $ident "); do
                [ "$(date +%s)" -lt "$end" ] || { echo "b_flash: agent $i did not start" >&2; exit 1; }
                sleep 0.02
            done
            bench_track "$pid"
            a_pid[i]=$pid a_node[i]=$node a_mode[i]=$mode a_dir[i]=$d
            i=$((i + 1))
        done
    done
done
for j in "${!a_pid[@]}"; do
    bench_wait_line "${a_dir[j]}/log" 'reporting to' 30 "${a_pid[j]}"
    end=$(( $(date +%s) + 30 ))
    until [ -s "${a_dir[j]}/state/journal.state" ]; do
        [ "$(date +%s)" -lt "$end" ] || { echo "b_flash: agent $j wrote no first cursor" >&2; exit 1; }
        sleep 0.05
    done
done

# the window: strace on every agent, then the storm and the outage
outage_flap() {
    local dev=$T/outage/root/sys/fs/ext4/flashbench k=0
    mkdir -p "$dev"
    while :; do
        k=$((k + 1))
        echo $(( k % 2 ? 3 : 0 )) >"$dev/.errors_count.tmp" && mv "$dev/.errors_count.tmp" "$dev/errors_count"
        sleep 30
    done
}
declare -a s_pid io0 lines0
for j in "${!a_pid[@]}"; do
    strace -f -c -e trace=fsync,fdatasync,rename,renameat,renameat2 -o "${a_dir[j]}/strace" -p "${a_pid[j]}" 2>/dev/null &
    s_pid[j]=$!
    bench_track "$!"
done
# strace is attached once it has stopped the tracee once: TracerPid says so
for j in "${!a_pid[@]}"; do
    end=$(( $(date +%s) + 20 ))
    until [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/${a_pid[j]}/status")" != 0 ]; do
        [ "$(date +%s)" -lt "$end" ] || { echo "b_flash: strace never attached to agent $j" >&2; exit 1; }
        sleep 0.02
    done
    lines0[j]=$(wc -l <"${a_dir[j]}/log")
    io0[j]=$(awk '/^write_bytes:/ { print $2 }' "/proc/${a_pid[j]}/io")
done
# both counts start here, before the storm and the outage do
bench_stop "$down_pid"
start_writer storm 1.02 17 10
outage_flap &
bench_track "$!"
t0=$(date +%s.%N)
sleep "$window"
declare -a io1 lines1
for j in "${!a_pid[@]}"; do
    io1[j]=$(awk '/^write_bytes:/ { print $2 }' "/proc/${a_pid[j]}/io")
    lines1[j]=$(wc -l <"${a_dir[j]}/log")
done
t1=$(date +%s.%N)
for j in "${!a_pid[@]}"; do
    kill -INT "${s_pid[j]}" 2>/dev/null || true
done
for j in "${!a_pid[@]}"; do wait "${s_pid[j]}" 2>/dev/null || true; done
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

# per agent: node mode bytes fsyncs renames loglines, per hour
: >"$T/figures"
for j in "${!a_pid[@]}"; do
    f=${a_dir[j]}/strace
    calls() { awk -v s="$1" '$NF == s { print $4 }' "$f" | head -1; }
    fs=$(calls fsync) fd=$(calls fdatasync)
    rn=$(( $(calls rename || true) + 0 + $(calls renameat || true) + 0 + $(calls renameat2 || true) + 0 ))
    echo "${a_node[j]} ${a_mode[j]} $(( io1[j] - io0[j] )) $(( ${fs:-0} + ${fd:-0} )) $rn $(( lines1[j] - lines0[j] ))" >>"$T/figures"
done
for j in "${!a_pid[@]}"; do kill -0 "${a_pid[j]}" 2>/dev/null || { echo "b_flash: agent $j died" >&2; exit 1; }; done
# the storm's agents read every entry: the conflict raised at serve
grep -q . "$T/figures"

# per hour of the agents of NODE in MODE, column COLUMN, divided by UNIT
# (1024: kB); the scaled mode's figures divided by 30 (its 1m for 30m)
perh() { # NODE MODE COLUMN UNIT
    awk -v n="$1" -v m="$2" -v c="$3" -v u="$4" -v s="$secs" \
        '$1 == n && $2 == m { print $c * 3600 / s / u / (m == "scaled" ? 30 : 1) }' "$T/figures"
}
ph() { perh "$@" 1 | bench_stats | awk '{ printf "%.0f (%.0f–%.0f)", $1, $2, $3 }'; }
phk() { perh "$@" 1024 | bench_stats | awk '{ printf "%.0f (%.0f–%.0f)", $1, $2, $3 }'; }
medh() { perh "$@" 1 | bench_stats | cut -d' ' -f1; }
goal() {
    local b f
    b=$(medh healthy scaled 3) f=$(medh healthy scaled 4)
    awk -v b="$b" -v f="$f" 'BEGIN { printf "%s (%.0f kB, %.0f fsyncs an hour, medians)", (b <= 65536 && f <= 60) ? "met" : "NOT met", b / 1024, f }'
}
storm10() { # MODE COLUMN UNIT: a 10-minute storm's own cost (the window is the storm)
    awk -v m="$1" -v c="$2" -v u="$3" -v s="$secs" -v w=600 '$1 == "storm" && $2 == m { print $c * w / s / u }' "$T/figures" |
        bench_stats | awk '{ printf "%.0f", $1 }'
}
healthy_cmd=${healthy_cmd//$T/\$T}
healthy_cmd=${healthy_cmd//$build\//}

cat <<MD
## Flash writes: what \`fleetmedic-agent run\` writes to its state dir

Issue 27 item 4 (SD cards kill Raspberry Pi masters). Per agent, over one window of
${secs} s, extrapolated to an hour (× 3600 / ${secs}): bytes written
(\`/proc/PID/io\` write_bytes: the page-cache pages the agent dirtied, i.e. what
goes to the card; a state file is one 4 kB page however short) and fsync +
fdatasync calls (\`strace -f -c -e trace=fsync,fdatasync,rename,renameat,renameat2 -p PID\`,
attached for the window; renames = state files written). $per agents per node and
mode side by side, each on its own state dir on this machine's ext4; figures are
"median (min–max)" over them. Optimised build (\`$(basename "$build")\`).
Command: \`BENCH_ONLY=flash bench/run.sh BUILD_DIR\` (bench/b_flash.sh); one agent's
command line: \`$healthy_cmd\` (--save-interval 0 for "every batch";
--collect-interval 10s on the outage node, so the flapping counter is seen).

The nodes (journal files written by systemd-journal-remote, followed with
--journal-dir; the rpi4 board tree as --root; no etcd or apiserver configured;
--kmsg none; the agent's log piped to another process, as journald would take it):

- **healthy**: one routine kubelet line every 10 s (a quiet kubelet; assumed, not measured on a Pi);
- **storm**: kubelet at 1,000 lines a minute (17 every 1.02 s), every 10th its
  container-name conflict line, for the whole window: a 10-minute storm is the
  window scaled to 600 s (× 600 / ${secs});
- **outage**: the trickle, \`serve\` stopped for the whole window, and the board's
  ext4 error counter set and cleared every 30 s (fs-corruption raised and resolved
  about once a minute: every report queued in uplink.json).

| node | --save-interval | kB per hour | fsync+fdatasync per hour | state files written per hour | log lines per hour |
| --- | --- | ---: | ---: | ---: | ---: |
MD
for node in "${nodes[@]}"; do
    for mode in $(modes_of "$node"); do
        label="30m (default)"
        [ "$mode" = every ] && label="0 (every batch, as before)"
        [ "$mode" = scaled ] && label="1m, figures ÷ 30: 30m with time compressed 30×"
        echo "| $node | $label | $(phk "$node" "$mode" 3) | $(ph "$node" "$mode" 4) | $(ph "$node" "$mode" 5) | $(ph "$node" "$mode" 6) |"
    done
done
cat <<MD

- goal a healthy node's writes ≤ 64 kB and ≤ 60 fsyncs an hour, by default: $(goal)
  (from the compressed row: a ${secs} s window holds no 30-minute timer)
- a 10-minute storm at 1,000 lines a minute (the window scaled to 600 s, medians):
  default $(storm10 default 3 1024) kB and $(storm10 default 4 1) fsyncs;
  every batch $(storm10 every 3 1024) kB and $(storm10 every 4 1) fsyncs
- One state file written (fm_state: a temporary file, fsync, rename, fsync of the
  directory) costs 8 to 12 kB of write_bytes here (the data page, and the
  directory's and the inode's blocks when they are not dirty already) and two
  fsyncs. The default writes journal.state (and kmsg.state, not exercised here:
  --kmsg none) at most every 30 minutes while entries keep coming, at once when
  journal files rotate, and at exit; the queue (uplink.json) is written on every
  report queued, numbered and acknowledged, so a node whose diagnoses change
  writes per change, whatever the interval (the storm's and the outage's rows).
- The window's phase against a timer moves a figure by one write either way.
MD
