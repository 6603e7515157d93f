/* The controller's HTTP side (issue 24), with a real `fleetmedic-controller
 * serve --http` on loopback, reports from an independent CoAP/DTLS client
 * (coap-client-openssl) and an independent HTTP client (curl):
 *   - GET /api/v1/nodes and /api/v1/nodes/NODE say what `nodes --json` and
 *     `show NODE --json` say; JSON errors (404 unknown node, 400 bad query,
 *     405 another method, 413 a body over the bound, 404 elsewhere);
 *   - GET /metrics in Prometheus's text format: node up, last seen, the
 *     raised codes, the controller's counters, label values escaped;
 *   - bound on an address other than loopback (in a network namespace of
 *     the test's own: only its lo, holding 10.77.0.1) every request needs
 *     the bearer token: none or a wrong one is 401; serve refuses to start
 *     there without --http-token, and refuses a token file others may read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_controller.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INCIDENT1_KEY "k8s_kube-apiserver_k~97304528"

static const char incident1[] =
	"{\"q\":1,\"d\":[{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"" INCIDENT1_KEY "\","
	"\"m\":\"kube-apiserver blocked: name held by 0f2a9c1e77d3 (running)\",\"e\":[\"journal.match:kubelet\"],"
	"\"p\":\"kube-apiserver\",\"x\":[\"apiserver-unreachable\"],\"f\":[\"docker rm 8470235abd66 5c0e4b1d2a90\"]}]}";

static struct fmh_controller ctl;
static char out[262144];

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0 || fmh_controller_start_http(&ctl, false) < 0)
		return -1;
	/* the incident-1 node reports, with its board */
	char buf[4096];
	if (fmh_coap(&ctl, FMH_NODE_A, FMH_KEY_A, "get", "me?b=rpi4", NULL, buf, sizeof(buf)) < 0 ||
	    fmh_post(&ctl, FMH_NODE_A, FMH_KEY_A, "hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}") < 0 ||
	    fmh_post(&ctl, FMH_NODE_A, FMH_KEY_A, "rp", incident1) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_controller_stop(&ctl, NULL);
	fmh_cleanup();
	return 0;
}

/* curl's answer (fmh_curl): the status; the body into out. */
static int curl_in(const char *const *prefix, const char *method, const char *url, const char *const *extra)
{
	int status = fmh_curl(prefix, method, url, extra, out, sizeof(out));
	if (status < 0)
		fail_msg("curl %s %s failed: %s", method, url, out);
	return status;
}

static int curl(const char *method, const char *path, const char *const *extra)
{
	char url[256];
	snprintf(url, sizeof(url), "%s%s", ctl.http_url, path);
	return curl_in(NULL, method, url, extra);
}

static cJSON *json_answer(int want_status, const char *method, const char *path)
{
	int status = curl(method, path, NULL);
	if (status != want_status)
		fail_msg("%s %s: %d, want %d: %s", method, path, status, want_status, out);
	cJSON *j = cJSON_Parse(out);
	if (!j)
		fail_msg("%s %s: not JSON: %s", method, path, out);
	return j;
}

/* The API says what the CLI's --json says. */
static void api_as_cli(void **state)
{
	(void)state;
	cJSON *nodes = json_answer(200, "GET", "/api/v1/nodes");
	int status;
	cJSON *cli = fmh_controller_json(&ctl, &status, "nodes", NULL);
	assert_int_equal(status, 0);
	assert_int_equal(cJSON_GetArraySize(nodes), 1);
	const cJSON *n = cJSON_GetArrayItem(nodes, 0), *cn = cJSON_GetArrayItem(cli, 0);
	assert_string_equal(fmh_jstr(n, "node"), FMH_NODE_A);
	assert_string_equal(fmh_jstr(n, "board"), "rpi4");
	assert_string_equal(fmh_jstr(n, "worst"), "critical");
	assert_true(fmh_lists(fmh_field(n, "codes"), "container-name-conflict"));
	/* the same fields as the CLI's, each equal but the ages */
	const cJSON *f;
	cJSON_ArrayForEach(f, cn)
	{
		if (strcmp(f->string, "last_seen_ago_s") == 0)
			continue;
		if (!cJSON_Compare(f, cJSON_GetObjectItem(n, f->string), 1))
			fail_msg("nodes: %s differs from the CLI's", f->string);
	}
	cJSON_Delete(cli);
	cJSON_Delete(nodes);

	cJSON *show = json_answer(200, "GET", "/api/v1/nodes/" FMH_NODE_A);
	const cJSON *d = cJSON_GetArrayItem(fmh_field(show, "diagnoses"), 0);
	assert_string_equal(fmh_jstr(d, "code"), "container-name-conflict");
	assert_true(fmh_lists(fmh_field(d, "remedy"), "docker rm 8470235abd66 5c0e4b1d2a90"));
	assert_true(fmh_lists(fmh_field(d, "explains"), "apiserver-unreachable"));
	assert_true(cJSON_GetArraySize(fmh_field(show, "history")) >= 1);
	cJSON_Delete(show);
	show = json_answer(200, "GET", "/api/v1/nodes/" FMH_NODE_A "?history=0");
	assert_int_equal(cJSON_GetArraySize(fmh_field(show, "history")), 0);
	cJSON_Delete(show);
}

/* Errors are JSON with a reason, and the right status. */
static void api_errors(void **state)
{
	(void)state;
	static const struct {
		const char *method, *path;
		int status;
		const char *says;
	} cases[] = {
		{"GET", "/api/v1/nodes/nobody", 404, "no node nobody"},
		{"GET", "/api/v1/nodes/" FMH_NODE_A "?history=x", 400, "history"},
		{"GET", "/api/v1/nodes/" FMH_NODE_A "?history=100000", 400, "history"},
		{"DELETE", "/api/v1/nodes/" FMH_NODE_A, 405, "DELETE"},
		{"POST", "/metrics", 405, "POST"},
		{"GET", "/api/v2/nodes", 404, "nothing at this path"},
		{"GET", "/api/v1/nodes/a/b", 404, "nothing at this path"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = json_answer(cases[i].status, cases[i].method, cases[i].path);
		if (!strstr(fmh_jstr(j, "error"), cases[i].says))
			fail_msg("%s %s: the error does not say '%s': %s", cases[i].method, cases[i].path, cases[i].says,
				 fmh_jstr(j, "error"));
		cJSON_Delete(j);
	}
	/* a body over the bound is refused from its Content-Length */
	char *big = malloc(8192);
	memset(big, 'x', 8191);
	big[8191] = '\0';
	const char *extra[] = {"--data-binary", big, NULL};
	assert_int_equal(curl("POST", "/api/v1/nodes", extra), 413);
	free(big);
	/* a URL over the bound */
	char path[1200] = "/api/v1/nodes/";
	memset(path + strlen(path), 'a', 900);
	path[914] = '\0';
	int status = curl("GET", path, NULL);
	assert_true(status == 404 || status == 414);
}

/* /metrics: what Prometheus scrapes. */
static void metrics(void **state)
{
	(void)state;
	assert_int_equal(curl("GET", "/metrics", NULL), 200);
	static const char *const want[] = {
		"# TYPE fleetmedic_node_up gauge\n",
		"fleetmedic_node_up{node=\"" FMH_NODE_A "\"} 1\n",
		"fleetmedic_node_last_seen_timestamp_seconds{node=\"" FMH_NODE_A "\"} ",
		"fleetmedic_diagnosis{node=\"" FMH_NODE_A "\",code=\"container-name-conflict\",severity=\"critical\"} 1\n",
		"fleetmedic_controller_reports_total 1\n",
		"fleetmedic_controller_heartbeats_total 1\n",
		"# TYPE fleetmedic_controller_dtls_handshakes_total counter\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out, want[i]))
			fail_msg("/metrics lacks '%s':\n%s", want[i], out);
	/* the controller's own line format: every sample line NAME{...} VALUE */
	for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (*l == '#' || *l == '\n')
			continue;
		if (strncmp(l, "fleetmedic_", 11) != 0)
			fail_msg("a sample line not ours: %.80s", l);
	}
}

/* On an address other than loopback: the token, for everything. */
static void token_off_loopback(void **state)
{
	(void)state;
	char dir[PATH_MAX], token[PATH_MAX + 16], log[PATH_MAX + 16];
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	snprintf(token, sizeof(token), "%s/token", dir);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	int fd = open(token, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret-token-0123456789\n", 24), 24);
	close(fd);

	/* a network namespace of our own: lo up, 10.77.0.1 on it; the store
	 * a file of its own, or the PostgreSQL database of the test's serve
	 * (its unix socket is a file: reached from any network namespace) */
	char script[4 * PATH_MAX], db[PATH_MAX + 96];
	if (fmh_controller_pg())
		snprintf(db, sizeof(db), "'%s' --control %s/control.sock", ctl.db, dir);
	else
		snprintf(db, sizeof(db), "%s/fleet.db", dir);
	snprintf(script, sizeof(script),
		 "ip link set lo up && ip addr add 10.77.0.1/32 dev lo && "
		 "exec \"$0\" serve --listen 127.0.0.1:5684 --keys %s --db %s --http 10.77.0.1:8080 \"$@\"",
		 ctl.keys, db);
	const char *no_token[] = {"unshare", "--net", "sh", "-c", script, fmh_controller_bin(), NULL};
	char buf[4096];
	int status;
	assert_int_equal(fmh_run(no_token, buf, sizeof(buf), &status, 10000), 0);
	assert_int_equal(status, 2);
	if (!strstr(buf, "not a loopback address: give --http-token FILE"))
		fail_msg("serve without a token: %s", buf);
	const char *open_token[] = {"unshare", "--net", "sh", "-c", script, fmh_controller_bin(), "--http-token", token, NULL};
	assert_int_equal(fmh_run(open_token, buf, sizeof(buf), &status, 10000), 0);
	assert_int_equal(status, 2);
	if (!strstr(buf, "readable by group or others"))
		fail_msg("serve with a token file others may read: %s", buf);
	assert_int_equal(chmod(token, 0600), 0);

	pid_t pid = fmh_spawn(open_token, log);
	assert_true(pid > 0);
	if (fmh_wait_log_pid(log, "http: serving on http://10.77.0.1:8080", pid, 10000) < 0)
		fail_msg("serve in its namespace did not start; its log is %s", log);
	/* unshare and sh exec: pid is serve, in the namespace */
	char ns[64];
	snprintf(ns, sizeof(ns), "--net=/proc/%d/ns/net", (int)pid);
	const char *in_ns[] = {"nsenter", ns, NULL};
	const char *wrong[] = {"-H", "Authorization: Bearer s3cret-token-0123456780", NULL};
	const char *right[] = {"-H", "Authorization: Bearer s3cret-token-0123456789", NULL};
	const char *paths[] = {"/api/v1/nodes", "/metrics", "/api/v1/nodes/" FMH_NODE_A};
	for (size_t i = 0; i < 3; i++) {
		char url[128];
		snprintf(url, sizeof(url), "http://10.77.0.1:8080%s", paths[i]);
		assert_int_equal(curl_in(in_ns, "GET", url, NULL), 401);
		assert_non_null(strstr(out, "bearer token"));
		assert_int_equal(curl_in(in_ns, "GET", url, wrong), 401);
		int st = curl_in(in_ns, "GET", url, right);
		assert_true(st == 200 || st == 404); /* this fleet has no node yet */
	}
	assert_int_equal(fmh_stop(pid), 0);
}

/* The pages: the fleet and the node, server-rendered, no script, every
 * node-given string escaped. */
static void pages(void **state)
{
	(void)state;
	assert_int_equal(curl("GET", "/", NULL), 200);
	static const char *const fleet[] = {"<a href=\"/nodes/" FMH_NODE_A "\">", "container-name-conflict",
					    "class=\"sev critical\"", "rpi4", "http-equiv=\"refresh\"",
					    "name=\"viewport\"", "<form method=\"get\""};
	for (size_t i = 0; i < sizeof(fleet) / sizeof(fleet[0]); i++)
		if (!strstr(out, fleet[i]))
			fail_msg("/ lacks '%s':\n%s", fleet[i], out);
	assert_null(strstr(out, "<script"));
	/* filters: a code no node has, a severity above the node's */
	assert_int_equal(curl("GET", "/?code=etcd-unreachable", NULL), 200);
	assert_null(strstr(out, "/nodes/" FMH_NODE_A));
	assert_non_null(strstr(out, "no node matches"));
	assert_int_equal(curl("GET", "/?code=container-name-conflict&severity=critical", NULL), 200);
	assert_non_null(strstr(out, "/nodes/" FMH_NODE_A));

	assert_int_equal(curl("GET", "/nodes/" FMH_NODE_A, NULL), 200);
	static const char *const node[] = {"<h1>" FMH_NODE_A "</h1>", "container-name-conflict",
					   "<pre><code>docker rm 8470235abd66 5c0e4b1d2a90\n</code></pre>",
					   "Explains: <code>apiserver-unreachable</code>", "<h2>History</h2>"};
	for (size_t i = 0; i < sizeof(node) / sizeof(node[0]); i++)
		if (!strstr(out, node[i]))
			fail_msg("/nodes/%s lacks '%s':\n%s", FMH_NODE_A, node[i], out);
	assert_int_equal(curl("GET", "/nodes/nobody", NULL), 404);

	/* a node's own words are text, never markup */
	assert_int_equal(fmh_post(&ctl, FMH_NODE_B, FMH_KEY_B, "rp", "{\"q\":1,\"d\":[{\"c\":\"clock-unsynced\",\"s\":2,\"k\":\"<b>k</b>\","
				  "\"m\":\"<script>alert(1)</script> & 'x'\",\"f\":[\"echo \\\"<img src=x>\\\"\"]}]}"),
			 0);
	assert_int_equal(curl("GET", "/nodes/" FMH_NODE_B, NULL), 200);
	assert_null(strstr(out, "<script>"));
	assert_null(strstr(out, "<img"));
	assert_null(strstr(out, "<b>k</b>"));
	assert_non_null(strstr(out, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;x&#39;"));
	assert_non_null(strstr(out, "echo &quot;&lt;img src=x&gt;&quot;"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(api_as_cli),
		cmocka_unit_test(api_errors),
		cmocka_unit_test(metrics),
		cmocka_unit_test(pages),
		cmocka_unit_test(token_off_loopback),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
