/* fm_promtext: etcd's disk histograms out of /metrics text, fed whole and in
 * pieces, and hostile input skipped and counted rather than believed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_promtext.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An excerpt of etcd 3.4's /metrics as a Raspberry Pi with its data on an
 * SD card serves it: the layout, comments and neighbours are etcd's (Go
 * client_golang 1.x text format), the numbers those of a slow card. */
static const char etcd34_pi[] =
	"# HELP etcd_debugging_disk_backend_commit_rebalance_duration_seconds The latency distributions of commit.rebalance called by bboltdb backend.\n"
	"# TYPE etcd_debugging_disk_backend_commit_rebalance_duration_seconds histogram\n"
	"etcd_debugging_disk_backend_commit_rebalance_duration_seconds_bucket{le=\"0.001\"} 9120\n"
	"etcd_debugging_disk_backend_commit_rebalance_duration_seconds_bucket{le=\"+Inf\"} 9120\n"
	"etcd_debugging_disk_backend_commit_rebalance_duration_seconds_sum 0.0123\n"
	"etcd_debugging_disk_backend_commit_rebalance_duration_seconds_count 9120\n"
	"# HELP etcd_disk_backend_commit_duration_seconds The latency distributions of commit called by backend.\n"
	"# TYPE etcd_disk_backend_commit_duration_seconds histogram\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.001\"} 12\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.002\"} 230\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.004\"} 1480\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.008\"} 3902\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.016\"} 6011\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.032\"} 7430\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.064\"} 8204\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.128\"} 8650\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.256\"} 8977\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.512\"} 9088\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"1.024\"} 9115\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"2.048\"} 9120\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"4.096\"} 9120\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"8.192\"} 9120\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"+Inf\"} 9120\n"
	"etcd_disk_backend_commit_duration_seconds_sum 301.56298201100104\n"
	"etcd_disk_backend_commit_duration_seconds_count 9120\n"
	"# HELP etcd_disk_backend_snapshot_duration_seconds The latency distribution of backend snapshots.\n"
	"# TYPE etcd_disk_backend_snapshot_duration_seconds histogram\n"
	"etcd_disk_backend_snapshot_duration_seconds_bucket{le=\"0.01\"} 0\n"
	"etcd_disk_backend_snapshot_duration_seconds_bucket{le=\"+Inf\"} 0\n"
	"etcd_disk_backend_snapshot_duration_seconds_sum 0\n"
	"etcd_disk_backend_snapshot_duration_seconds_count 0\n"
	"# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.\n"
	"# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 102\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 1893\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"} 15872\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.008\"} 31010\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.016\"} 39872\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.032\"} 44310\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.064\"} 46115\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.128\"} 47001\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.256\"} 47790\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.512\"} 48102\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"1.024\"} 48190\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"2.048\"} 48208\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"4.096\"} 48213\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"8.192\"} 48213\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 48213\n"
	"etcd_disk_wal_fsync_duration_seconds_sum 1046.0817365790117\n"
	"etcd_disk_wal_fsync_duration_seconds_count 48213\n"
	"# HELP etcd_mvcc_db_total_size_in_bytes Total size of the underlying database physically allocated in bytes.\n"
	"# TYPE etcd_mvcc_db_total_size_in_bytes gauge\n"
	"etcd_mvcc_db_total_size_in_bytes 2.2155008e+07\n"
	"# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.\n"
	"# TYPE etcd_server_has_leader gauge\n"
	"etcd_server_has_leader 1\n"
	"# HELP etcd_server_quota_backend_bytes Current backend storage quota size in bytes.\n"
	"# TYPE etcd_server_quota_backend_bytes gauge\n"
	"etcd_server_quota_backend_bytes 2.147483648e+09\n"
	"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n"
	"# TYPE go_gc_duration_seconds summary\n"
	"go_gc_duration_seconds{quantile=\"0\"} 1.5279e-05\n"
	"go_gc_duration_seconds{quantile=\"0.5\"} 9.1551e-05\n"
	"go_gc_duration_seconds{quantile=\"1\"} 0.004263984\n"
	"go_gc_duration_seconds_sum 0.004945678\n"
	"go_gc_duration_seconds_count 9\n"
	"# HELP grpc_server_handled_total Total number of RPCs completed on the server, regardless of success or failure.\n"
	"# TYPE grpc_server_handled_total counter\n"
	"grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 183112\n"
	"grpc_server_handled_total{grpc_code=\"Unavailable\",grpc_method=\"Txn\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 17\n"
	"# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
	"# TYPE process_start_time_seconds gauge\n"
	"process_start_time_seconds 1.70071248e+09\n";

#define WAL    "etcd_disk_wal_fsync_duration_seconds"
#define COMMIT "etcd_disk_backend_commit_duration_seconds"

static void two(struct fm_prom_hist h[2])
{
	memset(h, 0, 2 * sizeof(h[0]));
	h[0].name = WAL;
	h[1].name = COMMIT;
}

static void assert_close(double a, double b)
{
	if (fabs(a - b) > 1e-9)
		fail_msg("%.12g != %.12g", a, b);
}

static void check_etcd34(const struct fm_promtext *p, const struct fm_prom_hist h[2])
{
	double share, bound, count;
	assert_int_equal(p->bad_lines, 0);
	assert_int_equal(p->long_lines, 0);
	assert_int_equal(p->samples, 15 + 2 + 15 + 2);

	assert_true(h[0].seen && h[0].has_count && h[0].has_sum);
	assert_int_equal(h[0].n_buckets, 15);
	assert_true(isinf(h[0].le[14]));
	assert_true(fm_prom_hist_count(&h[0], &count));
	assert_close(count, 48213);
	assert_int_equal(fm_prom_hist_share_above(&h[0], 0.128, &share, &bound), 0);
	assert_close(bound, 0.128);
	assert_close(share, 1 - 47001.0 / 48213.0);

	assert_true(fm_prom_hist_count(&h[1], &count));
	assert_close(count, 9120);
	assert_int_equal(fm_prom_hist_share_above(&h[1], 0.128, &share, &bound), 0);
	assert_close(share, 1 - 8650.0 / 9120.0);
	/* The rebalance histogram's name starts the same way: not mixed in. */
	assert_int_equal(h[1].n_buckets, 15);
}

static void etcd34_whole(void **state)
{
	(void)state;
	struct fm_prom_hist h[2];
	struct fm_promtext p;
	two(h);
	fm_promtext_parse(&p, etcd34_pi, strlen(etcd34_pi), h, 2);
	check_etcd34(&p, h);
	assert_int_equal(p.lines, 73);
}

/* The HTTP body arrives in pieces of any size; a line split anywhere must
 * read the same. */
static void etcd34_in_pieces(void **state)
{
	(void)state;
	size_t len = strlen(etcd34_pi);
	for (size_t piece = 1; piece <= 97; piece += 6) {
		struct fm_prom_hist h[2];
		struct fm_promtext p;
		two(h);
		fm_promtext_init(&p, h, 2);
		for (size_t at = 0; at < len; at += piece)
			assert_int_equal(fm_promtext_feed(&p, etcd34_pi + at,
							  len - at < piece ? len - at : piece),
					 0);
		fm_promtext_end(&p);
		check_etcd34(&p, h);
	}
}

/* No _count: the +Inf bucket is the count. No le="0.128": the nearest
 * bound below it. CRLF line ends, a timestamp, no final newline. */
static void count_from_inf_and_nearest_bound(void **state)
{
	(void)state;
	static const char text[] =
		WAL "_bucket{le=\"0.05\"} 50\r\n"
		WAL "_bucket{le=\"0.1\"} 80 1700712480000\r\n"
		WAL "_bucket{le=\"0.25\"} 95\r\n"
		WAL "_bucket{le=\"+Inf\"} 100";
	struct fm_prom_hist h[2];
	struct fm_promtext p;
	double share, bound, count;
	two(h);
	fm_promtext_parse(&p, text, strlen(text), h, 2);
	assert_int_equal(p.bad_lines, 0);
	assert_false(h[0].has_count);
	assert_true(fm_prom_hist_count(&h[0], &count));
	assert_close(count, 100);
	assert_int_equal(fm_prom_hist_share_above(&h[0], 0.128, &share, &bound), 0);
	assert_close(bound, 0.1);
	assert_close(share, 0.2);
	/* Nothing of the other one. */
	assert_false(h[1].seen);
	assert_int_equal(fm_prom_hist_share_above(&h[1], 0.128, &share, NULL), -ENODATA);
}

/* Several series (label sets besides le) are summed; label values may hold
 * escaped quotes, braces, commas and blanks; blanks around labels and a
 * trailing comma are allowed. */
static void series_are_summed(void **state)
{
	(void)state;
	static const char text[] =
		WAL "_bucket{disk=\"a \\\"b\\\" {c},d\",le=\"0.128\"} 7\n"
		WAL "_bucket { le = \"0.128\" , disk=\"e\\\\\" , } 3\n"
		WAL "_bucket{le=\"+Inf\",disk=\"a\"} 10\n"
		WAL "_bucket{disk=\"e\\n\",le=\"+Inf\"} 10\n"
		WAL "_count{disk=\"a\"} 10\n"
		WAL "_count{disk=\"e\"}\t10\n";
	struct fm_prom_hist h[2];
	struct fm_promtext p;
	double share;
	two(h);
	fm_promtext_parse(&p, text, strlen(text), h, 2);
	assert_int_equal(p.bad_lines, 0);
	assert_int_equal(h[0].n_buckets, 2);
	assert_close(h[0].cum[0], 10);
	assert_close(h[0].count, 20);
	assert_int_equal(fm_prom_hist_share_above(&h[0], 0.128, &share, NULL), 0);
	assert_close(share, 0.5);
}

/* Garbage is counted, skipped, and never believed. */
static void hostile_lines(void **state)
{
	(void)state;
	char text[4096];
	char longline[FM_PROMTEXT_MAX_LINE + 50];
	memset(longline, '9', sizeof(longline) - 1);
	memcpy(longline, WAL "_count ", strlen(WAL "_count "));
	longline[sizeof(longline) - 1] = '\0';
	int n = snprintf(text, sizeof(text),
		"%s\n"                                  /* too long: skipped whole */
		WAL "_bucket{le=\"0.128\"} 5\n"
		WAL "_bucket{le=\"+Inf\"} 10\n"
		WAL "_count 10\n"
		WAL "_count -4\n"                       /* negative count */
		WAL "_count NaN\n"                      /* not a number */
		WAL "_count +Inf\n"                     /* not finite */
		WAL "_bucket 3\n"                       /* no le */
		WAL "_bucket{le=\"NaN\"} 3\n"           /* le not a bound */
		WAL "_bucket{le=\"0.128} 3\n"           /* unterminated value */
		WAL "_bucket{le=0.128} 3\n"             /* unquoted value */
		WAL "_bucket{le=\"0.128\" 3\n"          /* no closing brace */
		WAL "_bucket{=\"0.128\"} 3\n"           /* no label name */
		WAL "_count 10 junk\n"                  /* not a timestamp */
		WAL "_count 10 12 13\n"                 /* two timestamps */
		WAL "_count 1e\n"                       /* half a number */
		WAL "_count\n"                          /* no value */
		WAL "_count10\n"                        /* name runs into the value */
		"{le=\"0.1\"} 4\n"                      /* no name */
		"9" WAL "_count 4\n"                    /* name starting with a digit */
		"\x01\xff\xfe garbage\n"
		"<html><body>404</body></html>\n",
		longline);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	/* A NUL inside a line is just another byte that does not parse. */
	static const char nul_line[] = WAL "_count 1\0" "00\n";

	struct fm_prom_hist h[2];
	struct fm_promtext p;
	double share;
	two(h);
	fm_promtext_init(&p, h, 2);
	fm_promtext_feed(&p, text, (size_t)n);
	fm_promtext_feed(&p, nul_line, sizeof(nul_line) - 1);
	fm_promtext_end(&p);
	assert_int_equal(p.long_lines, 1);
	assert_int_equal(p.bad_lines, 19);
	assert_close(h[0].count, 10);
	assert_int_equal(h[0].n_buckets, 2);
	assert_int_equal(fm_prom_hist_share_above(&h[0], 0.128, &share, NULL), 0);
	assert_close(share, 0.5);
}

/* A line exactly at the cap is read; one byte more is not, and the line
 * after it is read again. */
static void line_cap_boundary(void **state)
{
	(void)state;
	char line[FM_PROMTEXT_MAX_LINE + 2];
	struct fm_prom_hist h[2];
	struct fm_promtext p;
	const char *prefix = WAL "_count ";
	size_t pl = strlen(prefix);

	for (int extra = 0; extra <= 1; extra++) {
		size_t len = FM_PROMTEXT_MAX_LINE + (size_t)extra;
		/* Trailing blanks are allowed: they pad the line to the size. */
		memcpy(line, prefix, pl);
		line[pl] = '7';
		memset(line + pl + 1, ' ', len - pl - 1);
		line[len] = '\n';
		two(h);
		fm_promtext_init(&p, h, 2);
		fm_promtext_feed(&p, line, len + 1);
		fm_promtext_feed(&p, WAL "_sum 2\n", strlen(WAL "_sum 2\n"));
		fm_promtext_end(&p);
		assert_int_equal(p.lines, 2);
		assert_int_equal(p.long_lines, (uint64_t)extra);
		assert_int_equal(h[0].has_count, extra == 0);
		assert_true(h[0].has_sum);
	}
}

/* More distinct bounds than the table holds: kept sorted, the rest dropped
 * and the histogram marked. */
static void too_many_buckets(void **state)
{
	(void)state;
	struct fm_prom_hist h[2];
	struct fm_promtext p;
	char line[128];
	two(h);
	fm_promtext_init(&p, h, 2);
	for (int i = 100; i > 0; i--) {
		int n = snprintf(line, sizeof(line), WAL "_bucket{le=\"%d\"} %d\n", i, i);
		fm_promtext_feed(&p, line, (size_t)n);
	}
	fm_promtext_end(&p);
	assert_true(h[0].truncated);
	assert_int_equal(h[0].n_buckets, FM_PROMTEXT_MAX_BUCKETS);
	for (size_t i = 1; i < h[0].n_buckets; i++)
		assert_true(h[0].le[i - 1] < h[0].le[i]);
}

static void share_edge_cases(void **state)
{
	(void)state;
	struct fm_prom_hist h = {.name = WAL};
	double share = -1;

	/* No count at all. */
	assert_int_equal(fm_prom_hist_share_above(&h, 0.128, &share, NULL), -ENODATA);
	/* A count but no bucket at or below the bound. */
	h.has_count = true;
	h.count = 10;
	h.n_buckets = 1;
	h.le[0] = 0.256;
	h.cum[0] = 4;
	assert_int_equal(fm_prom_hist_share_above(&h, 0.128, &share, NULL), -ENODATA);
	/* More in a bucket than in total: contradictory, not a negative share. */
	h.le[0] = 0.128;
	h.cum[0] = 11;
	assert_int_equal(fm_prom_hist_share_above(&h, 0.128, &share, NULL), -ERANGE);
	/* Nothing observed yet: nothing slow. */
	h.count = 0;
	h.cum[0] = 0;
	assert_int_equal(fm_prom_hist_share_above(&h, 0.128, &share, NULL), 0);
	assert_close(share, 0);
	/* Everything fast. */
	h.count = 10;
	h.cum[0] = 10;
	assert_int_equal(fm_prom_hist_share_above(&h, 0.128, &share, NULL), 0);
	assert_close(share, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(etcd34_whole),
		cmocka_unit_test(etcd34_in_pieces),
		cmocka_unit_test(count_from_inf_and_nearest_bound),
		cmocka_unit_test(series_are_summed),
		cmocka_unit_test(hostile_lines),
		cmocka_unit_test(line_cap_boundary),
		cmocka_unit_test(too_many_buckets),
		cmocka_unit_test(share_edge_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
