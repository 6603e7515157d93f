/* retain_sim: a store filled with simulated time through fc_store's own API
 * (no network), for retention (issue 25): bench/b_retention.sh and the
 * ctest bench/retention.
 *
 *   retain_sim year --db FILE [--nodes 1000] [--days 365] [--retain-days 90]
 *                   [--incidents 2] [--max-mb MB]
 *       N nodes live D days of simulated time, an hour at a time. Each
 *       node has --incidents a day, each the history test_fault_etcd's
 *       store shows for one etcd kill and restart (its texts): apiserver
 *       raised, etcd raised explaining it (the apiserver resolved), etcd
 *       changed (timed out), etcd resolved: 4 reports, 5 history lines; and
 *       one heartbeat a day after hours of silence (the sweep's
 *       "unreachable", the heartbeat's "reachable"): 2 lines. At the end of
 *       each simulated hour: fc_store_sweep, then fc_store_prune in batches
 *       of FC_RETAIN_BATCH until a short one (what serve's fc_retain does
 *       every second, far ahead of 1,000 nodes' lines). Prints a line every
 *       30 days and at the end (file and -wal bytes, history rows, free
 *       pages); with --max-mb, exits 1 when the file (with its -wal) is
 *       bigger than that at any day after the window filled, or grew by
 *       more than 10 % from one window after filling to the end.
 *
 *   retain_sim fill --db FILE [--nodes 1000] [--days 120] [--incidents 2]
 *       the same history without pruning, its last day ending now (the
 *       real clock): a backlog for `serve --retain` (nodes sim-NNNNN, so
 *       coap_load's load-NNNNN stay new).
 *
 *   retain_sim drain --db FILE [--retain-days 90]
 *       prunes what is older than --retain-days (before now) in batches of
 *       FC_RETAIN_BATCH until none is left, each timed: how long one batch
 *       holds the store (a report waits at most that long).
 */
#include "fc_retain.h"
#include "fc_store.h"
#include "fc_wire.h"

#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HOUR 3600
#define DAY 86400

/* the texts test_fault_etcd's store holds for one cycle */
#define ETCD_KEY "https://127.0.0.1:2379"
#define API_KEY "https://127.0.0.1:6443"
static const char etcd_refused[] = "etcd at " ETCD_KEY ": connection refused: nothing listens on 127.0.0.1:2379";
static const char etcd_timeout[] = "etcd at " ETCD_KEY ": timed out after 1000 ms during the TLS handshake (the"
				   " port accepts connections but nobody answers) from 127.0.0.1:2379";
static const char api_refused[] =
	"kube-apiserver at " API_KEY ": connection refused: nothing listens on 127.0.0.1:6443";

struct sim {
	struct fc_store *s;
	cJSON *ev, *rem, *x;
	uint32_t *q; /* each node's last sequence */
	char (*name)[16];
	unsigned nodes;
	int64_t pruned;
	int64_t batches;	 /* full ones (FC_RETAIN_BATCH rows) */
	double batch_s, batch_max_s; /* their time, in all and the longest */
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int report(struct sim *m, unsigned i, int64_t now, const struct fc_diag *d, size_t nd,
		  const struct fc_resolved *r, size_t nr)
{
	static struct fc_report rp; /* big: d[] and r[] at their maxima */
	memset(&rp, 0, sizeof(rp));
	rp.q = ++m->q[i];
	rp.t = now;
	rp.board = "rpi4";
	if (nd)
		memcpy(rp.d, d, nd * sizeof(*d));
	rp.nd = nd;
	if (nr)
		memcpy(rp.r, r, nr * sizeof(*r));
	rp.nr = nr;
	enum fc_store_outcome out;
	uint32_t from, to;
	if (fc_store_report(m->s, m->name[i], &rp, false, now, &out, &from, &to) < 0 || out != FC_STORE_STORED) {
		fprintf(stderr, "retain_sim: %s q %u not stored\n", m->name[i], rp.q);
		return -EIO;
	}
	return 0;
}

/* One etcd kill and restart on node i, from t: 4 reports, 5 lines. */
static int incident(struct sim *m, unsigned i, int64_t t)
{
	struct fc_diag api = {.code = "apiserver-unreachable", .severity = 3, .key = API_KEY,
			      .summary = api_refused, .evidence = m->ev, .remedy = m->rem,
			      .component = "kube-apiserver"};
	struct fc_diag etcd = {.code = "etcd-unreachable", .severity = 3, .key = ETCD_KEY,
			       .summary = etcd_refused, .evidence = m->ev, .remedy = m->rem, .explains = m->x,
			       .component = "etcd", .absorbs = true};
	struct fc_resolved gone = {.code = "etcd-unreachable", .key = ETCD_KEY};
	if (report(m, i, t, &api, 1, NULL, 0) < 0 || report(m, i, t + 2, &etcd, 1, NULL, 0) < 0)
		return -EIO;
	etcd.summary = etcd_timeout;
	if (report(m, i, t + 8, &etcd, 1, NULL, 0) < 0 || report(m, i, t + 15, NULL, 0, &gone, 1) < 0)
		return -EIO;
	return 0;
}

static int64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int64_t pragma(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

static void line(const char *db, const char *what, int day, int64_t pruned)
{
	char wal[4200];
	snprintf(wal, sizeof(wal), "%s-wal", db);
	printf("%s day=%d db_bytes=%lld wal_bytes=%lld history=%lld free_pages=%lld page_size=%lld pruned=%lld\n",
	       what, day, (long long)file_size(db), (long long)file_size(wal),
	       (long long)pragma(db, "SELECT count(*) FROM history"), (long long)pragma(db, "PRAGMA freelist_count"),
	       (long long)pragma(db, "PRAGMA page_size"), (long long)pruned);
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int drain(const char *db, int retain_days)
{
	struct fc_store *s;
	char why[4300];
	if (fc_store_open(db, true, &s, why, sizeof(why)) < 0) {
		fprintf(stderr, "retain_sim: %s\n", why);
		return 1;
	}
	int64_t before = (int64_t)time(NULL) - (int64_t)retain_days * DAY, lines = 0;
	size_t n = 0, cap = 0;
	double *t = NULL;
	int k;
	do {
		double t0 = mono();
		k = fc_store_prune(s, before, FC_RETAIN_BATCH);
		if (k == FC_RETAIN_BATCH) {
			if (n == cap) {
				double *nt = realloc(t, (cap = cap ? 2 * cap : 1024) * sizeof(*t));
				if (!nt)
					break;
				t = nt;
			}
			t[n++] = mono() - t0;
		}
		lines += k > 0 ? k : 0;
	} while (k == FC_RETAIN_BATCH);
	fc_store_delete(&s);
	if (k < 0 || !n) {
		fprintf(stderr, "retain_sim: drain: %s\n", k < 0 ? "the store failed" : "nothing to prune");
		free(t);
		return 1;
	}
	qsort(t, n, sizeof(*t), cmp_double);
	printf("drain lines=%lld batches=%zu batch_ms_median=%.2f batch_ms_p99=%.2f batch_ms_max=%.2f\n",
	       (long long)lines, n, 1000 * t[n / 2], 1000 * t[n * 99 / 100], 1000 * t[n - 1]);
	free(t);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: retain_sim year|fill|drain --db FILE [--nodes N] [--days D] [--retain-days R]"
			" [--incidents K] [--max-mb MB]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},	   {"nodes", required_argument, NULL, 'n'},
	    {"days", required_argument, NULL, 'D'},	   {"retain-days", required_argument, NULL, 'r'},
	    {"incidents", required_argument, NULL, 'i'}, {"max-mb", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	if (argc < 2 || (strcmp(argv[1], "year") != 0 && strcmp(argv[1], "fill") != 0 &&
			 strcmp(argv[1], "drain") != 0)) {
		usage();
		return 2;
	}
	bool fill = strcmp(argv[1], "fill") == 0;
	const char *db = NULL;
	unsigned nodes = 1000, incidents = 2;
	int days = fill ? 120 : 365, retain_days = 90;
	double max_mb = 0;
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'n': nodes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'D': days = atoi(optarg); break;
		case 'r': retain_days = atoi(optarg); break;
		case 'i': incidents = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': max_mb = atof(optarg); break;
		default: usage(); return 2;
		}
	}
	if (!db || !nodes || nodes > 99999 || days < 1 || retain_days < 1 || incidents > 12) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "drain") == 0)
		return drain(db, retain_days);
	struct sim m = {.nodes = nodes};
	char why[4300];
	if (fc_store_open(db, true, &m.s, why, sizeof(why)) < 0) {
		fprintf(stderr, "retain_sim: %s\n", why);
		return 1;
	}
	m.q = calloc(nodes, sizeof(*m.q));
	m.name = calloc(nodes, sizeof(*m.name));
	m.ev = cJSON_Parse("[\"connect 127.0.0.1:2379: ECONNREFUSED\",\"etcd.service: inactive (dead)\"]");
	m.rem = cJSON_Parse("[\"systemctl status etcd\",\"journalctl -u etcd -n 50\",\"systemctl restart etcd\"]");
	m.x = cJSON_Parse("[\"apiserver-unreachable\"]");
	if (!m.q || !m.name || !m.ev || !m.rem || !m.x)
		return 1;
	for (unsigned i = 0; i < nodes; i++)
		snprintf(m.name[i], sizeof(m.name[i]), "%s-%05u", fill ? "sim" : "node", i);
	/* year: from a fixed day; fill: ending now */
	int64_t t0 = fill ? (int64_t)time(NULL) / HOUR * HOUR - (int64_t)days * DAY : 1767225600; /* 2026-01-01 */
	int64_t full_at = -1, max_after = 0, at_full = 0, end = 0;
	int rc = 0;
	for (int day = 0; day < days && rc == 0; day++) {
		for (int h = 0; h < 24 && rc == 0; h++) {
			int64_t hour = t0 + (int64_t)day * DAY + (int64_t)h * HOUR;
			for (unsigned i = 0; i < nodes && rc == 0; i++) {
				/* spread over the day and the hour, node by node */
				unsigned phase = (i * 7) % 24, minute = (i * 13) % 50;
				for (unsigned k = 0; k < incidents && rc == 0; k++)
					if ((phase + k * 24 / incidents) % 24 == (unsigned)h)
						rc = incident(&m, i, hour + minute * 60);
				if (rc == 0 && (phase + 5) % 24 == (unsigned)h) {
					struct fc_hb hb = {.q = m.q[i], .h = "811c9dc5", .i = 120};
					bool back;
					char hash[9];
					rc = fc_store_heartbeat(m.s, m.name[i], &hb, false, hour + minute * 60 + 30, &back,
								hash);
				}
			}
			int64_t now = hour + HOUR;
			if (rc == 0 && fc_store_sweep(m.s, now, NULL, NULL) < 0)
				rc = -EIO;
			if (fill)
				continue;
			int n;
			do {
				double t = mono();
				n = fc_store_prune(m.s, now - (int64_t)retain_days * DAY, FC_RETAIN_BATCH);
				t = mono() - t;
				if (n == FC_RETAIN_BATCH) {
					m.batches++;
					m.batch_s += t;
					m.batch_max_s = t > m.batch_max_s ? t : m.batch_max_s;
				}
				if (n < 0)
					rc = n;
				else
					m.pruned += n;
			} while (n == FC_RETAIN_BATCH);
		}
		int64_t size = file_size(db);
		char wal[4200];
		snprintf(wal, sizeof(wal), "%s-wal", db);
		size += file_size(wal);
		/* the window is full from retain_days on; steady from one window later */
		if (!fill && day + 1 >= retain_days && full_at < 0)
			full_at = day + 1;
		if (!fill && full_at > 0 && day + 1 >= full_at + retain_days / 3 && !at_full)
			at_full = size;
		if (!fill && full_at > 0 && size > max_after)
			max_after = size;
		end = size;
		if ((day + 1) % 30 == 0 || day + 1 == days)
			line(db, fill ? "fill" : "year", day + 1, m.pruned);
	}
	fc_store_delete(&m.s);
	cJSON_Delete(m.ev);
	cJSON_Delete(m.rem);
	cJSON_Delete(m.x);
	free(m.q);
	free(m.name);
	if (rc < 0) {
		fprintf(stderr, "retain_sim: the store failed (%s)\n", strerror(-rc));
		return 1;
	}
	if (fill)
		return 0;
	printf("result nodes=%u days=%d retain_days=%d incidents=%u max_after_full_bytes=%lld at_full_bytes=%lld"
	       " end_bytes=%lld max_mb=%g full_batches=%lld batch_ms_mean=%.2f batch_ms_max=%.2f\n",
	       nodes, days, retain_days, incidents, (long long)max_after, (long long)at_full, (long long)end, max_mb,
	       (long long)m.batches, m.batches ? 1000 * m.batch_s / (double)m.batches : 0, 1000 * m.batch_max_s);
	if (max_mb > 0 && max_after > (int64_t)(max_mb * 1048576)) {
		fprintf(stderr, "retain_sim: the store reached %lld bytes after the window filled, over %g MB\n",
			(long long)max_after, max_mb);
		return 1;
	}
	if (max_mb > 0 && at_full && end > at_full + at_full / 10) {
		fprintf(stderr, "retain_sim: the store grew from %lld to %lld bytes once the window was full\n",
			(long long)at_full, (long long)end);
		return 1;
	}
	return 0;
}
