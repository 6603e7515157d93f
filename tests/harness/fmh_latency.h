/* fmh_latency: what the detection-latency bench (bench/latency.c) and the
 * etcd watch's test share: an etcd killed by pid and started again as it
 * was (same command line, data dir and ports). */
#ifndef FMH_LATENCY_H
#define FMH_LATENCY_H

#include "fm_harness.h"

/* etcd's command line, read from /proc while it runs. */
struct fmh_latency_etcd {
	char cmd[8192];
	const char *argv[64]; /* into cmd, NULL-terminated */
};

/* Reads e's running etcd's command line into r. 0 or -errno (-E2BIG: too
 * long). */
int fmh_latency_etcd_remember(const struct fmh_etcd *e, struct fmh_latency_etcd *r);

/* Reaps e's etcd (killed by the caller; stopped here if it is not) and
 * starts r's command line again (fmh_spawn: stopped at cleanup), logging to
 * e->dir/etcd-again.log; e->pid is the new one. Does not wait for it to
 * serve. 0 or -errno. */
int fmh_latency_etcd_respawn(struct fmh_etcd *e, const struct fmh_latency_etcd *r);

#endif
