/* The Docker source against a real dockerd (Debian docker.io) on private
 * dirs: incident 1's containers and the daemon's own Conflict error,
 * incident 2's unreadable container, the live watcher's latency, dockerd
 * killed and restarted under it, the guarded remove, and that nothing of the
 * daemon outlives the test. */
#include "fm_docker.h"
#include "fm_facts.h"
#include "fm_log.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_docker.h"
#include "fmh_events.h"
#include "fm_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UID "1403dda53affdfee1130475a6d9609da"
#define APISERVER(n) "k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_" UID "_" #n
#define SANDBOX(n) "k8s_POD_kube-apiserver-pi-master1_kube-system_" UID "_" #n

static struct fmh_docker dk;
static struct fmh_events *cli; /* docker events, beside the watcher */

static void api(const char *method, const char *path, int want, char *out, size_t size)
{
	assert_int_equal(fmh_docker_api_want(&dk, method, path, want, out, size), 0);
}

/* Runs a container to its end. */
static void run_exited(const char *name, char id[65], const char *cmd)
{
	assert_int_equal(fmh_docker_run_exited(&dk, name, id, cmd), 0);
}

static const cJSON *find_field(const cJSON *facts, const char *kind, const char *key,
			       const char *value)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, facts) {
		const char *k = fmh_jstr(f, "kind"), *v = fmh_jstr_opt(f, key);
		if (strcmp(k, kind) == 0 && v && strcmp(v, value) == 0)
			return f;
	}
	return NULL;
}

/* Incident 1: an exited _23 and a running _24 of the apiserver, an exited
 * sandbox _15 beside the running _17; kubelet creating _24 again gets the
 * daemon's Conflict, and the facts name the container that blocks. */
static void test_incident1_conflict(void **state)
{
	(void)state;
	char id23[65], id24[65], id15[65], id17[65], other[65], out[4096];
	run_exited(APISERVER(23), id23, "echo apiserver 23; exit 0");
	assert_int_equal(fmh_docker_run(&dk, APISERVER(24), id24, "sleep", "1000", NULL), 0);
	run_exited(SANDBOX(15), id15, "exit 0");
	assert_int_equal(fmh_docker_run(&dk, SANDBOX(17), id17, "sleep", "1000", NULL), 0);
	run_exited("unrelated", other, "exit 0");

	/* What kubelet met, from the daemon itself. */
	int rc = fmh_docker_cli(&dk, out, sizeof(out), "create", "--name", APISERVER(24),
				"--network", "none", FMH_DOCKER_IMAGE, "true", NULL);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, "Conflict. The container name \"/" APISERVER(24)
				    "\" is already in use by container \""));
	const char *q = strstr(out, "by container \"") + 14;
	char blocker[65];
	snprintf(blocker, sizeof(blocker), "%.64s", q);
	assert_string_equal(blocker, id24);

	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "docker", "--json", "--docker-host", dk.host, NULL);
	assert_int_equal(r.status, 0);
	const cJSON *facts = fmh_field(r.json, "facts");
	/* Which container holds the name in the Conflict message. */
	const cJSON *holder = find_field(facts, "docker.container", "full_id", blocker);
	assert_non_null(holder);
	assert_string_equal(fmh_jstr(holder, "name"), APISERVER(24));
	assert_string_equal(fmh_jstr(holder, "state"), "running");
	assert_int_equal((int)fmh_jnum(holder, "attempt"), 24);
	assert_string_equal(fmh_jstr(holder, "pod"), "kube-apiserver-pi-master1");
	assert_string_equal(fmh_jstr(holder, "namespace"), "kube-system");
	assert_string_equal(fmh_jstr(holder, "uid"), UID);
	assert_string_equal(fmh_jstr(holder, "container"), "kube-apiserver");
	/* The stale attempt to remove, with its short id (docker rm ...). */
	char s23[13], s24[13], s15[13];
	snprintf(s23, sizeof(s23), "%.12s", id23);
	snprintf(s24, sizeof(s24), "%.12s", id24);
	snprintf(s15, sizeof(s15), "%.12s", id15);
	const cJSON *c23 = fmh_find(facts, "docker.container", s23);
	assert_non_null(c23);
	assert_string_equal(fmh_jstr(c23, "state"), "exited");
	assert_int_equal((int)fmh_jnum(c23, "exit_code"), 0);
	assert_non_null(fmh_jstr_opt(c23, "exited_at"));
	const cJSON *st = fmh_find(facts, "docker.stale_attempt", s23);
	assert_non_null(st);
	assert_string_equal(fmh_jstr(st, "newer_id"), s24);
	assert_int_equal((int)fmh_jnum(st, "stale_attempt"), 23);
	assert_int_equal((int)fmh_jnum(st, "newer_attempt"), 24);
	assert_true(fmh_jbool(st, "consecutive"));
	assert_false(fmh_jbool(st, "sandbox"));
	const cJSON *sb = fmh_find(facts, "docker.stale_attempt", s15);
	assert_non_null(sb);
	assert_true(fmh_jbool(sb, "sandbox"));
	assert_false(fmh_jbool(sb, "consecutive"));
	assert_null(fmh_find(facts, "docker.stale_attempt", s24));
	/* Unrelated containers are counted, not described. */
	char so[13];
	snprintf(so, sizeof(so), "%.12s", other);
	assert_null(fmh_find(facts, "docker.container", so));
	const cJSON *ex = fmh_find(facts, "docker.exited", dk.host);
	assert_non_null(ex);
	assert_int_equal((int)fmh_jnum(ex, "exited"), 3);
	assert_int_equal((int)fmh_jnum(ex, "running"), 2);
	const cJSON *d = fmh_find(facts, "docker.daemon", dk.host);
	assert_string_equal(fmh_jstr(d, "state"), "ok");
	assert_string_equal(fmh_jstr(d, "api_used"), "1.41");
	/* The exited apiserver's log tail. */
	const cJSON *lg = fmh_find(facts, "docker.logs", s23);
	assert_non_null(lg);
	assert_string_equal(fmh_jstr(lg, "state"), "ok");
	assert_string_equal(cJSON_GetArrayItem(fmh_field(lg, "lines"), 0)->valuestring,
			    "apiserver 23");
	cJSON_Delete(r.json);
}

/* DOCKER_HOST=tcp://127.0.0.1:PORT, as the environment of a node whose
 * dockerd listens on TCP names it: the same daemon, its containers and the
 * stale attempt seen over plain HTTP on loopback (a second dockerd, started
 * with -H tcp://, beside the unix socket). */
static void test_docker_host_tcp(void **state)
{
	(void)state;
	/* static: the harness stops it at exit by this address when an
	 * assertion leaves the test early */
	static struct fmh_docker tk;
	char id23[65], id24[65], s23[13];
	assert_int_equal(fmh_docker_start_tcp(&tk), 0);
	assert_int_equal(fmh_docker_run_exited(&tk, APISERVER(23), id23, "exit 0"), 0);
	assert_int_equal(fmh_docker_run(&tk, APISERVER(24), id24, "sleep", "1000", NULL), 0);
	snprintf(s23, sizeof(s23), "%.12s", id23);
	assert_int_equal(setenv("DOCKER_HOST", tk.tcp, 1), 0);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "docker", "--json", NULL);
	unsetenv("DOCKER_HOST");
	if (r.status != 0 || !r.json)
		fail_msg("probe docker with DOCKER_HOST=%s exited %d: %s", tk.tcp, r.status, r.err);
	const cJSON *facts = fmh_field(r.json, "facts");
	/* The daemon's fact names the endpoint as the agent speaks to it. */
	char url[64];
	snprintf(url, sizeof(url), "http://%s", tk.tcp + strlen("tcp://"));
	const cJSON *d = fmh_find(facts, "docker.daemon", url);
	if (!d)
		fail_msg("no docker.daemon for %s: %s", url, r.out);
	assert_string_equal(fmh_jstr(d, "state"), "ok");
	const cJSON *st = fmh_find(facts, "docker.stale_attempt", s23);
	assert_non_null(st);
	assert_int_equal((int)fmh_jnum(st, "stale_attempt"), 23);
	cJSON_Delete(r.json);
	assert_int_equal(fmh_docker_stop(&tk), 0);
}

/* Incident 2: an apiserver container Exited (255) whose layer is gone: the
 * daemon cannot inspect it, so `docker logs` fails; the fact carries the
 * daemon's text verbatim. */
static void test_incident2_logs_unreadable(void **state)
{
	(void)state;
	char id[65], out[65536], path[256];
	run_exited("k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_" UID "_40", id,
		   "echo boom; exit 255");
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	api("GET", path, 200, out, sizeof(out));
	cJSON *j = cJSON_Parse(out);
	char upper[PATH_MAX], layer[PATH_MAX], moved[PATH_MAX + 8];
	snprintf(upper, sizeof(upper), "%s",
		 fmh_jstr(fmh_field(fmh_field(j, "GraphDriver"), "Data"), "UpperDir"));
	cJSON_Delete(j);
	snprintf(layer, sizeof(layer), "%s", upper);
	*strrchr(layer, '/') = '\0'; /* .../overlay2/<layer> */
	snprintf(moved, sizeof(moved), "%s.gone", layer);
	assert_int_equal(rename(layer, moved), 0);

	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "docker", "--json", "--docker-host", dk.host, NULL);
	const cJSON *facts = fmh_field(r.json, "facts");
	char sid[13], want[PATH_MAX + 64];
	snprintf(sid, sizeof(sid), "%.12s", id);
	snprintf(want, sizeof(want), "stat %s: no such file or directory", layer);
	const cJSON *lg = fmh_find(facts, "docker.logs", sid);
	assert_non_null(lg);
	assert_string_equal(fmh_jstr(lg, "state"), "http-status");
	assert_string_equal(fmh_jstr(lg, "error"), want);
	const cJSON *c = fmh_find(facts, "docker.container", sid);
	assert_non_null(c);
	assert_string_equal(fmh_jstr(c, "state"), "exited");
	assert_int_equal((int)fmh_jnum(c, "exit_code"), 255);
	assert_string_equal(fmh_jstr(c, "inspect_error"), want);
	cJSON_Delete(r.json);
	assert_int_equal(rename(moved, layer), 0);
}

/* --- the live watcher, in process -------------------------------------------- */

struct seen {
	char id[13];
	const char *want_state;
	uint64_t at_us; /* when the container fact first had want_state */
};

static void observe(void *arg, const cJSON *fact, bool dropped)
{
	struct seen *s = arg;
	if (dropped || s->at_us || strcmp(fmh_jstr(fact, "kind"), "docker.container") != 0 ||
	    strcmp(fmh_jstr(fact, "id"), s->id) != 0)
		return;
	if (strcmp(fmh_jstr(fact, "state"), s->want_state) == 0)
		s->at_us = fm_now_us();
}

/* POST /containers/ID/kill from a thread of its own: dockerd answers it
 * only once the container is gone, and the watcher's loop (this thread)
 * must run meanwhile, as the agent's would. */
struct killer {
	pthread_t th;
	char path[128];
	uint64_t t0_us; /* just before the request went */
	int rc;
};

static void *kill_thread(void *arg)
{
	struct killer *k = arg;
	char out[4096];
	k->t0_us = fm_now_us();
	k->rc = fmh_docker_api_want(&dk, "POST", k->path, 204, out, sizeof(out));
	return NULL;
}

typedef bool (*pred_fn)(struct fm_facts *f, const void *arg);

static bool run_until(struct fm_loop *loop, struct fm_facts *f, pred_fn p, const void *arg,
		      int timeout_ms)
{
	uint64_t end = fm_now_ms() + (uint64_t)timeout_ms;
	while (!p(f, arg)) {
		if (fm_now_ms() >= end)
			return false;
		fm_loop_run_once(loop, 50);
	}
	return true;
}

static bool daemon_state(struct fm_facts *f, const void *arg)
{
	const cJSON *d = fm_facts_get(f, "docker.daemon", dk.host);
	const char *want = arg;
	const char *st = d ? fmh_jstr(d, "state") : "";
	if (want[0] == '!')
		return d && strcmp(st, want + 1) != 0 && strcmp(st, "connecting") != 0;
	return d && strcmp(st, want) == 0 && cJSON_GetObjectItem(d, "running");
}

static bool ctr_state(struct fm_facts *f, const void *arg)
{
	const struct seen *s = arg;
	const cJSON *c = fm_facts_get(f, "docker.container", s->id);
	return c && strcmp(fmh_jstr(c, "state"), s->want_state) == 0;
}

/* The crash-loop fact of one pod's container (arg: its id). With many
 * exits measured first (FMH_DOCKER_EXITS, the bench), the killed etcd has
 * one of its own. */
static bool has_crashloop(struct fm_facts *f, const void *arg)
{
	return fm_facts_get(f, "docker.crashloop", arg) != NULL;
}

static void test_watch_latency_crashloop_restart(void **state)
{
	(void)state;
	struct fm_loop *loop = fm_loop_new();
	struct fm_facts *facts = fm_facts_new();
	struct fm_docker_opts o = {.host = dk.host, .backoff_min_ms = 20, .backoff_max_ms = 200,
				   .crashloop_exits = 3, .crashloop_window_s = 600};
	char err[256], id[65], out[65536], path[256];
	struct fm_docker_watch *w = fm_docker_watch_new(loop, &o, facts, err, sizeof(err));
	assert_non_null(w);
	assert_true(run_until(loop, facts, daemon_state, "ok", 10000));

	/* Latency: from the kill to the fact, and to `docker events` printing
	 * the same die; FMH_DOCKER_EXITS repeats it (bench/b_docker.sh). */
	int reps = getenv("FMH_DOCKER_EXITS") ? atoi(getenv("FMH_DOCKER_EXITS")) : 1;
	/* the runtime's own event client, on the same daemon */
	const char *cli_argv[] = {"/usr/bin/docker", "-H", dk.host, "events", "--filter", "event=start",
				  "--filter", "event=die", "--format", "{{.Action}} {{.ID}}", NULL};
	cli = fmh_events_start(cli_argv);
	if (!cli)
		fail_msg("cannot run /usr/bin/docker (Debian's docker.io): %s", strerror(errno));
	for (int i = 0; i < (reps > 0 ? reps : 1); i++) {
		char name[200];
		snprintf(name, sizeof(name), "k8s_etcd_etcd-pi-master1_kube-system_" UID "_%d", 100 + i);
		assert_int_equal(fmh_docker_run(&dk, name, id, "sleep", "1000", NULL), 0);
		struct seen s = {.want_state = "running"};
		snprintf(s.id, sizeof(s.id), "%.12s", id);
		assert_true(run_until(loop, facts, ctr_state, &s, 10000));
		/* the CLI is subscribed: it saw this container start */
		assert_true(fmh_events_seen(cli, "start ", s.id, 10000) > 0);
		s.want_state = "exited";
		fm_facts_observe(facts, observe, &s);
		struct killer k = {.rc = -1};
		snprintf(k.path, sizeof(k.path), "/containers/%s/kill", id);
		assert_int_equal(pthread_create(&k.th, NULL, kill_thread, &k), 0);
		bool seen = run_until(loop, facts, ctr_state, &s, 5000);
		pthread_join(k.th, NULL);
		assert_int_equal(k.rc, 0);
		assert_true(seen);
		fm_facts_observe(facts, NULL, NULL);
		uint64_t t0 = k.t0_us, t_cli = fmh_events_seen(cli, "die ", s.id, 5000);
		assert_true(t_cli > t0);
		double lat = (double)(s.at_us - t0) / 1000, lat_cli = (double)(t_cli - t0) / 1000;
		print_message("docker-exit-latency-ms: %.3f docker-events-ms: %.3f\n", lat, lat_cli);
		assert_true(lat < 1000); /* generous; the target is 100 ms */
		const cJSON *c = fm_facts_get(facts, "docker.container", s.id);
		assert_int_equal((int)fmh_jnum(c, "exit_code"), 137);
	}

	fmh_events_stop(&cli);

	/* A crash loop: the scheduler exits three times. */
	char cid[65];
	run_exited("k8s_kube-scheduler_kube-scheduler-pi-master1_kube-system_" UID "_1", cid, "exit 1");
	run_exited("k8s_kube-scheduler_kube-scheduler-pi-master1_kube-system_" UID "_2", cid, "exit 1");
	run_exited("k8s_kube-scheduler_kube-scheduler-pi-master1_kube-system_" UID "_3", cid, "exit 2");
	assert_true(run_until(loop, facts, has_crashloop,
			      "kube-system/kube-scheduler-pi-master1/kube-scheduler", 5000));
	const cJSON *cl = fm_facts_get(facts, "docker.crashloop",
				       "kube-system/kube-scheduler-pi-master1/kube-scheduler");
	assert_non_null(cl);
	assert_int_equal((int)fmh_jnum(cl, "exits"), 3);
	assert_int_equal((int)fmh_jnum(cl, "last_exit_code"), 2);

	/* dockerd killed: the outage is reported; a container exits while the
	 * daemon is gone; the restarted daemon is found and re-listed. */
	assert_int_equal(fmh_docker_run(&dk, "k8s_etcd_etcd-pi-master1_kube-system_" UID "_8", id,
					 "sleep", "1000", NULL), 0);
	struct seen s8 = {.want_state = "running"};
	snprintf(s8.id, sizeof(s8.id), "%.12s", id);
	assert_true(run_until(loop, facts, ctr_state, &s8, 10000));
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	api("GET", path, 200, out, sizeof(out));
	cJSON *j = cJSON_Parse(out);
	pid_t cpid = (pid_t)fmh_jnum(fmh_field(j, "State"), "Pid");
	cJSON_Delete(j);
	assert_true(cpid > 1);

	assert_int_equal(fmh_docker_kill(&dk), 0);
	assert_true(run_until(loop, facts, daemon_state, "!ok", 5000));
	const cJSON *d = fm_facts_get(facts, "docker.daemon", dk.host);
	print_message("docker: while down: %s: %s\n", fmh_jstr(d, "state"), fmh_jstr(d, "reason"));
	assert_non_null(fmh_jstr_opt(d, "reason"));
	assert_int_equal(kill(cpid, SIGKILL), 0);
	/* Still down while nothing listens (the watcher retries meanwhile). */
	fm_loop_run_once(loop, 300);
	assert_true(run_until(loop, facts, daemon_state, "!ok", 10));

	assert_int_equal(fmh_docker_restart(&dk), 0);
	assert_true(run_until(loop, facts, daemon_state, "ok", 30000));
	s8.want_state = "exited";
	assert_true(run_until(loop, facts, ctr_state, &s8, 10000));
	assert_int_equal((int)fmh_jnum(fm_facts_get(facts, "docker.container", s8.id), "exit_code"), 137);

	fm_docker_watch_delete(&w);
	fm_facts_delete(&facts);
	fm_loop_delete(&loop);
}

/* --- remove -------------------------------------------------------------------- */

/* Runs fm_docker_remove with stderr captured (the audit line). */
static int remove_audited(const char *id, bool allow, char *audit, size_t size)
{
	struct fm_loop *loop = fm_loop_new();
	struct fm_docker_policy pol = {.allow_remove = allow};
	struct fm_collect_opts co = {.timeout_ms = 5000};
	char tmpl[] = "/tmp/fmaudit.XXXXXX", reason[400];
	int fd = mkstemp(tmpl), saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	int rc = fm_docker_remove(loop, dk.host, id, &pol, &co, reason, sizeof(reason));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, audit, size - 1, 0);
	audit[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(tmpl);
	fm_loop_delete(&loop);
	return rc;
}

static void test_remove_guarded(void **state)
{
	(void)state;
	char dead[65], live_id[65], audit[2048], out[4096], path[256];
	run_exited("k8s_kube-controller-manager_kube-controller-manager-pi-master1_kube-system_" UID "_3",
		   dead, "exit 0");
	assert_int_equal(fmh_docker_run(&dk, "k8s_kube-controller-manager_kube-controller-manager-pi-master1_kube-system_" UID "_4",
					 live_id, "sleep", "1000", NULL), 0);
	fm_log_set_level(FM_LOG_NOTICE);
	char sid[13];
	snprintf(sid, sizeof(sid), "%.12s", dead);

	assert_int_equal(remove_audited(sid, false, audit, sizeof(audit)), -EPERM);
	assert_non_null(strstr(audit, "audit: remove container"));
	assert_non_null(strstr(audit, "refused: removing containers is not enabled"));
	snprintf(path, sizeof(path), "/containers/%s/json", dead);
	api("GET", path, 200, out, sizeof(out)); /* still there */

	assert_int_equal(remove_audited("../../x", true, audit, sizeof(audit)), -EINVAL);
	assert_non_null(strstr(audit, "refused"));
	assert_int_equal(remove_audited(live_id, true, audit, sizeof(audit)), -EBUSY);
	assert_non_null(strstr(audit, "is running"));
	assert_int_equal(remove_audited("0123456789ab", true, audit, sizeof(audit)), -ENOENT);

	assert_int_equal(remove_audited(sid, true, audit, sizeof(audit)), 0);
	assert_non_null(strstr(audit, ": done: removed container"));
	api("GET", path, 404, out, sizeof(out));
}

/* Last: stopping leaves no daemon process and no mount behind (after a
 * SIGKILLed dockerd, the hardest case). */
static void test_nothing_left(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", dk.dir);
	assert_true(fmh_docker_leftover_procs(dir) > 0); /* containerd, shims: the check sees them */
	assert_true(fmh_docker_leftover_mounts(dir) > 0);
	assert_int_equal(fmh_docker_stop(&dk), 0);
	assert_int_equal(fmh_docker_leftover_procs(dir), 0);
	assert_int_equal(fmh_docker_leftover_mounts(dir), 0);
}

int main(void)
{
	fmh_init();
	if (fmh_docker_start(&dk) < 0) {
		fprintf(stderr, "cannot start dockerd\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incident1_conflict),
		cmocka_unit_test(test_docker_host_tcp),
		cmocka_unit_test(test_incident2_logs_unreadable),
		cmocka_unit_test(test_watch_latency_crashloop_restart),
		cmocka_unit_test(test_remove_guarded),
		cmocka_unit_test(test_nothing_left),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
