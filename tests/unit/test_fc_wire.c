/* fc_wire: heartbeats and reports decoded, every malformed one refused with
 * a reason, and the raised set's hash. */
#include "fc_wire.h"
#include "fm_report.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* PROTOCOL.md's example report (incident 1). */
static const char incident1[] =
	"{\"q\":18,\"t\":1732345678,\"b\":\"rpi4\",\"d\":["
	"{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_5c0e_24\","
	"\"m\":\"kubelet cannot recreate kube-apiserver: name held by 0f2a9c1e77d3 (running)\","
	"\"e\":[\"docker.stale_attempt:8470235abd66\",\"journal.match:kubelet\",\"apiserver.endpoint:refused\"],"
	"\"x\":[\"apiserver-unreachable\"],\"f\":[\"docker rm 8470235abd66 5c0e4b1d2a90\"]}],"
	"\"r\":[[\"etcd-unreachable\",\"https://127.0.0.1:2379\"]],\"z\":{\"future\":1}}";

static void test_report(void **state)
{
	(void)state;
	struct fc_report r;
	char why[160];
	assert_int_equal(fc_wire_report(incident1, strlen(incident1), &r, why, sizeof(why)), 0);
	assert_int_equal(r.q, 18);
	assert_int_equal(r.t, 1732345678);
	assert_string_equal(r.board, "rpi4");
	assert_false(r.insecure);
	assert_int_equal(r.nd, 1);
	assert_string_equal(r.d[0].code, "container-name-conflict");
	assert_int_equal(r.d[0].severity, 3);
	assert_int_equal(cJSON_GetArraySize(r.d[0].evidence), 3);
	assert_string_equal(cJSON_GetArrayItem(r.d[0].remedy, 0)->valuestring, "docker rm 8470235abd66 5c0e4b1d2a90");
	assert_string_equal(cJSON_GetArrayItem(r.d[0].explains, 0)->valuestring, "apiserver-unreachable");
	assert_int_equal(r.nr, 1);
	assert_string_equal(r.r[0].code, "etcd-unreachable");
	assert_string_equal(r.r[0].key, "https://127.0.0.1:2379");
	/* an older agent's report: no component */
	assert_string_equal(r.d[0].component, "");
	assert_null(r.d[0].explains_components);
	fc_wire_report_free(&r);

	/* issue 20: the component, and that of each symptom explained */
	const char linked[] = "{\"q\":19,\"t\":1,\"d\":[{\"c\":\"etcd-unreachable\",\"s\":3,\"k\":\"https://127.0.0.1:2379\","
			      "\"p\":\"etcd\",\"x\":[\"apiserver-unreachable\"],\"y\":[\"kube-apiserver\"]}]}";
	assert_int_equal(fc_wire_report(linked, strlen(linked), &r, why, sizeof(why)), 0);
	assert_string_equal(r.d[0].component, "etcd");
	assert_string_equal(cJSON_GetArrayItem(r.d[0].explains_components, 0)->valuestring, "kube-apiserver");
	fc_wire_report_free(&r);

	/* a report that went as it was made: no t (0); z: the codes it
	 * explains are raised nowhere on the node after it */
	const char fresh[] =
	    "{\"q\":20,\"d\":[{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"k\","
	    "\"x\":[\"apiserver-unreachable\"],\"z\":1},{\"c\":\"clock-unsynced\",\"s\":2,\"k\":"
	    "\"clock\"}]}";
	assert_int_equal(fc_wire_report(fresh, strlen(fresh), &r, why, sizeof(why)), 0);
	assert_int_equal(r.t, 0);
	assert_true(r.d[0].absorbs);
	assert_false(r.d[1].absorbs);
	fc_wire_report_free(&r);

	const char minimal[] = "{\"q\":1,\"t\":0,\"i\":1}";
	assert_int_equal(fc_wire_report(minimal, strlen(minimal), &r, why, sizeof(why)), 0);
	assert_true(r.insecure);
	assert_null(r.board);
	assert_int_equal(r.nd + r.nr, 0);
	fc_wire_report_free(&r);
}

static void refused(const char *json, const char *reason)
{
	struct fc_report r;
	char why[160] = "";
	int rc = fc_wire_report(json, strlen(json), &r, why, sizeof(why));
	if (rc == 0 || !strstr(why, reason))
		fail_msg("%s: rc %d, why '%s' (want '%s')", json, rc, why, reason);
	assert_null(r.root);
}

static void test_report_refused(void **state)
{
	(void)state;
	refused("", "not JSON");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"a\",\"s\":3,\"k\":\"k\",\"x\":[\"b\"],\"y\":[]}]}",
		"one component per item");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"a\",\"s\":3,\"k\":\"k\",\"p\":\"Bad Name\"}]}", "\"p\"");
	refused("[1]", "not a JSON object");
	refused("{\"q\":1,\"t\":0} x", "text after");
	refused("{\"t\":0}", "\"q\" is missing");
	refused("{\"q\":0,\"t\":0}", "\"q\" must be an integer");
	refused("{\"q\":4294967296,\"t\":0}", "\"q\" must be an integer");
	refused("{\"q\":1.5,\"t\":0}", "\"q\" must be an integer");
	refused("{\"q\":\"1\",\"t\":0}", "\"q\" must be an integer");
	refused("{\"q\":1,\"t\":-1}", "\"t\" must be an integer");
	/* z: needs x, never its own code, only 1 */
	refused("{\"q\":1,\"d\":[{\"c\":\"a\",\"s\":3,\"k\":\"k\",\"z\":1}]}",
		"d[0].\"z\" needs \"x\"");
	refused("{\"q\":1,\"d\":[{\"c\":\"a\",\"s\":3,\"k\":\"k\",\"x\":[\"b\",\"a\"],\"z\":1}]}",
		"its own code");
	refused("{\"q\":1,\"d\":[{\"c\":\"a\",\"s\":3,\"k\":\"k\",\"x\":[\"b\"],\"z\":2}]}",
		"\"z\" must be an integer in 1..1");
	refused("{\"q\":1,\"t\":0,\"i\":2}", "\"i\" must be 1");
	refused("{\"q\":1,\"t\":0,\"d\":{}}", "\"d\" must be an array");
	refused("{\"q\":1,\"t\":0,\"d\":[1]}", "d[0] must be an object");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"s\":1,\"k\":\"\"}]}", "d[0].\"c\" is missing");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"Bad Code\",\"s\":1,\"k\":\"\"}]}", "d[0].\"c\" must be a code");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"x\",\"s\":4,\"k\":\"\"}]}", "\"s\" must be an integer in 1..3");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"x\",\"s\":1}]}", "d[0].\"k\" is missing");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"x\",\"s\":1,\"k\":\"a\\u0001b\"}]}", "without control characters");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"x\",\"s\":1,\"k\":\"\",\"e\":[1]}]}", "d[0].\"e\" item 1");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"x\",\"s\":1,\"k\":\"\",\"x\":[\"NOT\"]}]}", "d[0].\"x\" item 1");
	refused("{\"q\":1,\"t\":0,\"d\":[{\"c\":\"x\",\"s\":1,\"k\":\"\",\"f\":\"rm\"}]}", "d[0].\"f\" must be an array");
	refused("{\"q\":1,\"t\":0,\"r\":[[\"x\"]]}", "r[0] must be a [code, key] pair");
	refused("{\"q\":1,\"t\":0,\"r\":[[\"x\",\"k\",\"z\"]]}", "r[0] must be a [code, key] pair");

	/* caps: size, depth, array lengths */
	char big[2048];
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"q\":1,\"t\":0}", 13);
	big[1025] = '\0';
	refused(big, "payload of 1025 bytes");
	char deep[200] = "{\"q\":1,\"t\":0,\"z\":";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	for (int i = 0; i < 40; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	refused(deep, "nested deeper than 32");
	/* brackets inside strings do not count */
	char deepstr[200] = "{\"q\":1,\"t\":0,\"z\":\"";
	for (int i = 0; i < 40; i++)
		strcat(deepstr, "[");
	strcat(deepstr, "\\\"\"}");
	struct fc_report r;
	char why[160];
	assert_int_equal(fc_wire_report(deepstr, strlen(deepstr), &r, why, sizeof(why)), 0);
	fc_wire_report_free(&r);
	char many[1024] = "{\"q\":1,\"t\":0,\"d\":[{\"c\":\"x\",\"s\":1,\"k\":\"\",\"e\":[";
	for (int i = 0; i < 17; i++)
		strcat(many, i ? ",\"\"" : "\"\"");
	strcat(many, "]}]}");
	refused(many, "more than 16 items");
	char diags[1024] = "{\"q\":1,\"t\":0,\"d\":[";
	for (int i = 0; i < 33; i++)
		strcat(diags, i ? ",{\"c\":\"x\",\"s\":1,\"k\":\"\"}" : "{\"c\":\"x\",\"s\":1,\"k\":\"\"}");
	strcat(diags, "]}");
	refused(diags, "more than 32 diagnoses");
}

static void test_hb(void **state)
{
	(void)state;
	struct fc_hb hb;
	char why[160] = "";
	const char ok[] = "{\"q\":17,\"n\":2,\"w\":2,\"h\":\"9f3a01c2\",\"i\":120}";
	assert_true(strlen(ok) <= 64);
	assert_int_equal(fc_wire_hb(ok, strlen(ok), &hb, why, sizeof(why)), 0);
	assert_int_equal(hb.q, 17);
	assert_int_equal(hb.n, 2);
	assert_int_equal(hb.w, 2);
	assert_string_equal(hb.h, "9f3a01c2");
	assert_int_equal(hb.i, 120);
	const char *bad[][2] = {
		{"{\"n\":2,\"w\":2,\"h\":\"9f3a01c2\",\"i\":120}", "\"q\" is missing"},
		{"{\"q\":1,\"n\":2,\"w\":4,\"h\":\"9f3a01c2\",\"i\":120}", "\"w\" must be an integer in 0..3"},
		{"{\"q\":1,\"n\":2,\"w\":2,\"h\":\"9F3A01C2\",\"i\":120}", "8 lowercase hex"},
		{"{\"q\":1,\"n\":2,\"w\":2,\"h\":\"9f3a01c\",\"i\":120}", "8 lowercase hex"},
		{"{\"q\":1,\"n\":2,\"w\":2,\"h\":\"9f3a01c2\",\"i\":0}", "\"i\" must be an integer"},
		{"{\"q\":1,\"n\":2,\"w\":2,\"i\":1}", "\"h\" is missing"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = fc_wire_hb(bad[i][0], strlen(bad[i][0]), &hb, why, sizeof(why));
		if (rc == 0 || !strstr(why, bad[i][1]))
			fail_msg("%s: rc %d, why '%s'", bad[i][0], rc, why);
	}
}

static void test_hash(void **state)
{
	(void)state;
	/* The controller's digest of a raised set and the agent's agree
	 * (each side's own function on the same line), and the agent's is
	 * FNV-1a 32 (the published vectors: "" is the offset basis, "a"
	 * e40c292c, "foobar" bf9cf968), so the controller's is too. */
	assert_int_equal(FC_WIRE_HASH_INIT, FM_REPORT_FNV_INIT);
	assert_int_equal(fm_report_fnv(FM_REPORT_FNV_INIT, "", 0), 0x811c9dc5u);
	assert_int_equal(fm_report_fnv(FM_REPORT_FNV_INIT, "a", 1), 0xe40c292cu);
	assert_int_equal(fm_report_fnv(FM_REPORT_FNV_INIT, "foobar", 6), 0xbf9cf968u);
	const char line[] = "c\x1fk\x1f" "3\n";
	uint32_t agent = fm_report_fnv(FM_REPORT_FNV_INIT, line, strlen(line));
	assert_int_equal(fc_wire_hash_line(FC_WIRE_HASH_INIT, "c", "k", 3), agent);
	/* and chained over two lines */
	const char two[] = "c\x1fk\x1f" "3\n" "d\x1fj\x1f" "2\n";
	assert_int_equal(fc_wire_hash_line(fc_wire_hash_line(FC_WIRE_HASH_INIT, "c", "k", 3), "d", "j", 2),
			 fm_report_fnv(FM_REPORT_FNV_INIT, two, strlen(two)));
}

/* GET /me's query: n= and b= among '&'-joined options; too long, or
 * holding a NUL, refused; the board's shape. */
static void test_query(void **state)
{
	(void)state;
	char v[33];
	const char q[] = "n=node-a&b=rpi4&bb=x";
	assert_int_equal(fc_wire_query(q, strlen(q), "n", v, sizeof(v)), 6);
	assert_string_equal(v, "node-a");
	assert_int_equal(fc_wire_query(q, strlen(q), "b", v, sizeof(v)), 4);
	assert_string_equal(v, "rpi4");
	assert_int_equal(fc_wire_query(q, strlen(q), "x", v, sizeof(v)), -1);
	assert_int_equal(fc_wire_query("b=", 2, "b", v, sizeof(v)), 0);
	assert_int_equal(fc_wire_query("b=a\0b", 5, "b", v, sizeof(v)), -2);
	char long_q[64];
	snprintf(long_q, sizeof(long_q), "b=%040d", 0);
	assert_int_equal(fc_wire_query(long_q, strlen(long_q), "b", v, sizeof(v)), -2);
	assert_true(fc_wire_board_ok("jetson-xavier-orin"));
	assert_false(fc_wire_board_ok(""));
	assert_false(fc_wire_board_ok("rpi4;rm"));
	assert_false(fc_wire_board_ok("0123456789012345678901234567890123"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_report), cmocka_unit_test(test_report_refused),
	    cmocka_unit_test(test_query),  cmocka_unit_test(test_hb),
	    cmocka_unit_test(test_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
