/* Two `serve` on one real PostgreSQL (issue 28, item 3): a node reports to
 * the first; triage through the second reaches the node all the same,
 * handed over through the database (relay table, LISTEN/NOTIFY), and so
 * does the second's HTTP API; the store's serves and sessions say which
 * serve holds the node; a serve that stops cleanly leaves no rows.
 * Registered with FMH_STORE=postgresql only: one SQLite file has one serve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fc_db.h"
#include "fm_harness.h"
#include "fmh_controller.h"
#include "fmh_faults_ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct fmh_fnode node;
static struct fmh_controller second;

static int setup(void **st)
{
	(void)st;
	if (!fmh_controller_pg()) {
		fprintf(stderr, "test_peers: runs with FMH_STORE=postgresql (several serves need PostgreSQL)\n");
		return -1;
	}
	return fmh_fnode_init(&node, NULL) < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

static int64_t peek(const char *sql, const char *arg)
{
	return fmh_store_peek(node.ctl.db, sql, arg);
}

/* The pid the store's serves row of the serve holding node's session
 * names (-1: none). */
static int64_t holder_pid(const char *nodename)
{
	return peek("SELECT v.pid FROM sessions s JOIN serves v ON v.id = s.serve WHERE s.node = ?1", nodename);
}

static void relay_through_the_other(void **st)
{
	(void)st;
	char log[PATH_MAX];
	pid_t agent = fmh_fnode_agent(&node, "agent.log", log, NULL, NULL, NULL);
	const char *extra[] = {"--http-token", NULL, NULL};
	char token[PATH_MAX];
	snprintf(token, sizeof(token), "%s/token", node.dir);
	FILE *f = fopen(token, "w");
	assert_non_null(f);
	fputs("peers-test-token-0123456789abcdef\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(token, 0600), 0);
	extra[1] = token;
	assert_int_equal(fmh_controller_start_beside(&second, &node.ctl, true, extra), 0);
	/* both serves are in the store; the node's session is the first's */
	assert_int_equal(fmh_wait_log_pid(node.ctl.log, "DTLS session with", node.ctl.pid, 15000), 0);
	assert_int_equal(peek("SELECT count(*) FROM serves", NULL), 2);
	assert_int_equal(holder_pid(FMH_NODE_A), node.ctl.pid);

	/* triage through the second: handed to the first, answered by the node */
	int status;
	cJSON *ans = fmh_controller_json(&second, &status, "triage", FMH_NODE_A, "status", "--timeout", "20s", NULL);
	assert_non_null(ans);
	assert_int_equal(status, 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ans, "code")), "2.05");
	cJSON *payload = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(ans, "payload")));
	assert_non_null(payload); /* the agent's /status: its JSON */
	cJSON_Delete(payload);
	cJSON_Delete(ans);
	assert_int_equal(fmh_wait_log_pid(second.log, "the request went to it through the store", second.pid, 1000),
			 0);
	/* the first relayed it to the node as its own */
	assert_int_equal(fmh_wait_log_pid(node.ctl.log, "sent to " FMH_NODE_A, node.ctl.pid, 1000), 0);
	/* the asker took its answer: no row is left behind */
	assert_int_equal(peek("SELECT count(*) FROM relay", NULL), 0);

	/* the second's HTTP API, the same way (what the page's triage uses) */
	char url[256], out[65536];
	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s/triage", second.http_url, FMH_NODE_A);
	const char *hdr[] = {"-H", "Authorization: Bearer peers-test-token-0123456789abcdef", "-H",
			     "Content-Type: application/json", "--data", "{\"what\":\"status\",\"timeout_s\":20}", NULL};
	int code = fmh_curl(NULL, "POST", url, hdr, out, sizeof(out));
	if (code != 200)
		fail_msg("HTTP triage through the second serve: %d %s", code, out);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "code")), "2.05");
	cJSON_Delete(j);

	/* a node no serve holds: held by the asker as before (its timeout) */
	ans = fmh_controller_json(&second, &status, "triage", FMH_NODE_B, "status", "--timeout", "1s", NULL);
	assert_non_null(ans);
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(ans, "error")), "did not come back"));
	cJSON_Delete(ans);

	/* a clean stop takes its rows away */
	assert_int_equal(fmh_controller_stop(&second, &status), 0);
	assert_int_equal(peek("SELECT count(*) FROM serves", NULL), 1);
	assert_int_equal(fmh_stop(agent), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(relay_through_the_other, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
