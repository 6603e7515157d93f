/* serve killed (SIGKILL) while 100 simulated agents (bench/coap_load, real
 * DTLS-PSK sessions) report back to back, then started again on the same
 * database: every report any agent had acknowledged is in the store
 * (nodes.last_seq >= the node's last acknowledged q), the database is
 * whole (PRAGMA integrity_check), and the restarted serve takes reports
 * again.
 *
 * What it guards: a report is acknowledged only once its transaction has
 * committed (fc_server's group commit), and a committed transaction
 * survives the process dying (WAL, synchronous=NORMAL: the WAL is in the
 * OS's page cache; only the OS dying could lose it, which no test here
 * does).
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
#include "fmh_uplink.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODES 100

static struct fmh_controller ctl;
static char dir[PATH_MAX];

static int setup(void **st)
{
	(void)st;
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 ||
	    fmh_controller_start(&ctl, false) < 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

/* Waits (at most ms) for pid (an fmh_spawn child, not reaped) to exit by
 * itself, then reaps it: its exit status. A signal sent to it while it
 * exits could end it another way. */
static int wait_exit(pid_t pid, int ms)
{
	if (fmh_wait_exit(pid, ms) < 0)
		fail_msg("pid %d did not exit within %d ms", (int)pid, ms);
	int status;
	assert_int_equal(fmh_stop_status(pid, &status), 0);
	return status;
}

static void test_kill_under_load(void **st)
{
	(void)st;
	const char *load = getenv("FM_COAP_LOAD");
	assert_non_null(load);
	char log[PATH_MAX + 16], log2[PATH_MAX + 16], acked[PATH_MAX + 16], server[64];
	int status;
	pid_t pid = fmh_load_start(&ctl, dir, NODES, log, acked);

	/* kill -9 mid-stream, reaped at once */
	assert_int_equal(kill(ctl.pid, SIGKILL), 0);
	assert_int_equal(fmh_stop_status(ctl.pid, &status), 0);
	assert_int_equal(status, 128 + SIGKILL);
	ctl.pid = 0;
	/* the agents: what each had acknowledged when serve died */
	assert_int_equal(kill(pid, SIGTERM), 0);
	fmh_wait_for(acked, "load-00099 ", pid, 30000, log);
	wait_exit(pid, 30000);

	/* serve again on the same database (the WAL replayed at open) */
	assert_int_equal(fmh_controller_restart(&ctl, "serve-after-kill.log"), 0);
	/* read on a connection of our own: SQLite's file (WAL replayed) or
	 * the PostgreSQL database (FMH_STORE=postgresql) */
	struct fc_db *h = NULL;
	char why[256];
	if (fc_db_open(ctl.db, false, &h, why, sizeof(why)) < 0)
		fail_msg("%s", why);
	struct fc_db_stmt *q = NULL;
	if (fc_db_engine(h) == FC_DB_SQLITE) {
		q = fc_db_prepare(h, "PRAGMA integrity_check", false);
		assert_non_null(q);
		assert_int_equal(fc_db_step(q), 1);
		assert_string_equal(fc_db_col_text(q, 0), "ok");
		fc_db_finalize(q);
	}
	fc_db_close(&h);
	struct fmh_acked a;
	fmh_load_acked(ctl.db, acked, &a);
	print_message(
	    "kill -9 under load: %d nodes, %lu reports acknowledged, %lu stored (%lu stored but "
	    "unanswered when serve died), %lu acknowledged and lost\n",
	    a.nodes, a.acked, a.stored, a.stored - a.acked + a.lost, a.lost);
	int nodes = a.nodes;
	unsigned long total_acked = a.acked, total_stored = a.stored, lost = a.lost;
	assert_int_equal(a.over, 0);
	assert_int_equal(nodes, NODES);
	assert_int_equal(lost, 0);
	assert_true(total_stored <= total_acked + NODES);
	/* the load was on: serve had stored 20 of the first and the last node's */
	assert_true(total_acked >= 2 * NODES);

	/* the restarted serve takes reports (q from 1 again: duplicates,
	 * acknowledged and not stored twice) */
	snprintf(log2, sizeof(log2), "%s/coap_load2.log", dir);
	snprintf(server, sizeof(server), "127.0.0.1:%d", ctl.port);
	const char *argv2[] = {load,	    "run", "--server", server, "--nodes", "100",
			       "--seconds", "1",   "--kind",   "rp",   NULL};
	pid = fmh_spawn(argv2, log2);
	assert_true(pid > 0);
	status = wait_exit(pid, 60000);
	if (status != 0) {
		fmh_print_tail(log2);
		fmh_print_tail(ctl.log);
		fail_msg("coap_load against the restarted serve: exit %d", status);
	}
	fmh_wait_for(log2, "failed=0 unanswered=0", 0, 1000, NULL);
	assert_int_equal(fmh_controller_stop(&ctl, &status), 0);
	assert_int_equal(status, 0);
	fmh_fault_line("test_fault_ctl_kill",
		       "injects=serve-sigkill-under-load nodes=%d acked=%lu stored=%lu acked_lost=%lu", nodes,
		       total_acked, total_stored, lost);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kill_under_load),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
