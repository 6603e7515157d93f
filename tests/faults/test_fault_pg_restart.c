/* PostgreSQL restarted (fast shutdown, then started again on the same
 * directory) while 100 simulated agents (bench/coap_load, real DTLS-PSK
 * sessions) report back to back to a serve on it (issue 28): serve is not
 * restarted; it says the connection is lost, answers 5.00 meanwhile (the
 * agents keep their reports), resets the connection with back-off and
 * stores again by itself; afterwards every report any agent had
 * acknowledged is in the database.
 *
 * What it guards: a report is acknowledged only once its transaction has
 * committed on the server (synchronous_commit on: the WAL flushed); a
 * transaction the lost connection had open is the server's to roll back,
 * and nothing of it was acknowledged. Registered with FMH_STORE=postgresql.
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
#include "fmh_pg.h"

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
	if (!fmh_controller_pg()) {
		fprintf(stderr, "test_fault_pg_restart: runs with FMH_STORE=postgresql\n");
		return -1;
	}
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 || fmh_controller_start(&ctl, false) < 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

/* The sum of the nodes' stored sequence numbers (a fresh connection). */
static int64_t stored_total(void)
{
	return fmh_store_peek(ctl.db, "SELECT coalesce(sum(last_seq), 0) FROM nodes", NULL);
}

static void test_pg_restart_under_load(void **st)
{
	(void)st;
	char log[PATH_MAX + 16], acked[PATH_MAX + 16];
	int status;
	pid_t pid = fmh_load_start(&ctl, dir, NODES, log, acked);

	/* the database goes away under the load, and comes back */
	struct fmh_pg *pg = fmh_controller_pg_cluster();
	assert_non_null(pg);
	assert_int_equal(fmh_pg_stop(pg), 0);
	fmh_wait_for(ctl.log, "the connection is lost", ctl.pid, 30000, log);
	uint64_t down_at = fm_now_ms();
	assert_int_equal(fmh_pg_restart(pg), 0);
	fmh_wait_for(ctl.log, "the connection is back", ctl.pid, 30000, log);
	uint64_t back_ms = fm_now_ms() - down_at;
	/* what came meanwhile was held, unanswered, then stored and answered */
	fmh_wait_for(ctl.log, "reports are held, unanswered, until it is back", ctl.pid, 1000, log);
	fmh_wait_for(ctl.log, "held report(s) stored and answered", ctl.pid, 10000, log);
	/* ingest resumes by itself: every node stores two more, at least */
	int64_t at_back = stored_total(), now_total = at_back;
	uint64_t t0 = fm_now_ms();
	while ((now_total = stored_total()) < at_back + 2 * NODES && fm_now_ms() - t0 < 60000)
		usleep(100 * 1000);
	if (now_total < at_back + 2 * NODES) {
		fmh_print_tail(ctl.log);
		fmh_print_tail(log);
		fail_msg("ingest did not resume: %lld stored when the connection was back, %lld a minute later",
			 (long long)at_back, (long long)now_total);
	}
	uint64_t resumed_ms = fm_now_ms() - t0;
	assert_true(kill(ctl.pid, 0) == 0); /* the same serve, never restarted */

	/* the agents stop: what each had acknowledged, against the store */
	assert_int_equal(kill(pid, SIGTERM), 0);
	fmh_wait_for(acked, "load-00099 ", pid, 30000, log);
	assert_int_equal(fmh_wait_exit(pid, 30000), 0);
	assert_int_equal(fmh_stop_status(pid, &status), 0);
	/* no agent was refused: held, not answered 5.00 */
	if (fmh_log_count(log, "answered 5.") > 0) {
		fmh_print_tail(log);
		fail_msg("an agent had a 5.xx answer during the restart");
	}
	struct fmh_acked a;
	fmh_load_acked(ctl.db, acked, &a);
	assert_int_equal(a.nodes, NODES);
	assert_int_equal(a.lost, 0);
	assert_int_equal(a.over, 0);
	assert_true(a.acked >= (unsigned long)at_back);
	assert_int_equal(fmh_controller_stop(&ctl, &status), 0);
	assert_int_equal(status, 0);
	fmh_fault_line("test_fault_pg_restart",
		       "injects=postgresql-restart-under-load nodes=%d acked=%lu acked_lost=%lu down_to_back_ms=%llu "
		       "back_to_2x100_stored_ms=%llu",
		       a.nodes, a.acked, a.lost, (unsigned long long)back_ms, (unsigned long long)resumed_ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pg_restart_under_load),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
