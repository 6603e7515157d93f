/* fmh_faults: the fault tests' shared parts (see fmh_faults.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fmh_faults.h"

#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_uplink.h"
#include "fm_loop.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int fmh_fault_setup(struct fmh_fault *f)
{
	memset(f, 0, sizeof(*f));
	int rc;
	if ((rc = fmh_incident1_start(&f->node)) < 0 || (rc = fmh_tmpdir(f->dir, sizeof(f->dir))) < 0 ||
	    (rc = fmh_controller_start(&f->ctl, false)) < 0)
		return rc;
	snprintf(f->log, sizeof(f->log), "%s/agent.log", f->dir);
	return 0;
}

int fmh_fault_teardown(struct fmh_fault *f)
{
	int rc = f->node.dk.dir[0] ? fmh_incident1_stop(&f->node) : 0;
	fmh_cleanup();
	return rc < 0 ? -1 : 0;
}

void fmh_fault_spawn(struct fmh_fault *f, const char *etcd_url)
{
	char hex[128], psk[PATH_MAX], conf[PATH_MAX + 16], state[PATH_MAX + 16];
	fmh_hex(FMH_KEY_A, hex, sizeof(hex));
	fmh_psk_file(f->dir, "psk", hex, psk, sizeof(psk));
	snprintf(state, sizeof(state), "%s/state", f->dir);
	snprintf(conf, sizeof(conf), "%s/fleetmedic.conf", f->dir);
	FILE *c = fopen(conf, "w");
	assert_non_null(c);
	fprintf(c, "controller = %s\npsk-identity = %s\npsk-file = %s\nstate-dir = %s\n", f->ctl.url, FMH_NODE_A, psk,
		state);
	fclose(c);
	const char *args[40] = {fmh_agent(),	"run",	    "--config", conf, "--heartbeat", "2s",
				"--hold",	"1s",	    "--collect-interval", "1s"};
	int n = 10, m = fmh_incident1_args(&f->node, f->node.jdir, f->node.refusing, args + n, 40 - n);
	assert_true(m > 0);
	for (int i = n; etcd_url && i < n + m; i++)
		if (strcmp(args[i], "--etcd") == 0)
			args[i + 1] = etcd_url;
	for (int i = 0; i < 12 && f->extra[i] && n + m + i < 39; i++)
		args[n + m + i] = f->extra[i];
	f->agent = fmh_spawn(args, f->log);
	assert_true(f->agent > 0);
	if (fmh_wait_log_pid(f->log, "reporting to", f->agent, 15000) < 0)
		fail_msg("the agent did not start; its log is %s", f->log);
}

void fmh_fault_agent(struct fmh_fault *f)
{
	fmh_fault_spawn(f, NULL);
	fmh_fault_wait(f, "apiserver-unreachable", "critical", 20000);
}

long fmh_fault_wait(struct fmh_fault *f, const char *code, const char *sev, uint64_t limit_ms)
{
	long ms = fmh_controller_wait(&f->ctl, FMH_NODE_A, code, sev, limit_ms);
	if (ms < 0) {
		fmh_print_tail(f->log); /* the dir goes at cleanup: CI keeps what is printed */
		fail_msg("after %llu ms the controller %s %s%s (the agent's log: %s)", (unsigned long long)limit_ms,
			 sev[0] ? "has no" : "still holds", sev, code, f->log);
	}
	return ms;
}

static bool holds(const cJSON *show, const char *code, const char *needle)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(show, "diagnoses"))
	{
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "code"));
		const char *sev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "severity"));
		const char *sum = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "summary"));
		if (c && sev && sum && strcmp(c, code) == 0 && strcmp(sev, "critical") == 0 && strstr(sum, needle))
			return true;
	}
	return false;
}

long fmh_fault_wait_summary(struct fmh_fault *f, const char *code, const char *needle, uint64_t limit_ms)
{
	uint64_t t0 = fm_now_ms();
	for (;;) {
		int status;
		cJSON *show = fmh_controller_json(&f->ctl, &status, "show", FMH_NODE_A, NULL);
		bool found = holds(show, code, needle);
		cJSON_Delete(show);
		uint64_t ms = fm_now_ms() - t0;
		if (found)
			return (long)ms;
		if (ms > limit_ms) {
			fmh_print_tail(f->log); /* the dir goes at cleanup: CI keeps what is printed */
			/* what the controller holds, and the agent's container facts */
			cJSON *j = fmh_controller_json(&f->ctl, &status, "show", FMH_NODE_A, NULL);
			char *t = j ? cJSON_Print(j) : NULL;
			fprintf(stderr, "--- show %s ---\n%s\n", FMH_NODE_A, t ? t : "(nothing)");
			free(t);
			cJSON_Delete(j);
			j = fmh_controller_json(&f->ctl, &status, "triage", FMH_NODE_A, "facts", "docker.", "--timeout",
						"20s", NULL);
			t = j ? cJSON_Print(j) : NULL;
			fprintf(stderr, "--- the agent's docker facts ---\n%s\n", t ? t : "(nothing)");
			free(t);
			cJSON_Delete(j);
			fail_msg("after %llu ms the controller has no critical %s naming %s (the agent's log: %s)",
				 (unsigned long long)limit_ms, code, needle, f->log);
		}
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

void fmh_fault_alive(struct fmh_fault *f)
{
	siginfo_t si = {0};
	/* WNOWAIT: the harness reaps it at fmh_stop, with its status. */
	if (waitid(P_PID, (id_t)f->agent, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == f->agent)
		fail_msg("the agent exited (code %d, status %d); its log is %s", si.si_code, si.si_status, f->log);
	/* run never waits inside a callback (issue 21): the loop's refusal
	 * would be a source that still tries. */
	if (fmh_wait_log_pid(f->log, "run from inside a callback", 0, 0) == 0 ||
	    fmh_wait_log_pid(f->log, "refused: a blocking request", 0, 0) == 0)
		fail_msg("the agent tried to wait inside a loop callback; its log is %s", f->log);
}

int fmh_proc_sample(pid_t pid, struct fmh_proc *p)
{
	char path[64], link[PATH_MAX], line[512];
	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		ssize_t n = readlinkat(dfd, e->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue; /* closed meanwhile */
		link[n] = '\0';
		p->fds++;
		if (n > 10 && strcmp(link + n - 10, " (deleted)") == 0)
			p->deleted++;
	}
	closedir(d);
	/* the opendir's own fd is not the process's: /proc/PID/fd is read
	 * from outside */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			p->rss_kb = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "RssAnon:", 8) == 0)
			p->anon_kb = strtol(line + 8, NULL, 10);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -errno;
	char *s = fgets(line, sizeof(line), f);
	fclose(f);
	/* comm may hold spaces and parentheses: fields after the last ')' */
	char *r = s ? strrchr(s, ')') : NULL;
	unsigned long ut = 0, st = 0;
	if (!r || sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -EPROTO;
	long hz = sysconf(_SC_CLK_TCK);
	p->cpu_ms = (long)((ut + st) * 1000 / (unsigned long)(hz > 0 ? hz : 100));
	return 0;
}

struct fmh_proc fmh_fault_settled(struct fmh_fault *f)
{
	struct fmh_proc best = {.fds = 1 << 30}, p;
	for (int i = 0; i < 30; i++) {
		if (fmh_proc_sample(f->agent, &p) < 0)
			fail_msg("the agent is gone; its log is %s", f->log);
		if (p.fds < best.fds)
			best = p;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return best;
}

long long fmh_fault_match_count(struct fmh_fault *f, const char *id_part)
{
	int status;
	cJSON *j = fmh_controller_json(&f->ctl, &status, "triage", FMH_NODE_A, "facts", "journal.match", "--timeout",
				       "20s", NULL);
	/* --json: {"code":"2.05","payload":"<the agent's answer, JSON text>"} */
	cJSON *facts = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "payload")));
	long long count = -1;
	const cJSON *fact;
	cJSON_ArrayForEach(fact, facts)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(fact, "id");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(fact, "count");
		if (cJSON_IsString(id) && strstr(id->valuestring, id_part) && cJSON_IsNumber(n))
			count = (long long)n->valuedouble;
	}
	if (count < 0) {
		char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
		fprintf(stderr, "triage facts journal.match (exit %d): %.600s\n", status, txt ? txt : "(no JSON)");
		free(txt);
	}
	cJSON_Delete(facts);
	cJSON_Delete(j);
	return count;
}

void fmh_fault_line(const char *test, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("FAULT %s ", test);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

void fmh_fault_k8s_name(char *out, size_t size, const char *container, int attempt)
{
	snprintf(out, size, "k8s_%s_%s-pi-master1_kube-system_%032x_%d", container, container,
		 (unsigned)strlen(container) * 0x1f3u + 0xfa017u, attempt);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

long fmh_median3(const long *v)
{
	long s[3] = {v[0], v[1], v[2]};
	qsort(s, 3, sizeof(s[0]), cmp_long);
	return s[1];
}
