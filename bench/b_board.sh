#!/usr/bin/env bash
# The first on-board figures (issue 23): the arm64 board VM of tests/board
# (qemu-system-aarch64 -M virt, Cortex-A72, 1 GiB, Debian 12, systemd as
# PID 1) runs the shipped .deb under its unit, and tests/board/guest.sh
# prints "figure NAME VALUE UNIT (note)" lines: the agent's VmRSS and
# Private_Dirty under the unit after 60 s steady and after a 100,000-entry
# journal burst, the DTLS handshake's CPU time (bench/coap_load against the
# guest's controller), check's wall time, the conflict's latency to the
# controller, the watchdog's restart. One run: the VM takes minutes.
#
# EMULATED: the guest's CPU is TCG (software emulation on this x86 host), so
# every time below is the emulator's, many times slower than a real
# Cortex-A72; memory figures are the real program's (the same bytes on a
# board). Goals (issue 23): VmRSS <= 4 MB, Private_Dirty <= 1 MB.
set -euo pipefail
build=${1:?usage: b_board.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
parent=$(dirname "$(readlink -f "$build")")
make -C "$top" cross BUILD="$parent" >&2
out="$parent/board-bench/arm64"
"$top/tests/board/run.sh" arm64 "$parent" "$out" >"$parent/board-bench.log" ||
    { tail -40 "$parent/board-bench.log" >&2; exit 1; }
log="$out/share/guest.log"
val() { awk -v n="$1" '$1 == "figure" && $2 == n { print $3; exit }' "$log"; }
note() { awk -v n="$1" '$1 == "figure" && $2 == n { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$log"; }
kb() { awk -v k="$1" 'BEGIN { printf "%.2f MB", k / 1024 }'; }
goal() { # WHAT FIGURE LIMIT SHOWN
    echo "- goal $1: $(awk -v v="$(val "$2")" -v l="$3" 'BEGIN { print (v != "" && v <= l) ? "met" : "NOT met" }') ($4)"
}

cat <<EOF
## board

The arm64 board VM (\`tests/board/run.sh arm64 build\`; $(sed -n 's/^# the board: //p' "$log");
software-emulated: times are TCG's, not a Cortex-A72's). Command:
\`BENCH_ONLY=board bench/run.sh build/host\` (or \`make board-test\`, whose
guest log \`build/board/arm64/share/guest.log\` has the same figure lines).

| figure | value | goal | note |
| --- | --- | --- | --- |
| agent VmRSS after 60 s steady, under the unit | $(kb "$(val steady_vmrss_kb)") | <= 4 MB | /proc/PID/status |
| agent Private_Dirty after 60 s steady | $(kb "$(val steady_private_dirty_kb)") | <= 1 MB | /proc/PID/smaps_rollup |
| agent VmRSS after a 100,000-entry journal burst | $(kb "$(val burst_vmrss_kb)") | <= 4 MB | once read: the agent's CPU idle for 2 s, $(val burst_read_ms) ms after the burst began (TCG) |
| agent Private_Dirty after the burst | $(kb "$(val burst_private_dirty_kb)") | <= 1 MB | |
| DTLS handshake + first heartbeat, controller CPU | $(val handshake_server_cpu_ms) ms | | per session, 40 sessions one at a time, ECDHE-PSK (TCG) |
| DTLS handshake + first heartbeat, client CPU | $(val handshake_client_cpu_ms) ms | | bench/coap_load, same sessions (TCG) |
| \`check\` wall time | $(val check_wall_ms) ms | | beside the running agent, etcd up, apiserver absent (TCG) |
| kubelet's last conflict line to the controller's \`show\` | $(val conflict_latency_ms) ms | <= 1000 | guest clock (TCG) |
| \`systemctl start\` to READY=1 | $(val start_to_ready_ms) ms | | Type=notify (TCG) |
| SIGSTOP to NRestarts=1 | $(val watchdog_restart_ms) ms | | WatchdogSec 30 s + RestartSec 5 s |
| \`systemd-analyze security\` exposure | $(val security_exposure) | | in the guest, systemd 252 |

$(goal "the agent's VmRSS on the board ≤ 4 MB, steady" steady_vmrss_kb 4096 "$(kb "$(val steady_vmrss_kb)")")
$(goal "the agent's Private_Dirty on the board ≤ 1 MB, steady" steady_private_dirty_kb 1024 "$(kb "$(val steady_private_dirty_kb)")")
$(goal "the agent's VmRSS on the board ≤ 4 MB, after the burst" burst_vmrss_kb 4096 "$(kb "$(val burst_vmrss_kb)")")
$(goal "the agent's Private_Dirty on the board ≤ 1 MB, after the burst" burst_private_dirty_kb 1024 "$(kb "$(val burst_private_dirty_kb)")")
$(goal "a kubelet line to the controller's show ≤ 1000 ms on the board" conflict_latency_ms 1000 "$(val conflict_latency_ms) ms")
- the agent's Private_Dirty after the burst by mapping (the guest's copy of its smaps): $(bench_smaps_by_mapping "$out/share/guest/agent-smaps-burst.txt")
EOF
