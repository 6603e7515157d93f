/* run's collection interval on a quiet node (issue 10, idle cost): on a
 * healthy incident-1 node (real etcd over mTLS, a private dockerd running
 * the apiserver pod's containers, journal files, the apiserver stand-in
 * answering "healthy") reporting to a real controller, the wait between
 * collections doubles from --collect-interval up to --collect-idle while
 * nothing changes; a live source's change (incident 1's evidence: the
 * exited _23 in dockerd, kubelet's conflict lines in the journal) brings it
 * back to --collect-interval at once, and the diagnosis reaches the
 * controller. The agent says each new wait in
 * its log at level info ("run: next collection in N ms (...)").
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
#include "fmh_incident.h"
#include "fmh_journal.h"
#include "fmh_standin.h"
#include "fmh_uplink.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fmh_incident1 node;
static struct fmh_standin api;
static struct fmh_controller ctl;
static char dir[PATH_MAX];

static int setup(void **st)
{
	(void)st;
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 || fmh_incident1_start(&node) < 0 ||
	    fmh_standin_start(&api, node.root, "healthy", NULL) < 0 || fmh_controller_start(&ctl, false) < 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_incident1_stop(&node);
	fmh_cleanup();
	return 0;
}

static void stretches_and_comes_back(void **st)
{
	(void)st;
	char hex[128], psk[PATH_MAX], state[PATH_MAX + 8], log[PATH_MAX + 16];
	fmh_hex(FMH_KEY_A, hex, sizeof(hex));
	fmh_psk_file(dir, "psk", hex, psk, sizeof(psk));
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	const char *argv[64] = {fmh_agent(), "run", "--controller", ctl.url, "--psk-identity", FMH_NODE_A,
				"--psk-file", psk, "--state-dir", state, "--collect-interval", "250ms",
				"--collect-idle", "2s", "--log-level", "info"};
	int n = 16;
	int m = fmh_incident1_args(&node, node.jdir, api.url, argv + n, 64 - n - 1);
	assert_true(m > 0);
	argv[n + m] = NULL;
	pid_t agent = fmh_spawn(argv, log);
	assert_true(agent > 0);

	/* Quiet: 250 ms, 500, 1000, then the cap (2 s). The healthy node may
	 * hold a warning (clock-unsynced on a VM without NTP): warnings do not
	 * keep the rate up, critical ones do. */
	if (fmh_wait_log_pid(log, "run: next collection in 2000 ms (quiet)", agent, 30000) < 0)
		fail_msg("the collection interval did not stretch to --collect-idle; the agent's log is %s", log);
	assert_int_equal(fmh_wait_log_pid(log, "run: next collection in 1000 ms (quiet)", agent, 100), 0);

	/* A live change: incident 1's evidence (the exited _23 and _15 in
	 * dockerd, kubelet's conflict lines in the journal). */
	assert_int_equal(fmh_incident1_break(&node), 0);
	if (fmh_wait_log_pid(log, "run: next collection in 250 ms (a live source changed)", agent,
			     10000) < 0)
		fail_msg("the interval did not come back after a live change; the agent's log is %s", log);
	assert_true(fmh_controller_wait(&ctl, FMH_NODE_A, "container-name-conflict", "critical", 10000) >= 0);
	assert_int_equal(fmh_stop(agent), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stretches_and_comes_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
