#!/usr/bin/env bash
# b_store.sh BUILD_DIR: the controller's ingest on each store (issue 28):
# reports stored per second and per CPU-second with SQLite beside
# PostgreSQL, in the same run, with one and with two `serve`.
#
#   sqlite   one serve on a fresh SQLite file (as bench/b_controller.sh):
#            its CPU is the whole server side's.
#   pg1      one serve on a fresh database of a private PostgreSQL 15
#            cluster (initdb in the temp dir as the postgres account, unix
#            socket only, listen_addresses='', the server's defaults: fsync
#            on; serve sets synchronous_commit on): per CPU-second of serve
#            alone, and of serve + PostgreSQL (the postmaster and every
#            process it started, those that ended in the window too:
#            coap_load --cpu-tree, fmh_proc_tree_cpu_s).
#   pg2      two serves on one fresh database, each given the keys of all
#            the nodes; two coap_load processes, each half of the nodes
#            (disjoint names: --first) against its own serve, started
#            together (--wait-usr2, then SIGUSR2 to both): the two rates
#            added; per CPU-second of both serves, and of both + PostgreSQL.
# Each: BENCH_STORE_NODES (1000) simulated agents (DTLS-PSK sessions)
# sending incident-1-sized reports back to back (one outstanding each) for
# BENCH_STORE_SECONDS (5); counted: answers 2.04 (the report committed).
# Requests still out at the end are waited for (coap_load --drain 60: one
# that serve's full UDP receive buffer dropped waits for CoAP's
# retransmission, 2 to 3 s and doubling); the datagrams the kernel dropped
# so are counted (ss -uam: the drops of serve's socket, "d" in skmem).
# After each run the store is checked: the nodes' last stored sequence
# numbers add up to the reports the generators saw confirmed.
# CPUs: serves on CPU 0, PostgreSQL on CPU 2 when there are 3 CPUs (else
# beside serve on CPU 0), the second serve on CPU 3 when there are 4 (else
# CPU 0), the generators on CPU 1. Each figure: median, min and max of
# BENCH_STORE_RUNS (3) runs, the three set-ups taking turns within a run.
# failover   fault/test_fault_serve_failover BENCH_STORE_FAILOVER_RUNS (5)
#            times (ctest): two serves on one PostgreSQL, three real agents
#            given both, the first serve SIGKILLed while they report; per
#            node, the time from the kill to its first report stored through
#            the other serve (its log's monotonic instant): median and max of
#            all the runs' nodes.
# ctest's bench/store runs it small, for its checks, not figures (and no
# failover runs: they are a ctest of their own).
set -euo pipefail
build=$(readlink -f "${1:?usage: bench/b_store.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
runs=${BENCH_STORE_RUNS:-3}
secs=${BENCH_STORE_SECONDS:-5}
nodes=${BENCH_STORE_NODES:-1000}
seed=42
half=$((nodes / 2))

ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || { echo "b_store: needs 2 CPUs (serve and the generator apart); this machine has $ncpu" >&2; exit 1; }
load_cpu=1 serve_cpu=0
pg_cpu=$((ncpu >= 3 ? 2 : 0))
serve2_cpu=$((ncpu >= 4 ? 3 : 0))

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/postgres" ] || ! id postgres >/dev/null 2>&1 || ! command -v psql >/dev/null; then
    echo "b_store: no PostgreSQL server (/usr/lib/postgresql/*/bin/postgres), psql or postgres account:" \
        "toolchains/host-packages.sh installs postgresql-15" >&2
    exit 1
fi

# what else ran on the machine: the load average just before (its own
# processes make it ~2 after), and the CPU time others took meanwhile: the
# machine's busy time (/proc/stat) less this script's and its children's,
# every one of them reaped by the end (/proc/$$/stat: utime, stime, cutime,
# cstime), in clock ticks
load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8; exit }' /proc/stat; }
own_ticks() { sed 's/.*) //' "/proc/$$/stat" | awk '{ print $12 + $13 + $14 + $15 }'; }
read -r busy0 all0 <<<"$(machine_ticks)"
own0=$(own_ticks)
bench_init
bench_controller "$build" "$nodes" "$seed"
ctl=$BENCH_CTL load=$BENCH_LOAD

# --- the PostgreSQL cluster: one for the whole script, a database a run ----------------
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
pg_dir=$BENCH_TMP/pg pg_port=5432 pg_pid=
# stopped before the temp dir goes: fast shutdown (SIGINT), as fmh_pg does
pg_stop() {
    local i
    [ -n "$pg_pid" ] || return 0
    kill -INT "$pg_pid" 2>/dev/null || true
    for i in $(seq 300); do
        kill -0 "$pg_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pg_pid" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
    pg_pid=
}
trap 'pg_stop; bench_cleanup' EXIT
# the postgres account reaches its directory through the temp dir
chmod 0711 "$BENCH_TMP"
mkdir "$pg_dir"
chown postgres:postgres "$pg_dir"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C --no-instructions \
    >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; exit 1; }
# the inner setpriv sets the parent-death signal as postgres (changing the
# account clears it); the pid stays the postmaster's through the execs
taskset -c "$pg_cpu" setpriv --reuid=postgres --regid=postgres --init-groups -- \
    setpriv --pdeathsig INT -- "$pg_bin/postgres" -D "$pg_dir/data" -k "$pg_dir" -p "$pg_port" \
    -c listen_addresses= >"$pg_dir/postgres.log" 2>&1 &
pg_pid=$!
bench_wait_line "$pg_dir/postgres.log" 'database system is ready to accept connections' 60 "$pg_pid" ||
    { tail -20 "$pg_dir/postgres.log" >&2; exit 1; }
pg_version=$("$pg_bin/postgres" --version | awk '{ print $3 }')
pg_psql() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -c "$1"; }
# a fresh database, its schema made before any serve starts (migrate): sets $conn
pg_fresh() {
    pg_psql "CREATE DATABASE $1" >/dev/null
    conn="host=$pg_dir port=$pg_port user=postgres dbname=$1"
    "$ctl" migrate --db "$conn" >/dev/null
}
pg_setting() { pg_psql "SHOW $1"; }
# transactions committed in database NAME so far (read once its serves are
# stopped: a backend sends its counts when it ends)
pg_commits() { pg_psql "SELECT xact_commit FROM pg_stat_database WHERE datname = '$1'"; }

val() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
row() { # FILE DECIMALS -> "median | min | max"
    local s
    s=$(bench_stats <"$1")
    awk -v p="$2" '{ printf "%.*f | %.*f | %.*f", p, $1, p, $2, p, $3 }' <<<"$s"
}
med() { bench_stats <"$BENCH_TMP/$1" | awk '{ print $1 }'; }
# the store holds what the generators saw confirmed: NODES nodes, TOTAL reports
check_store() { # DB NODES TOTAL WHAT
    local stored
    stored=$("$ctl" nodes --db "$1" --json |
        python3 -c 'import json,sys; n=json.load(sys.stdin); print(len(n), int(sum(x["last_seq"] for x in n)))')
    if [ "$stored" != "$2 $3" ]; then
        echo "b_store: $4: the store holds (nodes, reports) $stored; the generators had $2 nodes and $3 reports confirmed" >&2
        exit 1
    fi
}
# serve on DB (empty: a fresh SQLite file in DIR) pinned to CPU: sets $serve_pid, $port
start_serve() { # DIR CPU [DB]
    BENCH_SERVE_DB=${3:-}
    BENCH_SERVE_EXTRA=(--control "$1/control.sock")
    bench_serve "$1" taskset -c "$2"
    serve_pid=$BENCH_SERVE_PID port=$BENCH_SERVE_PORT
}
# one generator in the background, its output in FILE: sets $load_pid
start_load() { # FILE PORT SERVE_PID NODES FIRST [MORE...]
    local file=$1 p=$2 sp=$3 n=$4 first=$5
    shift 5
    taskset -c "$load_cpu" "${BENCH_GUARD[@]}" "$load" run --server "127.0.0.1:$p" --nodes "$n" --first "$first" \
        --seed "$seed" --seconds "$secs" --kind rp --server-pid "$sp" --drain 60 "$@" >"$file" 2>&1 &
    load_pid=$!
    bench_track "$load_pid"
}
load_fail() { # FILE SERVE_DIR...: what the generator and the serves said; exits
    local file=$1 d
    shift
    echo "b_store: coap_load failed:" >&2
    cat "$file" >&2
    for d in "$@"; do tail -20 "$d/serve.log" >&2; done
    exit 1
}
load_done() { # PID FILE SERVE_DIR...: waits for the generator; fails loudly
    local pid=$1 file=$2
    shift 2
    if ! wait "$pid" || ! grep -q '^load kind=rp ' "$file"; then load_fail "$file" "$@"; fi
}
# per-run figures: FILE gets one line a run
add() { awk "BEGIN { print $2 }" >>"$BENCH_TMP/$1"; }
# datagrams the kernel dropped at serve's UDP socket on PORT, its receive
# buffer full (the socket's whole life: read before serve stops)
udp_drops() { # PORT
    ss -uamnH "sport = :$1" | sed -n 's/.*skmem:(.*,d\([0-9]*\)).*/\1/p' | head -1 | grep . ||
        { echo "b_store: no drop count for UDP port $1 (ss -uam)" >&2; return 1; }
}

for f in sqlite.drop pg1.drop pg2.drop sqlite.gen pg1.gen pg2.gen sqlite.rate sqlite.serve sqlite.busy pg1.rate pg1.serve pg1.all pg1.busy pg1.pgshare pg1.batch \
    pg2.rate pg2.serve pg2.all pg2.busy pg2.pgshare pg2.skew pg2.batch; do
    : >"$BENCH_TMP/$f"
done

for r in $(seq "$runs"); do
    # --- SQLite, one serve ---
    d=$BENCH_TMP/sqlite$r
    start_serve "$d" "$serve_cpu"
    start_load "$BENCH_TMP/sqlite$r.out" "$port" "$serve_pid" "$nodes" 0
    load_done "$load_pid" "$BENCH_TMP/sqlite$r.out" "$d"
    add sqlite.drop "$(udp_drops "$port")"
    l=$(grep '^load kind=rp ' "$BENCH_TMP/sqlite$r.out")
    ok=$(val ok "$l") cpu=$(val server_cpu_s "$l") dt=$(val seconds "$l")
    add sqlite.rate "$(val per_s "$l")"
    add sqlite.serve "$ok / $cpu"
    add sqlite.busy "100 * $cpu / $dt"
    add sqlite.gen "100 * $(val client_cpu_s "$l") / $dt"
    check_store "$d/fleet.db" "$nodes" "$(val total_ok "$l")" "SQLite, run $r"
    bench_stop "$serve_pid"

    # --- PostgreSQL, one serve ---
    pg_fresh "fleet_one_$r"
    d=$BENCH_TMP/pgone$r
    start_serve "$d" "$serve_cpu" "$conn"
    start_load "$BENCH_TMP/pgone$r.out" "$port" "$serve_pid" "$nodes" 0 --cpu-tree "$pg_pid"
    load_done "$load_pid" "$BENCH_TMP/pgone$r.out" "$d"
    add pg1.drop "$(udp_drops "$port")"
    l=$(grep '^load kind=rp ' "$BENCH_TMP/pgone$r.out")
    ok=$(val ok "$l") cpu=$(val server_cpu_s "$l") pgcpu=$(val tree_cpu_s "$l") dt=$(val seconds "$l")
    add pg1.rate "$(val per_s "$l")"
    add pg1.serve "$ok / $cpu"
    add pg1.all "$ok / ($cpu + $pgcpu)"
    add pg1.busy "100 * ($cpu + $pgcpu) / $dt"
    add pg1.gen "100 * $(val client_cpu_s "$l") / $dt"
    add pg1.pgshare "100 * $pgcpu / ($cpu + $pgcpu)"
    check_store "$conn" "$nodes" "$(val total_ok "$l")" "PostgreSQL with one serve, run $r"
    bench_stop "$serve_pid"
    add pg1.batch "$(val total_ok "$l") / $(pg_commits "fleet_one_$r")"

    # --- PostgreSQL, two serves on one database, half of the nodes each ---
    pg_fresh "fleet_two_$r"
    da=$BENCH_TMP/pgtwo${r}a db_=$BENCH_TMP/pgtwo${r}b
    start_serve "$da" "$serve_cpu" "$conn"
    sa=$serve_pid pa=$port
    start_serve "$db_" "$serve2_cpu" "$conn"
    sb=$serve_pid pb=$port
    start_load "$BENCH_TMP/pgtwo${r}a.out" "$pa" "$sa" "$half" 0 --cpu-tree "$pg_pid" --wait-usr2
    la=$load_pid
    start_load "$BENCH_TMP/pgtwo${r}b.out" "$pb" "$sb" "$((nodes - half))" "$half" --cpu-tree "$pg_pid" --wait-usr2
    lb=$load_pid
    bench_wait_line "$BENCH_TMP/pgtwo${r}a.out" '^waiting' 120 "$la" || load_fail "$BENCH_TMP/pgtwo${r}a.out" "$da"
    bench_wait_line "$BENCH_TMP/pgtwo${r}b.out" '^waiting' 120 "$lb" || load_fail "$BENCH_TMP/pgtwo${r}b.out" "$db_"
    kill -USR2 "$la" "$lb"
    load_done "$la" "$BENCH_TMP/pgtwo${r}a.out" "$da" "$db_"
    load_done "$lb" "$BENCH_TMP/pgtwo${r}b.out" "$da" "$db_"
    add pg2.drop "$(udp_drops "$pa") + $(udp_drops "$pb")"
    a=$(grep '^load kind=rp ' "$BENCH_TMP/pgtwo${r}a.out")
    b=$(grep '^load kind=rp ' "$BENCH_TMP/pgtwo${r}b.out")
    oka=$(val ok "$a") okb=$(val ok "$b") cpua=$(val server_cpu_s "$a") cpub=$(val server_cpu_s "$b")
    # PostgreSQL's CPU over generator a's window (b's began and ended within
    # milliseconds of it: the same SIGUSR2); the two readings' difference is said
    pga=$(val tree_cpu_s "$a") pgb=$(val tree_cpu_s "$b") dt=$(val seconds "$a")
    add pg2.rate "$(val per_s "$a") + $(val per_s "$b")"
    add pg2.serve "($oka + $okb) / ($cpua + $cpub)"
    add pg2.all "($oka + $okb) / ($cpua + $cpub + $pga)"
    add pg2.busy "100 * ($cpua + $cpub + $pga) / $dt"
    add pg2.gen "100 * ($(val client_cpu_s "$a") + $(val client_cpu_s "$b")) / $dt"
    add pg2.pgshare "100 * $pga / ($cpua + $cpub + $pga)"
    add pg2.skew "100 * ($pgb - $pga) / $pga"
    check_store "$conn" "$nodes" "$(($(val total_ok "$a") + $(val total_ok "$b")))" \
        "PostgreSQL with two serves, run $r"
    bench_stop "$sa"
    bench_stop "$sb"
    add pg2.batch "($(val total_ok "$a") + $(val total_ok "$b")) / $(pg_commits "fleet_two_$r")"
done

fstype=$(df -T "$BENCH_TMP" | awk 'NR == 2 { print $2 }')
sync_method=$(pg_setting wal_sync_method) shared_buffers=$(pg_setting shared_buffers)
fsync_on=$(pg_setting fsync)
pg_stop
read -r busy1 all1 <<<"$(machine_ticks)"
own1=$(own_ticks)
others=$(awk -v b=$((busy1 - busy0)) -v a=$((all1 - all0)) -v o=$((own1 - own0)) -v t="$(getconf CLK_TCK)" \
    'BEGIN { x = b - o; if (x < 0) x = 0; printf "%.1f CPU-seconds of the %.0f the machine had, %.1f %%", x / t, a / t, 100 * x / a }')
others_pct=$(awk -v b=$((busy1 - busy0)) -v a=$((all1 - all0)) -v o=$((own1 - own0)) 'BEGIN { printf "%.0f", 100 * (b - o) / a }')
if [ "$pg_cpu" = "$serve_cpu" ]; then
    layout="this machine has $ncpu CPUs: serve, the second serve and PostgreSQL (the postmaster, so
every backend it forks) all on CPU $serve_cpu, the generators on CPU $load_cpu. So every
set-up has one core for its whole server side, and \"per second\" is what that core
does; with a third CPU the script puts PostgreSQL on CPU 2 (a fourth: the second serve
on CPU 3)"
else
    layout="serve on CPU $serve_cpu, PostgreSQL (the postmaster, so every backend it forks) on CPU $pg_cpu,
the second serve on CPU $serve2_cpu, the generators on CPU $load_cpu ($ncpu CPUs): \"per second\"
is not comparable between the stores, per CPU-second is"
fi

# --- failover: the fault test's figure, several times ---------------------------------
fo_runs=${BENCH_STORE_FAILOVER_RUNS:-5}
: >"$BENCH_TMP/fo.ms"
for r in $(seq "$fo_runs"); do
    out=$(ctest --test-dir "$build" -R '^fault/test_fault_serve_failover$' -V 2>&1) || {
        echo "$out" | tail -60 >&2; echo "b_store: the failover test failed (run $r)" >&2; exit 1; }
    each=$(sed -n 's/.*FAULT test_fault_serve_failover .*kill_to_first_stored_each_ms=\([0-9,]*\).*/\1/p' <<<"$out")
    [ -n "$each" ] || { echo "b_store: no FAULT line from the failover test" >&2; exit 1; }
    tr ',' '\n' <<<"$each" >>"$BENCH_TMP/fo.ms"
done
fo_row=
if [ "$fo_runs" -gt 0 ]; then
    fo_row="
Failover (\`ctest -R fault/test_fault_serve_failover\`, $fo_runs runs): two serves on one PostgreSQL,
three real agents (\`fleetmedic-agent run --controller S1 --controller S2\`, heartbeat 10 s,
ack-timeout 500 ms, max-retransmit 2) whose boards' ext4 error counters change every 700 ms
(a report each), S1 SIGKILLed in the middle; per node the time from the kill to its first
report stored through S2:

| failover: kill to the first report stored through the other serve, ms | median | min | max |
| --- | ---: | ---: | ---: |
| $(wc -l <"$BENCH_TMP/fo.ms") nodes over $fo_runs runs | $(row "$BENCH_TMP/fo.ms" 0) |

- On loopback a killed serve's port answers ICMP port unreachable, which the agent takes
  as the session's failure at once; a serve whose host is gone answers nothing, and the
  agent moves on after its confirmable report's retransmissions: ack-timeout × (1 + 2 + 4)
  with max-retransmit 2 (3.5 s at 500 ms, up to 1.5× that with CoAP's random factor), at
  the defaults (2 s, 4) 62 s to 93 s. The test checks every node is on S2 within two
  heartbeat intervals, every report stored once and none marked unreachable."
fi

cat <<MD
## Controller ingest by store: SQLite beside PostgreSQL, one and two serves

$nodes simulated agents (\`bench/coap_load\`, DTLS-PSK sessions) sending incident-1-sized
reports back to back (one outstanding per session) for ${secs} s; counted: answers 2.04,
each sent only once the report's transaction has committed. Three set-ups taking turns
in each of $runs runs (median with min and max): SQLite (a fresh file, WAL,
synchronous=NORMAL), PostgreSQL $pg_version with one serve, and with two serves on the
same database (each serve given every node's key; two generators started together,
each with half of the nodes, disjoint, against its own serve; their rates added).
A fresh database each run; the PostgreSQL cluster is private to the script (initdb in
its temp dir on $fstype, unix socket only, no TCP; the server's defaults: fsync=$fsync_on,
wal_sync_method=$sync_method, shared_buffers=$shared_buffers; serve sets synchronous_commit=on).
CPUs: $layout.

Commands: \`taskset -c $serve_cpu fleetmedic-controller serve --listen 127.0.0.1:PORT --keys KEYS --db DB\`,
DB a file or \`"host=SOCKETDIR port=$pg_port user=postgres dbname=fleet_…"\` (made by \`migrate\`);
\`taskset -c $load_cpu coap_load run --server 127.0.0.1:PORT --nodes $nodes --seconds $secs --kind rp --server-pid PID --cpu-tree POSTMASTER\`,
two serves: \`--nodes $half --first 0\` and \`--nodes $((nodes - half)) --first $half\`, each \`--wait-usr2\` (bench/b_store.sh).

| what | median | min | max |
| --- | ---: | ---: | ---: |
| SQLite, one serve: reports stored per second | $(row "$BENCH_TMP/sqlite.rate" 0) |
| SQLite, one serve: per CPU-second of serve (the whole server side) | $(row "$BENCH_TMP/sqlite.serve" 0) |
| PostgreSQL, one serve: reports stored per second | $(row "$BENCH_TMP/pg1.rate" 0) |
| PostgreSQL, one serve: per CPU-second of serve alone | $(row "$BENCH_TMP/pg1.serve" 0) |
| PostgreSQL, one serve: per CPU-second of serve + PostgreSQL | $(row "$BENCH_TMP/pg1.all" 0) |
| PostgreSQL, two serves: reports stored per second (both) | $(row "$BENCH_TMP/pg2.rate" 0) |
| PostgreSQL, two serves: per CPU-second of both serves alone | $(row "$BENCH_TMP/pg2.serve" 0) |
| PostgreSQL, two serves: per CPU-second of both serves + PostgreSQL | $(row "$BENCH_TMP/pg2.all" 0) |

| where the server side's time went | median | min | max |
| --- | ---: | ---: | ---: |
| SQLite: serve's CPU, % of the window | $(row "$BENCH_TMP/sqlite.busy" 0) |
| PostgreSQL, one serve: serve + PostgreSQL CPU, % of the window | $(row "$BENCH_TMP/pg1.busy" 0) |
| PostgreSQL, one serve: PostgreSQL's share of that CPU, % | $(row "$BENCH_TMP/pg1.pgshare" 0) |
| PostgreSQL, two serves: both serves + PostgreSQL CPU, % of the window | $(row "$BENCH_TMP/pg2.busy" 0) |
| PostgreSQL, two serves: PostgreSQL's share of that CPU, % | $(row "$BENCH_TMP/pg2.pgshare" 0) |
| the generator's CPU (CPU $load_cpu), % of the window: SQLite | $(row "$BENCH_TMP/sqlite.gen" 0) |
| the same, PostgreSQL with one serve | $(row "$BENCH_TMP/pg1.gen" 0) |
| the same, PostgreSQL with two serves (both generators) | $(row "$BENCH_TMP/pg2.gen" 0) |
| datagrams dropped at serve's UDP socket, its receive buffer full (a run): SQLite | $(row "$BENCH_TMP/sqlite.drop" 0) |
| the same, PostgreSQL with one serve | $(row "$BENCH_TMP/pg1.drop" 0) |
| the same, PostgreSQL with two serves (both sockets) | $(row "$BENCH_TMP/pg2.drop" 0) |
| PostgreSQL, one serve: reports stored per transaction committed | $(row "$BENCH_TMP/pg1.batch" 1) |
| PostgreSQL, two serves: reports stored per transaction committed | $(row "$BENCH_TMP/pg2.batch" 1) |

- Ratios of the medians, same run: PostgreSQL with one serve stores
  $(awk -v a="$(med pg1.rate)" -v b="$(med sqlite.rate)" 'BEGIN { printf "%.2f", a / b }')× SQLite's reports per second, and
  $(awk -v a="$(med pg1.all)" -v b="$(med sqlite.serve)" 'BEGIN { printf "%.2f", a / b }')× its reports per CPU-second of the whole server side
  ($(awk -v a="$(med pg1.serve)" -v b="$(med sqlite.serve)" 'BEGIN { printf "%.2f", a / b }')× counting serve alone); two serves
  $(awk -v a="$(med pg2.rate)" -v b="$(med pg1.rate)" 'BEGIN { printf "%.2f", a / b }')× one serve's reports per second and
  $(awk -v a="$(med pg2.all)" -v b="$(med pg1.all)" 'BEGIN { printf "%.2f", a / b }')× its reports per CPU-second (serves + PostgreSQL).
- PostgreSQL's CPU: the postmaster and every process whose parent it is, read at the
  start and the end of the generator's window (/proc/PID/schedstat), plus what those
  that ended in between used (the postmaster's cutime + cstime once it reaped them):
  serve's connections (its store's and fc_peers'), the WAL writer, checkpointer,
  background writer, autovacuum. Two serves: read over generator a's window; generator
  b's reading, over a window begun by the same SIGUSR2, differed by
  $(bench_stats <"$BENCH_TMP/pg2.skew" | awk '{ printf "%+.1f %% (median; min %+.1f, max %+.1f)", $1, $2, $3 }').
- Reports per transaction: the reports confirmed over the whole run (the window and
  what was still out at its end) divided by the database's xact_commit
  (pg_stat_database), which counts every transaction of the run, a serve's reads
  outside its report batches too (fc_peers' and the sweep's, once a second or so):
  a lower bound of group commit's batch size.
- Durability is not the same: SQLite (WAL, synchronous=NORMAL) acknowledges a report
  once its COMMIT has written the WAL to the page cache, unsynced (a power cut may roll
  back the last transactions; the agents send those again, see the controller ingest
  section); PostgreSQL with synchronous_commit=on acknowledges it once the WAL is
  flushed to disk (fdatasync), so it survives a power cut too. Group commit (one
  transaction per loop pass of serve) pays that flush once for the batch.
- A server side's "% of the window" under 100 % on one core means it waited for
  something other than the CPU (PostgreSQL's WAL flush; the generator, when its own CPU
  is near 100 %; other processes on this shared machine); the per CPU-second rows do
  not depend on it.
- SQLite's serve is on a CPU only part of the window, its generator less: sampling
  serve's /proc/PID/stat and wchan every 5 ms during one such run with 1000 agents (by
  hand, 2026-12-07) found it in epoll_wait, waiting for datagrams, about 40 % of the
  time, almost never waiting for the disk (state D). The dropped datagrams say why:
  serve leaves its UDP socket's receive buffer at the kernel's default
  (net.core.rmem_default, $(sysctl -n net.core.rmem_default) bytes here: room for a couple of hundred requests), and the
  generator's $nodes sessions send at once: at the start (in one run by hand, 821
  dropped in the first 250 ms) and after each batch, whose answers all go out when its
  transaction has committed. A dropped request is sent again after CoAP's ACK_TIMEOUT
  (2 to 3 s, then doubling): meanwhile its session sends nothing, serve has fewer
  requests than it could take, and the agent waits seconds for its answer. The same
  happens on both stores; PostgreSQL's server side is on CPU 0 all the window even so
  (its per-second figure is its per CPU-second one), SQLite's is not. A larger
  SO_RCVBUF on serve's socket would keep such bursts queued (not tried here). Because
  of these waits a run's last answers can come long after its window: coap_load waits
  up to 60 s for them (with its default 10 s a run now and then ended with some first
  reports unanswered); the figures count the answers within the window.
- Where PostgreSQL's cost comes from (the share above; not broken down by statement
  here): fc_db runs every statement as a round trip of its own to the backend
  (PQexecPrepared, waiting for its result), and a report is about ten of them (the
  savepoint, its 7 to 8 statements listed in the controller ingest section, the
  release), each the backend's own parse of the message, executor start and finish,
  and on one core two switches between serve and its backend. Levers: fewer statements
  a report (that section's list), and libpq's pipeline mode for a batch's statements.
- Load average just before the runs: $load_avg (1, 5, 15 min; $ncpu CPUs). Other processes
  (anything but this script and what it started; the kernel's threads, e.g. its disk
  writes, among them) took $others while it ran.$([ "$others_pct" -gt 5 ] && printf '\n%s' \
  "- DISTURBED: other processes took more than 5 % of the machine during these runs; the figures are not this machine's quiet ones.")
$fo_row
MD
