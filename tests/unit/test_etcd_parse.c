/* fm_etcd's pure parts, on answers no real etcd gives on demand: alarms as
 * enum numbers, several members raising one alarm, hostile alarm names, and
 * the disk latency histograms of a slow disk. The rest of fm_etcd is tested
 * against real etcd 3.4 and 3.5 (tests/integration/test_etcd_facts.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fmh_check.h"

#include "fm_etcd.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL "https://127.0.0.1:2379"

/* fm_etcd_parse_alarms on body into a new fact set; *n gets its result. */
static struct fm_facts *alarms(const char *body, struct fm_etcd_alarm *al, int max, int *n)
{
	struct fm_facts *facts = fm_facts_new();
	assert_non_null(facts);
	*n = fm_etcd_parse_alarms(facts, URL, body, strlen(body), al, max);
	return facts;
}

static const cJSON *alarm_fact(const struct fm_facts *facts, const char *name)
{
	char id[64];
	snprintf(id, sizeof(id), "%s#%s", URL, name);
	const cJSON *f = fm_facts_get(facts, "etcd.alarm", id);
	if (!f)
		fail_msg("no etcd.alarm %s", id);
	return f;
}

/* A raised CORRUPT alarm written as etcd's JSON gateway writes it (what
 * etcd 3.5.16 answered after the alarm was activated), and as its enum
 * number, as a marshaller with EnumsAsInts writes it. */
static void corrupt_by_name_and_number(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"{\"header\":{\"cluster_id\":\"15118495548433857066\", "
		"\"member_id\":\"10276657743932975437\", \"revision\":\"1\", \"raft_term\":\"2\"}, "
		"\"alarms\":[{\"memberID\":\"10276657743932975437\", \"alarm\":\"CORRUPT\"}]}",
		"{\"header\":{\"member_id\":\"10276657743932975437\"},"
		"\"alarms\":[{\"memberID\":\"10276657743932975437\",\"alarm\":2}]}",
	};
	for (size_t i = 0; i < 2; i++) {
		struct fm_etcd_alarm al[4];
		int n;
		struct fm_facts *facts = alarms(bodies[i], al, 4, &n);
		assert_int_equal(n, 1);
		assert_string_equal(al[0].name, "CORRUPT");
		assert_true(al[0].member == 10276657743932975437ULL);
		const cJSON *f = alarm_fact(facts, "CORRUPT");
		assert_string_equal(fmh_jstr(f, "alarm"), "CORRUPT");
		/* hex as etcdctl prints member ids, never a lossy double */
		assert_string_equal(fmh_jstr(f, "member_id"), "8e9e05c52164694d");
		assert_int_equal((int)fmh_jnum(f, "members"), 1);
		assert_int_equal(fm_facts_count(facts), 1);
		fm_facts_delete(&facts);
	}
}

/* One alarm raised by several members is one fact that counts them; NONE
 * (by name, by number, or left out as proto3 leaves out zero) is no alarm; a
 * number past the enum is UNKNOWN; a member id as a JSON number is read. */
static void members_none_and_unknown(void **state)
{
	(void)state;
	struct fm_etcd_alarm al[8];
	int n;
	struct fm_facts *facts = alarms("{\"alarms\":["
					"{\"memberID\":\"1\",\"alarm\":\"NOSPACE\"},"
					"{\"memberID\":\"2\",\"alarm\":1},"
					"{\"memberID\":\"3\"},"
					"{\"memberID\":\"3\",\"alarm\":\"NONE\"},"
					"{\"memberID\":\"3\",\"alarm\":0},"
					"{\"memberID\":255,\"alarm\":7},"
					"{\"memberID\":\"3\",\"alarm\":\"NOSPACE\"}]}",
					al, 8, &n);
	assert_int_equal(n, 2);
	const cJSON *f = alarm_fact(facts, "NOSPACE");
	assert_string_equal(fmh_jstr(f, "member_id"), "1"); /* the first to raise it */
	assert_int_equal((int)fmh_jnum(f, "members"), 3);
	f = alarm_fact(facts, "UNKNOWN");
	assert_string_equal(fmh_jstr(f, "member_id"), "ff");
	assert_int_equal(fm_facts_count(facts), 2);
	fm_facts_delete(&facts);
}

/* No alarm raised: proto3 JSON leaves the empty list out. Not an object,
 * or "alarms" not a list: nothing either. */
static void no_alarms(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"{\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\",\"revision\":\"1\"}}",
		"{\"alarms\":[]}",
		"{\"alarms\":\"CORRUPT\"}",
		"[{\"alarm\":\"CORRUPT\"}]",
		"\"CORRUPT\"",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct fm_etcd_alarm al[2];
		int n;
		struct fm_facts *facts = alarms(bodies[i], al, 2, &n);
		assert_int_equal(n, 0);
		assert_int_equal(fm_facts_count(facts), 0);
		fm_facts_delete(&facts);
	}
}

/* Names become fact ids: only [A-Z0-9_] is kept, and they are cut to fit;
 * a name with nothing left is no alarm. Past max, alarms are dropped. */
static void hostile_names_and_max(void **state)
{
	(void)state;
	struct fm_etcd_alarm al[3];
	int n;
	struct fm_facts *facts = alarms("{\"alarms\":["
					"{\"alarm\":\"CORRUPT\\\"; rm -rf /#x\"},"
					"{\"alarm\":\"a/b c\"},"
					"{\"alarm\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\"},"
					"{\"alarm\":\"NOSPACE\"},"
					"{\"alarm\":\"X1\"},"
					"{\"alarm\":\"X2\"}]}",
					al, 3, &n);
	assert_int_equal(n, 3);
	assert_string_equal(al[0].name, "CORRUPT");
	assert_string_equal(al[1].name, "ABCDEFGHIJKLMNOPQRSTUVW"); /* 23 + NUL */
	assert_string_equal(al[2].name, "NOSPACE");
	alarm_fact(facts, "CORRUPT");
	alarm_fact(facts, "NOSPACE");
	assert_int_equal(fm_facts_count(facts), 3);
	fm_facts_delete(&facts);
}

/* --- disk ---------------------------------------------------------------- */

/* etcd_disk_* histograms of a slow disk, in etcd's /metrics layout:
 * 10 of 100 WAL fsyncs and 10 of 40 backend commits over 128 ms. */
static const char slow_disk[] =
	"# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.\n"
	"# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 10\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.064\"} 60\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.128\"} 90\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.256\"} 99\n"
	"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 100\n"
	"etcd_disk_wal_fsync_duration_seconds_sum 7.5\n"
	"etcd_disk_wal_fsync_duration_seconds_count 100\n"
	"# HELP etcd_disk_backend_commit_duration_seconds The latency distributions of commit called by backend.\n"
	"# TYPE etcd_disk_backend_commit_duration_seconds histogram\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.128\"} 30\n"
	"etcd_disk_backend_commit_duration_seconds_bucket{le=\"+Inf\"} 40\n"
	"etcd_disk_backend_commit_duration_seconds_sum 9.1\n"
	"etcd_disk_backend_commit_duration_seconds_count 40\n";

/* The etcd.disk fields for a /metrics text, as fm_etcd_collect makes them. */
static cJSON *disk(const char *text)
{
	struct fm_prom_hist h[FM_ETCD_DISK_HISTS];
	struct fm_promtext pt;
	cJSON *f = cJSON_CreateObject();
	fm_etcd_disk_hists(h);
	fm_promtext_parse(&pt, text, strlen(text), h, FM_ETCD_DISK_HISTS);
	fm_etcd_disk_fields(f, "http://127.0.0.1:2381", &pt, h);
	return f;
}

static void assert_close(double a, double b)
{
	if (fabs(a - b) > 1e-9)
		fail_msg("%.12g != %.12g", a, b);
}

static void slow_disk_shares(void **state)
{
	(void)state;
	cJSON *f = disk(slow_disk);
	assert_int_equal((int)fmh_jnum(f, "wal_fsync_count"), 100);
	assert_close(fmh_jnum(f, "wal_fsync_slow_share"), 0.1);
	assert_int_equal((int)fmh_jnum(f, "backend_commit_count"), 40);
	assert_close(fmh_jnum(f, "backend_commit_slow_share"), 0.25);
	assert_int_equal((int)fmh_jnum(f, "bucket_le_ms"), 128);
	assert_null(cJSON_GetObjectItem(f, "state"));
	assert_null(cJSON_GetObjectItem(f, "reason"));
	cJSON_Delete(f);
}

/* Shares are rounded to 4 places; without a 0.128 bucket the nearest bound
 * below it is used and named; a histogram without buckets gives its count
 * only. */
static void rounding_and_other_bounds(void **state)
{
	(void)state;
	cJSON *f = disk("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.1\"} 2\n"
			"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.2\"} 3\n"
			"etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 3\n"
			"etcd_disk_wal_fsync_duration_seconds_count 3\n"
			"etcd_disk_backend_commit_duration_seconds_count 5\n");
	assert_int_equal((int)fmh_jnum(f, "wal_fsync_count"), 3);
	assert_close(fmh_jnum(f, "wal_fsync_slow_share"), 0.3333);
	assert_int_equal((int)fmh_jnum(f, "bucket_le_ms"), 100);
	assert_int_equal((int)fmh_jnum(f, "backend_commit_count"), 5);
	assert_null(cJSON_GetObjectItem(f, "backend_commit_slow_share"));
	assert_null(cJSON_GetObjectItem(f, "state"));
	cJSON_Delete(f);
}

/* Not etcd's metrics, and numbers that contradict themselves: malformed,
 * with a reason naming the URL. */
static void not_etcd_and_contradictions(void **state)
{
	(void)state;
	cJSON *f = disk("# HELP apiserver_request_total Counter of apiserver requests.\n"
			"# TYPE apiserver_request_total counter\n"
			"apiserver_request_total{code=\"200\"} 12\n"
			"this is not a sample\n");
	assert_string_equal(fmh_jstr(f, "state"), "malformed");
	assert_string_equal(
	    fmh_jstr(f, "reason"),
	    "http://127.0.0.1:2381/metrics has no etcd_disk_* histograms (4 lines, 1 "
	    "unreadable): not etcd's metrics listener?");
	assert_null(cJSON_GetObjectItem(f, "wal_fsync_count"));
	cJSON_Delete(f);

	f = disk("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.128\"} 50\n"
		 "etcd_disk_wal_fsync_duration_seconds_count 40\n");
	assert_string_equal(fmh_jstr(f, "state"), "malformed");
	assert_string_equal(
	    fmh_jstr(f, "reason"),
	    "http://127.0.0.1:2381/metrics: etcd_disk_wal_fsync_duration_seconds has "
	    "more observations in a bucket than in total");
	assert_int_equal((int)fmh_jnum(f, "wal_fsync_count"), 40);
	assert_null(cJSON_GetObjectItem(f, "wal_fsync_slow_share"));
	cJSON_Delete(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(corrupt_by_name_and_number),
	    cmocka_unit_test(members_none_and_unknown),
	    cmocka_unit_test(no_alarms),
	    cmocka_unit_test(hostile_names_and_max),
	    cmocka_unit_test(slow_disk_shares),
	    cmocka_unit_test(rounding_and_other_bounds),
	    cmocka_unit_test(not_etcd_and_contradictions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
