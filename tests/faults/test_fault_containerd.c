/* Fault: the CRI runtime (a real containerd, the harness's private one:
 * tests/harness/fmh_containerd) SIGKILLed under a running agent by its pid
 * (its shims and pods live on, as when the daemon crashes), then started
 * again on the same dirs, twice (issue 22):
 *   - the agent stays up;
 *   - the controller gets container-runtime-down (critical, containerd
 *     named) while containerd is dead, and sees it resolved once it
 *     answers again;
 *   - a control-plane container that exits afterwards reaches the
 *     controller as control-plane-crashloop;
 *   - the controller lists it (triage containers) and removes it through
 *     the CRI (triage rm, the node's --allow-actions rm);
 *   - all of it within seconds while the agent collects once a minute:
 *     containerd's events (the stream's end, the runtime back, the exit)
 *     make it collect at once;
 *   - the agent's fds come back to what they were (no gRPC connection or
 *     timer left behind).
 * The node is incident 1's (Docker beside it, as on a node moving from one
 * runtime to the other): the agent watches both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_containerd.h"
#include "fmh_faults.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static struct fmh_fault f;
static struct fmh_containerd ctd;

FMH_FAULT_FIXTURES(f)

static void containerd_killed_and_restarted(void **st)
{
	(void)st;
	assert_int_equal(fmh_containerd_start(&ctd), 0);
	/* Collections once a minute: what the test sees within seconds came
	 * by containerd's events (the stream's end, the runtime back, an
	 * exit), not by a collection's schedule. */
	f.extra[0] = "--runtime-endpoint";
	f.extra[1] = ctd.endpoint;
	f.extra[2] = "--collect-interval";
	f.extra[3] = "60s";
	f.extra[4] = "--log-level";
	f.extra[5] = "info";
	f.extra[6] = "--allow-actions";
	f.extra[7] = "rm";
	f.extra[8] = NULL;
	fmh_fault_agent(&f);
	fmh_fault_wait(&f, "container-runtime-down", "", 10000);
	struct fmh_proc before = fmh_fault_settled(&f);

	long down_ms[2], up_ms[2];
	for (int round = 0; round < 2; round++) {
		assert_int_equal(fmh_containerd_kill(&ctd), 0);
		down_ms[round] = fmh_fault_wait(&f, "container-runtime-down", "critical", 15000);
		fmh_fault_alive(&f);
		assert_int_equal(fmh_containerd_restart(&ctd), 0);
		up_ms[round] = fmh_fault_wait(&f, "container-runtime-down", "", 30000);
		fmh_fault_alive(&f);
	}
	/* A control-plane container that exits after the restarts: its exit
	 * event makes the agent collect at once. */
	char out[8192], pod[65], ctr[65], want[40];
	assert_int_equal(fmh_containerd_cri(&ctd, out, sizeof(out), "runp", "kube-scheduler-pi-master1", "kube-system",
					    "6b4f2d0c9a8e7d6c5b4a3f2e1d0c9b8a", "0", NULL), 0);
	cJSON *j = cJSON_Parse(out);
	snprintf(pod, sizeof(pod), "%s", j ? cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")) : "");
	cJSON_Delete(j);
	assert_int_equal(fmh_containerd_cri(&ctd, out, sizeof(out), "create", pod, "kube-scheduler", "0", "sh", "-c",
					    "echo scheduler gives up; exit 3", NULL), 0);
	j = cJSON_Parse(out);
	snprintf(ctr, sizeof(ctr), "%s", j ? cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")) : "");
	cJSON_Delete(j);
	assert_int_equal(fmh_containerd_cri(&ctd, out, sizeof(out), "start", ctr, NULL), 0);
	snprintf(want, sizeof(want), "(container %.12s)", ctr);
	long exit_ms = fmh_fault_wait_summary(&f, "control-plane-crashloop", want, 15000);
	fmh_fault_alive(&f);

	/* The controller sees the runtime's containers, and removes the
	 * exited one through the CRI (--allow-actions rm; audited). */
	int status;
	cJSON *ans = fmh_controller_json(&f.ctl, &status, "triage", FMH_NODE_A, "containers", "--timeout", "20s", NULL);
	/* the node's answer, as the controller relays it: {"code", "payload"} */
	const char *payload = cJSON_GetStringValue(cJSON_GetObjectItem(ans, "payload"));
	cJSON *cs = payload ? cJSON_Parse(payload) : NULL;
	cJSON_Delete(ans);
	char shortid[13];
	snprintf(shortid, sizeof(shortid), "%.12s", ctr);
	bool listed = false;
	const cJSON *c;
	cJSON_ArrayForEach(c, cs)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(c, "id"));
		listed |= id && strcmp(id, shortid) == 0 &&
			  strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "kind")), "cri.container") == 0;
	}
	char *text = cs ? cJSON_PrintUnformatted(cs) : NULL;
	cJSON_Delete(cs);
	if (!listed)
		fail_msg("triage containers does not list the CRI container %s (status %d): %.2000s", shortid, status,
			 text ? text : "(no JSON)");
	cJSON_free(text);
	cJSON *rm = fmh_controller_json(&f.ctl, &status, "triage", FMH_NODE_A, "rm", ctr, "--timeout", "20s", NULL);
	cJSON_Delete(rm);
	if (status != 0)
		fail_msg("triage rm %s exited %d", ctr, status);
	assert_int_equal(fmh_containerd_cri(&ctd, out, sizeof(out), "inspect", ctr, NULL), 1);
	assert_non_null(strstr(out, "NOT_FOUND"));

	struct fmh_proc after = fmh_fault_settled(&f);
	print_message("agent fds: %d before, %d after two restarts of containerd\n", before.fds, after.fds);
	if (after.fds > before.fds + 1)
		fail_msg("the agent holds %d fds after containerd's restarts, %d before", after.fds, before.fds);
	fmh_fault_line("test_fault_containerd",
		       "injects=containerd-sigkill-restart detect_ms=%ld,%ld resolve_ms=%ld,%ld exit_seen_ms=%ld fds_before=%d "
		       "fds_after=%d",
		       down_ms[0], down_ms[1], up_ms[0], up_ms[1], exit_ms, before.fds, after.fds);
	assert_int_equal(fmh_containerd_stop(&ctd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(containerd_killed_and_restarted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
