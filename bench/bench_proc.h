/* bench_proc: what the bench programs read of /proc (coap_load, agent_bench). */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

/* The number after "NAME:" on its line of the file path (a /proc status or
 * smaps_rollup: "VmRSS:  1234 kB" gives 1234), or -1 when the file or the
 * line is absent. */
long fmh_proc_kb(const char *path, const char *name);

#endif
