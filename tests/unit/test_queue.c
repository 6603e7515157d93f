/* fm_queue: order and sequence numbers, acknowledgements, a restart (the
 * queue reopened from the state dir), the byte bound (merging, never
 * dropping a diagnosis), the merge rules, GET /me's floor, and a state file
 * that is not ours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_queue.h"
#include "fm_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *raised(const char *code, const char *key, int sev, const char *summary)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"c\":\"%s\",\"s\":%d,\"k\":\"%s\",\"m\":\"%s\",\"f\":[\"fix %s\"]}", code,
		 sev, key, summary, key);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	return o;
}

static cJSON *resolved(const char *code, const char *key)
{
	cJSON *a = cJSON_CreateArray();
	cJSON_AddItemToArray(a, cJSON_CreateString(code));
	cJSON_AddItemToArray(a, cJSON_CreateString(key));
	return a;
}

static cJSON *items1(cJSON *it)
{
	cJSON *a = cJSON_CreateArray();
	cJSON_AddItemToArray(a, it);
	return a;
}

static void dir(char *out, size_t size)
{
	assert_int_equal(fmh_tmpdir(out, size), 0);
}

static cJSON *head_json(struct fm_queue *q, uint32_t *seq)
{
	const char *p = fm_queue_head(q, false, 0, seq);
	assert_non_null(p);
	assert_true(strlen(p) <= FM_REPORT_MAX);
	cJSON *o = cJSON_Parse(p);
	assert_non_null(o);
	assert_int_equal((uint32_t)cJSON_GetObjectItem(o, "q")->valuedouble, *seq);
	return o;
}

static void order_ack_and_restart(void **state)
{
	(void)state;
	char d[256], err[256];
	dir(d, sizeof(d));
	struct fm_queue *q = fm_queue_open(d, 0, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(fm_queue_last_seq(q), 0);
	uint32_t seq = 99;
	assert_null(fm_queue_head(q, false, 0, &seq));
	assert_int_equal(
	    fm_queue_push(q, items1(raised("etcd-unreachable", "https://127.0.0.1:2379", 3, "a")),
			  100),
	    0);
	assert_int_equal(fm_queue_push(q, items1(raised("undervoltage", "board", 2, "b")), 101), 0);
	assert_int_equal(fm_queue_push(q, cJSON_CreateArray(), 102), 0); /* nothing: no report */
	assert_int_equal(fm_queue_count(q), 2);

	cJSON *h = head_json(q, &seq);
	assert_int_equal(seq, 1);
	assert_int_equal(cJSON_GetObjectItem(h, "t")->valueint, 100);
	cJSON_Delete(h);
	/* Asked again before the answer (a retransmission): the same number. */
	h = head_json(q, &seq);
	assert_int_equal(seq, 1);
	cJSON_Delete(h);
	assert_int_equal(fm_queue_ack(q, 7), -ENOENT);
	assert_int_equal(fm_queue_count(q), 2);

	/* A restart with report 1 on the wire, unacknowledged. */
	fm_queue_delete(&q);
	q = fm_queue_open(d, 0, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(fm_queue_count(q), 2);
	assert_int_equal(fm_queue_last_seq(q), 1);
	h = head_json(q, &seq);
	assert_int_equal(seq, 1); /* the same report, the same number: the controller drops a repeat */
	cJSON_Delete(h);
	assert_int_equal(fm_queue_ack(q, 1), 0);
	assert_int_equal(fm_queue_ack(q, 1), -ENOENT); /* a late second answer */
	h = head_json(q, &seq);
	assert_int_equal(seq, 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "d"), 0), "c")->valuestring,
			    "undervoltage");
	cJSON_Delete(h);
	assert_int_equal(fm_queue_ack(q, 2), 0);
	assert_int_equal(fm_queue_count(q), 0);

	/* After everything was acknowledged, a restart resends nothing and
	 * numbers on. */
	fm_queue_delete(&q);
	q = fm_queue_open(d, 0, err, sizeof(err));
	assert_int_equal(fm_queue_count(q), 0);
	assert_null(fm_queue_head(q, false, 0, &seq));
	assert_int_equal(fm_queue_push(q, items1(resolved("undervoltage", "board")), 200), 0);
	h = head_json(q, &seq);
	assert_int_equal(seq, 3);
	cJSON_Delete(h);
	fm_queue_delete(&q);
}

static void merge_rules(void **state)
{
	(void)state;
	cJSON *a = cJSON_CreateArray();
	cJSON_AddItemToArray(a, raised("x", "1", 3, "old"));
	cJSON_AddItemToArray(a, resolved("y", "2"));
	cJSON *b = cJSON_CreateArray();
	cJSON_AddItemToArray(b, raised("x", "1", 1, "new")); /* later change wins, in place */
	cJSON_AddItemToArray(b, raised("y", "2", 2, "again")); /* resolve then raise: the raise */
	cJSON_AddItemToArray(b, resolved("x", "1")); /* raise then resolve: both */
	assert_int_equal(fm_queue_merge_items(a, b), 0);
	char *s = cJSON_PrintUnformatted(a);
	assert_string_equal(s, "[{\"c\":\"x\",\"s\":1,\"k\":\"1\",\"m\":\"new\",\"f\":[\"fix 1\"]},"
			       "{\"c\":\"y\",\"s\":2,\"k\":\"2\",\"m\":\"again\",\"f\":[\"fix 2\"]},[\"x\",\"1\"]]");
	free(s);
	cJSON_Delete(b);
	/* A second resolve of the same is one. */
	b = items1(resolved("x", "1"));
	assert_int_equal(fm_queue_merge_items(a, b), 0);
	assert_int_equal(cJSON_GetArraySize(a), 3);
	cJSON_Delete(b);
	cJSON_Delete(a);
}

/* A flapping diagnosis and a steady stream of distinct ones while the
 * controller is away: the queue stays near its bound by merging; every
 * distinct diagnosis is still there, each in its latest form, in order. */
static void bound_merges_never_drops(void **state)
{
	(void)state;
	char d[256], err[256];
	dir(d, sizeof(d));
	struct fm_queue *q = fm_queue_open(d, 4096, err, sizeof(err));
	assert_non_null(q);
	for (int i = 0; i < 400; i++) {
		char key[32], summary[64];
		snprintf(summary, sizeof(summary), "flap %d", i);
		cJSON *items = cJSON_CreateArray();
		cJSON_AddItemToArray(items, i % 2 ? resolved("etcd-slow-disk", "mmcblk0")
						  : raised("etcd-slow-disk", "mmcblk0", 2, summary));
		if (i % 20 == 0) {
			snprintf(key, sizeof(key), "/etc/kubernetes/pki/c%03d.crt", i / 20);
			cJSON_AddItemToArray(items, raised("cert-expiring", key, 2, "expires soon"));
		}
		assert_int_equal(fm_queue_push(q, items, 1000 + i), 0);
	}
	assert_true(fm_queue_merges(q) > 0);
	assert_true(fm_queue_bytes(q) <= 4096);
	/* Reopened: the same, and it drains in order. */
	fm_queue_delete(&q);
	q = fm_queue_open(d, 4096, err, sizeof(err));
	assert_non_null(q);
	int certs = 0, last_cert = -1, slow_raised = 0, slow_resolved = 0;
	uint32_t seq, expect = 1;
	const char *p;
	while ((p = fm_queue_head(q, false, 0, &seq))) {
		assert_int_equal(seq, expect++);
		assert_true(strlen(p) <= FM_REPORT_MAX);
		cJSON *rep = cJSON_Parse(p);
		const cJSON *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(rep, "d"))
		{
			const char *c = cJSON_GetObjectItem(it, "c")->valuestring;
			if (strcmp(c, "cert-expiring") == 0) {
				int n = atoi(cJSON_GetObjectItem(it, "k")->valuestring + strlen("/etc/kubernetes/pki/c"));
				assert_true(n > last_cert);
				last_cert = n;
				certs++;
			} else {
				slow_raised++;
			}
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(rep, "r"))
		{
			slow_resolved++;
		}
		cJSON_Delete(rep);
		assert_int_equal(fm_queue_ack(q, seq), 0);
	}
	assert_int_equal(certs, 20);
	/* The last change of the flapping one was its resolve: it ends
	 * resolved, and was raised at least once before. */
	assert_true(slow_raised >= 1);
	assert_true(slow_resolved >= 1);
	fm_queue_delete(&q);
}

/* Distinct diagnoses beyond the bound are kept (the bound yields). */
static void bound_yields_to_distinct(void **state)
{
	(void)state;
	char err[256];
	struct fm_queue *q = fm_queue_open(NULL, 1024, err, sizeof(err));
	for (int i = 0; i < 60; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%02d", i);
		assert_int_equal(fm_queue_push(q, items1(raised("disk-pressure", key, 2, "full")), i), 0);
	}
	assert_true(fm_queue_bytes(q) > 1024);
	int seen = 0;
	uint32_t seq;
	const char *p;
	while ((p = fm_queue_head(q, false, 0, &seq))) {
		cJSON *rep = cJSON_Parse(p);
		seen += cJSON_GetArraySize(cJSON_GetObjectItem(rep, "d"));
		cJSON_Delete(rep);
		fm_queue_ack(q, seq);
	}
	assert_int_equal(seen, 60);
	fm_queue_delete(&q);
}

static void floor_and_reported(void **state)
{
	(void)state;
	char d[256], err[256];
	dir(d, sizeof(d));
	struct fm_queue *q = fm_queue_open(d, 0, err, sizeof(err));
	/* A lost state dir: the controller holds up to 40. */
	assert_int_equal(fm_queue_floor(q, 40), 0);
	assert_int_equal(fm_queue_last_seq(q), 40);
	fm_queue_push(q, items1(raised("x", "1", 3, "m")), 1);
	fm_queue_push(q, items1(raised("y", "1", 3, "m")), 2);
	uint32_t seq;
	cJSON_Delete(head_json(q, &seq));
	assert_int_equal(seq, 41);
	/* The controller stored 41 but its answer was lost: dropped. */
	assert_int_equal(fm_queue_floor(q, 41), 0);
	assert_int_equal(fm_queue_count(q), 1);
	cJSON_Delete(head_json(q, &seq));
	assert_int_equal(seq, 42);

	cJSON *active = cJSON_Parse("[{\"code\":\"x\",\"key\":\"1\",\"severity\":\"critical\",\"summary\":\"m\","
				    "\"evidence\":[{\"kind\":\"big\",\"id\":\"1\"}],\"remedy\":[\"fix\"]}]");
	assert_int_equal(fm_queue_set_reported(q, active), 0);
	fm_queue_delete(&q);
	q = fm_queue_open(d, 0, err, sizeof(err));
	const cJSON *rep = fm_queue_reported(q);
	assert_int_equal(cJSON_GetArraySize(rep), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rep, 0), "severity")->valuestring, "critical");
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(rep, 0), "evidence"));
	assert_int_equal(fm_queue_last_seq(q), 42);
	cJSON_Delete(active);
	fm_queue_delete(&q);
}

/* A queue file this agent did not write (garbage, or JSON of another
 * shape): put aside, the queue starts empty and is written anew. */
static void not_our_file(void **state)
{
	(void)state;
	char d[256], err[256];
	struct fm_state_bad b;
	dir(d, sizeof(d));
	assert_int_equal(fm_state_write(d, "uplink.json", "not json", 8), 0);
	struct fm_queue *q = fm_queue_open(d, 0, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(fm_queue_count(q), 0);
	assert_int_equal(fm_queue_last_seq(q), 0);
	fm_queue_delete(&q);
	size_t i = 0;
	while (fm_state_bad_at(i, &b) && strcmp(b.dir, d) != 0)
		i++;
	assert_string_equal(b.dir, d);
	assert_string_equal(b.name, "uplink.json");
	assert_non_null(strstr(b.why, "not JSON"));

	const char *bad = "{\"last_q\":1,\"reports\":[{\"t\":1,\"items\":[7]}],\"reported\":[]}";
	assert_int_equal(fm_state_write(d, "uplink.json", bad, strlen(bad)), 0);
	q = fm_queue_open(d, 0, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(fm_queue_count(q), 0);
	assert_true(fm_state_bad_at(i, &b));
	assert_non_null(strstr(b.why, "shape"));
	/* the next push writes a queue of the agent's own */
	assert_int_equal(fm_queue_push(q, items1(raised("x", "1", 3, "m")), 1), 0);
	fm_queue_delete(&q);
	q = fm_queue_open(d, 0, err, sizeof(err));
	assert_int_equal(fm_queue_count(q), 1);
	fm_queue_delete(&q);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(order_ack_and_restart),
		cmocka_unit_test(merge_rules),
		cmocka_unit_test(bound_merges_never_drops),
		cmocka_unit_test(bound_yields_to_distinct),
		cmocka_unit_test(floor_and_reported),
		cmocka_unit_test(not_our_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
