/* Fault: etcd SIGKILLed under a running agent, then started again on the
 * same data dir and ports (issue 11). Twice, so a leak per failed
 * collection or per reconnect shows:
 *   - the agent stays up;
 *   - the controller gets etcd-unreachable (critical) while etcd is down,
 *     and sees it resolved once etcd is back;
 *   - the agent's fds come back to what they were (no connection to the
 *     dead etcd kept, none leaked by the failed collections).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_faults.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>

#define CYCLES 2
/* Collections while etcd is down: each one a failed connect. */
#define DOWN_COLLECTS 4

static struct fmh_fault f;

FMH_FAULT_FIXTURES(f)

static void etcd_killed_and_restarted(void **st)
{
	(void)st;
	fmh_fault_agent(&f);
	/* etcd is healthy: nothing said of it */
	fmh_fault_wait(&f, "etcd-unreachable", "", 10000);
	struct fmh_proc before = fmh_fault_settled(&f);
	long down_ms[CYCLES], up_ms[CYCLES];

	for (int c = 0; c < CYCLES; c++) {
		pid_t pid = f.node.etcd.pid;
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(fmh_stop_status(pid, &status), 0);
		assert_int_equal(status, 128 + SIGKILL);
		f.node.etcd.pid = 0;
		uint64_t t0 = fm_now_ms();
		down_ms[c] = fmh_fault_wait(&f, "etcd-unreachable", "critical", 15000);
		/* stays down for a few more collections, each a refused connect */
		uint64_t until = t0 + (uint64_t)down_ms[c] + DOWN_COLLECTS * 1000;
		while (fm_now_ms() < until) {
			fmh_fault_alive(&f);
			struct timespec ts = {0, 100 * 1000000L};
			nanosleep(&ts, NULL);
		}
		fmh_fault_alive(&f);
		char log[32];
		snprintf(log, sizeof(log), "etcd-restart%d.log", c);
		assert_int_equal(fmh_etcd_restart(&f.node.etcd, f.node.root, log), 0);
		up_ms[c] = fmh_fault_wait(&f, "etcd-unreachable", "", 20000);
		fmh_fault_alive(&f);
	}
	struct fmh_proc after = fmh_fault_settled(&f);
	print_message("agent fds: %d before, %d after %d kills of etcd\n", before.fds, after.fds, CYCLES);
	/* bounded: the same sockets as before, give or take one in flight */
	if (after.fds > before.fds + 1)
		fail_msg("the agent holds %d fds after etcd's restarts, %d before", after.fds, before.fds);
	fmh_fault_line("test_fault_etcd", "injects=etcd-sigkill-restart cycles=%d detect_ms=%ld resolve_ms=%ld fds_before=%d fds_after=%d",
		       CYCLES, down_ms[CYCLES - 1], up_ms[CYCLES - 1], before.fds, after.fds);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(etcd_killed_and_restarted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
