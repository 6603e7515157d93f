/* `fleetmedic-agent probe cri` against a real containerd (Debian's, the
 * harness's private one: tests/harness/fmh_containerd) whose pods are made
 * through the CRI by an independent client (tests/harness/cri_client.py,
 * python3-grpcio): the runtime's version, a control-plane sandbox, an
 * apiserver container whose attempts 7 and 8 exited 255 (a stale attempt
 * and a crash loop) and an etcd one that runs, described from the
 * runtime's own answers in the shape of Docker's; a pod that is not the control plane's only
 * counted; the socket found under --root in containerd's and in k3s's
 * place; and a runtime that is gone, said so. */
#include "fmh_check.h"
#include "fmh_containerd.h"
#include "fmh_events.h"
#include "fmh_journal.h"
#include "fm_harness.h"
#include "fm_cri.h"
#include "fm_loop.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS	 "kube-system"
#define API_POD	 "kube-apiserver-pi-master1"
#define API_UID	 "1403dda53affdfee1130475a6d9609da"
#define ETCD_POD "etcd-pi-master1"
#define ETCD_UID "9c5ee5e3ad3f9bd5b1e5a4c9dbd0cb8e"
#define EXIT_MS	 30000

static struct fmh_containerd ctd;
static char api_id[65], api_next[65], etcd_id[65], api_sandbox[65];

#define CRI(out, ...) fmh_containerd_cri(&ctd, out, sizeof(out), __VA_ARGS__, NULL)

/* The "id" a runp or create printed; fails the test when it failed. */
static void id_of(int rc, const char *out, char id[65])
{
	if (rc != 0) {
		fmh_containerd_print_log_tail(&ctd);
		fail_msg("cri_client.py: exit %d: %s", rc, out);
	}
	cJSON *j = cJSON_Parse(out);
	snprintf(id, 65, "%s", j ? fmh_jstr(j, "id") : "");
	cJSON_Delete(j);
	assert_int_equal(strlen(id), 64);
}

/* The container has exited (the CRI has no wait: polled, with a deadline). */
static void wait_exited(const char *id)
{
	char out[8192];
	struct timespec t0, now, step = {0, 50 * 1000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (CRI(out, "inspect", id) == 0 && strstr(out, "\"CONTAINER_EXITED\""))
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > EXIT_MS)
			fail_msg("container %s has not exited in %d ms: %s", id, EXIT_MS, out);
		nanosleep(&step, NULL);
	}
}

/* The node: the apiserver's pod with its container exited 255, etcd's
 * running, and a pod of another namespace. */
static int setup(void **state)
{
	(void)state;
	char out[8192], pod[65], other[65], ctr[65];
	if (fmh_init() < 0 || fmh_containerd_start(&ctd) < 0)
		return -1;
	id_of(CRI(out, "runp", API_POD, NS, API_UID, "0"), out, api_sandbox);
	id_of(CRI(out, "create", api_sandbox, "kube-apiserver", "7", "sh", "-c", "exit 255"), out, api_id);
	if (CRI(out, "start", api_id) != 0)
		return -1;
	wait_exited(api_id);
	/* kubelet's next attempt, exiting the same way: a crash loop. */
	id_of(CRI(out, "create", api_sandbox, "kube-apiserver", "8", "sh", "-c", "exit 255"), out, api_next);
	if (CRI(out, "start", api_next) != 0)
		return -1;
	wait_exited(api_next);
	id_of(CRI(out, "runp", ETCD_POD, NS, ETCD_UID, "0"), out, pod);
	id_of(CRI(out, "create", pod, "etcd", "0", "sleep", "100000"), out, etcd_id);
	if (CRI(out, "start", etcd_id) != 0)
		return -1;
	id_of(CRI(out, "runp", "web-1", "default", "0b6f0d3a0a9e4c7e", "0"), out, other);
	id_of(CRI(out, "create", other, "web", "0", "sleep", "100000"), out, ctr);
	return CRI(out, "start", ctr) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	int rc = fmh_containerd_stop(&ctd);
	fmh_cleanup();
	return rc < 0 ? -1 : 0;
}

/* probe cri --json with the extra arguments; its facts (the caller frees
 * the run's json). */
static const cJSON *probe(struct fmh_agent_run *r, const char *opt, const char *val)
{
	fmh_run_agent(r, "probe", "cri", "--json", "--timeout", "5s", opt, val, NULL);
	if (!r->json)
		fail_msg("probe cri printed no JSON (status %d): %s %s", r->status, r->out, r->err);
	return fmh_field(r->json, "facts");
}

static void short12(char *out, const char *id)
{
	snprintf(out, 13, "%s", id);
}

static void test_runtime_and_control_plane(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	char sid[13];
	const cJSON *facts = probe(&r, "--runtime-endpoint", ctd.endpoint);
	assert_int_equal(r.status, 0);
	const cJSON *rt = fmh_find(facts, "cri.runtime", ctd.endpoint);
	assert_non_null(rt);
	assert_string_equal(fmh_jstr(rt, "state"), "ok");
	assert_string_equal(fmh_jstr(rt, "runtime_name"), "containerd");
	assert_string_equal(fmh_jstr(rt, "runtime_api_version"), "v1");
	assert_string_equal(fmh_jstr(rt, "origin"), "--runtime-endpoint");
	assert_int_equal((int)fmh_jnum(rt, "sandboxes"), 3);
	assert_int_equal((int)fmh_jnum(rt, "containers"), 4);
	assert_int_equal((int)fmh_jnum(rt, "running"), 2);
	assert_int_equal((int)fmh_jnum(rt, "exited"), 2);

	/* The apiserver's container, its exit from ContainerStatus. */
	short12(sid, api_id);
	const cJSON *api = fmh_find(facts, "cri.container", sid);
	assert_non_null(api);
	assert_string_equal(fmh_jstr(api, "full_id"), api_id);
	assert_string_equal(fmh_jstr(api, "container"), "kube-apiserver");
	assert_string_equal(fmh_jstr(api, "pod"), API_POD);
	assert_string_equal(fmh_jstr(api, "namespace"), NS);
	assert_string_equal(fmh_jstr(api, "uid"), API_UID);
	assert_int_equal((int)fmh_jnum(api, "attempt"), 7);
	assert_string_equal(fmh_jstr(api, "state"), "exited");
	assert_int_equal((int)fmh_jnum(api, "exit_code"), 255);
	/* Times as Docker's inspect writes them (RFC 3339, UTC). */
	assert_int_equal(strlen(fmh_jstr(api, "started_at")), 20);
	assert_true(strcmp(fmh_jstr(api, "exited_at"), fmh_jstr(api, "started_at")) >= 0);
	assert_non_null(strstr(fmh_jstr(api, "error"), "Error"));
	/* The name containerd reserves for it (what a conflict quotes). */
	assert_string_equal(fmh_jstr(api, "name"), "kube-apiserver_" API_POD "_" NS "_" API_UID "_7");
	assert_string_equal(fmh_jstr(api, "runtime"), "containerd");
	char sbx[13];
	short12(sbx, api_sandbox);
	assert_string_equal(fmh_jstr(api, "sandbox_id"), sbx);
	const cJSON *sb = fmh_find(facts, "cri.sandbox", sbx);
	assert_non_null(sb);
	assert_string_equal(fmh_jstr(sb, "pod"), API_POD);
	assert_string_equal(fmh_jstr(sb, "state"), "ready");

	/* etcd runs: no exit asked for. */
	short12(sid, etcd_id);
	const cJSON *etcd = fmh_find(facts, "cri.container", sid);
	assert_non_null(etcd);
	assert_string_equal(fmh_jstr(etcd, "state"), "running");
	assert_null(cJSON_GetObjectItemCaseSensitive(etcd, "exit_code"));

	/* Attempt 7 beside attempt 8: stale; 8 restarts and the last exit
	 * within ten minutes: a crash loop, counted from the attempt. */
	short12(sid, api_id);
	const cJSON *stale = fmh_find(facts, "cri.stale_attempt", sid);
	assert_non_null(stale);
	assert_int_equal((int)fmh_jnum(stale, "stale_attempt"), 7);
	assert_int_equal((int)fmh_jnum(stale, "newer_attempt"), 8);
	assert_true(fmh_jbool(stale, "consecutive"));
	const cJSON *loop = fmh_find(facts, "cri.crashloop", NS "/" API_POD "/kube-apiserver");
	assert_non_null(loop);
	assert_int_equal((int)fmh_jnum(loop, "exits"), 8);
	assert_int_equal((int)fmh_jnum(loop, "last_exit_code"), 255);
	assert_null(fmh_find(facts, "cri.crashloop", NS "/" ETCD_POD "/etcd"));

	/* The web pod is counted, not described. */
	assert_int_equal(fmh_count_kind(facts, "cri.container"), 3);
	assert_int_equal(fmh_count_kind(facts, "cri.sandbox"), 2);
	cJSON_Delete(r.json);
}

/* A root prefix holding the socket where containerd's, then k3s's, is. */
static void found_under_root(const char *place, const char *origin)
{
	char root[PATH_MAX], dir[PATH_MAX + 64], link[PATH_MAX + 96], ep[PATH_MAX + 128];
	assert_int_equal(fmh_tmpdir(root, sizeof(root)), 0);
	snprintf(dir, sizeof(dir), "%s%s", root, place);
	*strrchr(dir, '/') = '\0';
	char cmd[PATH_MAX + 80];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(link, sizeof(link), "%s%s", root, place);
	assert_int_equal(symlink(ctd.sock, link), 0);
	struct fmh_agent_run r;
	const cJSON *facts = probe(&r, "--root", root);
	snprintf(ep, sizeof(ep), "unix://%s", link);
	const cJSON *rt = fmh_find(facts, "cri.runtime", ep);
	if (!rt)
		fail_msg("no cri.runtime %s in %s", ep, r.out);
	assert_string_equal(fmh_jstr(rt, "state"), "ok");
	assert_string_equal(fmh_jstr(rt, "origin"), origin);
	assert_int_equal(r.status, 0);
	cJSON_Delete(r.json);
}

static void test_found_under_root(void **state)
{
	(void)state;
	found_under_root("/run/containerd/containerd.sock", "default (containerd)");
	found_under_root("/run/k3s/containerd/containerd.sock", "default (k3s's containerd)");
}

/* No runtime socket at all: absent, not down, and not a finding; check
 * says so. */
static void test_absent(void **state)
{
	(void)state;
	char root[PATH_MAX];
	assert_int_equal(fmh_tmpdir(root, sizeof(root)), 0);
	struct fmh_agent_run r;
	const cJSON *facts = probe(&r, "--root", root);
	const cJSON *rt = fmh_find(facts, "cri.runtime", "none");
	assert_non_null(rt);
	assert_string_equal(fmh_jstr(rt, "state"), "absent");
	assert_int_equal(r.status, 0);
	cJSON_Delete(r.json);
	/* check says the containers were not checked (no Docker either). */
	fmh_run_agent(&r, "check", "--kmsg", "none", "--journal-dir", root, "--root", root, NULL);
	if (!strstr(r.out, "not checked:\n  containers: no container runtime found"))
		fail_msg("check does not say no runtime was found:\n%s", r.out);
	cJSON_Delete(r.json);
}

/* containerd killed: refused, named, a finding (exit 1); back after a
 * restart. */
static void test_runtime_down(void **state)
{
	(void)state;
	assert_int_equal(fmh_containerd_kill(&ctd), 0);
	struct fmh_agent_run r;
	const cJSON *facts = probe(&r, "--runtime-endpoint", ctd.endpoint);
	const cJSON *rt = fmh_find(facts, "cri.runtime", ctd.endpoint);
	assert_non_null(rt);
	const char *st = fmh_jstr(rt, "state");
	if (strcmp(st, "refused") != 0)
		fail_msg("state %s: %s", st, fmh_jstr(rt, "reason"));
	assert_non_null(strstr(fmh_jstr(rt, "reason"), ctd.sock));
	assert_int_equal(r.status, 1);
	cJSON_Delete(r.json);
	assert_int_equal(fmh_containerd_restart(&ctd), 0);
	facts = probe(&r, "--runtime-endpoint", ctd.endpoint);
	assert_string_equal(fmh_jstr(fmh_find(facts, "cri.runtime", ctd.endpoint), "state"), "ok");
	cJSON_Delete(r.json);
}

/* containerd's own refusal of kubelet creating attempt 7 again (the name
 * is reserved for the exited attempt), written as kubelet 1.28's
 * remote_runtime.go line (klog's structured form, containerd's words
 * inside err="..." with their quotes escaped) into a new journal file in
 * jdir, as unit (kubelet.service, or k3s.service where kubelet runs inside
 * k3s) logs it. */
static void reservation_logged(const char *unit, const char *ident, char *jdir, size_t jdir_size)
{
	char out[8192], line[4096], quoted[4096], jfile[PATH_MAX + 32], want[200], entry[8192];
	int rc = CRI(out, "create", api_sandbox, "kube-apiserver", "7", "true");
	assert_int_equal(rc, 1);
	cJSON *e = cJSON_Parse(out);
	assert_non_null(e);
	const char *details = fmh_jstr(fmh_field(e, "error"), "details");
	snprintf(want, sizeof(want), "is reserved for \"%s\"", api_id);
	if (!strstr(details, want))
		fail_msg("containerd did not name %s: %s", api_id, details);
	assert_int_equal(fmh_requote(quoted, sizeof(quoted), details, 1), 0);
	cJSON_Delete(e);
	snprintf(line, sizeof(line),
		 "\"CreateContainer in sandbox from runtime service failed\" err=\"rpc error: code = Unknown desc = "
		 "%s\" podSandboxID=\"%s\"",
		 quoted, api_sandbox);
	snprintf(entry, sizeof(entry),
		 "_TRANSPORT=stdout\n_SYSTEMD_UNIT=%s\nSYSLOG_IDENTIFIER=%s\nPRIORITY=3\n"
		 "MESSAGE=E1206 09:30:01.123456     911 remote_runtime.go:319] %s\n\n",
		 unit, ident, line);
	assert_int_equal(fmh_tmpdir(jdir, jdir_size), 0);
	snprintf(jfile, sizeof(jfile), "%s/remote.journal", jdir);
	assert_int_equal(fmh_journal_append(jfile, entry), 0);
}

/* check's verdict on the reservation: the holder named with what
 * containerd says of it (exited), and the one command for that. */
static void assert_reservation_found(const struct fmh_agent_run *r)
{
	char want[200], sid[13];
	const cJSON *c = fmh_diagnosis(r->json, "container-name-conflict");
	if (!c)
		fail_msg("no container-name-conflict:\n%s", r->out);
	snprintf(want, sizeof(want), "held by %.12s (exited)", api_id);
	if (!strstr(fmh_jstr(c, "summary"), want))
		fail_msg("summary does not say '%s': %s", want, fmh_jstr(c, "summary"));
	snprintf(want, sizeof(want), "crictl rm %.12s", api_id);
	const cJSON *remedy = fmh_field(c, "remedy");
	if (!fmh_lists(remedy, want) || cJSON_GetArraySize(remedy) != 1)
		fail_msg("the remedy is not exactly `%s`:\n%s", want, r->out);
	short12(sid, api_id);
	assert_non_null(fmh_find(fmh_field(c, "evidence"), "cri.container", sid));
	/* Attempts 7 and 8 exited: the crash loop containerd's lists show is
	 * found too, and explained by the conflict (its cause), not raised
	 * on its own. */
	if (!fmh_lists(fmh_field(c, "explains"), "control-plane-crashloop"))
		fail_msg("the conflict does not explain the crash loop:\n%s", r->out);
	assert_null(fmh_diagnosis(r->json, "control-plane-crashloop"));
}

/* Incident 1 in containerd's form, for real: containerd's reservation in
 * kubelet's line, and the runtime asked by check. */
static void test_check_reserved_name(void **state)
{
	(void)state;
	char jdir[PATH_MAX], root[PATH_MAX];
	reservation_logged("kubelet.service", "kubelet", jdir, sizeof(jdir));
	assert_int_equal(fmh_tmpdir(root, sizeof(root)), 0);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--json", "--kmsg", "none", "--journal-dir", jdir, "--root", root,
		      "--runtime-endpoint", ctd.endpoint, NULL);
	if (!r.json)
		fail_msg("check printed no JSON (status %d): %s %s", r.status, r.out, r.err);
	assert_reservation_found(&r);
	cJSON_Delete(r.json);
}

/* The same on a k3s node, found with no flags: k3s's files under --root
 * (tests/harness/tree.sh, SQLite: no etcd), its containerd's socket in
 * k3s's place, kubelet's line in k3s.service's journal. The apiserver
 * (k3s's, at a port nothing listens on) is explained by the conflict. */
static void test_k3s_node(void **state)
{
	(void)state;
	char jdir[PATH_MAX], root[PATH_MAX], api[64], sock[PATH_MAX + 64], dir[PATH_MAX + 64], ep[PATH_MAX + 80];
	reservation_logged("k3s.service", "k3s", jdir, sizeof(jdir));
	assert_int_equal(fmh_tmpdir(root, sizeof(root)), 0);
	int port = fmh_free_port();
	assert_true(port > 0);
	snprintf(api, sizeof(api), "https://127.0.0.1:%d", port);
	const char *argv[] = {FMH_TREE_SCRIPT, root, "k3s", "none", api, NULL};
	char out[4096];
	int st = -1;
	if (fmh_run(argv, out, sizeof(out), &st, 60000) < 0 || st != 0)
		fail_msg("tree.sh k3s: %s", out);
	snprintf(dir, sizeof(dir), "%s/run/k3s/containerd", root);
	snprintf(sock, sizeof(sock), "%s/containerd.sock", dir);
	const char *mk[] = {"mkdir", "-p", dir, NULL};
	assert_int_equal(fmh_run(mk, out, sizeof(out), &st, 10000), 0);
	assert_int_equal(symlink(ctd.sock, sock), 0);

	struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--json", "--kmsg", "none", "--journal-dir", jdir, "--root", root, NULL);
	if (!r.json)
		fail_msg("check printed no JSON (status %d): %s %s", r.status, r.out, r.err);
	snprintf(ep, sizeof(ep), "unix://%s", sock);
	const cJSON *rt = fmh_find(fmh_field(r.json, "facts"), "cri.runtime", ep);
	if (!rt)
		fail_msg("k3s's containerd was not found under %s:\n%s", root, r.out);
	assert_string_equal(fmh_jstr(rt, "origin"), "default (k3s's containerd)");
	assert_string_equal(fmh_jstr(fmh_find(fmh_field(r.json, "facts"), "journal.match", NULL), "source"),
			    "k3s.service");
	assert_reservation_found(&r);
	const cJSON *c = fmh_diagnosis(r.json, "container-name-conflict");
	assert_true(fmh_lists(fmh_field(c, "explains"), "apiserver-unreachable"));
	assert_null(fmh_diagnosis(r.json, "apiserver-unreachable"));
	cJSON_Delete(r.json);
}

struct watch_seen {
	int exits; /* "exit" told */
};

static void on_watch(void *arg, const char *what)
{
	struct watch_seen *w = arg;
	if (strcmp(what, "exit") == 0)
		w->exits++;
}

static void on_collected(void *ctx, int rc)
{
	*(int *)ctx = rc == 0 ? 1 : -1;
}

/* A collection of the runtime into facts, as run makes one. */
static void collect_into(struct fm_loop *loop, struct fm_facts *facts)
{
	struct fm_collect_opts co = {.timeout_ms = 5000};
	int done = 0;
	struct fm_cri_collection *k = fm_cri_collection_new(loop, ctd.endpoint, "test", &co, facts, on_collected, &done);
	assert_non_null(k);
	while (!done)
		assert_true(fm_loop_run_once(loop, 50) >= 0);
	assert_int_equal(done, 1);
	fm_cri_collection_delete(&k);
}

/* The state facts give container id (64 hex), "" if none. */
static const char *ctr_state(const struct fm_facts *facts, const char *id)
{
	char sid[13];
	snprintf(sid, sizeof(sid), "%.12s", id);
	const cJSON *c = fm_facts_get(facts, "cri.container", sid);
	return c ? fmh_jstr(c, "state") : "";
}

/* A collection of the runtime, as run makes one when the watch tells an
 * exit: whether it lists container id exited. */
static bool collected_exited(struct fm_loop *loop, const char *id)
{
	struct fm_facts *facts = fm_facts_new();
	assert_non_null(facts);
	collect_into(loop, facts);
	bool exited = strcmp(ctr_state(facts, id), "exited") == 0;
	fm_facts_delete(&facts);
	return exited;
}

/* One kube-scheduler pod (attempt i), collected into facts (the watch's,
 * as run's), whose container's process is SIGKILLed: true when facts said
 * it exited within ms (the watch marks it on containerd's event), with the
 * time from the kill to that and to ctr's /tasks/exit line in *ms_fact and
 * *ms_ctr; then a collection made each time the watch tells an exit lists
 * it exited too (the CRI's word, or the watch's pending exit while the CRI
 * still says running). */
static bool one_exit(struct fm_loop *loop, struct fm_facts *facts, struct fmh_events *ev, struct watch_seen *seen,
		     int i, int ms, double *ms_fact, double *ms_ctr)
{
	char out[8192], pod[65], ctr[65], name[64], uid[40];
	snprintf(name, sizeof(name), "kube-scheduler-exit%d", i);
	snprintf(uid, sizeof(uid), "%032x", 0x3c41 + i);
	id_of(CRI(out, "runp", name, NS, uid, "0"), out, pod);
	id_of(CRI(out, "create", pod, "kube-scheduler", "0", "sleep", "3600"), out, ctr);
	assert_int_equal(CRI(out, "start", ctr), 0);
	pid_t shim, init;
	assert_int_equal(fmh_containerd_task_pids(&ctd, ctr, &shim, &init), 0);
	/* ctr is subscribed: it saw this container's task start */
	assert_true(fmh_events_seen(ev, "/tasks/start", ctr, 10000) > 0);
	/* what the watch had to tell before is told */
	for (uint64_t quiet = fm_now_ms() + 200; fm_now_ms() < quiet;)
		assert_true(fm_loop_run_once(loop, 50) >= 0);
	collect_into(loop, facts);
	assert_string_equal(ctr_state(facts, ctr), "running");
	int told = seen->exits;
	uint64_t t0 = fm_now_us(), end = fm_now_ms() + (uint64_t)ms, t_fact = 0;
	assert_int_equal(kill(init, SIGKILL), 0);
	while (!t_fact && fm_now_ms() < end) {
		assert_true(fm_loop_run_once(loop, 50) >= 0);
		if (strcmp(ctr_state(facts, ctr), "exited") == 0)
			t_fact = fm_now_us();
	}
	bool collected = false;
	while (t_fact && !collected && fm_now_ms() < end) {
		assert_true(fm_loop_run_once(loop, 50) >= 0);
		if (seen->exits == told)
			continue;
		told = seen->exits;
		collected = collected_exited(loop, ctr);
	}
	if (t_fact && !collected)
		fail_msg("the watch marked %.12s exited, but no collection listed it so within %d ms", ctr, ms);
	uint64_t t_ctr = fmh_events_seen(ev, "/tasks/exit", ctr, 5000);
	assert_true(t_ctr > t0);
	*ms_fact = t_fact ? (double)(t_fact - t0) / 1000 : -1;
	*ms_ctr = (double)(t_ctr - t0) / 1000;
	assert_int_equal(CRI(out, "rm", ctr), 0);
	assert_int_equal(CRI(out, "stopp", pod), 0);
	assert_int_equal(CRI(out, "rmp", pod), 0);
	return t_fact != 0;
}

/* The agent's exit watch (fm_cri_watch: containerd 1.6 has no CRI event
 * stream, so containerd's /tasks/exit) and a collection made each time it
 * tells one, as run does, until it lists the container exited, beside
 * containerd's own event client, `ctr events` on the same socket, from the
 * same SIGKILL of a container's process. FMH_CRI_EXITS repeats it
 * (bench/b_docker.sh). */
static void test_watch_exit_beside_ctr_events(void **state)
{
	(void)state;
	char err[256];
	struct watch_seen seen = {0};
	struct fm_loop *loop = fm_loop_new();
	assert_non_null(loop);
	struct fm_facts *facts = fm_facts_new();
	assert_non_null(facts);
	struct fm_cri_watch_opts wo = {.endpoint = ctd.endpoint, .on_event = on_watch, .arg = &seen, .facts = facts};
	struct fm_cri_watch *w = fm_cri_watch_new(loop, &wo, err, sizeof(err));
	assert_non_null(w);
	const char *argv[] = {"/usr/bin/ctr", "--address", ctd.sock, "events", NULL};
	struct fmh_events *ev = fmh_events_start(argv);
	if (!ev)
		fail_msg("cannot run /usr/bin/ctr (Debian's containerd): %s", strerror(errno));
	/* The watch's subscription says nothing when it is in place: exits
	 * until one is told (a first one may come before it) */
	double lat, lat_ctr;
	int i = 0;
	while (!one_exit(loop, facts, ev, &seen, i, 3000, &lat, &lat_ctr))
		if (++i == 5)
			fail_msg("the watch told none of 5 exits within 3 s each");
	int reps = getenv("FMH_CRI_EXITS") ? atoi(getenv("FMH_CRI_EXITS")) : 1;
	for (int k = 0; k < (reps > 0 ? reps : 1); k++) {
		assert_true(one_exit(loop, facts, ev, &seen, ++i, 10000, &lat, &lat_ctr));
		print_message("cri-exit-latency-ms: %.3f ctr-events-ms: %.3f\n", lat, lat_ctr);
	}
	fmh_events_stop(&ev);
	fm_cri_watch_delete(&w);
	fm_facts_delete(&facts);
	fm_loop_delete(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runtime_and_control_plane),
	    cmocka_unit_test(test_check_reserved_name),
	    cmocka_unit_test(test_k3s_node),
	    cmocka_unit_test(test_watch_exit_beside_ctr_events),
	    cmocka_unit_test(test_found_under_root),
	    cmocka_unit_test(test_absent),
	    cmocka_unit_test(test_runtime_down),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
