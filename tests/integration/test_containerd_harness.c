/* The harness's private containerd (tests/harness/fmh_containerd) with real
 * parts: Debian's containerd and runc, driven through CRI by the independent
 * client (tests/harness/cri_client.py, stubs from the project's proto). A
 * host-network pod runs; a container's exit code; containerd's own "failed to
 * reserve container name" naming the container that holds it (incident 1 in
 * its containerd form); containerd SIGKILLed under its shims and restarted;
 * and nothing of it outlives fmh_containerd_stop(). */
#include "fmh_check.h"
#include "fmh_containerd.h"
#include "fm_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UID	 "1403dda53affdfee1130475a6d9609da"
#define POD	 "kube-apiserver-pi-master1"
#define ETCD_UID "9c5ee5e3ad3f9bd5b1e5a4c9dbd0cb8e"
#define ETCD_POD "etcd-pi-master1"
#define NS	 "kube-system"
#define EXIT_MS	 30000

static struct fmh_containerd ctd;
static char sandbox[65], apiserver[65]; /* the first test's pod and container */

/* Runs cri_client.py with the arguments; its JSON into out. */
#define CRI(out, ...) fmh_containerd_cri(&ctd, out, sizeof(out), __VA_ARGS__, NULL)

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client run that must succeed: its answer parsed (the caller frees). */
static cJSON *cri_ok(int rc, const char *out)
{
	if (rc != 0) {
		fmh_containerd_print_log_tail(&ctd);
		fail_msg("cri_client.py: exit %d: %s", rc, out);
	}
	cJSON *j = cJSON_Parse(out);
	if (!j)
		fail_msg("cri_client.py: not JSON: %s", out);
	return j;
}

/* The "id" of a runp or create answer into id. */
static void id_of(int rc, const char *out, char id[65])
{
	cJSON *j = cri_ok(rc, out);
	snprintf(id, 65, "%s", fmh_jstr(j, "id"));
	cJSON_Delete(j);
	assert_int_equal(strlen(id), 64);
}

/* CRI has no wait: polls the container's status until it has exited. */
static cJSON *wait_exited(const char *id)
{
	char out[8192];
	long long deadline = now_ms() + EXIT_MS;
	for (;;) {
		cJSON *j = cri_ok(CRI(out, "inspect", id), out);
		if (strcmp(fmh_jstr(j, "state"), "CONTAINER_EXITED") == 0)
			return j;
		cJSON_Delete(j);
		if (now_ms() > deadline) {
			fmh_containerd_print_log_tail(&ctd);
			fail_msg("container %s has not exited in %d ms: %s", id, EXIT_MS, out);
		}
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
}

/* The pod of that id in `pods`, or NULL (from the parsed list). */
static const cJSON *find_pod(const cJSON *pods, const char *id)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, pods) {
		if (strcmp(fmh_jstr(p, "id"), id) == 0)
			return p;
	}
	return NULL;
}

/* /proc/<pid>/stat after the command's ")": "S ppid ...", or "". */
static const char *stat_of(pid_t pid, char *buf, size_t size)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return "";
	size_t n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && strlen(rp) > 4 ? rp + 2 : "";
}

/* Running, not merely a zombie. */
static bool alive(pid_t pid)
{
	char buf[512];
	const char *s = stat_of(pid, buf, sizeof(buf));
	return s[0] && s[0] != 'Z';
}

static pid_t ppid_of(pid_t pid)
{
	char buf[512];
	const char *s = stat_of(pid, buf, sizeof(buf));
	return s[0] ? (pid_t)atoi(s + 2) : 0;
}

static void test_version(void **state)
{
	(void)state;
	char out[1024];
	cJSON *j = cri_ok(CRI(out, "version"), out);
	assert_string_equal(fmh_jstr(j, "runtime_name"), "containerd");
	assert_string_equal(fmh_jstr(j, "runtime_api_version"), "v1");
	print_message("containerd %s, snapshotter %s, on %s\n", fmh_jstr(j, "runtime_version"),
		      ctd.snapshotter, ctd.endpoint);
	cJSON_Delete(j);
	/* The image is CRI's too (the sandbox image: no pull, no registry). */
	assert_int_equal(CRI(out, "images"), 0);
	assert_non_null(strstr(out, "\"" FMH_CONTAINERD_IMAGE "\""));
}

/* A host-network pod, its apiserver exiting 3; kubelet creating the same
 * attempt again meets containerd's name reservation, which names the
 * container that holds the name. */
static void test_exit_code_and_reserved_name(void **state)
{
	(void)state;
	char out[8192];
	id_of(CRI(out, "runp", POD, NS, UID, "0"), out, sandbox);
	cJSON *pods = cri_ok(CRI(out, "pods"), out);
	const cJSON *p = find_pod(pods, sandbox);
	assert_non_null(p);
	assert_string_equal(fmh_jstr(p, "state"), "SANDBOX_READY");
	assert_string_equal(fmh_jstr(fmh_field(p, "metadata"), "name"), POD);
	assert_string_equal(fmh_jstr(fmh_field(p, "labels"), "io.kubernetes.pod.uid"), UID);
	cJSON_Delete(pods);
	cJSON *ps = cri_ok(CRI(out, "inspectp", sandbox), out);
	const cJSON *nso = fmh_field(fmh_field(fmh_field(ps, "linux"), "namespaces"), "options");
	assert_string_equal(fmh_jstr(nso, "network"), "NODE");
	cJSON_Delete(ps);

	id_of(CRI(out, "create", sandbox, "kube-apiserver", "3", "sh", "-c", "echo up; exit 3"),
	      out, apiserver);
	assert_int_equal(CRI(out, "start", apiserver), 0);
	cJSON *st = wait_exited(apiserver);
	assert_int_equal((int)fmh_jnum(st, "exit_code"), 3);
	assert_string_equal(fmh_jstr(fmh_field(st, "metadata"), "name"), "kube-apiserver");
	assert_int_equal((int)fmh_jnum(fmh_field(st, "metadata"), "attempt"), 3);
	assert_string_equal(fmh_jstr(fmh_field(st, "labels"), "io.kubernetes.pod.name"), POD);
	cJSON_Delete(st);

	/* The same name and attempt again: refused by containerd itself. */
	int rc = CRI(out, "create", sandbox, "kube-apiserver", "3", "true");
	assert_int_equal(rc, 1);
	cJSON *e = cJSON_Parse(out);
	assert_non_null(e);
	const char *details = fmh_jstr(fmh_field(e, "error"), "details");
	print_message("containerd said: %s\n", details);
	assert_string_equal(fmh_jstr(fmh_field(e, "error"), "code"), "UNKNOWN");
	assert_non_null(strstr(details, "failed to reserve container name \"kube-apiserver_" POD
					"_" NS "_" UID "_3\""));
	char held[128];
	snprintf(held, sizeof(held), "is reserved for \"%s\"", apiserver);
	assert_non_null(strstr(details, held));
	cJSON_Delete(e);
}

/* containerd SIGKILLed: its shims and the pod live on, the endpoint is
 * down; restarted on the same dirs it finds them again. */
static void test_kill_restart(void **state)
{
	(void)state;
	char out[8192], pod[65], ctr[65];
	pid_t shim, init, cshim, cinit;
	id_of(CRI(out, "runp", ETCD_POD, NS, ETCD_UID, "1"), out, pod);
	id_of(CRI(out, "create", pod, "etcd", "1", "sleep", "1000"), out, ctr);
	assert_int_equal(CRI(out, "start", ctr), 0);
	assert_int_equal(fmh_containerd_task_pids(&ctd, pod, &shim, &init), 0);
	assert_int_equal(fmh_containerd_task_pids(&ctd, ctr, &cshim, &cinit), 0);
	assert_true(shim > 1 && init > 1 && cinit > 1);
	assert_int_equal(cshim, shim); /* one shim per pod */
	/* The shim daemonized: it is ours as the subreaper's. */
	assert_int_equal(ppid_of(shim), getpid());

	assert_int_equal(fmh_containerd_kill(&ctd), 0);
	assert_true(alive(shim));
	assert_true(alive(init));
	assert_true(alive(cinit));
	int rc = CRI(out, "pods");
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "UNAVAILABLE"));

	assert_int_equal(fmh_containerd_restart(&ctd), 0);
	cJSON *pods = cri_ok(CRI(out, "pods"), out);
	const cJSON *p = find_pod(pods, pod);
	assert_non_null(p);
	assert_string_equal(fmh_jstr(p, "state"), "SANDBOX_READY");
	assert_non_null(find_pod(pods, sandbox)); /* the first test's pod too */
	cJSON_Delete(pods);
	cJSON *st = cri_ok(CRI(out, "inspect", ctr), out);
	assert_string_equal(fmh_jstr(st, "state"), "CONTAINER_RUNNING");
	cJSON_Delete(st);
	/* The restarted containerd still drives them: the container stops. */
	assert_int_equal(CRI(out, "stop", ctr, "0"), 0);
	st = wait_exited(ctr);
	assert_int_equal((int)fmh_jnum(st, "exit_code"), 137);
	cJSON_Delete(st);
	assert_true(alive(shim)); /* the pod's sandbox still runs */
}

/* Last: stopping leaves no process, mount or cgroup of it behind, though
 * a pod and a running container are there to clean. */
static void test_stop_leaves_nothing(void **state)
{
	(void)state;
	char out[8192], pod[65], ctr[65], dir[PATH_MAX];
	pid_t shim, init, cshim, cinit, cpid = ctd.pid;
	id_of(CRI(out, "runp", "kube-scheduler-pi-master1", NS, "5b0e", "0"), out, pod);
	id_of(CRI(out, "create", pod, "kube-scheduler", "0", "sleep", "1000"), out, ctr);
	assert_int_equal(CRI(out, "start", ctr), 0);
	assert_int_equal(fmh_containerd_task_pids(&ctd, pod, &shim, &init), 0);
	assert_int_equal(fmh_containerd_task_pids(&ctd, ctr, &cshim, &cinit), 0);
	snprintf(dir, sizeof(dir), "%s", ctd.dir);
	/* The checks see what there is: containerd, shims, containers; rootfs
	 * mounts; the pods' cgroups. */
	assert_true(fmh_containerd_leftover_procs(dir) >= 4);
	assert_true(fmh_containerd_leftover_mounts(dir) > 0);
	assert_true(fmh_containerd_leftover_cgroups(dir) > 0);

	assert_int_equal(fmh_containerd_stop(&ctd), 0);
	assert_int_equal(fmh_containerd_leftover_procs(dir), 0);
	assert_int_equal(fmh_containerd_leftover_mounts(dir), 0);
	assert_int_equal(fmh_containerd_leftover_cgroups(dir), 0);
	const pid_t gone[] = {cpid, shim, init, cinit};
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (kill(gone[i], 0) == 0 || errno != ESRCH)
			fail_msg("pid %d is still there", (int)gone[i]);
	assert_int_equal(fmh_containerd_stop(&ctd), 0); /* twice is fine */
}

int main(void)
{
	fmh_init();
	if (fmh_containerd_start(&ctd) < 0) {
		fprintf(stderr, "cannot start containerd\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_exit_code_and_reserved_name),
		cmocka_unit_test(test_kill_restart),
		cmocka_unit_test(test_stop_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
