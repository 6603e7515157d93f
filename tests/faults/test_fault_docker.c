/* Fault: the node's dockerd SIGKILLed under a running agent (by pid;
 * containerd and the shims live on, as when the daemon crashes), then
 * started again on the same dirs (issue 11):
 *   - the agent stays up;
 *   - the controller gets container-runtime-down (critical) while the
 *     daemon is dead, and sees it resolved once it answers again;
 *   - the Docker event watcher reconnects: a control-plane container that
 *     exits after the restart (a real one, exit code 3) reaches the
 *     controller as control-plane-crashloop;
 *   - the agent's fds come back to what they were.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_faults.h"

#include <stdio.h>
#include <time.h>

static struct fmh_fault f;

FMH_FAULT_FIXTURES(f)

static void dockerd_killed_and_restarted(void **st)
{
	(void)st;
	fmh_fault_agent(&f);
	fmh_fault_wait(&f, "container-runtime-down", "", 10000);
	struct fmh_proc before = fmh_fault_settled(&f);

	assert_int_equal(fmh_docker_kill(&f.node.dk), 0);
	long down_ms = fmh_fault_wait(&f, "container-runtime-down", "critical", 15000);
	fmh_fault_alive(&f);
	assert_int_equal(fmh_docker_restart(&f.node.dk), 0);
	long up_ms = fmh_fault_wait(&f, "container-runtime-down", "", 30000);
	fmh_fault_alive(&f);

	/* After the restart, a control-plane container exits: only the
	 * reconnected event stream tells the agent (nothing else lists
	 * containers again). */
	char name[160], id[65];
	fmh_fault_k8s_name(name, sizeof(name), "kube-scheduler", 1);
	assert_int_equal(fmh_docker_run_exited(&f.node.dk, name, id, "echo scheduler gives up; exit 3"), 0);
	char shortid[32];
	snprintf(shortid, sizeof(shortid), "(container %.12s)", id);
	long exit_ms = fmh_fault_wait_summary(&f, "control-plane-crashloop", shortid, 10000);
	fmh_fault_alive(&f);

	struct fmh_proc after = fmh_fault_settled(&f);
	print_message("agent fds: %d before, %d after dockerd's restart\n", before.fds, after.fds);
	if (after.fds > before.fds + 1)
		fail_msg("the agent holds %d fds after dockerd's restart, %d before", after.fds, before.fds);
	fmh_fault_line("test_fault_docker",
		       "injects=dockerd-sigkill-restart detect_ms=%ld resolve_ms=%ld exit_seen_ms=%ld fds_before=%d fds_after=%d",
		       down_ms, up_ms, exit_ms, before.fds, after.fds);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dockerd_killed_and_restarted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
