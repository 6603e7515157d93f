/* fmh_prom: a real Prometheus (Debian's prometheus 2.42) on loopback for the
 * tests, scraping one target, and its HTTP query API read with curl. Its
 * TSDB lives in the harness's temporary directory; the process is the
 * harness's (stopped by pid at fmh_cleanup, also on a failed assertion). */
#ifndef FMH_PROM_H
#define FMH_PROM_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <sys/types.h>

struct fmh_prometheus {
	pid_t pid;
	int port;
	char url[64]; /* http://127.0.0.1:PORT */
	char dir[PATH_MAX];
	char log[PATH_MAX + 16];
};

/* Starts it scraping target ("127.0.0.1:PORT", job "fleetmedic") every
 * interval_s seconds; waits until it serves queries. 0 or -errno (its log
 * printed on stderr). */
int fmh_prometheus_start(struct fmh_prometheus *p, const char *target, int interval_s);

/* An instant query through its HTTP API (/api/v1/query): data.result, as a
 * new array (caller deletes), or NULL when the query failed. */
cJSON *fmh_prometheus_query(const struct fmh_prometheus *p, const char *promql);

/* The value of the first sample of the query's result as a number; -1 when
 * there is none. */
double fmh_prometheus_value(const struct fmh_prometheus *p, const char *promql);

/* A real Alertmanager (Debian's prometheus-alertmanager 0.25) on loopback,
 * no cluster, one receiver that sends nothing anywhere. */
struct fmh_alertmanager {
	pid_t pid;
	int port;
	char url[64]; /* http://127.0.0.1:PORT */
	char dir[PATH_MAX];
	char log[PATH_MAX + 16];
};

/* Starts it (again on the same port and storage when am->port is set,
 * e.g. after fmh_stop(am->pid)); waits until it listens. 0 or -errno. */
int fmh_alertmanager_start(struct fmh_alertmanager *am);

/* GET /api/v2/alerts: the array (caller deletes), or NULL. */
cJSON *fmh_alertmanager_alerts(const struct fmh_alertmanager *am);

#endif
