/* Incident 1 end to end through the fleet (issue 8, Must-show 1): the
 * node of tests/scenarios/test_incident1.c (real etcd with mTLS, a real
 * private dockerd with the running _24 and _17, real journal files, 6443
 * refusing) watched by `fleetmedic-agent run`, which reports over
 * DTLS-PSK to a real `fleetmedic-controller serve` on loopback.
 *   - The incident's evidence appears (the exited _23 and _15, then
 *     kubelet's conflict lines): within 1 s of the last of it the
 *     controller's `show` holds container-name-conflict, critical, with the
 *     remedy naming the stale ids, and `nodes` lists it.
 *   - A person at the controller asks the node over its own session
 *     (`triage … containers`, `triage … journal kubelet …`) and applies the
 *     fix remotely (`triage … rm ID`, actions enabled in the agent's config
 *     file); the real dockerd no longer has them, and the controller sees
 *     the diagnosis drop to info.
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
#include "fmh_node.h"
#include "fmh_uplink.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fmh_incident1 node;
static struct fmh_controller ctl;
static char dir[PATH_MAX];

static int setup(void **st)
{
	(void)st;
	if (fmh_incident1_start(&node) < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 ||
	    fmh_controller_start(&ctl, false) < 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	int rc = fmh_incident1_stop(&node);
	fmh_cleanup();
	return rc < 0 ? -1 : 0;
}

/* The agent as the node would run it, from a config file (actions on). */
static pid_t agent_start(const char *log)
{
	char conf[PATH_MAX + 16];
	assert_int_equal(fmh_node_conf(dir, ctl.url, NULL, conf, sizeof(conf)), 0);
	const char *args[40] = {fmh_agent(), "run", "--config", conf, "--heartbeat", "2s", "--hold", "1s"};
	int n = 8;
	assert_true(fmh_incident1_args(&node, node.jdir, node.refusing, args + n, 40 - n) > 0);
	pid_t pid = fmh_spawn(args, log);
	assert_true(pid > 0);
	if (fmh_wait_log_pid(log, "reporting to", pid, 15000) < 0)
		fail_msg("the agent did not start; its log is %s", log);
	return pid;
}

static cJSON *ctl_json(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
	int status;
	cJSON *j = fmh_controller_json(&ctl, &status, a1, a2, a3, a4, a5, NULL);
	return j;
}

static const cJSON *diag_of(const cJSON *show, const char *code)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, fmh_field(show, "diagnoses"))
	{
		if (strcmp(fmh_jstr(d, "code"), code) == 0)
			return d;
	}
	return NULL;
}

/* Waits until the controller holds code at severity sev; the time it took
 * in ms, or fails after limit_ms. */
static uint64_t wait_severity(const char *code, const char *sev, uint64_t limit_ms)
{
	long ms = fmh_controller_wait(&ctl, FMH_NODE_A, code, sev, limit_ms);
	if (ms < 0)
		fail_msg("the controller has no %s %s after %llu ms", sev, code, (unsigned long long)limit_ms);
	return (uint64_t)ms;
}

static bool remedy_has(const cJSON *d, const char *s)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, fmh_field(d, "remedy"))
	{
		if (cJSON_IsString(r) && strstr(r->valuestring, s))
			return true;
	}
	return false;
}

static void incident1_through_the_fleet(void **st)
{
	(void)st;
	char log[PATH_MAX + 16], s23[13], s15[13], s24[13];
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	agent_start(log);

	/* Before the evidence: 6443 refusing, nothing explains it yet. */
	wait_severity("apiserver-unreachable", "critical", 15000);

	/* The evidence appears: Docker's stale attempts, then kubelet's lines. */
	assert_int_equal(fmh_incident1_break_docker(&node), 0);
	snprintf(s23, sizeof(s23), "%.12s", node.id23);
	snprintf(s15, sizeof(s15), "%.12s", node.id15);
	snprintf(s24, sizeof(s24), "%.12s", node.id24);
	uint64_t t0 = fm_now_ms();
	assert_int_equal(fmh_incident1_break_journal(&node), 0);
	uint64_t ms = (fm_now_ms() - t0) + wait_severity("container-name-conflict", "critical", 10000);
	fprintf(stderr, "container-name-conflict stored by the controller %llu ms after the journal append began\n",
		(unsigned long long)ms);
	assert_true(ms <= 1000);

	cJSON *show = ctl_json("show", FMH_NODE_A, NULL, NULL, NULL);
	assert_non_null(show);
	const cJSON *c = diag_of(show, "container-name-conflict");
	assert_non_null(c);
	assert_true(remedy_has(c, "docker rm "));
	assert_true(remedy_has(c, s23));
	assert_true(remedy_has(c, s15));
	assert_false(remedy_has(c, s24));
	assert_true(fmh_lists(fmh_field(c, "explains"), "apiserver-unreachable"));
	assert_non_null(strstr(fmh_jstr(c, "summary"), s24));
	cJSON_Delete(show);

	/* The symptom, now explained, is resolved at the controller. */
	if (fmh_controller_wait(&ctl, FMH_NODE_A, "apiserver-unreachable", "", 10000) < 0)
		fail_msg("apiserver-unreachable still stands on its own at the controller");

	/* nodes: the node, critical, with the code. */
	cJSON *nodes = ctl_json("nodes", NULL, NULL, NULL, NULL);
	assert_non_null(nodes);
	char *txt = cJSON_PrintUnformatted(nodes);
	if (!strstr(txt, FMH_NODE_A) || !strstr(txt, "container-name-conflict") || !strstr(txt, "critical"))
		fail_msg("nodes: %s", txt);
	free(txt);
	cJSON_Delete(nodes);

	/* Remote triage over the node's own session. */
	cJSON *t = ctl_json("triage", FMH_NODE_A, "containers", "--timeout", "20s");
	assert_non_null(t);
	txt = cJSON_PrintUnformatted(t);
	if (!strstr(txt, s23) || !strstr(txt, s24))
		fail_msg("triage containers: %s", txt);
	free(txt);
	cJSON_Delete(t);
	int status;
	t = fmh_controller_json(&ctl, &status, "triage", FMH_NODE_A, "journal", "kubelet", "2", "already in use",
				"--timeout", "20s", NULL);
	assert_non_null(t);
	txt = cJSON_PrintUnformatted(t);
	if (status != 0 || !strstr(txt, "already in use by container"))
		fail_msg("triage journal (%d): %s", status, txt);
	free(txt);
	cJSON_Delete(t);

	/* The fix, applied remotely: the action on the real dockerd. */
	const char *ids[] = {s23, s15};
	for (int i = 0; i < 2; i++) {
		t = fmh_controller_json(&ctl, &status, "triage", FMH_NODE_A, "rm", ids[i], "--timeout", "20s", NULL);
		cJSON_Delete(t);
		if (status != 0)
			fail_msg("triage rm %s exited %d", ids[i], status);
	}
	char out[4096], path[128];
	snprintf(path, sizeof(path), "/containers/%s/json", node.id23);
	assert_int_equal(fmh_docker_api_want(&node.dk, "GET", path, 404, out, sizeof(out)), 0);
	/* The running _24 cannot be removed that way. */
	t = fmh_controller_json(&ctl, &status, "triage", FMH_NODE_A, "rm", s24, "--timeout", "20s", NULL);
	cJSON_Delete(t);
	assert_int_not_equal(status, 0);
	snprintf(path, sizeof(path), "/containers/%s/json", node.id24);
	assert_int_equal(fmh_docker_api_want(&node.dk, "GET", path, 200, out, sizeof(out)), 0);

	/* The controller sees the diagnosis change: nothing stale is left. */
	wait_severity("container-name-conflict", "info", 15000);
	/* Each action audited in the agent's log (the journal, under systemd). */
	char audit[160];
	snprintf(audit, sizeof(audit), "audit: remove container %s on %s: done", s23, node.dk.host);
	assert_int_equal(fmh_wait_log(log, audit, 1000), 0);
	snprintf(audit, sizeof(audit), "audit: remove container %s on %s: refused", s24, node.dk.host);
	assert_int_equal(fmh_wait_log(log, audit, 1000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(incident1_through_the_fleet),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
