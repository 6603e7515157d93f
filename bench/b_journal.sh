#!/usr/bin/env bash
# b_journal.sh BUILD_DIR: entries per second through the log rules on a
# journal of 1,000,000 kubelet-like entries (1 in 1000 the incident's
# container-name conflict), the agent (probe journal, one-shot scan) beside
# `journalctl --file … -o cat | sed (klog's quoting removed, as the agent's
# rules see a line) | grep -E -f <the same patterns>`, in one run,
# medians of 3; and the agent's memory (Private_Dirty sampled throughout from
# /proc/PID/smaps_rollup, VmRSS after a --follow catch-up).
# The journal is generated (systemd-journal-remote) and cached under
# BUILD_DIR/bench-journal.
set -euo pipefail

build=$(readlink -f "${1:?usage: bench/b_journal.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
agent=$build/firmware-agent/fleetmedic-agent
remote=/lib/systemd/systemd-journal-remote
n=${BENCH_JOURNAL_ENTRIES:-1000000}
jdir=$build/bench-journal/$n
runs=${BENCH_JOURNAL_RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -s "$jdir/remote.journal" ]; then
    echo "b_journal: generating $n entries in $jdir ..." >&2
    rm -rf "$jdir" && mkdir -p "$jdir"
    python3 - "$n" <<'PY' | "$remote" --split-mode=none --output="$jdir/remote.journal" - >&2
import sys, time
n = int(sys.argv[1])
boot = open('/proc/sys/kernel/random/boot_id').read().strip().replace('-', '')
rt = int(time.time() * 1e6) - n
mono = int(time.monotonic() * 1e6) - n
conflict = ('E0322 21:05:33.780814 1115805 pod_workers.go:191] Error syncing pod 1403dda53affdfee1130475a6d9609da '
            '("kube-apiserver-pi-master1_kube-system(1403dda53affdfee1130475a6d9609da)"), skipping: failed to '
            '"StartContainer" for "kube-apiserver" with CreateContainerError: "Error response from daemon: Conflict. '
            'The container name \\"/k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24\\" '
            'is already in use by container \\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b\\". '
            'You have to remove (or rename) that container to be able to reuse that name."')
routine = ['I0322 21:05:%02d.%06d 1115805 kubelet.go:1914] SyncLoop (housekeeping)',
           'I0322 21:05:%02d.%06d 1115805 reconciler.go:224] operationExecutor.VerifyControllerAttachedVolume started for volume "kube-proxy" (UniqueName: "kubernetes.io/configmap/4c5d-kube-proxy") pod "kube-proxy-7x2lq" (UID: "4c5d")',
           'W0322 21:05:%02d.%06d 1115805 prober.go:117] Readiness probe for "coredns-74ff55c5b-8x9zq_kube-system(0f2e)" failed (failure): Get "http://10.244.0.3:8181/ready": dial tcp 10.244.0.3:8181: connect: no route to host',
           'I0322 21:05:%02d.%06d 1115805 kubelet_getters.go:176] "Pod status updated" pod="kube-system/etcd-pi-master1" status=Running']
out = sys.stdout
for i in range(n):
    msg = conflict if i % 1000 == 999 else routine[i % 4] % (i % 60, i % 1000000)
    out.write('__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n_TRANSPORT=stdout\n'
              '_SYSTEMD_UNIT=kubelet.service\nSYSLOG_IDENTIFIER=kubelet\nPRIORITY=6\n_PID=1115805\nMESSAGE=%s\n\n'
              % (rt + i, mono + i, boot, msg))
PY
fi

# The rules' regexes as grep -E takes them (named groups unnamed).
sed -n 's/^regex[[:space:]]*//p' "$here/../firmware-agent/rules/"*.rules |
    sed -E 's/\(\?<[a-z0-9_]+>/(/g' >"$tmp/patterns"
npat=$(wc -l <"$tmp/patterns")
files=("$jdir"/*.journal)
mb=$(du -smc "${files[@]}" | tail -1 | cut -f1)

now_s() { date +%s.%N; }

# A binary just written by the build sits in dirty page-cache pages, and
# smaps counts those as the process's Private_Dirty (its text pages: ~500 kB
# here). No board runs a binary that was linked a second ago: write them
# back first.
sync
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# an agent (BIN, default this build's), one-shot over the whole journal,
# Private_Dirty sampled every 20 ms
agent_run() {
    local bin=${1:-$agent} t0 t1 pid peak=0 pd
    t0=$(now_s)
    "$bin" probe journal --journal-dir "$jdir" --kmsg none --since 3650d --json >"$tmp/agent.json" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        pd=$(awk '/^Private_Dirty/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
        [ -n "$pd" ] && [ "$pd" -gt "$peak" ] && peak=$pd
        sleep 0.02
    done
    wait "$pid"
    t1=$(now_s)
    echo "$(echo "$t1 - $t0" | bc) $peak"
}
# BENCH_JOURNAL_BASELINE=PATH: another build of the agent (an earlier
# commit's), timed the same way first in each round, for a ratio the
# machine's noise does not decide.
pipe_run() {
    local t0 t1
    t0=$(now_s)
    journalctl --file "$jdir/*.journal" -o cat | sed -E 's/\\+"/"/g' | grep -E -c -f "$tmp/patterns" >"$tmp/grep.count" || true
    t1=$(now_s)
    echo "$t1 - $t0" | bc
}

: >"$tmp/agent.times"; : >"$tmp/pipe.times"; : >"$tmp/peaks"
for _ in $(seq $runs); do
    if [ -n "${BENCH_JOURNAL_BASELINE:-}" ]; then
        read -r t _ < <(agent_run "$BENCH_JOURNAL_BASELINE")
        echo "$t" >>"$tmp/base.times"
    fi
    read -r t p < <(agent_run)
    echo "$t" >>"$tmp/agent.times"; echo "$p" >>"$tmp/peaks"
    pipe_run >>"$tmp/pipe.times"
done
seen=$(python3 -c 'import json,sys; f=[x for x in json.load(open(sys.argv[1]))["facts"] if x["kind"]=="journal.source"][0]; print(f["entries_seen"], f["entries_matched"])' "$tmp/agent.json")
ta=$(median <"$tmp/agent.times"); tp=$(median <"$tmp/pipe.times")
peak=$(sort -n "$tmp/peaks" | tail -1)

# --follow: catch up from the start of the boot, then steady state
"$agent" probe journal --follow --json --journal-dir "$jdir" --kmsg none --since 3650d \
    --state-dir "$tmp/state" >"$tmp/follow.log" &
fpid=$!
fpeak=0
until grep -q "\"entries_seen\":$n," "$tmp/follow.log" 2>/dev/null; do
    pd=$(awk '/^Private_Dirty/ {print $2}' "/proc/$fpid/smaps_rollup" 2>/dev/null || echo 0)
    [ "$pd" -gt "$fpeak" ] && fpeak=$pd
    kill -0 "$fpid" || { echo "b_journal: follower died" >&2; exit 1; }
    sleep 0.02
done
sleep 0.5
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$fpid/status")
fpd=$(awk '/^Private_Dirty/ {print $2}' "/proc/$fpid/smaps_rollup")
# what is dirty, by mapping (the reason when the goal is missed)
fmaps=$(bench_smaps_by_mapping "/proc/$fpid/smaps")
kill -TERM "$fpid"; wait "$fpid" || true

# where the one-shot scan's time goes: one more run under perf, the share
# of the samples in each object (the dynamic build: libsystemd is its own
# shared object here)
dsos=
if command -v perf >/dev/null &&
    perf record -q -F 999 -o "$tmp/perf.data" -- "$agent" probe journal --journal-dir "$jdir" --kmsg none \
        --since 3650d --json >/dev/null 2>"$tmp/perf.err"; then
    dsos=$(perf report -i "$tmp/perf.data" --sort dso --stdio 2>/dev/null |
           awk '/^ +[0-9.]+%/ { printf "%s%s %s", n++ ? ", " : "", $2, $1 } n == 5 { exit }')
fi

read -r s m <<<"$seen"
echo "## Journal: log rules over $n kubelet entries"
echo
echo "Journal: $n entries ($mb MB of journal files, 1 in 1000 the incident's name conflict), $npat patterns (firmware-agent/rules/default.rules)."
echo "Medians of $runs runs, both in the same run of this script."
echo
echo "| | time (s) | entries/s |"
echo "| --- | ---: | ---: |"
printf '| agent: `fleetmedic-agent probe journal --journal-dir DIR --kmsg none --since 3650d --json` | %.2f | %.0f |\n' "$ta" "$(echo "$n / $ta" | bc -l)"
printf '| `journalctl --file DIR/*.journal -o cat \\| sed -E '"'"'s/\\\\+"/"/g'"'"' \\| grep -E -c -f patterns` | %.2f | %.0f |\n' "$tp" "$(echo "$n / $tp" | bc -l)"
echo
speed=$(echo "$tp / $ta" | bc -l)
printf -- '- goal agent at least 2× the pipeline'"'"'s speed: %s (**%.2f×**)\n' \
    "$(awk -v r="$speed" 'BEGIN { print (r >= 2) ? "met" : "NOT met" }')" "$speed"
if [ -n "${BENCH_JOURNAL_BASELINE:-}" ]; then
    tb=$(median <"$tmp/base.times")
    printf -- '- the baseline agent (BENCH_JOURNAL_BASELINE=%s, timed the same way in the same rounds): %.2f s; this agent takes **%.2f×** its time\n' \
        "$BENCH_JOURNAL_BASELINE" "$tb" "$(echo "$ta / $tb" | bc -l)"
fi
echo "- agent saw $s entries, matched $m; grep matched $(cat "$tmp/grep.count") lines"
echo "- goal Private_Dirty < 1024 kB throughout: $(awk -v a="$peak" -v b="$fpeak" 'BEGIN { print (a < 1024 && b < 1024) ? "met" : "NOT met" }') (highest sample, every 20 ms, over the one-shot runs: $peak kB; during the --follow catch-up: $fpeak kB)"
echo "- --follow after the catch-up (closed and reopened at the cursor): VmRSS $rss kB, Private_Dirty $fpd kB; by mapping: $fmaps"
if [ -n "$dsos" ]; then
    echo "- where the agent's time goes (one more one-shot run under \`perf record -F 999\`, the share of samples"
    echo "  in each object): $dsos"
fi
echo "- what is left, and the next levers: the time is mostly libsystemd's reading of the journal"
echo "  (sd_journal_next, each entry's fields through its mmap cache), which the agent uses as is (a"
echo "  journal reader of our own is not on the table). Next: ask for fewer fields per entry"
echo "  (sd_journal_get_data for MESSAGE and the unit, not every field, when no rule reads another) and"
echo "  let libsystemd skip the units no rule watches (sd_journal_add_match on _SYSTEMD_UNIT), so those"
echo "  entries are never decoded. For the memory, what is dirty is listed by mapping above."
