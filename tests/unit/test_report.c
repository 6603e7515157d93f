/* fm_report: the wire budgets of PROTOCOL.md (heartbeat <= 64 bytes, the
 * incident-1 report <= 320, nothing over 1024), the cut of a long diagnosis
 * (e, then m; never c, s, k, f), splitting, the raised set's hash, and the
 * "changed" delta when incident 1's fix is applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_diagnose.h"
#include "fm_report.h"
#include "fmh_uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795000000

static void heartbeat_budget(void **state)
{
	(void)state;
	char buf[256];
	cJSON *active = cJSON_CreateArray();
	for (int i = 0; i < 120; i++) {
		cJSON *d = cJSON_CreateObject();
		char key[64];
		snprintf(key, sizeof(key), "/dev/mmcblk0p%d", i);
		cJSON_AddStringToObject(d, "code", "fs-corruption");
		cJSON_AddStringToObject(d, "key", key);
		cJSON_AddStringToObject(d, "severity", i == 7 ? "critical" : "warning");
		cJSON_AddItemToArray(active, d);
	}
	/* The largest values every field can take. */
	int n = fm_report_heartbeat(buf, sizeof(buf), UINT32_MAX, active, 86400 * 7, true);
	assert_true(n > 0);
	assert_true(n <= FM_HEARTBEAT_MAX);
	cJSON *hb = cJSON_Parse(buf);
	assert_non_null(hb);
	assert_int_equal(cJSON_GetObjectItem(hb, "n")->valueint, 120);
	assert_int_equal(cJSON_GetObjectItem(hb, "w")->valueint, 3);
	assert_int_equal(strlen(cJSON_GetObjectItem(hb, "h")->valuestring), 8);
	assert_int_equal(cJSON_GetObjectItem(hb, "i")->valueint, 86400 * 7);
	assert_int_equal(cJSON_GetObjectItem(hb, "u")->valueint, 1);
	cJSON_Delete(hb);
	assert_int_equal(fm_report_heartbeat(buf, 20, 1, active, 120, false), -EMSGSIZE);
	cJSON_Delete(active);

	cJSON *none = cJSON_CreateArray();
	n = fm_report_heartbeat(buf, sizeof(buf), 0, none, 120, false);
	assert_string_equal(buf, "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}");
	cJSON_Delete(none);
}

/* The raised set's hash is the same over check's long form and over the
 * compact items a controller keeps, whatever the order. */
static void hash_long_and_compact(void **state)
{
	(void)state;
	const char *longkey = "k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24";
	char ck[FM_REPORT_KEY_MAX + 1], text[1024];
	fm_report_key(longkey, ck, sizeof(ck));
	assert_true(strlen(ck) <= FM_REPORT_KEY_MAX);
	assert_int_equal(strncmp(ck, longkey, 20), 0);
	assert_int_equal(ck[20], '~');
	snprintf(text, sizeof(text),
		 "[{\"code\":\"container-name-conflict\",\"key\":\"%s\",\"severity\":\"critical\"},"
		 "{\"code\":\"undervoltage\",\"key\":\"board\",\"severity\":\"warning\"}]", longkey);
	cJSON *lf = cJSON_Parse(text);
	snprintf(text, sizeof(text),
		 "[{\"c\":\"undervoltage\",\"k\":\"board\",\"s\":2},{\"c\":\"container-name-conflict\",\"k\":\"%s\",\"s\":3}]", ck);
	cJSON *compact = cJSON_Parse(text);
	assert_int_equal(fm_report_hash(lf), fm_report_hash(compact));
	/* The hash is of the documented lines. */
	char lines[512];
	snprintf(lines, sizeof(lines), "container-name-conflict\x1f%s\x1f" "3\nundervoltage\x1f" "board\x1f" "2\n", ck);
	assert_int_equal(fm_report_hash(lf), fm_report_fnv(FM_REPORT_FNV_INIT, lines, strlen(lines)));
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(compact, 0), "s", cJSON_CreateNumber(3));
	assert_int_not_equal(fm_report_hash(lf), fm_report_hash(compact));
	cJSON_Delete(lf);
	cJSON_Delete(compact);
}

/* Items of one tracker update, encoded as the uplink does. */
static char *report_of(cJSON *changes, uint32_t q, size_t *items_out)
{
	cJSON *items[16] = {0};
	size_t n = 0, used = 0;
	const cJSON *ch;
	cJSON_ArrayForEach(ch, changes)
	{
		assert_true(n < 16);
		items[n] = fm_report_item(ch);
		assert_non_null(items[n]);
		n++;
	}
	struct fm_report_head head = {.q = q, .t = NOW};
	char *r = fm_report_encode(&head, (const cJSON *const *)items, n, &used);
	assert_non_null(r);
	assert_int_equal(used, n);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(items[i]);
	*items_out = n;
	return r;
}

static void incident1_report(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	fmh_incident1_facts(f, NOW);
	struct fm_diag_track *t = fm_diag_track_new(30000);
	cJSON *d = fm_diagnose(f, NOW);
	cJSON *changes = fm_diag_track_update(t, d, 1000);
	size_t n;
	char *r = report_of(changes, 4294967295u, &n);
	print_message("incident 1 report (%zu bytes): %s\n", strlen(r), r);
	assert_int_equal(n, 1);
	assert_true(strlen(r) <= 320);
	cJSON *rep = cJSON_Parse(r);
	assert_non_null(rep);
	const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "d"), 0);
	assert_string_equal(cJSON_GetObjectItem(item, "c")->valuestring, "container-name-conflict");
	assert_int_equal(cJSON_GetObjectItem(item, "s")->valueint, 3);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(item, "f"), 0)->valuestring,
			    "docker rm 8470235abd66 46497b3b5724");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(item, "x"), 0)->valuestring,
			    "apiserver-unreachable");
	/* what it is about, and the component of what it explains (issue 20) */
	assert_string_equal(cJSON_GetObjectItem(item, "p")->valuestring, "kube-apiserver");
	assert_null(cJSON_GetObjectItem(item, "y")); /* every symptom is kube-apiserver's own */
	/* The summary names the holder; the long key goes compacted. */
	assert_non_null(strstr(cJSON_GetObjectItem(item, "m")->valuestring, "eced85378630 (running)"));
	assert_int_equal(strlen(cJSON_GetObjectItem(item, "k")->valuestring), 29);
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(item, "e")) >= 1);
	assert_null(cJSON_GetObjectItem(rep, "b")); /* the board goes with GET /me */
	assert_null(cJSON_GetObjectItem(rep, "i"));
	cJSON_Delete(rep);
	free(r);
	cJSON_Delete(changes);
	cJSON_Delete(d);

	/* The fix applied: the same diagnosis, now info: a "changed" delta. */
	fm_facts_drop(f, "docker.stale_attempt");
	fmh_put_fact(f, "docker.daemon", "unix:///var/run/docker.sock", "{\"state\":\"ok\"}");
	fm_facts_drop(f, "apiserver.");
	d = fm_diagnose(f, NOW);
	changes = fm_diag_track_update(t, d, 2000);
	assert_int_equal(cJSON_GetArraySize(changes), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(changes, 0), "change")->valuestring, "changed");
	r = report_of(changes, 2, &n);
	rep = cJSON_Parse(r);
	item = cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "d"), 0);
	assert_int_equal(cJSON_GetObjectItem(item, "s")->valueint, 1);
	assert_true(strlen(r) <= FM_REPORT_MAX);
	cJSON_Delete(rep);
	free(r);
	cJSON_Delete(changes);
	cJSON_Delete(d);

	/* A day later it is resolved after the hold: a pair in r. */
	d = fm_diagnose(f, NOW + 86400);
	cJSON_Delete(fm_diag_track_update(t, d, 3000));
	changes = fm_diag_track_update(t, d, 3000 + 30000);
	r = report_of(changes, 3, &n);
	rep = cJSON_Parse(r);
	const cJSON *pair = cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "r"), 0);
	assert_string_equal(cJSON_GetArrayItem(pair, 0)->valuestring, "container-name-conflict");
	assert_null(cJSON_GetObjectItem(rep, "d"));
	cJSON_Delete(rep);
	free(r);
	cJSON_Delete(changes);
	cJSON_Delete(d);
	fm_diag_track_delete(&t);
	fm_facts_delete(&f);
}

/* A diagnosis too long for a datagram: e cut first, then m; c, s, k, f
 * whole. */
static void long_diagnosis_is_cut(void **state)
{
	(void)state;
	cJSON *ch = cJSON_CreateObject();
	cJSON_AddStringToObject(ch, "change", "raised");
	cJSON_AddStringToObject(ch, "code", "fs-corruption");
	cJSON_AddStringToObject(ch, "key", "mmcblk0p2");
	cJSON_AddStringToObject(ch, "severity", "critical");
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "\xc3\xa9\xc3\xa9\"\\\n", 7); /* multi-byte and escaped characters */
	cJSON_AddStringToObject(ch, "summary", big);
	cJSON *ev = cJSON_AddArrayToObject(ch, "evidence");
	for (int i = 0; i < 60; i++) {
		char id[64];
		snprintf(id, sizeof(id), "/var/lib/docker/overlay2/%040d/lower", i);
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "kind", "journal.match");
		cJSON_AddStringToObject(e, "id", id);
		cJSON_AddItemToArray(ev, e);
	}
	cJSON *rem = cJSON_AddArrayToObject(ch, "remedy");
	cJSON_AddItemToArray(rem, cJSON_CreateString("touch /forcefsck && reboot"));
	cJSON *item = fm_report_item(ch);
	assert_non_null(item);
	char *s = cJSON_PrintUnformatted(item);
	assert_true(strlen(s) <= FM_REPORT_MAX - 100);
	free(s);
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(item, "e")) <= 1);
	const char *m = cJSON_GetObjectItem(item, "m")->valuestring;
	assert_true(strlen(m) <= 512 && strlen(m) > 100); /* the controller takes strings up to 512 */
	assert_non_null(strstr(m, "\xe2\x80\xa6"));
	assert_string_equal(cJSON_GetObjectItem(item, "k")->valuestring, "mmcblk0p2");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(item, "f"), 0)->valuestring,
			    "touch /forcefsck && reboot");

	/* A summary of characters JSON escapes six bytes each: m is cut
	 * further, after all of e, to fit the datagram. */
	cJSON *ch2 = cJSON_Duplicate(ch, 1);
	memset(big, '\x01', 500);
	big[500] = '\0';
	cJSON_ReplaceItemInObject(ch2, "summary", cJSON_CreateString(big));
	cJSON *item2 = fm_report_item(ch2);
	s = cJSON_PrintUnformatted(item2);
	assert_true(strlen(s) <= FM_REPORT_MAX - 100);
	free(s);
	assert_null(cJSON_GetObjectItem(item2, "e"));
	assert_true(strlen(cJSON_GetObjectItem(item2, "m")->valuestring) < 200);
	assert_string_equal(cJSON_GetObjectItem(item2, "c")->valuestring, "fs-corruption");
	cJSON_Delete(item2);
	cJSON_Delete(ch2);

	struct fm_report_head head = {.q = UINT32_MAX, .t = INT64_MIN, .insecure = true};
	size_t used;
	const cJSON *one[1] = {item};
	char *r = fm_report_encode(&head, one, 1, &used);
	assert_int_equal(used, 1);
	assert_true(strlen(r) <= FM_REPORT_MAX);
	cJSON *rep = cJSON_Parse(r);
	assert_non_null(rep);
	assert_int_equal(cJSON_GetObjectItem(rep, "i")->valueint, 1);
	cJSON_Delete(rep);
	free(r);
	cJSON_Delete(item);
	cJSON_Delete(ch);
}

/* Many changes: split over several reports, each <= 1024, in order, none
 * lost. */
static void many_changes_are_split(void **state)
{
	(void)state;
	cJSON *items[40];
	for (int i = 0; i < 40; i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{\"change\":\"%s\",\"code\":\"cert-expiring\",\"key\":\"/etc/kubernetes/pki/c%02d.crt\","
			 "\"severity\":\"warning\",\"summary\":\"certificate c%02d expires in 20 days\","
			 "\"evidence\":[{\"kind\":\"cert\",\"id\":\"/etc/kubernetes/pki/c%02d.crt\"}],"
			 "\"remedy\":[\"kubeadm certs renew all\"]}",
			 i % 5 == 4 ? "resolved" : "raised", i, i, i);
		cJSON *ch = cJSON_Parse(text);
		items[i] = fm_report_item(ch);
		assert_non_null(items[i]);
		cJSON_Delete(ch);
	}
	size_t at = 0;
	int reports = 0, seen = 0;
	while (at < 40) {
		struct fm_report_head head = {.q = (uint32_t)reports + 1, .t = NOW};
		size_t used = 0;
		char *r = fm_report_encode(&head, (const cJSON *const *)items + at, 40 - at, &used);
		assert_non_null(r);
		assert_true(used >= 1);
		assert_true(strlen(r) <= FM_REPORT_MAX);
		cJSON *rep = cJSON_Parse(r);
		assert_non_null(rep);
		seen += cJSON_GetArraySize(cJSON_GetObjectItem(rep, "d")) +
			cJSON_GetArraySize(cJSON_GetObjectItem(rep, "r"));
		cJSON_Delete(rep);
		free(r);
		at += used;
		reports++;
	}
	assert_int_equal(seen, 40);
	assert_true(reports >= 3);
	/* More short changes than a report may carry (32 d, 64 r). */
	cJSON *many[100];
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		many[i] = cJSON_CreateArray();
		cJSON_AddItemToArray(many[i], cJSON_CreateString("x"));
		cJSON_AddItemToArray(many[i], cJSON_CreateString(k));
	}
	struct fm_report_head head = {.q = 1, .t = NOW};
	size_t used;
	char *r = fm_report_encode(&head, (const cJSON *const *)many, 100, &used);
	assert_int_equal(used, 64);
	free(r);
	for (int i = 0; i < 100; i++)
		cJSON_Delete(many[i]);
	for (int i = 0; i < 40; i++)
		cJSON_Delete(items[i]);
}

/* Components are [a-z0-9-]{1,64} on the wire (PROTOCOL.md): one that is
 * not (a pod's name with a dot) is left out of p and said "unknown" in y,
 * never sent for the controller to refuse the whole report. */
static void component_shapes(void **state)
{
	(void)state;
	cJSON *ch = cJSON_Parse("{\"change\":\"raised\",\"code\":\"control-plane-crashloop\",\"key\":\"k\","
				"\"severity\":\"critical\",\"summary\":\"s\",\"component\":\"web.v2\","
				"\"links\":[{\"code\":\"apiserver-unreachable\",\"key\":\"u\",\"component\":\"Bad_Name\"}]}");
	cJSON *item = fm_report_item(ch);
	assert_non_null(item);
	assert_null(cJSON_GetObjectItem(item, "p"));
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(item, "y"), 0)->valuestring, "unknown");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(item, "x"), 0)->valuestring, "apiserver-unreachable");
	cJSON_Delete(item);
	cJSON_Delete(ch);
}

/* Encodes items (JSON text of an array) as report 5, made at 100, sent at
 * now; the payload (caller frees). */
static char *encode_items(const char *items_json, int64_t now)
{
	cJSON *items = cJSON_Parse(items_json);
	assert_non_null(items);
	const cJSON *v[8];
	size_t n = 0, used;
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		v[n++] = it;
	}
	struct fm_report_head head = {
	    .q = 5, .t = 100, .t_left = now >= 100 && now - 100 <= FM_REPORT_FRESH_S};
	char *r = fm_report_encode(&head, v, n, &used);
	assert_non_null(r);
	assert_int_equal(used, n);
	cJSON_Delete(items);
	return r;
}

/* z (PROTOCOL.md): a cause whose explained codes are raised nowhere after
 * its batch is marked, and the resolved pairs of those codes are left out
 * of its report; never when one of them is still raised, or raised by
 * another diagnosis of the same report. */
static void absorbing_cause(void **state)
{
	(void)state;
	const char *cause = "{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"n\",\"x\":["
			    "\"apiserver-unreachable\"]}";
	const char *pair = "[\"apiserver-unreachable\",\"https://127.0.0.1:6443\"]";
	char text[512];
	snprintf(text, sizeof(text), "[%s,%s]", cause, pair);
	cJSON *items = cJSON_Parse(text);
	/* after the batch: the conflict alone is raised */
	cJSON *active = cJSON_Parse(
	    "[{\"code\":\"container-name-conflict\",\"key\":\"n\",\"severity\":\"critical\"}]");
	fm_report_mark_absorbing(items, active);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "z")->valueint, 1);
	char *marked = cJSON_PrintUnformatted(items);
	char *r = encode_items(marked, 100);
	print_message("%s\n", r);
	assert_string_equal(
	    r, "{\"q\":5,\"d\":[{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"n\","
	       "\"x\":[\"apiserver-unreachable\"],\"z\":1}]}");
	free(r);
	/* held in the queue past FM_REPORT_FRESH_S: its time goes too */
	r = encode_items(marked, 100 + FM_REPORT_FRESH_S + 1);
	assert_non_null(strstr(r, "{\"q\":5,\"t\":100,"));
	free(r);
	/* merged with a later raise of that code: z dropped, the pair kept */
	snprintf(text, sizeof(text),
		 "[%.*s,{\"c\":\"apiserver-unreachable\",\"s\":3,\"k\":\"https://[::1]:6443\"}]",
		 (int)strlen(marked) - 2, marked + 1);
	r = encode_items(text, 100);
	assert_null(strstr(r, "\"z\""));
	assert_non_null(
	    strstr(r, "\"r\":[[\"apiserver-unreachable\",\"https://127.0.0.1:6443\"]]"));
	free(r);
	free(marked);
	cJSON_Delete(items);
	cJSON_Delete(active);

	/* another diagnosis of that code still raised: no z, the pair goes */
	snprintf(text, sizeof(text), "[%s,%s]", cause, pair);
	items = cJSON_Parse(text);
	active = cJSON_Parse(
	    "[{\"code\":\"container-name-conflict\",\"key\":\"n\",\"severity\":\"critical\"},"
	    "{\"code\":\"apiserver-unreachable\",\"key\":\"https://"
	    "[::1]:6443\",\"severity\":\"critical\"}]");
	fm_report_mark_absorbing(items, active);
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "z"));
	cJSON_Delete(active);
	/* nothing of the code resolved in the batch: no z either */
	cJSON_Delete(items);
	snprintf(text, sizeof(text), "[%s]", cause);
	items = cJSON_Parse(text);
	active = cJSON_Parse("[]");
	fm_report_mark_absorbing(items, active);
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "z"));
	cJSON_Delete(active);
	cJSON_Delete(items);
}

/* The board as GET /me carries it: safe characters, cut. */
static void board_on_the_wire(void **state)
{
	(void)state;
	char b[FM_REPORT_BOARD_MAX + 1];
	fm_report_board("jetson-xavier-orin", b);
	assert_string_equal(b, "jetson-xavier-orin");
	fm_report_board("a b&c=d/e\xc3\xa9", b);
	assert_string_equal(b, "a_b_c_d_e__");
	fm_report_board("a-board-id-much-longer-than-thirty-two-bytes", b);
	assert_int_equal(strlen(b), FM_REPORT_BOARD_MAX);
	fm_report_board(NULL, b);
	assert_string_equal(b, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(component_shapes),	     cmocka_unit_test(heartbeat_budget),
	    cmocka_unit_test(hash_long_and_compact), cmocka_unit_test(incident1_report),
	    cmocka_unit_test(long_diagnosis_is_cut), cmocka_unit_test(many_changes_are_split),
	    cmocka_unit_test(absorbing_cause),	     cmocka_unit_test(board_on_the_wire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
