/* fm_soak: the agent's `run` under mixed activity for SOAK_SECONDS (issue
 * 11, soak). The node is incident 1's real parts (etcd with mTLS, a private
 * dockerd, journal files; fmh_incident1_start), the agent (the ASan+LSan
 * build ctest gives in FM_AGENT) reports over DTLS-PSK to a real
 * `fleetmedic-controller serve`, and every round drives:
 *   - journal entries matching several rules (kubelet's name conflict and
 *     PLEG, docker's "structure needs cleaning", etcd's "took too long",
 *     containerd's "no space left on device") and routine lines,
 *   - container churn in the dockerd: an exited kubelet-named attempt made
 *     every other round, the running apiserver restarted every 5th, the
 *     oldest exited one removed through the controller (`triage NODE rm`,
 *     actions on in the agent's config) once more than 4 stand,
 *   - a triage question through the controller (status, journal, facts,
 *     containers in turn), which paces the rounds: each waits for its answer,
 *   - a SIGHUP every 10th round (waited for in the agent's log).
 * The agent's resident anonymous memory (/proc/PID/status RssAnon: VmRSS
 * also counts the journal files it maps, which grow with what this soak
 * writes; both are printed) is sampled every 3 s; in the ASan build its
 * quarantine is capped at 16 MB so that what grows is the agent's own. At the end: SIGTERM, exit status 0 and no sanitizer report in
 * its log (ASAN_OPTIONS=detect_leaks=1); RSS growth from the end of the
 * warm-up (the first third, at least 20 s) to the end at most 10 % (the
 * medians of 3 samples each; FM_SOAK_GROWTH_MAX sets another bound, "-"
 * none). The figures go to stdout as one line
 * "soak: key=value ..." (bench and make soak print it; build= is
 * $FM_SOAK_BUILD, "asan" by default: bench/b_fuzz.sh runs the optimised
 * agent, whose RSS has no quarantine in it and whose leaks= says nothing).
 */
#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_controller.h"
#include "fmh_faults.h"
#include "fmh_incident.h"
#include "fmh_journal.h"
#include "fmh_node.h"
#include "fmh_uplink.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

#define RSS_MAX 4096

static struct fmh_incident1 node;
static struct fmh_controller ctl;
static char dir[PATH_MAX];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "soak: FAILED: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	fmh_incident1_stop(&node);
	fmh_cleanup();
	exit(1);
}

/* A field of /proc/PID/status in kB ("VmRSS", "RssAnon"), or -1. */
static long status_kb(pid_t pid, const char *field)
{
	char path[64], line[256], fmt[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(fmt, sizeof(fmt), "%s: %%ld kB", field);
	FILE *f = fopen(path, "re");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* The agent's own memory: RssAnon (heap, stacks; with ASan its shadow and
 * quarantine too). VmRSS also counts the file pages it maps, above all
 * the journal files sd-journal reads, which grow with the journal this
 * soak writes: page cache, not the agent's. */
static long rss_kb(pid_t pid)
{
	return status_kb(pid, "RssAnon");
}

/* How many lines of the file hold needle. */
static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	int n = 0;
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return n;
}

static pid_t agent_start(const char *log)
{
	char conf[PATH_MAX + 16];
	if (fmh_node_conf(dir, ctl.url, "heartbeat = 2s\nhold = 1s\ncollect-interval = 1s\n", conf, sizeof(conf)) < 0)
		die("cannot write the agent's config in %s", dir);
	const char *args[40] = {fmh_agent(), "run", "--config", conf};
	int n = 4;
	if (fmh_incident1_args(&node, node.jdir, node.refusing, args + n, 40 - n) < 0)
		die("agent arguments");
	/* LSan on; ASan's quarantine of freed memory capped so that RSS
	 * follows the agent's own use. */
	setenv("ASAN_OPTIONS", "detect_leaks=1:quarantine_size_mb=16:malloc_context_size=8", 1);
	pid_t pid = fmh_spawn(args, log);
	if (pid <= 0 || fmh_wait_log_pid(log, "reporting to", pid, 30000) < 0)
		die("the agent did not start; its log is %s", log);
	return pid;
}

/* Export text of one round's journal entries: rules of several sources. */
static int journal_round(unsigned i, int *entries)
{
	static const struct {
		const char *unit, *ident, *msg;
	} lines[] = {
		{"kubelet.service", "kubelet", "E0322 21:05:40.1 1115805 kubelet.go:2140] PLEG is not healthy: pleg was last seen active 3m0s ago"},
		{"docker.service", "dockerd", "level=error msg=\"Handler for POST /containers/x/start returned error: open /var/lib/docker/overlay2/l/lower: structure needs cleaning\""},
		{"etcd.service", "etcd", "{\"level\":\"warn\",\"msg\":\"apply request took too long\",\"took\":\"1.2s\",\"expected-duration\":\"100ms\"}"},
		{"containerd.service", "containerd", "level=error msg=\"failed to write\" error=\"write /var/lib/containerd/x: no space left on device\""},
	};
	char *text = fmh_journal_kubelet_text(6, 3, node.id24);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text), cap = len + 2048;
	char *all = realloc(text, cap);
	if (!all) {
		free(text);
		return -ENOMEM;
	}
	size_t k = i % (sizeof(lines) / sizeof(lines[0]));
	snprintf(all + len, cap - len, "_TRANSPORT=stdout\n_SYSTEMD_UNIT=%s\nSYSLOG_IDENTIFIER=%s\nPRIORITY=3\nMESSAGE=%s\n\n",
		 lines[k].unit, lines[k].ident, lines[k].msg);
	int rc = fmh_journal_append(node.jfile, all);
	free(all);
	if (rc == 0)
		*entries += 7;
	return rc;
}

/* A triage question through the controller (up to 4 words after the
 * node; NULL ends them); 0 when answered 2.xx. */
static int triage(const char *a, const char *b, const char *c, const char *d)
{
	const char *w[] = {a, b, c, d}, *x[6] = {NULL};
	size_t n = 0;
	for (size_t i = 0; i < 4 && w[i]; i++)
		x[n++] = w[i];
	x[n++] = "--timeout";
	x[n++] = "30s";
	int status = -1;
	cJSON *j = fmh_controller_json(&ctl, &status, "triage", FMH_NODE_A, x[0], x[1], x[2], x[3], x[4], x[5], NULL);
	cJSON_Delete(j);
	return status == 0 ? 0 : -EIO;
}

/* Whether the agent still runs (a zombie has no VmRSS). */
static bool alive(pid_t pid)
{
	return status_kb(pid, "VmRSS") > 0;
}

int main(void)
{
	const char *env = getenv("SOAK_SECONDS");
	long seconds = env ? strtol(env, NULL, 10) : 90;
	if (seconds < 45)
		seconds = 45; /* a 20 s warm-up and 6 samples after it, 3 s apart */
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0)
		die("harness");
	if (fmh_incident1_start(&node) < 0)
		die("incident 1's parts did not start");
	if (fmh_controller_start(&ctl, false) < 0)
		die("the controller did not start");
	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	pid_t agent = agent_start(log);

	uint64_t t0 = fm_now_ms(), end = t0 + (uint64_t)seconds * 1000;
	uint64_t warm = t0 + (uint64_t)(seconds / 3 > 20 ? seconds / 3 : 20) * 1000, next_sample = t0;
	long rss[RSS_MAX], vm[RSS_MAX];
	size_t nrss = 0, warm_at = 0;
	int entries = 0, made = 0, removed = 0, restarts = 0, questions = 0, hups = 0;
	char exited[8][65];
	size_t nexited = 0;
	for (unsigned i = 0; fm_now_ms() < end; i++) {
		if (journal_round(i, &entries) < 0)
			die("round %u: cannot append to the journal", i);
		if (i % 2 == 0 && nexited < 8) {
			char name[160];
			snprintf(name, sizeof(name), "k8s_soak_soak-pi-master1_kube-system_" FMH_I1_UID "_%u", i);
			if (fmh_docker_run_exited(&node.dk, name, exited[nexited], "exit 3") < 0)
				die("round %u: docker run", i);
			nexited++;
			made++;
		}
		if (i % 5 == 4) {
			char path[128], out[1024];
			snprintf(path, sizeof(path), "/containers/%s/restart?t=0", node.id24);
			if (fmh_docker_api_want(&node.dk, "POST", path, 204, out, sizeof(out)) < 0)
				die("round %u: restart: %s", i, out);
			restarts++;
		}
		if (nexited > 4) {
			char id[13];
			snprintf(id, sizeof(id), "%.12s", exited[0]);
			if (triage("rm", id, NULL, NULL) < 0)
				die("round %u: triage rm %s refused", i, id);
			memmove(exited[0], exited[1], (nexited - 1) * sizeof(exited[0]));
			nexited--;
			removed++;
			questions++;
		}
		int rc = i % 4 == 0 ? triage("status", NULL, NULL, NULL)
			 : i % 4 == 1 ? triage("journal", "kubelet", "5", "already in use")
			 : i % 4 == 2 ? triage("facts", "docker.container", NULL, NULL)
				      : triage("containers", NULL, NULL, NULL);
		if (rc < 0)
			die("round %u: a triage question was not answered", i);
		questions++;
		if (i % 10 == 9) {
			int before = count_lines(log, "SIGHUP");
			if (kill(agent, SIGHUP) < 0)
				die("SIGHUP: %s", strerror(errno));
			uint64_t until = fm_now_ms() + 10000;
			while (count_lines(log, "SIGHUP") == before) {
				if (fm_now_ms() > until || !alive(agent))
					die("round %u: no SIGHUP line in %s", i, log);
				nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000}, NULL); /* between looks */
			}
			hups++;
		}
		if (!alive(agent))
			die("the agent died; its log is %s", log);
		if (fm_now_ms() >= next_sample && nrss < RSS_MAX) {
			vm[nrss] = status_kb(agent, "VmRSS");
			rss[nrss++] = rss_kb(agent);
			if (!warm_at && fm_now_ms() >= warm)
				warm_at = nrss - 1;
			next_sample = fm_now_ms() + 3000;
		}
	}
	if (nrss == RSS_MAX)
		nrss--;
	vm[nrss] = status_kb(agent, "VmRSS");
	rss[nrss++] = rss_kb(agent);
	if (!warm_at || nrss < warm_at + 6)
		die("too few RSS samples after the warm-up (%zu, warm-up at %zu)", nrss, warm_at);

	int status = -1;
	uint64_t s0 = fm_now_ms();
	if (fmh_stop_status(agent, &status) < 0)
		die("stopping the agent");
	uint64_t stop_ms = fm_now_ms() - s0;
	int sanitizer = count_lines(log, "Sanitizer");
	int cstatus = -1;
	fmh_controller_stop(&ctl, &cstatus);

	long at_warm = fmh_median3(rss + warm_at), at_end = fmh_median3(rss + nrss - 3), at_max = 0;
	long vm_warm = fmh_median3(vm + warm_at), vm_end = fmh_median3(vm + nrss - 3);
	for (size_t i = 0; i < nrss; i++)
		at_max = rss[i] > at_max ? rss[i] : at_max;
	double growth = at_warm > 0 ? 100.0 * (double)(at_end - at_warm) / (double)at_warm : 100;
	int events = entries + made + removed + restarts + questions + hups;
	printf("soak: seconds=%ld events=%d journal_entries=%d containers_made=%d removed_by_triage=%d restarts=%d "
	       "triage_questions=%d sighups=%d rss_warm_kb=%ld rss_end_kb=%ld rss_max_kb=%ld growth_pct=%.1f "
	       "vmrss_warm_kb=%ld vmrss_end_kb=%ld "
	       "samples=%zu exit=%d stop_ms=%llu leaks=%d controller_exit=%d build=%s\n",
	       seconds, events, entries, made, removed, restarts, questions, hups, at_warm, at_end,
	       at_max, growth, vm_warm, vm_end, nrss, status, (unsigned long long)stop_ms,
	       sanitizer, cstatus, getenv("FM_SOAK_BUILD") ? getenv("FM_SOAK_BUILD") : "asan");
	fflush(stdout);
	if (status != 0 || sanitizer)
		die("the agent exited %d with %d sanitizer line(s); its log is %s", status, sanitizer, log);
	if (cstatus != 0)
		die("the controller exited %d; its log is %s", cstatus, ctl.log);
	/* FM_SOAK_GROWTH_MAX: the bound in percent (10); "-": none, for the
	 * long ASan run of make soak, whose RSS counts ASan's own bookkeeping
	 * (its stack depot and allocator caches grow while the agent's live
	 * heap stays flat: measured with __asan_print_accumulated_stats); the
	 * optimised agent's run holds the bound there. */
	const char *gmax = getenv("FM_SOAK_GROWTH_MAX");
	double bound = gmax && *gmax ? atof(gmax) : 10.0;
	if (!(gmax && strcmp(gmax, "-") == 0) && growth > bound)
		die("RSS grew %.1f %% after the warm-up (%ld -> %ld kB)", growth, at_warm, at_end);
	fmh_incident1_stop(&node);
	fmh_cleanup();
	return 0;
}
