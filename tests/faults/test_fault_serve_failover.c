/* Two `serve` on one real PostgreSQL, three real agents (fleetmedic-agent
 * run, DTLS-PSK) given both (--controller S1 --controller S2), reporting
 * (their boards' ext4 error counters raised and resolved, each change a
 * report): S1 is killed (SIGKILL) while they report (issue 28). Then:
 *   - every agent reaches S2 within two heartbeat intervals of the kill
 *     (the store's sessions say S2 holds each node's session);
 *   - once the agents' queues are empty, the store holds every report each
 *     agent made, exactly once: the node's last stored sequence is the
 *     agent's last, no "gap" line, no sequence number in two history lines;
 *   - triage of every node works through S2 (its /status, which says the
 *     queue is empty);
 *   - no node was ever marked unreachable, and S2's fleet page says
 *     "0 unreachable" with the three nodes on it.
 * Registered with FMH_STORE=postgresql (several serves need it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fc_db.h"
#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_controller.h"
#include "fmh_faults_ctl.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODES 3
#define HEARTBEAT_S 10

static struct fmh_controller s1, s2;
static struct fmh_fnode node[NODES];
static const char *const ids[NODES] = {FMH_NODE_A, FMH_NODE_B, FMH_NODE_C};
static const char *const keys[NODES] = {FMH_KEY_A, FMH_KEY_B, FMH_KEY_C};

static int setup(void **st)
{
	(void)st;
	if (!fmh_controller_pg()) {
		fprintf(stderr, "test_fault_serve_failover: runs with FMH_STORE=postgresql\n");
		return -1;
	}
	if (fmh_init() < 0 || fmh_controller_start_with(&s1, false, true, NULL) < 0 ||
	    fmh_controller_start_beside(&s2, &s1, true, NULL) < 0)
		return -1;
	for (int i = 0; i < NODES; i++)
		if (fmh_fnode_init_as(&node[i], NULL, ids[i], keys[i], &s1) < 0)
			return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

static int64_t peek(const char *sql, const char *arg)
{
	return fmh_store_peek(s2.db, sql, arg);
}

/* The pid of the serve the store says holds the node's session (-1). */
static int64_t holder(const char *id)
{
	return peek("SELECT v.pid FROM sessions s JOIN serves v ON v.id = s.serve WHERE s.node = ?1", id);
}

/* The node's /status through S2 (caller frees), or NULL. */
static cJSON *status_via_s2(const char *id)
{
	int status;
	cJSON *ans = fmh_controller_json(&s2, &status, "triage", id, "status", "--timeout", "10s", NULL);
	const char *payload = cJSON_GetStringValue(cJSON_GetObjectItem(ans, "payload"));
	cJSON *st = payload ? cJSON_Parse(payload) : NULL;
	if (!st) {
		char *t = ans ? cJSON_PrintUnformatted(ans) : NULL;
		print_error("triage %s status through S2: %s\n", id, t ? t : "(no answer)");
		free(t);
	}
	cJSON_Delete(ans);
	return st;
}

/* When S2 first stored a report of the node (CLOCK_MONOTONIC, us, as its
 * log says it: "node ID: report Q stored ... at monotonic US us"); 0: never. */
static uint64_t first_stored_us(const char *id)
{
	FILE *f = fopen(s2.log, "r");
	char line[1024], want[96];
	snprintf(want, sizeof(want), "node %s: report ", id);
	uint64_t first = 0;
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, want), *m = strstr(line, " stored (");
		const char *at = m ? strstr(m, "at monotonic ") : NULL;
		if (!p || !at)
			continue;
		uint64_t us = strtoull(at + 13, NULL, 10);
		if (!first || us < first)
			first = us;
	}
	if (f)
		fclose(f);
	return first;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void kill_serve_while_reporting(void **st)
{
	(void)st;
	char log[NODES][PATH_MAX];
	pid_t agent[NODES];
	char hb[16];
	snprintf(hb, sizeof(hb), "%ds", HEARTBEAT_S);
	/* a CON a report; lost after 0.5 + 1 + 2 s (max-retransmit 2) */
	const char *extra[] = {"--controller", s2.url, "--heartbeat", hb, "--collect-interval", "1s", "--hold", "1s",
			       "--ack-timeout", "500ms", "--max-retransmit", "2", "--retry-max", "5s", NULL};
	for (int i = 0; i < NODES; i++)
		agent[i] = fmh_fnode_agent(&node[i], "agent.log", log[i], NULL, NULL, extra);
	/* each agent on S1, the first of its list */
	uint64_t t0 = fm_now_ms();
	for (int i = 0; i < NODES; i++)
		while (holder(ids[i]) != s1.pid) {
			if (fm_now_ms() - t0 > 30000)
				fail_msg("%s never held by S1 (its log: %s)", ids[i], log[i]);
			usleep(100 * 1000);
		}

	/* reports: each node's sda1 error counter up and down, every 700 ms */
	unsigned round = 0;
	uint64_t kill_at = 0, kill_us = 0, reached[NODES] = {0};
	int at_s2 = 0;
	for (;;) {
		for (int i = 0; i < NODES; i++)
			fmh_fnode_ext4_errors(&node[i], "sda1", round % 2 ? 0 : round + 1);
		round++;
		usleep(700 * 1000);
		if (!kill_at && round == 6) {
			/* well into the reports: S1 dies with some in flight */
			kill_us = fm_now_us();
			assert_int_equal(kill(s1.pid, SIGKILL), 0);
			kill_at = fm_now_ms();
			int status;
			assert_int_equal(fmh_stop_status(s1.pid, &status), 0);
			s1.pid = 0;
		}
		if (kill_at)
			for (int i = 0; i < NODES; i++)
				if (!reached[i] && holder(ids[i]) == s2.pid) {
					reached[i] = fm_now_ms() - kill_at;
					at_s2++;
				}
		if (at_s2 == NODES && round >= 14)
			break;
		if (kill_at && fm_now_ms() - kill_at > 4 * HEARTBEAT_S * 1000)
			break;
	}
	for (int i = 0; i < NODES; i++) {
		if (!reached[i]) {
			fmh_print_tail(log[i]);
			fail_msg("%s did not reach S2 within %d s of S1's kill", ids[i], 4 * HEARTBEAT_S);
		}
		if (reached[i] > 2 * HEARTBEAT_S * 1000)
			fail_msg("%s reached S2 %llu ms after the kill: more than two heartbeat intervals (%d s)", ids[i],
				 (unsigned long long)reached[i], 2 * HEARTBEAT_S);
	}
	/* the last change: resolved; then every queue drains to S2 */
	for (int i = 0; i < NODES; i++)
		fmh_fnode_ext4_errors(&node[i], "sda1", 0);
	for (int i = 0; i < NODES; i++) {
		node[i].ctl = s2; /* S1 is gone: the store through the survivor */
		cJSON *stj = NULL, *show = NULL;
		uint32_t made = 0;
		uint64_t w0 = fm_now_ms();
		for (;;) {
			stj = status_via_s2(ids[i]);
			assert_non_null(stj);
			const cJSON *queued = cJSON_GetObjectItem(stj, "queued");
			made = (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(stj, "q"));
			show = fmh_fnode_show(&node[i]);
			assert_non_null(show);
			if (cJSON_IsNumber(queued) && queued->valueint == 0 && made > 0 &&
			    (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(show, "last_seq")) == made)
				break;
			cJSON_Delete(stj);
			cJSON_Delete(show);
			if (fm_now_ms() - w0 > 30000)
				fail_msg("%s's queue never drained to S2 (its log: %s)", ids[i], log[i]);
			usleep(300 * 1000);
		}
		/* the node says it reports to S2 now */
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(stj, "controller")), s2.url);
		cJSON_Delete(stj);
		/* every report the agent made is stored, once */
		assert_int_equal(fmh_history_count(show, "sda1", "gap"), 0);
		const cJSON *h;
		uint32_t seen_max = 0;
		int lines = 0;
		cJSON_ArrayForEach(h, cJSON_GetObjectItem(show, "history"))
		{
			const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(h, "event"));
			const char *detail = cJSON_GetStringValue(cJSON_GetObjectItem(h, "detail"));
			const cJSON *seq = cJSON_GetObjectItem(h, "seq");
			assert_string_not_equal(ev, "gap");
			assert_string_not_equal(ev, "unreachable");
			if (!cJSON_IsNumber(seq) || (detail && strncmp(detail, "resync:", 7) == 0))
				continue;
			const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(h, "key"));
			if (!key || strcmp(key, "sda1") != 0)
				continue;
			/* each report toggles sda1 once: one line, in order */
			uint32_t q = (uint32_t)seq->valuedouble;
			if (q <= seen_max)
				fail_msg("%s: report %u in the history twice or out of order", ids[i], q);
			seen_max = q;
			lines++;
		}
		assert_true(lines >= 6); /* reports before and after the kill */
		cJSON_Delete(show);
	}
	/* S2's fleet page: the three nodes, none unreachable */
	char url[128], out[65536];
	snprintf(url, sizeof(url), "%s/", s2.http_url);
	assert_int_equal(fmh_curl(NULL, "GET", url, NULL, out, sizeof(out)), 200);
	assert_non_null(strstr(out, "<h1>3 nodes</h1>"));
	assert_non_null(strstr(out, " 0 unreachable</p>"));
	for (int i = 0; i < NODES; i++)
		assert_int_equal(fmh_stop(agent[i]), 0);
	/* the failover time: from the kill to the node's first report stored
	 * through S2 (S2 stored none before: the agents were on S1) */
	uint64_t sorted[NODES];
	char each[NODES * 24] = "";
	for (int i = 0; i < NODES; i++) {
		uint64_t us = first_stored_us(ids[i]);
		assert_true(us > kill_us);
		sorted[i] = (us - kill_us) / 1000;
		snprintf(each + strlen(each), sizeof(each) - strlen(each), "%s%llu", i ? "," : "",
			 (unsigned long long)sorted[i]);
	}
	qsort(sorted, NODES, sizeof(sorted[0]), cmp_u64);
	fmh_fault_line("test_fault_serve_failover",
		       "injects=serve-sigkill-two-serves nodes=%d heartbeat_s=%d kill_to_first_stored_median_ms=%llu "
		       "kill_to_first_stored_max_ms=%llu kill_to_first_stored_each_ms=%s",
		       NODES, HEARTBEAT_S, (unsigned long long)sorted[NODES / 2],
		       (unsigned long long)sorted[NODES - 1], each);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kill_serve_while_reporting),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
