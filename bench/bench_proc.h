/* bench_proc: what the bench programs read of /proc (coap_load, agent_bench). */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

/* The number after "NAME:" on its line of the file path (a /proc status or
 * smaps_rollup: "VmRSS:  1234 kB" gives 1234), or -1 when the file or the
 * line is absent. */
long fmh_proc_kb(const char *path, const char *name);

#include <stdbool.h>

/* pid's time on a CPU and waiting for one, s (/proc/PID/schedstat's first
 * two fields); false when pid is gone (or not > 0). */
bool fmh_proc_sched(long pid, double *on_cpu_s, double *waiting_s);

/* The CPU time, in seconds, of pid and its children (a database server: the
 * postmaster and its backends): the time on a CPU of pid and of every live
 * process whose parent is pid (/proc/N/schedstat), plus what pid's children
 * that ended and were reaped by it used (pid's cutime + cstime,
 * /proc/PID/stat, in clock ticks). So the difference of two calls counts a
 * child that ended between them too. Grandchildren count only once their
 * parent reaped them. -1 when pid is gone. */
double fmh_proc_tree_cpu_s(long pid);

#endif
