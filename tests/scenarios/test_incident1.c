/* Incident 1 end to end with real parts (issue 7, Must-show items 1 and 3):
 * `fleetmedic-agent check` against
 *   - a real etcd (Debian's etcd-server, mTLS with the kubeadm-like PKI),
 *   - a real, private Docker engine (tests/harness/fmh_docker) holding the
 *     incident's containers: an exited apiserver attempt _23 beside a running
 *     _24, an exited sandbox _15 beside a running _17,
 *   - real journal files (systemd-journal-remote) with kubelet's
 *     CreateContainerError "Conflict. The container name ... is already in
 *     use by container <id>" lines, <id> being THIS dockerd's running _24,
 *   - an apiserver URL where nothing listens (the apiserver refusing).
 * The agent must find one critical cause, container-name-conflict, with the
 * fix the incident applied (docker rm of the stale attempts) and the refused
 * apiserver folded in as explained evidence.
 *
 * The healthy node (Must-show item 3) uses the same etcd and dockerd with only
 * running containers, a journal without matches, and the kube-apiserver TLS
 * STAND-IN (tests/harness/apiserver_standin.py; it is not a kube-apiserver,
 * none can be installed here) answering healthy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_docker.h"
#include "fmh_incident.h"
#include "fmh_journal.h"
#include "fmh_standin.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APISERVER FMH_I1_APISERVER

/* The node (etcd, dockerd, the running _24 and _17), shared with make demo. */
static struct fmh_incident1 node;
static struct fmh_standin healthy;

static int setup(void **state)
{
	(void)state;
	if (fmh_incident1_start(&node) < 0)
		return -1;
	if (fmh_standin_start(&healthy, node.root, "healthy", NULL) < 0) {
		fprintf(stderr, "cannot start the apiserver stand-in\n");
		return -1;
	}
	fmh_clock_state("synced");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int rc = fmh_incident1_stop(&node);
	fmh_standin_stop(&healthy);
	fmh_cleanup();
	return rc < 0 ? -1 : 0;
}

/* Whether some string of arr contains s. */
static bool lists_sub(const cJSON *arr, const char *s)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (cJSON_IsString(x) && strstr(x->valuestring, s))
			return true;
	}
	return false;
}

static int count_severity(const cJSON *json, const char *sev)
{
	int n = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, fmh_field(json, "diagnoses"))
	{
		if (strcmp(fmh_jstr(d, "severity"), sev) == 0)
			n++;
	}
	return n;
}

static void check(struct fmh_agent_run *r, bool json, const char *jdir, const char *apiserver)
{
	const char *args[24] = {"check", json ? "--json" : NULL};
	int n = json ? 2 : 1;
	assert_true(fmh_incident1_args(&node, jdir, apiserver, args + n, 24 - n) > 0);
	fmh_run_agentv(r, args);
}

/* Must-show 3: everything answers, the containers all run, the journal holds
 * only routine lines, the clock is synchronised (the shim says so): no
 * diagnosis at all, exit 0. */
static void healthy_node(void **state)
{
	(void)state;
	const char *jdir = node.jdir; /* routine kubelet lines only, so far */
	struct fmh_agent_run r;
	check(&r, true, jdir, healthy.url);
	if (r.status != 0 || !r.json)
		fail_msg("check exited %d:\n%s\n%s", r.status, r.out, r.err);
	const cJSON *facts = fmh_field(r.json, "facts");
	assert_string_equal(fmh_jstr(fmh_find(facts, "etcd.endpoint", node.etcd.url), "state"), "ok");
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.endpoint", healthy.url), "state"), "ok");
	assert_string_equal(fmh_jstr(fmh_find(facts, "docker.daemon", node.dk.host), "state"), "ok");
	assert_int_equal(fmh_count_kind(facts, "journal.match"), 0);
	assert_int_equal(fmh_count_kind(facts, "docker.stale_attempt"), 0);
	const cJSON *d;
	cJSON_ArrayForEach(d, fmh_field(r.json, "diagnoses"))
	{
		const char *sev = fmh_jstr(d, "severity"), *code = fmh_jstr(d, "code");
		if (strcmp(sev, "critical") == 0)
			fail_msg("critical diagnosis on a healthy node: %s: %s", code, fmh_jstr(d, "summary"));
		if (strcmp(sev, "warning") == 0)
			fail_msg("warning on a healthy node: %s: %s", code, fmh_jstr(d, "summary"));
	}
	const cJSON *clock = fmh_find(facts, "hal.clock", "clock");
	assert_non_null(clock);
	assert_true(fmh_jbool(clock, "synchronised"));
	cJSON_Delete(r.json);
}

/* The same healthy node whose clock nobody has synchronised since boot:
 * the one finding is clock-unsynced, a warning; exit 0 still. */
static void healthy_node_clock_unsynced(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_clock_state("unsynced");
	check(&r, true, node.jdir, healthy.url);
	fmh_clock_state("synced");
	if (r.status != 0 || !r.json)
		fail_msg("check exited %d:\n%s\n%s", r.status, r.out, r.err);
	assert_int_equal(cJSON_GetArraySize(fmh_field(r.json, "diagnoses")), 1);
	const cJSON *d = fmh_diagnosis(r.json, "clock-unsynced");
	assert_non_null(d);
	assert_string_equal(fmh_jstr(d, "severity"), "warning");
	assert_false(fmh_jbool(fmh_find(fmh_field(r.json, "facts"), "hal.clock", "clock"), "synchronised"));
	cJSON_Delete(r.json);
}

/* Must-show 1: incident 1, from kubelet's lines in the given form alone. */
static void incident1_from(enum fmh_kubelet_form form)
{
	char s23[13], s24[13], s15[13], out[4096];
	assert_int_equal(fmh_incident1_break_form(&node, form), 0);
	snprintf(s23, sizeof(s23), "%.12s", node.id23);
	snprintf(s24, sizeof(s24), "%.12s", node.id24);
	snprintf(s15, sizeof(s15), "%.12s", node.id15);
	const char *jdir = node.jdir, *refusing = node.refusing;

	/* kubelet's lines name the container that holds the name in THIS
	 * dockerd (the running _24), as the daemon's own Conflict says. */
	int rc = fmh_docker_cli(&node.dk, out, sizeof(out), "create", "--name", APISERVER(24), "--network",
				"none", FMH_DOCKER_IMAGE, "true", NULL);
	assert_int_not_equal(rc, 0);
	char want[200];
	snprintf(want, sizeof(want), "is already in use by container \"%s\"", node.id24);
	if (!strstr(out, want))
		fail_msg("the daemon's Conflict does not name _24 (%s): %s", node.id24, out);

	struct fmh_agent_run r;
	check(&r, true, jdir, refusing);
	if (r.status != 1 || !r.json)
		fail_msg("check exited %d:\n%s\n%s", r.status, r.out, r.err);
	const cJSON *facts = fmh_field(r.json, "facts");
	assert_string_equal(fmh_jstr(fmh_find(facts, "etcd.endpoint", node.etcd.url), "state"), "ok");
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.endpoint", refusing), "state"), "refused");
	assert_null(fmh_diagnosis(r.json, "etcd-unreachable"));
	/* Exactly one critical diagnosis: the cause. */
	if (count_severity(r.json, "critical") != 1)
		fail_msg("want exactly one critical diagnosis:\n%s", r.out);
	const cJSON *c = fmh_diagnosis(r.json, "container-name-conflict");
	assert_non_null(c);
	assert_string_equal(fmh_jstr(c, "severity"), "critical");
	assert_string_equal(fmh_jstr(c, "key"), APISERVER(24));
	char held[64];
	snprintf(held, sizeof(held), "%s (running)", s24);
	assert_non_null(strstr(fmh_jstr(c, "summary"), held));
	/* The fix of the incident: remove the stale apiserver attempt and the
	 * stale sandbox (docker.stale_attempt facts come in the engine's order). */
	char rm1[64], rm2[64];
	snprintf(rm1, sizeof(rm1), "docker rm %s %s", s23, s15);
	snprintf(rm2, sizeof(rm2), "docker rm %s %s", s15, s23);
	const cJSON *remedy = fmh_field(c, "remedy");
	if (!fmh_lists(remedy, rm1) && !fmh_lists(remedy, rm2))
		fail_msg("remedy is not `%s`:\n%s", rm1, r.out);
	assert_false(lists_sub(remedy, s24)); /* never the running one */
	/* The refused apiserver is a symptom it explains, with its evidence. */
	assert_true(fmh_lists(fmh_field(c, "explains"), "apiserver-unreachable"));
	assert_null(fmh_diagnosis(r.json, "apiserver-unreachable"));
	const cJSON *ev = fmh_field(c, "evidence");
	assert_non_null(fmh_find(ev, "apiserver.endpoint", refusing));
	assert_true(fmh_count_kind(ev, "journal.match") >= 1);
	assert_non_null(fmh_find(ev, "docker.stale_attempt", s23));
	assert_non_null(fmh_find(ev, "docker.container", s24));
	cJSON_Delete(r.json);

	/* The human form says the same. */
	check(&r, false, jdir, refusing);
	assert_int_equal(r.status, 1);
	/* stderr: cmocka's print_message cuts long text. */
	fprintf(stderr, "--- fleetmedic-agent check (human form) ---\n%s--- end ---\n", r.out);
	if (!strstr(r.out, "critical container-name-conflict") || !strstr(r.out, "$ docker rm ") ||
	    !strstr(r.out, s23) || !strstr(r.out, "apiserver-unreachable"))
		fail_msg("the report does not say cause, symptom and fix:\n%s", r.out);
	cJSON_Delete(r.json);

	/* Apply the remedy through the Engine API. */
	assert_int_equal(fmh_incident1_fix(&node), 0);

	/* Docker's side is clean: no stale attempt left, the removed ones gone.
	 * kubelet's lines are still within the last hour, so the diagnosis
	 * stays, but only as "info" (Docker shows the holder running and
	 * nothing stale), and it no longer offers to remove anything that is
	 * gone, nor the running _24. */
	check(&r, true, jdir, refusing);
	if (!r.json)
		fail_msg("check exited %d:\n%s\n%s", r.status, r.out, r.err);
	facts = fmh_field(r.json, "facts");
	assert_int_equal(fmh_count_kind(facts, "docker.stale_attempt"), 0);
	assert_null(fmh_find(facts, "docker.container", s23));
	assert_null(fmh_find(facts, "docker.container", s15));
	c = fmh_diagnosis(r.json, "container-name-conflict");
	if (c) {
		char *txt = cJSON_Print(fmh_field(c, "remedy"));
		fprintf(stderr, "after docker rm: container-name-conflict stands on the journal; remedy %s\n",
			txt ? txt : "?");
		free(txt);
		assert_string_equal(fmh_jstr(c, "severity"), "info");
		remedy = fmh_field(c, "remedy");
		assert_false(lists_sub(remedy, s23));
		assert_false(lists_sub(remedy, s15));
		assert_false(lists_sub(remedy, s24));
	}
	cJSON_Delete(r.json);
	/* The name itself stays taken exactly as long as _24 holds it. */
	rc = fmh_docker_cli(&node.dk, out, sizeof(out), "create", "--name", APISERVER(24), "--network", "none",
			    FMH_DOCKER_IMAGE, "true", NULL);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, want));
}

/* The seed's own words. */
static void incident1(void **state)
{
	(void)state;
	incident1_from(FMH_KUBELET_SEED);
}

/* Issue 19: kubelet >= 1.21's structured pod_workers.go line (the error
 * nested in err="...", quoted once more), the only conflict line in the
 * journal (this runs before the seed's form is written). */
static void incident1_structured(void **state)
{
	(void)state;
	incident1_from(FMH_KUBELET_STRUCTURED);
}

/* Issue 19 item 4, containerd's form: a node with no Docker (none under
 * --root), kubelet's journal holding ONE conflict line, in each of the
 * lines kubelet 1.28 writes when containerd refuses the name (remote_runtime,
 * pod_workers, kuberuntime_manager; and the sandbox's), beside routine
 * lines; 6443 refusing, etcd healthy. Each alone gives the critical cause,
 * the reserving id, crictl's remedy for it (never docker's), and the
 * apiserver's refusal explained. */
static void incident1_containerd(void **state)
{
	(void)state;
	static const struct {
		enum fmh_kubelet_form form;
		const char *name, *object, *rm;
	} cases[] = {
	    {FMH_KUBELET_CRI_RUNTIME, FMH_I1_CRI_NAME, "container", "rm"},
	    {FMH_KUBELET_CRI_WORKERS, FMH_I1_CRI_NAME, "container", "rm"},
	    {FMH_KUBELET_CRI_MANAGER, FMH_I1_CRI_NAME, "container", "rm"},
	    {FMH_KUBELET_CRI_SANDBOX, FMH_I1_CRI_SANDBOX, "sandbox", "rmp"},
	};
	/* The id containerd's name index holds the name for. */
	const char *id = "5d1f0c3b9e8a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char jdir[PATH_MAX], jfile[PATH_MAX + 32], want[160];
		assert_int_equal(fmh_tmpdir(jdir, sizeof(jdir)), 0);
		snprintf(jfile, sizeof(jfile), "%s/remote.journal", jdir);
		char *text = fmh_journal_kubelet_form(12, 12, id, cases[i].form);
		assert_non_null(text);
		assert_int_equal(fmh_journal_append(jfile, text), 0);
		free(text);

		const char *args[] = {"check", "--json", "--kmsg", "none", "--journal-dir", jdir, "--root", node.root,
				      "--etcd", node.etcd.url, "--apiserver", node.refusing, NULL};
		struct fmh_agent_run r;
		fmh_run_agentv(&r, args);
		if (r.status != 1 || !r.json)
			fail_msg("form %zu: check exited %d:\n%s\n%s", i, r.status, r.out, r.err);
		const cJSON *facts = fmh_field(r.json, "facts");
		/* A node without Docker: the conflict comes from the line alone. */
		assert_int_equal(fmh_count_kind(facts, "docker.container"), 0);
		assert_int_equal(fmh_count_kind(facts, "journal.match"), 1);
		assert_string_equal(fmh_jstr(fmh_find(facts, "etcd.endpoint", node.etcd.url), "state"), "ok");
		if (count_severity(r.json, "critical") != 1)
			fail_msg("form %zu: want exactly one critical diagnosis:\n%s", i, r.out);
		const cJSON *c = fmh_diagnosis(r.json, "container-name-conflict");
		assert_non_null(c);
		assert_string_equal(fmh_jstr(c, "severity"), "critical");
		assert_string_equal(fmh_jstr(c, "key"), cases[i].name);
		snprintf(want, sizeof(want), "held by %s%.12s", strcmp(cases[i].object, "sandbox") ? "" : "sandbox ", id);
		if (!strstr(fmh_jstr(c, "summary"), want))
			fail_msg("form %zu: summary does not say '%s': %s", i, want,
				 fmh_jstr(c, "summary"));
		/* containerd not asked: looked up, removed, or containerd
		 * restarted when it does not know the id; one line */
		bool sandbox = strcmp(cases[i].object, "sandbox") == 0;
		snprintf(want, sizeof(want),
			 "crictl %s %.12s && crictl %s %.12s || systemctl restart containerd",
			 sandbox ? "inspectp" : "inspect", id, cases[i].rm, id);
		const cJSON *remedy = fmh_field(c, "remedy");
		if (!fmh_lists(remedy, want))
			fail_msg("form %zu: remedy lacks `%s`:\n%s", i, want, r.out);
		assert_false(lists_sub(remedy, "docker"));
		assert_true(fmh_lists(fmh_field(c, "explains"), "apiserver-unreachable"));
		assert_null(fmh_diagnosis(r.json, "apiserver-unreachable"));
		assert_non_null(fmh_find(fmh_field(c, "evidence"), "apiserver.endpoint", node.refusing));
		cJSON_Delete(r.json);
	}
}

/* Issue 20 (a): two independent faults on one node. kube-apiserver's
 * container is blocked by the name conflict (the seed's lines, Docker's
 * stale attempts), and etcd is down on its own: the real etcd stopped (its
 * container is not the one in conflict). Two critical findings, each with
 * its own fix: the conflict explains the apiserver's refusal, never etcd's;
 * etcd-unreachable stands and explains nothing (the apiserver's refusal has
 * its direct cause). Runs last: it stops etcd. */
static void two_faults(void **state)
{
	(void)state;
	assert_int_equal(fmh_incident1_break_form(&node, FMH_KUBELET_SEED), 0);
	assert_int_equal(fmh_etcd_stop(&node.etcd), 0);
	struct fmh_agent_run r;
	check(&r, true, node.jdir, node.refusing);
	if (r.status != 1 || !r.json)
		fail_msg("check exited %d:\n%s\n%s", r.status, r.out, r.err);
	assert_string_equal(fmh_jstr(fmh_find(fmh_field(r.json, "facts"), "etcd.endpoint", node.etcd.url), "state"),
			    "refused");
	if (count_severity(r.json, "critical") != 2)
		fail_msg("want two critical findings:\n%s", r.out);
	const cJSON *c = fmh_diagnosis(r.json, "container-name-conflict"), *e = fmh_diagnosis(r.json, "etcd-unreachable");
	assert_non_null(c);
	assert_non_null(e);
	assert_string_equal(fmh_jstr(c, "severity"), "critical");
	assert_string_equal(fmh_jstr(e, "severity"), "critical");
	assert_string_equal(fmh_jstr(c, "component"), "kube-apiserver");
	assert_string_equal(fmh_jstr(e, "component"), "etcd");
	assert_true(fmh_lists(fmh_field(c, "explains"), "apiserver-unreachable"));
	assert_false(fmh_lists(fmh_field(c, "explains"), "etcd-unreachable"));
	assert_null(cJSON_GetObjectItem(e, "explains"));
	assert_null(fmh_diagnosis(r.json, "apiserver-unreachable"));
	/* the link says why, on this node */
	const cJSON *l = fmh_field(c, "links")->child;
	assert_non_null(l);
	assert_string_equal(fmh_jstr(l, "code"), "apiserver-unreachable");
	assert_string_equal(fmh_jstr(l, "component"), "kube-apiserver");
	assert_non_null(strstr(fmh_jstr(l, "because"), "kube-apiserver's container cannot be created"));
	/* the worst first, each with its own fix */
	char s23[13];
	snprintf(s23, sizeof(s23), "%.12s", node.id23);
	assert_true(lists_sub(fmh_field(c, "remedy"), s23));
	assert_false(lists_sub(fmh_field(e, "remedy"), s23));
	cJSON_Delete(r.json);

	check(&r, false, node.jdir, node.refusing);
	assert_int_equal(r.status, 1);
	fprintf(stderr, "--- fleetmedic-agent check (human form) ---\n%s--- end ---\n", r.out);
	if (!strstr(r.out, ", 2 independent problems") || !strstr(r.out, "critical etcd-unreachable (etcd)") ||
	    !strstr(r.out, "critical container-name-conflict (kube-apiserver)"))
		fail_msg("the report does not say 2 independent problems:\n%s", r.out);
	cJSON_Delete(r.json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_node),
		cmocka_unit_test(healthy_node_clock_unsynced),
		cmocka_unit_test(incident1_structured),
		cmocka_unit_test(incident1_containerd),
		cmocka_unit_test(incident1),
		cmocka_unit_test(two_faults),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
