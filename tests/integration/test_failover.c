/* fleetmedic-agent run given two controllers, A then B (issue 28, item 4):
 * two real `fleetmedic-controller serve` processes on loopback, each its
 * own store (SQLite; PostgreSQL when FMH_STORE=postgresql), DTLS-PSK both.
 * The node is real files (a board tree the hal source reads: its ext4
 * error counters raise and change diagnoses on demand).
 *   - A up: the agent reports to A; A killed (SIGKILL, by pid) with a
 *     report queued or on the wire and more changes after: the agent moves
 *     to B within two heartbeat intervals, and B stores what A did not
 *     take, in order, each once; A started again: the agent goes back to it
 *     (the "prefer the first" try) and the next change is A's, not B's;
 *   - A down at start: the agent reports to B; A started: back to A;
 *   - both down: whole rounds fail, each followed by the back-off (which
 *     doubles up to --retry-max; said once at WARNING); B started: the
 *     queue, in order, to B;
 *   - SIGHUP: the config file's one controller (down) becomes a list
 *     ("A, B"): the agent reaches B.
 * Every wait is on an event (a log line, a stored row) with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_controller.h"
#include "fmh_faults_ctl.h"
#include "fmh_uplink.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HB_S	   3 /* --heartbeat: short, so two intervals are a short wait */
#define RETRY_MAX  "1s"
#define RETRY_MS   1000

static struct fmh_fnode node; /* its controller (node.ctl) is A */
static struct fmh_controller b;

static int setup_each(void **st)
{
	(void)st;
	int rc;
	if ((rc = fmh_fnode_init(&node, NULL)) < 0 || (rc = fmh_controller_start(&b, false)) < 0) {
		print_error("setup: %s\n", strerror(-rc));
		return -1;
	}
	return 0;
}

static pid_t agent_pid; /* the test's agent, stopped by the teardown if the test did not */

/* Each test's processes stopped by pid (fmh_cleanup, at the end, also
 * removes the harness's scratch directory the journal files are written
 * through, which the next test's node still needs). */
static int teardown_each(void **st)
{
	(void)st;
	if (agent_pid > 0)
		fmh_stop(agent_pid);
	agent_pid = 0;
	fmh_controller_stop(&node.ctl, NULL);
	fmh_controller_stop(&b, NULL);
	return 0;
}

static int teardown_all(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

/* The agent with A then B (node.ctl first: fmh_fnode_agent's --controller),
 * a short heartbeat and quick retries; more arguments in extra (NULL
 * ended, at most 4). */
static pid_t agent_start(const char *log_name, char *log, const char *const *extra)
{
	char hb[16];
	snprintf(hb, sizeof(hb), "%ds", HB_S);
	const char *args[20] = {"--controller", b.url, "--heartbeat", hb, "--collect-interval", "200ms",
				"--hold", "1s", "--ack-timeout", "200ms", "--max-retransmit", "2",
				"--retry-max", RETRY_MAX};
	int n = 14;
	for (int i = 0; extra && extra[i] && n < 19; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	agent_pid = fmh_fnode_agent(&node, log_name, log, NULL, NULL, args);
	return agent_pid;
}

/* c's view of the node (caller frees). */
static cJSON *show(const struct fmh_controller *c)
{
	int status;
	return fmh_controller_json(c, &status, "show", FMH_NODE_A, "--history", "1000", NULL);
}

/* Waits (at most ms) until c's history has key/event; returns the show
 * (caller frees), or fails with the logs. */
static cJSON *wait_history(const struct fmh_controller *c, const char *key, const char *event, uint64_t ms,
			   const char *log)
{
	uint64_t t0 = fm_now_ms();
	for (;;) {
		cJSON *j = show(c);
		if (j && fmh_history_count(j, key, event) > 0)
			return j;
		cJSON_Delete(j);
		if (fm_now_ms() - t0 > ms) {
			fmh_print_tail(log);
			fmh_print_tail(c->log);
			fail_msg("%s of %s not stored by %s within %llu ms", event, key, c->url, (unsigned long long)ms);
		}
		usleep(50000);
	}
}

static void wait_log(const char *log, const char *needle, pid_t pid, int ms)
{
	if (fmh_wait_log_pid(log, needle, pid, ms) == 0)
		return;
	fmh_print_tail(log);
	fail_msg("'%s' not in %s within %d ms", needle, log, ms);
}

/* SIGKILL to c's serve, by its pid, reaped at once. */
static void kill9(struct fmh_controller *c)
{
	int status;
	assert_true(c->pid > 0);
	assert_int_equal(kill(c->pid, SIGKILL), 0);
	assert_int_equal(fmh_stop_status(c->pid, &status), 0);
	assert_int_equal(status, 128 + SIGKILL);
	c->pid = 0;
}

/* The active diagnosis keyed key in show, its summary ("" when none). */
static const char *summary_of(const cJSON *j, const char *key)
{
	const cJSON *d = fmh_show_active(j, key);
	const char *s = d ? cJSON_GetStringValue(cJSON_GetObjectItem(d, "summary")) : NULL;
	return s ? s : "";
}

/* Starts A again on its port and store; the agent, on B, goes back to A
 * (its try of the first, back-off capped at --retry-max), and the next
 * change is A's alone. */
static void comes_back(const char *log, pid_t agent, const char *dev)
{
	char want[256];
	assert_int_equal(fmh_controller_restart(&node.ctl, "serve-again.log"), 0);
	snprintf(want, sizeof(want), "uplink: back to the first controller, %s", node.ctl.url);
	wait_log(log, want, agent, 30000);
	fmh_fnode_ext4_errors(&node, dev, 3);
	cJSON_Delete(wait_history(&node.ctl, dev, "raise", 15000, log));
	cJSON *j = show(&b);
	assert_non_null(j);
	if (fmh_history_count(j, dev, "raise") != 0)
		fail_msg("%s went to B after the agent had moved back to A", dev);
	cJSON_Delete(j);
}

static void failover_on_kill(void **st)
{
	(void)st;
	char log[PATH_MAX], want[256];
	pid_t agent = agent_start("agent.log", log, NULL);

	/* A up: the board's ext4 counter (fixture: 1 on mmcblk0p2) reaches A,
	 * and B hears nothing of the node. */
	cJSON *j = wait_history(&node.ctl, "mmcblk0p2", "raise", 15000, log);
	uint32_t a_seq = (uint32_t)fmh_jnum(j, "last_seq");
	cJSON_Delete(j);
	snprintf(want, sizeof(want), "uplink: session with %s open", node.ctl.url);
	wait_log(log, want, agent, 1000);
	j = show(&b);
	assert_true(!j || fmh_history_count(j, "mmcblk0p2", "raise") == 0);
	cJSON_Delete(j);

	/* A change is queued (and goes on the wire to A): A is killed at
	 * once; more changes follow while the agent finds out. */
	fmh_fnode_ext4_errors(&node, "mmcblk0p3", 2);
	wait_log(log, "diagnosis raised: fs-corruption the ext4 filesystem on mmcblk0p3", agent, 10000);
	kill9(&node.ctl);
	uint64_t t_kill = fm_now_ms();
	fmh_fnode_ext4_errors(&node, "mmcblk0p3", 5);
	wait_log(log, "diagnosis changed: fs-corruption", agent, 10000);
	fmh_fnode_ext4_errors(&node, "mmcblk0p4", 1);

	/* B within two heartbeat intervals of the kill. */
	snprintf(want, sizeof(want), "uplink: moved to %s", b.url);
	uint64_t waited = fm_now_ms() - t_kill;
	int left = (int)(2 * HB_S * 1000 - (waited < 2 * HB_S * 1000 ? waited : 2 * HB_S * 1000));
	if (fmh_wait_log_pid(log, want, agent, left) < 0) {
		fmh_print_tail(log);
		fail_msg("the agent did not move to B within %d s of A's SIGKILL", 2 * HB_S);
	}
	snprintf(want, sizeof(want), "after %s:", node.ctl.url); /* and says why */
	wait_log(log, want, agent, 1000);

	/* B stores what A had not: in order, each once, the latest state. */
	j = wait_history(&b, "mmcblk0p4", "raise", 15000, log);
	fmh_history_ordered(j);
	assert_int_equal(fmh_history_count(j, "mmcblk0p4", "raise"), 1);
	int p3 = fmh_history_index(j, "mmcblk0p3", "raise"), p4 = fmh_history_index(j, "mmcblk0p4", "raise");
	/* mmcblk0p3: raised at B (A had not stored it, or the change came
	 * to B as the first B heard of it), once, before mmcblk0p4 */
	assert_int_equal(fmh_history_count(j, "mmcblk0p3", "raise"), 1);
	assert_true(p3 >= 0 && p3 < p4);
	if (!strstr(summary_of(j, "mmcblk0p3"), "recorded 5 errors"))
		fail_msg("B holds mmcblk0p3 as '%s', not its 5 errors", summary_of(j, "mmcblk0p3"));
	/* the reports B took are the ones after A's: numbered on from there */
	assert_true((uint32_t)fmh_jnum(j, "last_seq") > a_seq);
	cJSON_Delete(j);

	/* A back: the agent returns to it. */
	comes_back(log, agent, "mmcblk0p5");
	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	agent_pid = 0;
	assert_int_equal(status, 0);
}

static void first_down_at_start(void **st)
{
	(void)st;
	char log[PATH_MAX], want[256];
	assert_int_equal(fmh_controller_stop(&node.ctl, NULL), 0); /* its port stays A's */
	pid_t agent = agent_start("agent.log", log, NULL);

	/* B gets the node, A's failure said first. */
	cJSON *j = wait_history(&b, "mmcblk0p2", "raise", 15000, log);
	cJSON_Delete(j);
	snprintf(want, sizeof(want), "uplink: %s unreachable (", node.ctl.url);
	wait_log(log, want, agent, 1000);
	snprintf(want, sizeof(want), "moving to %s", b.url);
	wait_log(log, want, agent, 1000);
	snprintf(want, sizeof(want), "uplink: session with %s open", b.url);
	wait_log(log, want, agent, 1000);
	fmh_fnode_ext4_errors(&node, "mmcblk0p3", 2);
	j = wait_history(&b, "mmcblk0p3", "raise", 15000, log);
	assert_true(fmh_history_index(j, "mmcblk0p2", "raise") < fmh_history_index(j, "mmcblk0p3", "raise"));
	cJSON_Delete(j);

	comes_back(log, agent, "mmcblk0p4");
	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	agent_pid = 0;
	assert_int_equal(status, 0);
}

/* The "in N ms" of each round's end in the log, in order, into ms (at
 * most max); how many. */
static int round_delays(const char *log, uint64_t *ms, int max)
{
	FILE *f = fopen(log, "r");
	char line[2048];
	int n = 0;
	while (f && n < max && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "next round from ");
		const char *in = p ? strstr(p, " in ") : NULL;
		if (in)
			ms[n++] = strtoull(in + 4, NULL, 10);
	}
	if (f)
		fclose(f);
	return n;
}

static void both_down(void **st)
{
	(void)st;
	char log[PATH_MAX], want[256];
	assert_int_equal(fmh_controller_stop(&node.ctl, NULL), 0);
	assert_int_equal(fmh_controller_stop(&b, NULL), 0);
	const char *extra[] = {"--log-level", "info", NULL};
	pid_t agent = agent_start("agent.log", log, extra);

	/* Whole rounds fail: A then B, then the back-off. */
	wait_log(log, "uplink: none of the 2 controllers answered", agent, 15000);
	fmh_fnode_ext4_errors(&node, "mmcblk0p3", 2);
	wait_log(log, "diagnosis raised: fs-corruption the ext4 filesystem on mmcblk0p3", agent, 10000);
	/* Six rounds: the back-off doubled between them, up to the cap. */
	uint64_t t0 = fm_now_ms(), ms[64];
	int n;
	while ((n = round_delays(log, ms, 64)) < 6) {
		if (fm_now_ms() - t0 > 30000) {
			fmh_print_tail(log);
			fail_msg("only %d rounds in 30 s", n);
		}
		usleep(100000);
	}
	for (int i = 1; i < n; i++) {
		uint64_t want_ms = ms[i - 1] * 2 > RETRY_MS ? RETRY_MS : ms[i - 1] * 2;
		if (ms[i] != want_ms)
			fail_msg("round %d: back-off %llu ms after %llu ms (want %llu)", i, (unsigned long long)ms[i],
				 (unsigned long long)ms[i - 1], (unsigned long long)want_ms);
	}
	assert_int_equal(ms[n - 1], RETRY_MS);
	/* each round tries both, the first first (B's failure of the first
	 * round is the "none answered" line's) */
	snprintf(want, sizeof(want), "uplink: %s unreachable (", node.ctl.url);
	int tries_a = fmh_log_count(log, want);
	snprintf(want, sizeof(want), "uplink: %s unreachable (", b.url);
	int tries_b = fmh_log_count(log, want);
	if (tries_a < n || tries_b < n - 1)
		fail_msg("%d rounds, but A tried %d times and B %d", n, tries_a, tries_b);
	/* complained once, not every round */
	assert_int_equal(fmh_log_count(log, "uplink: none of the 2 controllers answered"), 1);

	/* B comes up: the queue, in order, once each. */
	assert_int_equal(fmh_controller_restart(&b, "serve-b-again.log"), 0);
	cJSON *j = wait_history(&b, "mmcblk0p3", "raise", 30000, log);
	const char *const order[][2] = {{"mmcblk0p2", "raise"}, {"mmcblk0p3", "raise"}};
	fmh_history_once_in_order(j, order, 2);
	fmh_history_ordered(j);
	cJSON_Delete(j);
	snprintf(want, sizeof(want), "uplink: session with %s open", b.url);
	wait_log(log, want, agent, 1000);
	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	agent_pid = 0;
	assert_int_equal(status, 0);
}

/* SIGHUP reads the config file's list again: one controller (down) and
 * the agent waits; two (the second up) and the queue goes to the second. */
static void sighup_list(void **st)
{
	(void)st;
	char log[PATH_MAX], want[256], hb[16];
	assert_int_equal(fmh_controller_stop(&node.ctl, NULL), 0);
	snprintf(hb, sizeof(hb), "%ds", HB_S);
	FILE *f = fopen(node.conf, "w");
	assert_non_null(f);
	fprintf(f, "controller = %s\nheartbeat = %s\nack-timeout = 200ms\nmax-retransmit = 2\nretry-max = %s\n",
		node.ctl.url, hb, RETRY_MAX);
	assert_int_equal(fclose(f), 0);
	const char *extra[] = {"--config", node.conf, "--collect-interval", "200ms", "--hold", "1s", NULL};
	agent_pid = fmh_fnode_agent(&node, "agent.log", log, NULL, NULL, extra);
	snprintf(want, sizeof(want), "uplink: %s unreachable (", node.ctl.url);
	wait_log(log, want, agent_pid, 15000);

	/* The list, comma and blank separated, the first still down. */
	f = fopen(node.conf, "w");
	assert_non_null(f);
	fprintf(f, "controller = %s, %s\nheartbeat = %s\nack-timeout = 200ms\nmax-retransmit = 2\nretry-max = %s\n",
		node.ctl.url, b.url, hb, RETRY_MAX);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(kill(agent_pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "applied: controller %s, %s (new session)", node.ctl.url, b.url);
	wait_log(log, want, agent_pid, 5000);
	cJSON *j = wait_history(&b, "mmcblk0p2", "raise", 15000, log);
	cJSON_Delete(j);
	snprintf(want, sizeof(want), "uplink: session with %s open", b.url);
	wait_log(log, want, agent_pid, 1000);
	int status;
	assert_int_equal(fmh_stop_status(agent_pid, &status), 0);
	agent_pid = 0;
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(failover_on_kill, setup_each, teardown_each),
		cmocka_unit_test_setup_teardown(first_down_at_start, setup_each, teardown_each),
		cmocka_unit_test_setup_teardown(both_down, setup_each, teardown_each),
		cmocka_unit_test_setup_teardown(sighup_list, setup_each, teardown_each),
	};
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
