/* The pure readers of etcd's and kube-apiserver's answers (fm_etcd_parse_*,
 * fm_apiserver_parse_*) on recorded answers, the seeds of the fuzz targets
 * (tests/fuzz/capture-seeds.sh): real etcd 3.5 without a leader and real
 * etcd 3.4's alarm list; and the apiserver stand-in's (not a kube-apiserver)
 * answers serving incident 1 and with its etcd down. Each says what the
 * collection would put. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fmh_check.h"

#include "fm_apiserver.h"
#include "fm_etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETCD_URL "http://127.0.0.1:2379"
#define API_URL	 "https://127.0.0.1:6443"

/* A recorded answer of the corpus: "etcd/cap-etcd35-noleader-status".
 * Caller frees. */
static char *answer(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", FM_FUZZ_CORPUS, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	char *buf = malloc(1 << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* etcd 3.5.16 whose only peer was stopped: the status has a header and no
 * leader, and says so in its errors; /health and /readyz say why. */
static void etcd_without_leader(void **state)
{
	(void)state;
	struct fm_facts *facts = fm_facts_new();
	size_t len;
	uint64_t leader = 1;
	bool known = false;
	char *b = answer("etcd/cap-etcd35-noleader-status", &len);
	assert_int_equal(fm_etcd_parse_status(facts, ETCD_URL, b, len, &leader, &known), 0);
	free(b);
	assert_true(known);
	assert_int_equal(leader, 0);
	const cJSON *st = fm_facts_get(facts, "etcd.status", ETCD_URL);
	assert_non_null(st);
	assert_string_equal(fmh_jstr(st, "version"), "3.5.16");
	/* 389670114438434289 in hex, as etcdctl prints member ids */
	assert_string_equal(fmh_jstr(st, "member_id"), "56862e78eb04df1");
	assert_false(fmh_jbool(st, "is_leader"));
	assert_int_equal((int)fmh_jnum(st, "db_size"), 20480);
	assert_true(fmh_lists(fmh_field(st, "errors"), "etcdserver: no leader"));

	struct fm_etcd_health h = {0};
	b = answer("etcd/cap-etcd35-noleader-health", &len);
	fm_etcd_parse_health(&h, 503, b, len);
	free(b);
	assert_false(h.healthy);
	assert_true(h.server_reason);
	assert_string_equal(h.reason, "RAFT NO LEADER");

	struct fm_etcd_health r = {.healthy = true};
	b = answer("etcd/cap-etcd35-noleader-readyz", &len);
	fm_etcd_parse_checks(&r, "/readyz", 503, b, len);
	free(b);
	assert_false(r.healthy);
	assert_string_equal(r.reason, "/readyz: linearizable_read failed: etcdserver: request timed out");

	b = answer("etcd/cap-etcd35-noleader-members", &len);
	assert_int_equal(fm_etcd_parse_members(facts, ETCD_URL, b, len), 0);
	free(b);
	assert_int_equal((int)fmh_jnum(fm_facts_get(facts, "etcd.members", ETCD_URL), "count"), 2);

	/* The timed-out range is gRPC's error, not a range answer. */
	b = answer("etcd/cap-etcd35-noleader-range", &len);
	assert_int_equal(fm_etcd_parse_masterleases(facts, ETCD_URL, b, len), -EBADMSG);
	free(b);
	assert_null(fm_facts_get(facts, "etcd.masterleases", ETCD_URL));
	fm_facts_delete(&facts);
}

/* A healthy etcd 3.4: "{}" is its alarm list (proto3 JSON omits the empty
 * list), its version decides /health over /livez, its range counts 0. */
static void etcd34_healthy(void **state)
{
	(void)state;
	struct fm_facts *facts = fm_facts_new();
	struct fm_etcd_alarm al[4];
	struct fm_etcd_version v = {0};
	size_t len;
	char *b = answer("etcd/cap-etcd34-alarms", &len);
	assert_int_equal(fm_etcd_parse_alarms(facts, ETCD_URL, b, len, al, 4), 0);
	free(b);
	b = answer("etcd/cap-etcd34-version", &len);
	assert_int_equal(fm_etcd_parse_version(facts, ETCD_URL, b, len, &v), 0);
	free(b);
	assert_true(v.known);
	assert_int_equal(v.major, 3);
	assert_int_equal(v.minor, 4);
	b = answer("etcd/cap-etcd34-range", &len);
	assert_int_equal(fm_etcd_parse_masterleases(facts, ETCD_URL, b, len), 0);
	free(b);
	assert_int_equal((int)fmh_jnum(fm_facts_get(facts, "etcd.masterleases", ETCD_URL), "count"), 0);
	/* Not JSON: nothing put, the caller says "not JSON". */
	assert_int_equal(fm_etcd_parse_version(facts, "x", "<html>", 6, &v), -EBADMSG);
	assert_null(fm_facts_get(facts, "etcd.version", "x"));
	fm_facts_delete(&facts);
}

/* Incident 1's kube-system as the stand-in serves it: the apiserver's pod
 * waiting in CreateContainerError after 23 restarts, the flannel pod
 * evicted; jetson under DiskPressure. */
static void apiserver_incident1_lists(void **state)
{
	(void)state;
	struct fm_facts *facts = fm_facts_new();
	size_t len;
	char *b = answer("apiserver/cap-incident-etcd-2379-pods", &len);
	assert_int_equal(fm_apiserver_parse_pods(facts, API_URL, b, len), 0);
	free(b);
	const cJSON *pods = fm_facts_get(facts, "apiserver.pods", API_URL);
	assert_int_equal((int)fmh_jnum(pods, "count"), 5);
	assert_false(fmh_jbool(pods, "truncated"));
	const cJSON *p = fm_facts_get(facts, "pod", "kube-system/kube-apiserver-pi-master1");
	assert_non_null(p);
	const cJSON *c = cJSON_GetArrayItem(fmh_field(p, "containers"), 0);
	assert_string_equal(fmh_jstr(c, "state"), "waiting");
	assert_string_equal(fmh_jstr(c, "waiting_reason"), "CreateContainerError");
	assert_int_equal((int)fmh_jnum(c, "restarts"), 23);
	assert_string_equal(fmh_jstr(fm_facts_get(facts, "pod", "kube-system/kube-flannel-ds-arm64-dwq86"),
				     "reason"),
			    "Evicted");

	b = answer("apiserver/cap-incident-etcd-2379-pods-limit2", &len);
	assert_int_equal(fm_apiserver_parse_pods(facts, API_URL, b, len), 0);
	free(b);
	pods = fm_facts_get(facts, "apiserver.pods", API_URL);
	assert_int_equal((int)fmh_jnum(pods, "kept"), 2);
	assert_int_equal((int)fmh_jnum(pods, "count"), 5); /* 2 + remainingItemCount */
	assert_true(fmh_jbool(pods, "truncated"));

	b = answer("apiserver/cap-incident-etcd-2379-nodes", &len);
	assert_int_equal(fm_apiserver_parse_nodes(facts, API_URL, b, len), 0);
	free(b);
	assert_true(fmh_jbool(fm_facts_get(facts, "node", "jetson"), "disk_pressure"));
	assert_true(fmh_jbool(fm_facts_get(facts, "node", "pi-master1"), "ready"));

	/* A 401 Status is not a list. */
	b = answer("apiserver/cap-incident-etcd-2379-401", &len);
	assert_int_equal(fm_apiserver_parse_nodes(facts, "x", b, len), -EBADMSG);
	free(b);
	assert_null(fm_facts_get(facts, "apiserver.nodes", "x"));
	fm_facts_delete(&facts);
}

/* etcd down: /readyz answers 500 with every check, two failed; /version
 * still answers. */
static void apiserver_etcd_down(void **state)
{
	(void)state;
	struct fm_facts *facts = fm_facts_new();
	size_t len;
	char *b = answer("apiserver/cap-etcd-down-readyz", &len);
	assert_int_equal(fm_apiserver_parse_health(facts, API_URL, "readyz", true, 500, b, len), 0);
	free(b);
	const cJSON *r = fm_facts_get(facts, "apiserver.readyz", API_URL);
	assert_false(fmh_jbool(r, "healthy"));
	assert_int_equal(cJSON_GetArraySize(fmh_field(r, "failed")), 2);
	assert_true(fmh_lists(fmh_field(r, "failed"), "etcd"));
	assert_true(fmh_lists(fmh_field(r, "failed"), "etcd-readiness"));
	assert_true(cJSON_GetArraySize(fmh_field(r, "checks")) > 20);

	b = answer("apiserver/cap-etcd-down-version", &len);
	assert_int_equal(fm_apiserver_parse_version(facts, API_URL, b, len), 0);
	free(b);
	const cJSON *v = fm_facts_get(facts, "apiserver.version", API_URL);
	assert_int_equal((int)fmh_jnum(v, "major"), 1);
	assert_int_equal((int)fmh_jnum(v, "minor"), 28);

	/* No check lines and no plain "ok": no verdict, nothing put. */
	assert_int_equal(fm_apiserver_parse_health(facts, "x", "livez", false, 200, "{}", 2),
			 -ENODATA);
	assert_null(fm_facts_get(facts, "apiserver.livez", "x"));
	fm_facts_delete(&facts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(etcd_without_leader),
		cmocka_unit_test(etcd34_healthy),
		cmocka_unit_test(apiserver_incident1_lists),
		cmocka_unit_test(apiserver_etcd_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
