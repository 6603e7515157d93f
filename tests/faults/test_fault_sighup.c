/* Fault: the configuration changed under a running agent, SIGHUP
 * (issue 11, item 2). `fleetmedic-agent run --config FILE` reporting to a
 * real serve; the file is rewritten and the agent sent SIGHUP:
 *   - the new heartbeat interval is what the controller sees;
 *   - actions refused with allow-actions = none are tried once it says rm
 *     (the audit line's reason, over the controller's triage);
 *   - a new controller address: the agent's next session goes to a second
 *     real serve;
 *   - a key that needs a restart is named in the log as such;
 *   - a broken file is refused whole with its FILE:LINE, and the running
 *     configuration stays (the heartbeat interval unchanged).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_faults_ctl.h"
#include "fmh_uplink.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fmh_fnode node;
static struct fmh_controller ctl2;

static int setup(void **st)
{
	(void)st;
	return fmh_fnode_init(&node, NULL) < 0 || fmh_controller_start(&ctl2, false) < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

static void write_conf(const char *controller, const char *heartbeat, const char *actions, const char *more)
{
	FILE *f = fopen(node.conf, "w");
	assert_non_null(f);
	fprintf(f, "# the node's agent\ncontroller = %s\nheartbeat = %s\nallow-actions = %s\nhold = 1s\n%s",
		controller, heartbeat, actions, more);
	assert_int_equal(fclose(f), 0);
}

/* The heartbeat interval c holds for the node (show --json), -1 if none. */
static int interval_at(const struct fmh_controller *c)
{
	int status, v = -1;
	cJSON *j = fmh_controller_json(c, &status, "show", FMH_NODE_A, NULL);
	const cJSON *i = cJSON_GetObjectItem(j, "interval_s");
	if (cJSON_IsNumber(i))
		v = (int)i->valuedouble;
	cJSON_Delete(j);
	return v;
}

static void wait_interval(const struct fmh_controller *c, int want)
{
	uint64_t t0 = fm_now_ms();
	int have;
	while ((have = interval_at(c)) != want) {
		if (fm_now_ms() - t0 > 20000)
			fail_msg("the controller holds heartbeat interval %d s, not %d s", have, want);
		usleep(100000);
	}
}

/* Asks for removing a container through the controller (the node has no
 * Docker: the action can only fail, but why it fails says whether it was
 * allowed); waits for the agent's audit line. */
static void try_rm(const char *log, const char *id, const char *why)
{
	int status;
	cJSON *t = fmh_controller_json(&node.ctl, &status, "triage", FMH_NODE_A, "rm", id, "--timeout", "20s", NULL);
	cJSON_Delete(t);
	assert_int_not_equal(status, 0);
	char audit[200];
	snprintf(audit, sizeof(audit), "audit: remove container %s", id);
	assert_int_equal(fmh_wait_log(log, audit, 5000), 0);
	int n = fmh_log_count(log, audit), with = 0;
	FILE *f = fopen(log, "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, audit))
			with = strstr(line, why) != NULL;
	if (f)
		fclose(f);
	if (n != 1 || !with)
		fail_msg("want one audit line for %s saying '%s'", id, why);
}

static void sighup_reloads(void **st)
{
	(void)st;
	char log[PATH_MAX];
	write_conf(node.ctl.url, "3s", "none", "");
	const char *extra[] = {"--config", node.conf, NULL};
	pid_t agent = fmh_fnode_agent(&node, "agent.log", log, NULL, NULL, extra);
	cJSON_Delete(fmh_fnode_wait_history(&node, "mmcblk0p2", "raise", 15000));
	wait_interval(&node.ctl, 3);
	try_rm(log, "8470235abd66", "not enabled");

	/* heartbeat and actions, at once. */
	write_conf(node.ctl.url, "7s", "rm", "");
	uint64_t t0 = fm_now_ms();
	assert_int_equal(kill(agent, SIGHUP), 0);
	assert_int_equal(fmh_wait_log_pid(log, "SIGHUP: ", agent, 5000), 0);
	wait_interval(&node.ctl, 7);
	uint64_t hb_ms = fm_now_ms() - t0;
	try_rm(log, "46497b3b5724", "docker");

	/* A broken file: refused whole, the running configuration stays. */
	write_conf(node.ctl.url, "11s", "none", "collect-interval = soon\n");
	assert_int_equal(kill(agent, SIGHUP), 0);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s:6: collect-interval: --collect-interval soon", node.conf);
	assert_int_equal(fmh_wait_log_pid(log, want, agent, 5000), 0);
	assert_int_equal(fmh_wait_log_pid(log, "the running configuration stays", agent, 5000), 0);
	assert_int_equal(fmh_log_count(log, "SIGHUP: "), 2);
	assert_int_equal(interval_at(&node.ctl), 7);

	/* Another controller (a new session), a key that needs a restart. */
	write_conf(ctl2.url, "7s", "rm", "rules-dir = /nonexistent\n");
	assert_int_equal(kill(agent, SIGHUP), 0);
	assert_int_equal(fmh_wait_log_pid(log, "rules-dir changed in", agent, 5000), 0);
	uint64_t t1 = fm_now_ms();
	wait_interval(&ctl2, 7);
	uint64_t move_ms = fm_now_ms() - t1;
	assert_int_equal(fmh_log_count(log, "(new session)"), 1);

	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	fmh_fault_line("test_fault_sighup", "injects=sighup-reload reloads=3 refused=1 heartbeat_seen_ms=%llu new_controller_ms=%llu",
		       (unsigned long long)hb_ms, (unsigned long long)move_ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sighup_reloads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
