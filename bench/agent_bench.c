/* agent_bench: what `fleetmedic-agent run` itself costs the node (issue 10
 * items 1, 2 and 7), on a healthy incident-1 node built from the harness's
 * real parts: etcd over mTLS and kubeadm's PKI, a private dockerd running
 * the apiserver pod's containers (_24 and its sandbox _17), journal files
 * written by systemd-journal-remote, the apiserver TLS stand-in, the real
 * /dev/kmsg, the board (hal) under the node's root, and a real
 * `fleetmedic-controller serve` (DTLS-PSK) every agent reports to.
 *
 *   agent_bench [--agents N] [--steady S] [--burst E] [--windows W]
 *               [--window S] [--startup R] AGENT CONTROLLER
 *
 * In this order, printing one line per figure on stdout (progress on
 * stderr):
 *   startup: R times each, `run` with every source on and `run` with
 *     nothing configured (an empty root and journal directory, no kernel
 *     log; only the controller), one after the other, each with
 *     NOTIFY_SOCKET set to a datagram socket bound here: the time from just
 *     before fork+exec to the datagram holding READY=1; the agent is
 *     stopped after each.
 *       "startup full|empty RUN MS"
 *   memory: N agents (default 3, each its own identity and state dir, at
 *     most 3) run side by side on the node, with the defaults (collection
 *     every 10 s, heartbeat 120 s) but --save-interval 0 (the persisted
 *     cursor below is how an agent is seen to have read to the end). For S
 *     seconds (60) a trickle of 5
 *     kubelet entries every 2 s goes to the journal; then, once every agent
 *     has read the last entry (its persisted cursor in journal.state is the
 *     journal's last one) and the controller lists every node:
 *       "mem steady AGENT VmRSS Private_Dirty RssAnon RssFile" (kB)
 *       "map steady AGENT NAME Rss Private_Dirty" (kB; smaps per mapping,
 *        grouped by name: a file's basename, [heap], [stack], [anon] ...)
 *   idle: nothing written to any of the node's parts; W windows (3) of S
 *     seconds (60); per window and agent, from /proc/PID/stat (utime +
 *     stime, in clock ticks), /proc/PID/task/TID/status (voluntary and
 *     nonvoluntary context switches, every thread) and
 *     /proc/PID/task/TID/schedstat (ns on a CPU):
 *       "idle AGENT WINDOW SECONDS TICKS HZ CSW CPU_NS"
 *   burst: E kubelet entries (100000) appended in one go; once every agent
 *     has read the last of them (its persisted cursor, as above; the
 *     milliseconds from the end of the append): the same "mem burst" and
 *     "map burst" lines, and "burst AGENT ENTRIES MS".
 * Every figure comes from an agent still running (checked); nothing is
 * asserted against a goal. Everything started is stopped by pid and every
 * directory removed (the harness's cleanup), also on failure or a signal.
 * Exit status: 0 measured, 1 something failed (said on stderr), 2 usage.
 */
#include "bench_proc.h"
#include "fm_harness.h"
#include "fm_loop.h"
#include "fm_state.h"
#include "fmh_check.h"
#include "fmh_controller.h"
#include "fmh_incident.h"
#include "fmh_journal.h"
#include "fmh_standin.h"
#include "fmh_uplink.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_AGENTS 3
#define READY_LIMIT_MS 20000
#define TRICKLE_EVERY_S 2
#define TRICKLE_ENTRIES 5

static const char *const nodes[MAX_AGENTS] = {FMH_NODE_A, FMH_NODE_B, FMH_NODE_C};
static const char *const keys[MAX_AGENTS] = {FMH_KEY_A, FMH_KEY_B, FMH_KEY_C};

static struct fmh_incident1 node;
static struct fmh_standin api;
static struct fmh_controller ctl;
static char dir[PATH_MAX];   /* psk files, state dirs, notify sockets, logs */
static char empty[PATH_MAX]; /* "nothing configured": root and journal dir */

struct agent {
	pid_t pid;
	char state[PATH_MAX + 16];
	char log[PATH_MAX + 16];
};

static int fail(const char *what)
{
	fprintf(stderr, "agent_bench: %s\n", what);
	fmh_incident1_stop(&node);
	fmh_standin_stop(&api);
	fmh_cleanup();
	return 1;
}

/* A datagram socket bound at dir/notify-NAME for the agent's sd_notify. The
 * fd, or -errno. */
static int notify_socket(const char *name, char *path, size_t size)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int n = snprintf(path, size, "%s/notify-%s", dir, name);
	if (n < 0 || (size_t)n >= size || (size_t)n >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, (size_t)n + 1);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Waits on fd for a datagram with a READY=1 line, up to limit_ms after
 * t0_us; the microseconds from t0_us to its arrival, or -ETIMEDOUT, or
 * -ESRCH when pid exited first. */
static int64_t wait_ready(int fd, uint64_t t0_us, pid_t pid, int limit_ms)
{
	char buf[4096];
	for (;;) {
		uint64_t now = fm_now_us();
		int64_t left = (int64_t)t0_us + (int64_t)limit_ms * 1000 - (int64_t)now;
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		/* wake every 100 ms to notice an agent that exited */
		int rc = poll(&p, 1, left > 100000 ? 100 : (int)(left / 1000) + 1);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0) {
			char st[64];
			snprintf(st, sizeof(st), "/proc/%d", (int)pid);
			if (access(st, F_OK) < 0)
				return -ESRCH;
			continue;
		}
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		uint64_t at = fm_now_us();
		if (n < 0)
			continue;
		buf[n] = '\0';
		for (char *l = buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
			if (strncmp(l, "READY=1", 7) == 0 && (l[7] == '\n' || l[7] == '\0'))
				return (int64_t)(at - t0_us);
	}
}

/* The agent's arguments: run, reporting as node i to the controller, with
 * every source of the node on (full) or nothing configured. */
static int agent_args(int i, bool full, const char *state, const char **argv, int max)
{
	static char psk[MAX_AGENTS][PATH_MAX];
	if (!psk[i][0]) {
		char hex[128], name[16];
		fmh_hex(keys[i], hex, sizeof(hex));
		snprintf(name, sizeof(name), "psk-%d", i);
		fmh_psk_file(dir, name, hex, psk[i], sizeof(psk[i]));
	}
	int n = 0;
	/* --save-interval 0: journal.state written after every batch, as
	 * before the 30-minute default (issue 27 item 4), so its cursor tells
	 * when an agent has read to the journal's end; the idle windows write
	 * nothing either way */
	const char *head[] = {fmh_agent(), "run", "--controller", ctl.url, "--psk-identity", nodes[i],
			      "--psk-file", psk[i], "--state-dir", state, "--save-interval", "0"};
	for (size_t k = 0; k < sizeof(head) / sizeof(head[0]); k++)
		argv[n++] = head[k];
	if (full) {
		int m = fmh_incident1_args(&node, node.jdir, api.url, argv + n, max - n - 2);
		if (m < 0)
			return m;
		n += m;
		argv[n++] = "--kmsg"; /* the harness's "none" overridden: the real one */
		argv[n++] = "/dev/kmsg";
	} else {
		const char *none[] = {"--root", empty, "--journal-dir", empty, "--kmsg", "none"};
		for (size_t k = 0; k < sizeof(none) / sizeof(none[0]); k++)
			argv[n++] = none[k];
	}
	argv[n] = NULL;
	return n;
}

/* Starts agent i (full or not) with a fresh state dir named tag, NOTIFY_SOCKET
 * set; waits for READY=1. The microseconds from just before the spawn, or
 * -errno. */
static int64_t agent_start(struct agent *a, int i, bool full, const char *tag)
{
	char sock[PATH_MAX + 16];
	snprintf(a->state, sizeof(a->state), "%s/state-%s", dir, tag);
	snprintf(a->log, sizeof(a->log), "%s/agent-%s.log", dir, tag);
	const char *argv[48];
	if (agent_args(i, full, a->state, argv, 48) < 0)
		return -ENOSPC;
	int fd = notify_socket(tag, sock, sizeof(sock));
	if (fd < 0)
		return fd;
	setenv("NOTIFY_SOCKET", sock, 1);
	uint64_t t0 = fm_now_us();
	a->pid = fmh_spawn(argv, a->log);
	unsetenv("NOTIFY_SOCKET");
	int64_t us = a->pid < 0 ? (int64_t)a->pid : wait_ready(fd, t0, a->pid, READY_LIMIT_MS);
	close(fd);
	unlink(sock);
	if (us < 0)
		fprintf(stderr, "agent_bench: agent %s: no READY=1 (%s); its log is %s\n", tag, strerror((int)-us),
			a->log);
	return us;
}

/* The journal's last cursor (journalctl --show-cursor) into out. 0 or -errno. */
static int journal_tail(char *out, size_t size)
{
	const char *argv[] = {"journalctl", "--directory", node.jdir, "-n", "1", "-o", "cat", "--show-cursor",
			      "-q", "--no-pager", NULL};
	static char buf[65536];
	int st;
	int rc = fmh_run(argv, buf, sizeof(buf), &st, 10000);
	if (rc < 0)
		return rc;
	const char *c = strstr(buf, "-- cursor: ");
	if (st != 0 || !c)
		return -EPROTO;
	c += strlen("-- cursor: ");
	size_t n = strcspn(c, "\n");
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(out, c, n);
	out[n] = '\0';
	return 0;
}

static bool running(pid_t pid)
{
	char p[64], buf[512];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *r = strrchr(buf, ')');
	return r && r[1] == ' ' && r[2] != 'Z' && r[2] != 'X';
}

/* Waits until every agent's persisted cursor is the journal's last one,
 * asking every 20 ms, up to limit_ms. The ms it took, or -errno. */
static long wait_read(struct agent *ag, int n, long limit_ms)
{
	char tail[512];
	int rc = journal_tail(tail, sizeof(tail));
	if (rc < 0)
		return rc;
	uint64_t t0 = fm_now_ms();
	for (int i = 0; i < n; i++) {
		for (;;) {
			cJSON *st = fm_state_read_json(ag[i].state, "journal.state", &rc);
			const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "cursor"));
			bool done = c && strcmp(c, tail) == 0;
			cJSON_Delete(st);
			if (done)
				break;
			if (!running(ag[i].pid)) {
				fprintf(stderr, "agent_bench: agent %s exited; its log is %s\n", nodes[i], ag[i].log);
				return -ESRCH;
			}
			if ((long)(fm_now_ms() - t0) > limit_ms) {
				fprintf(stderr, "agent_bench: agent %s did not read the journal to its end in %ld ms\n",
					nodes[i], limit_ms);
				return -ETIMEDOUT;
			}
			usleep(20000);
		}
	}
	return (long)(fm_now_ms() - t0);
}

/* The value of "key:" in the /proc file of pid, or -1. */
static long proc_kb(pid_t pid, const char *file, const char *key)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, file);
	return fmh_proc_kb(p, key);
}

struct mapping {
	char name[64];
	long rss, pd;
};

/* smaps grouped by mapping name, the largest Rss first: "map" lines. */
static int print_maps(const char *phase, int i, pid_t pid)
{
	static struct mapping m[256];
	int nm = 0;
	char p[64], line[1024];
	snprintf(p, sizeof(p), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -errno;
	struct mapping *cur = NULL;
	while (fgets(line, sizeof(line), f)) {
		if (isxdigit(line[0]) && strchr(line, '-') && strchr(line, '-') < strchr(line, ' ')) {
			/* address perms offset dev inode [name] */
			char *s = line;
			for (int field = 0; field < 5 && s; field++) {
				s = strchr(s, ' ');
				while (s && *s == ' ')
					s++;
			}
			char name[64];
			if (!s || !*s || *s == '\n') {
				snprintf(name, sizeof(name), "[anon]");
			} else {
				s[strcspn(s, "\n")] = '\0';
				const char *b = s[0] == '/' ? strrchr(s, '/') + 1 : s;
				snprintf(name, sizeof(name), "%s", b);
			}
			cur = NULL;
			for (int k = 0; k < nm && !cur; k++)
				if (strcmp(m[k].name, name) == 0)
					cur = &m[k];
			if (!cur && nm < (int)(sizeof(m) / sizeof(m[0]))) {
				cur = &m[nm++];
				snprintf(cur->name, sizeof(cur->name), "%s", name);
				cur->rss = cur->pd = 0;
			}
		} else if (cur && strncmp(line, "Rss:", 4) == 0) {
			cur->rss += strtol(line + 4, NULL, 10);
		} else if (cur && strncmp(line, "Private_Dirty:", 14) == 0) {
			cur->pd += strtol(line + 14, NULL, 10);
		}
	}
	fclose(f);
	for (int a = 0; a < nm; a++) /* few entries: a selection sort */
		for (int b = a + 1; b < nm; b++)
			if (m[b].rss > m[a].rss) {
				struct mapping t = m[a];
				m[a] = m[b];
				m[b] = t;
			}
	for (int k = 0; k < nm; k++)
		if (m[k].rss > 0)
			printf("map %s %s %s %ld %ld\n", phase, nodes[i], m[k].name, m[k].rss, m[k].pd);
	return 0;
}

static int print_mem(const char *phase, struct agent *ag, int n)
{
	for (int i = 0; i < n; i++) {
		long rss = proc_kb(ag[i].pid, "status", "VmRSS"), pd = proc_kb(ag[i].pid, "smaps_rollup", "Private_Dirty"),
		     anon = proc_kb(ag[i].pid, "status", "RssAnon"), file = proc_kb(ag[i].pid, "status", "RssFile");
		if (!running(ag[i].pid) || rss <= 0 || pd < 0 || anon < 0 || file < 0) {
			fprintf(stderr, "agent_bench: agent %s: no memory figures (exited?); its log is %s\n", nodes[i],
				ag[i].log);
			return -ESRCH;
		}
		printf("mem %s %s %ld %ld %ld %ld\n", phase, nodes[i], rss, pd, anon, file);
		if (print_maps(phase, i, ag[i].pid) < 0)
			return -ESRCH;
	}
	fflush(stdout);
	return 0;
}

struct cost {
	unsigned long long ticks, csw, ns;
};

/* The process's CPU time and context switches, every thread. 0 or -errno. */
static int cost_of(pid_t pid, struct cost *c)
{
	char p[PATH_MAX], buf[1024];
	*c = (struct cost){0};
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after "(comm)": state is field 3, utime 14, stime 15 */
	const char *s = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EPROTO;
	c->ticks = ut + st;
	snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
	DIR *d = opendir(p);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char t[PATH_MAX];
		snprintf(t, sizeof(t), "task/%s/status", e->d_name);
		long v = proc_kb(pid, t, "voluntary_ctxt_switches"), nv = proc_kb(pid, t, "nonvoluntary_ctxt_switches");
		if (v >= 0 && nv >= 0)
			c->csw += (unsigned long long)(v + nv);
		snprintf(t, sizeof(t), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		FILE *g = fopen(t, "r");
		unsigned long long ns;
		if (g && fscanf(g, "%llu", &ns) == 1)
			c->ns += ns;
		if (g)
			fclose(g);
	}
	closedir(d);
	return 0;
}

/* Appends count routine kubelet entries to the node's journal. 0 or -errno. */
static int journal_write(size_t count)
{
	char *text = fmh_journal_kubelet_text(count, 0, node.id24);
	if (!text)
		return -ENOMEM;
	int rc = fmh_journal_append(node.jfile, text);
	free(text);
	if (rc < 0)
		fprintf(stderr, "agent_bench: appending %zu entries to %s: %s\n", count, node.jfile, strerror(-rc));
	return rc;
}

/* Whether the controller lists every one of the n nodes. */
static bool fleet_has(int n)
{
	int status;
	cJSON *j = fmh_controller_json(&ctl, &status, "nodes", NULL);
	int found = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, j) /* `nodes --json`: an array of nodes */
	{
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "node"));
		for (int i = 0; i < n && name; i++)
			if (strcmp(name, nodes[i]) == 0)
				found++;
	}
	cJSON_Delete(j);
	return found == n;
}

static void usage(void)
{
	fprintf(stderr, "usage: agent_bench [--agents N] [--steady S] [--burst E] [--windows W] [--window S]\n"
			"                   [--startup R] AGENT CONTROLLER\n");
}

int main(int argc, char **argv)
{
	long agents = MAX_AGENTS, steady = 60, burst = 100000, windows = 3, window = 60, startup = 10;
	static const struct option lo[] = {{"agents", required_argument, NULL, 'a'},
					   {"steady", required_argument, NULL, 's'},
					   {"burst", required_argument, NULL, 'b'},
					   {"windows", required_argument, NULL, 'w'},
					   {"window", required_argument, NULL, 'W'},
					   {"startup", required_argument, NULL, 'r'},
					   {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		long *v = NULL;
		switch (c) {
		case 'a': v = &agents; break;
		case 's': v = &steady; break;
		case 'b': v = &burst; break;
		case 'w': v = &windows; break;
		case 'W': v = &window; break;
		case 'r': v = &startup; break;
		}
		char *end;
		if (!v || (*v = strtol(optarg, &end, 10), *end) || *v < 0 || *v > 10000000) {
			usage();
			return 2;
		}
	}
	if (argc - optind != 2 || agents < 1 || agents > MAX_AGENTS || window < 1 || steady < 1) {
		usage();
		return 2;
	}
	setenv("FM_AGENT", argv[optind], 1);
	setenv("FM_CONTROLLER", argv[optind + 1], 1);
	unsetenv("DOCKER_HOST"); /* "nothing configured" must not find one */
	if (geteuid() != 0) {
		fprintf(stderr, "agent_bench: run as root (a private dockerd, etcd, /dev/kmsg)\n");
		return 2;
	}
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 || fmh_tmpdir(empty, sizeof(empty)) < 0)
		return fail("temporary directories");
	fprintf(stderr, "agent_bench: starting the node (etcd, dockerd, journal, stand-in, controller)\n");
	if (fmh_incident1_start(&node) < 0)
		return fail("starting the node (etcd, dockerd, journal)");
	if (fmh_standin_start(&api, node.root, "healthy", NULL) < 0)
		return fail("starting the apiserver stand-in");
	if (fmh_controller_start(&ctl, false) < 0)
		return fail("starting the controller");

	/* startup: one agent at a time, a fresh state dir each */
	for (long r = 0; r < startup; r++) {
		for (int full = 1; full >= 0; full--) {
			struct agent a;
			char tag[32];
			snprintf(tag, sizeof(tag), "start-%s-%ld", full ? "full" : "empty", r);
			int64_t us = agent_start(&a, 0, full, tag);
			if (us < 0)
				return fail("startup: an agent did not say READY=1");
			if (fmh_stop(a.pid) < 0)
				return fail("startup: stopping the agent");
			printf("startup %s %ld %.3f\n", full ? "full" : "empty", r, (double)us / 1000.0);
			fflush(stdout);
		}
	}

	/* memory and idle: the agents side by side */
	struct agent ag[MAX_AGENTS];
	for (int i = 0; i < agents; i++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "run-%d", i);
		if (agent_start(&ag[i], i, true, tag) < 0)
			return fail("an agent did not start");
	}
	fprintf(stderr, "agent_bench: %ld agents running; %ld s of journal trickle\n", agents, steady);
	uint64_t t0 = fm_now_ms();
	/* the trickle's schedule is the workload, not a wait for an event */
	for (uint64_t next = t0; next < t0 + (uint64_t)steady * 1000; next += TRICKLE_EVERY_S * 1000) {
		uint64_t now = fm_now_ms();
		if (next > now)
			usleep((useconds_t)((next - now) * 1000));
		if (journal_write(TRICKLE_ENTRIES) < 0)
			return fail("writing the journal trickle");
	}
	uint64_t now = fm_now_ms();
	if (now < t0 + (uint64_t)steady * 1000)
		usleep((useconds_t)((t0 + (uint64_t)steady * 1000 - now) * 1000));
	if (wait_read(ag, (int)agents, 30000) < 0)
		return fail("the agents did not read the trickle");
	if (!fleet_has((int)agents))
		return fail("the controller does not list every agent's node");
	if (print_mem("steady", ag, (int)agents) < 0)
		return fail("reading the agents' memory");

	fprintf(stderr, "agent_bench: idle, %ld windows of %ld s\n", windows, window);
	long hz = sysconf(_SC_CLK_TCK);
	for (long w = 0; w < windows; w++) {
		struct cost a[MAX_AGENTS], b[MAX_AGENTS];
		for (int i = 0; i < agents; i++)
			if (cost_of(ag[i].pid, &a[i]) < 0)
				return fail("reading an agent's CPU time");
		uint64_t w0 = fm_now_us();
		/* the window is the measurement, not a wait for an event */
		sleep((unsigned)window);
		double secs = (double)(fm_now_us() - w0) / 1e6;
		for (int i = 0; i < agents; i++) {
			if (!running(ag[i].pid) || cost_of(ag[i].pid, &b[i]) < 0)
				return fail("an agent exited while idle");
			printf("idle %s %ld %.3f %llu %ld %llu %llu\n", nodes[i], w, secs, b[i].ticks - a[i].ticks, hz,
			       b[i].csw - a[i].csw, b[i].ns - a[i].ns);
		}
		fflush(stdout);
	}

	if (burst > 0) {
		fprintf(stderr, "agent_bench: a burst of %ld journal entries\n", burst);
		if (journal_write((size_t)burst) < 0)
			return fail("writing the burst");
		long ms = wait_read(ag, (int)agents, 300000);
		if (ms < 0)
			return fail("the agents did not read the burst");
		for (int i = 0; i < agents; i++)
			printf("burst %s %ld %ld\n", nodes[i], burst, ms);
		if (print_mem("burst", ag, (int)agents) < 0)
			return fail("reading the agents' memory");
	}
	for (int i = 0; i < agents; i++)
		fmh_stop(ag[i].pid);
	fmh_incident1_stop(&node);
	fmh_standin_stop(&api);
	fmh_cleanup();
	return 0;
}
