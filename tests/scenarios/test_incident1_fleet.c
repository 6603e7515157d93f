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
#include <sys/stat.h>
#include <unistd.h>

static struct fmh_incident1 node;
static struct fmh_controller ctl;
static char dir[PATH_MAX], token_file[PATH_MAX + 16];

#define TOKEN "incident1-http-token-0123456789"

/* serve with its HTTP side, a token for triage over HTTP */
static int setup(void **st)
{
	(void)st;
	if (fmh_incident1_start(&node) < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0)
		return -1;
	snprintf(token_file, sizeof(token_file), "%s/http.token", dir);
	FILE *f = fopen(token_file, "w");
	if (!f || fputs(TOKEN "\n", f) < 0 || fclose(f) != 0 || chmod(token_file, 0600) < 0)
		return -1;
	const char *extra[] = {"--http-token", token_file, NULL};
	return fmh_controller_start_with(&ctl, false, true, extra) < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	(void)st;
	int rc = fmh_incident1_stop(&node);
	fmh_cleanup();
	return rc < 0 ? -1 : 0;
}

/* The agent as the node would run it, from a config file (actions on),
 * logging at debug: each report's payload as sent ("uplink: report N: "). */
static pid_t agent_start(const char *log)
{
	char conf[PATH_MAX + 16];
	assert_int_equal(fmh_node_conf(dir, ctl.url, NULL, conf, sizeof(conf)), 0);
	const char *args[40] = {fmh_agent(), "run",    "--config", conf,	  "--heartbeat",
				"2s",	     "--hold", "1s",	   "--log-level", "debug"};
	int n = 10;
	assert_true(fmh_incident1_args(&node, node.jdir, node.refusing, args + n, 40 - n) > 0);
	pid_t pid = fmh_spawn(args, log);
	assert_true(pid > 0);
	if (fmh_wait_log_pid(log, "reporting to", pid, 15000) < 0)
		fail_msg("the agent did not start; its log is %s", log);
	return pid;
}

/* The payloads of the reports in the agent's log that have
 * container-name-conflict as critical with every one of need[] (NULL
 * ended) in them, as a JSON array of strings (caller frees); every report
 * in the log must be one datagram (<= 1024 bytes). */
static cJSON *conflict_reports(const char *log, const char *const *need)
{
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	char *line = NULL;
	cJSON *found = cJSON_CreateArray();
	size_t cap = 0;
	ssize_t n;
	int reports = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p = strstr(line, "uplink: report ");
		if (!p || !(p = strstr(p, ": {")))
			continue;
		p += 2;
		p[strcspn(p, "\n")] = '\0';
		reports++;
		if (strlen(p) > 1024)
			fail_msg("a report of %zu bytes, over one datagram: %s", strlen(p), p);
		bool all = strstr(p, "\"c\":\"container-name-conflict\",\"s\":3,") != NULL;
		for (size_t i = 0; all && need[i]; i++)
			all = strstr(p, need[i]) != NULL;
		if (all)
			cJSON_AddItemToArray(found, cJSON_CreateString(p));
	}
	free(line);
	fclose(f);
	fprintf(stderr, "%d reports in %s, each <= 1024 bytes\n", reports, log);
	return found;
}

/* DESIGN.md's budget for incident 1's report, on the bytes sent: each
 * report that carries the whole diagnosis (reports, from conflict_reports;
 * deleted here), one diagnosis in it. */
static void reports_within_budget(const char *form, cJSON *reports)
{
	if (cJSON_GetArraySize(reports) <= 0)
		fail_msg("%s: no report carried the whole diagnosis", form);
	const cJSON *r;
	cJSON_ArrayForEach(r, reports)
	{
		size_t len = strlen(r->valuestring);
		fprintf(stderr, "incident 1's report, %s: %zu bytes (budget 320): %s\n", form, len,
			r->valuestring);
		if (len > 320)
			fail_msg("%s: incident 1's report is %zu bytes, over its budget of 320",
				 form, len);
		cJSON *j = cJSON_Parse(r->valuestring);
		assert_non_null(j);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "d")), 1);
		cJSON_Delete(j);
	}
	cJSON_Delete(reports);
}

static cJSON *ctl_json(const char *a1, const char *a2, const char *a3, const char *a4,
		       const char *a5)
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

	/* The symptom, now explained, is resolved at the controller: by the
	 * cause's "z", not by a resolved pair (PROTOCOL.md). */
	if (fmh_controller_wait(&ctl, FMH_NODE_A, "apiserver-unreachable", "", 10000) < 0)
		fail_msg("apiserver-unreachable still stands on its own at the controller");
	const char *need[] = {"\"f\":[\"docker rm ", s23, s15, "\"x\":[\"apiserver-unreachable\"]",
			      NULL};
	cJSON *rps = conflict_reports(log, need);
	/* the first: the symptom resolved by the cause's z, no pair */
	const char *rp = cJSON_GetStringValue(cJSON_GetArrayItem(rps, 0));
	assert_non_null(rp);
	assert_non_null(strstr(rp, "\"z\":1"));
	assert_null(strstr(rp, "\"r\":"));
	reports_within_budget("as it happens (seed's line, Docker's stale attempts)", rps);
	show = ctl_json("show", FMH_NODE_A, NULL, NULL, NULL);
	assert_non_null(show);
	bool said = false;
	const cJSON *h;
	cJSON_ArrayForEach(h, fmh_field(show, "history"))
	{
		const char *detail = fmh_jstr(h, "detail");
		said = said || (strcmp(fmh_jstr(h, "event"), "resolve") == 0 &&
				strcmp(fmh_jstr(h, "code"), "apiserver-unreachable") == 0 &&
				detail && strstr(detail, "explained by container-name-conflict"));
	}
	if (!said) {
		char *txt = cJSON_PrintUnformatted(show);
		fail_msg("no history line resolving apiserver-unreachable as explained: %s", txt);
	}
	cJSON_Delete(show);

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

	/* The same over the HTTP API (issue 24): the token, always */
	char url[160], http[65536];
	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s/triage", ctl.http_url, FMH_NODE_A);
	const char *no_token[] = {"--data", "{\"what\":\"containers\"}", NULL};
	const char *with_token[] = {"-H", "Authorization: Bearer " TOKEN, "--data", "{\"what\":\"containers\",\"timeout_s\":20}",
				    NULL};
	const char *wrong_token[] = {"-H", "Authorization: Bearer " TOKEN "x", "--data", "{\"what\":\"containers\"}", NULL};
	const char *bad_verb[] = {"-H", "Authorization: Bearer " TOKEN, "--data", "{\"what\":\"reboot\"}", NULL};
	assert_int_equal(fmh_curl(NULL, "POST", url, no_token, http, sizeof(http)), 401);
	assert_int_equal(fmh_curl(NULL, "POST", url, wrong_token, http, sizeof(http)), 401);
	assert_int_equal(fmh_curl(NULL, "POST", url, bad_verb, http, sizeof(http)), 400);
	int hs = fmh_curl(NULL, "POST", url, with_token, http, sizeof(http));
	if (hs != 200 || !strstr(http, "\"code\":\"2.05\"") || !strstr(http, s23) || !strstr(http, s24))
		fail_msg("POST %s: %d %s", url, hs, http);
	cJSON *hj = cJSON_Parse(http);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(hj, "answer")) || cJSON_IsObject(cJSON_GetObjectItem(hj, "answer")));
	cJSON_Delete(hj);
	snprintf(url, sizeof(url), "%s/api/v1/nodes/nobody/triage", ctl.http_url);
	assert_int_equal(fmh_curl(NULL, "POST", url, with_token, http, sizeof(http)), 404);

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

/* The report of a node already broken when the agent starts, in every form
 * kubelet writes the conflict: the seed's and kubelet >= 1.21's structured
 * line beside Docker's stale attempts, and the four lines of containerd's
 * CRI on a node without Docker. Each with a fresh controller and state, the
 * clock "synced" (the shim): the first report carries the board and the one
 * diagnosis, within 320 bytes, and reaches the controller. Runs after the
 * fleet test, which fixed the node: Docker's stale attempts come back. */
static void report_budget_every_form(void **st)
{
	(void)st;
	static const struct {
		enum fmh_kubelet_form form;
		const char *name;
		bool docker;
	} forms[] = {
	    {FMH_KUBELET_SEED, "seed's line, Docker", true},
	    {FMH_KUBELET_STRUCTURED, "structured line, Docker", true},
	    {FMH_KUBELET_CRI_RUNTIME, "containerd, remote_runtime", false},
	    {FMH_KUBELET_CRI_WORKERS, "containerd, pod_workers", false},
	    {FMH_KUBELET_CRI_MANAGER, "containerd, kuberuntime_manager", false},
	    {FMH_KUBELET_CRI_SANDBOX, "containerd, sandbox", false},
	};
	const char *cri_id = "5d1f0c3b9e8a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d";
	assert_int_equal(fmh_incident1_break_docker(&node), 0);
	fmh_clock_state("synced");
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		static struct fmh_controller c; /* static: the harness stops it by address */
		char fdir[PATH_MAX], jdir[PATH_MAX], jfile[PATH_MAX + 32], conf[PATH_MAX + 16],
		    log[PATH_MAX + 16];
		assert_int_equal(fmh_controller_start(&c, false), 0);
		assert_int_equal(fmh_tmpdir(fdir, sizeof(fdir)), 0);
		assert_int_equal(fmh_tmpdir(jdir, sizeof(jdir)), 0);
		snprintf(jfile, sizeof(jfile), "%s/remote.journal", jdir);
		char *text = fmh_journal_kubelet_form(12, 12, forms[i].docker ? node.id24 : cri_id,
						      forms[i].form);
		assert_non_null(text);
		assert_int_equal(fmh_journal_append(jfile, text), 0);
		free(text);
		assert_int_equal(fmh_node_conf(fdir, c.url, NULL, conf, sizeof(conf)), 0);
		snprintf(log, sizeof(log), "%s/agent.log", fdir);
		const char *args[40] = {fmh_agent(), "run",	    "--config",
					conf,	     "--log-level", "debug"};
		int n = 6;
		if (forms[i].docker) {
			assert_true(
			    fmh_incident1_args(&node, jdir, node.refusing, args + n, 40 - n) > 0);
		} else {
			const char *more[] = {"--kmsg",	     "none",	    "--journal-dir",
					      jdir,	     "--root",	    node.root,
					      "--etcd",	     node.etcd.url, "--apiserver",
					      node.refusing, NULL};
			for (size_t k = 0; more[k]; k++)
				args[n++] = more[k];
		}
		/* The whole diagnosis: Docker's stale ids in its fix, or
		 * crictl's for the id containerd names. (Docker's list and the
		 * apiserver's refusal can come after the journal's line: the
		 * reports before them have the conflict from the line alone,
		 * each one datagram.) */
		char s23[13], s15[13], crictl[100];
		snprintf(s23, sizeof(s23), "%.12s", node.id23);
		snprintf(s15, sizeof(s15), "%.12s", node.id15);
		snprintf(crictl, sizeof(crictl), "%s %.12s || systemctl restart containerd",
			 forms[i].form == FMH_KUBELET_CRI_SANDBOX ? "crictl rmp" : "crictl rm",
			 cri_id);
		const char *docker_fix[] = {"docker rm ", s23, s15, NULL},
			   *cri_fix[] = {crictl, NULL};
		const char *const *fix = forms[i].docker ? docker_fix : cri_fix;
		pid_t pid = fmh_spawn(args, log);
		assert_true(pid > 0);
		if (fmh_controller_wait(&c, FMH_NODE_A, "container-name-conflict", "critical",
					15000) < 0)
			fail_msg(
			    "%s: the controller never held the conflict; the agent's log is %s",
			    forms[i].name, log);
		/* the controller shows the whole diagnosis: the fix, and the
		 * apiserver's refusal explained */
		bool whole = false;
		for (uint64_t t0 = fm_now_ms(); !whole && fm_now_ms() - t0 < 15000; usleep(50000)) {
			cJSON *show = fmh_controller_json(&c, NULL, "show", FMH_NODE_A, NULL);
			const cJSON *cd = diag_of(show, "container-name-conflict");
			whole = cd && fmh_lists(fmh_field(cd, "explains"), "apiserver-unreachable");
			for (size_t k = 0; whole && fix[k]; k++)
				whole = remedy_has(cd, fix[k]);
			cJSON_Delete(show);
		}
		if (!whole)
			fail_msg("%s: the controller never showed the whole diagnosis; the agent's "
				 "log is %s",
				 forms[i].name, log);
		/* the board came with GET /me, not in a report */
		cJSON *show = fmh_controller_json(&c, NULL, "show", FMH_NODE_A, NULL);
		assert_string_equal(fmh_jstr(show, "board"), "generic");
		cJSON_Delete(show);
		assert_int_equal(fmh_stop(pid), 0);
		assert_int_equal(fmh_controller_stop(&c, NULL), 0);
		const char *need[5] = {"\"x\":[\"apiserver-unreachable\"]"};
		for (size_t k = 0; k < 3 && fix[k]; k++)
			need[k + 1] = fix[k];
		reports_within_budget(forms[i].name, conflict_reports(log, need));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(incident1_through_the_fleet),
	    cmocka_unit_test(report_budget_every_form),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
