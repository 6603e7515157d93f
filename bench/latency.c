/* latency: detection latency, from a fault injected on incident 1's node
 * (real etcd with mTLS, a real private dockerd, real journal files; the
 * harness's fmh_incident1) to the diagnosis stored by a real
 * `fleetmedic-controller serve`, which `fleetmedic-agent run` reports to
 * over DTLS-PSK on loopback. bench/b_latency.sh runs it and makes the
 * figures.
 *
 * "Stored" is read from the controller's log: after it commits a report it
 * logs each item with the CLOCK_MONOTONIC instant of the commit ("node N:
 * report Q: CODE KEY now critical at monotonic T us"); the injection's
 * instant is this process's clock_gettime(CLOCK_MONOTONIC) just before the
 * fault, on the same machine. The log is only read afterwards (polled), so
 * reading it adds nothing to the figure; what the figure holds beyond the
 * agent and the link is the controller's own logging of the line.
 *
 * Kinds, N injections each, in this order (a later kind's diagnosis would
 * explain an earlier kind's: container-name-conflict explains
 * control-plane-crashloop and etcd-unreachable):
 *   container  SIGKILL, by pid, of the process of a running kube-system
 *              container (kubelet's name, a pod of its own per injection:
 *              three exits of one pod within 10 minutes are a crash loop,
 *              which stays raised by design) -> control-plane-crashloop.
 *              Health back: the exited container removed (kubelet's garbage
 *              collection); waits for the controller's resolve.
 *   cri        the same on a real containerd beside Docker (the harness's
 *              fmh_containerd, the agent given --runtime-endpoint): a
 *              kube-system container's process SIGKILLed by pid ->
 *              control-plane-crashloop, by containerd's exit event. Health
 *              back: the container and its sandbox removed.
 *   etcd       SIGKILL of the harness's etcd by pid -> etcd-unreachable.
 *              Health back: etcd started again, same flags, data and ports;
 *              waits for the resolve.
 *   journal    kubelet's "is already in use by container" line of incident
 *              1 appended to the journal the agent follows (one
 *              systemd-journal-remote run) -> container-name-conflict. The
 *              line names another attempt each time, so each is a fresh
 *              diagnosis (key: the name); the previous one resolves once it
 *              is no longer what kubelet says, which is waited for. Measured
 *              from the start of the append (the writer's own time is
 *              printed apart, "append").
 *
 * Output (stdout): "sample KIND MS" per injection, "append journal MS",
 * "setup hold=… collect=…" and "memory agent VMRSS_KB PRIVATE_DIRTY_KB". Exit 0, or 1 after saying what failed.
 *
 * usage: latency_bench AGENT [N] [KINDS] (env FM_CONTROLLER: the controller)
 */
#include "fm_harness.h"
#include "fmh_containerd.h"
#include "fmh_controller.h"
#include "fmh_docker.h"
#include "fmh_incident.h"
#include "fmh_journal.h"
#include "fmh_latency.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOLD "300ms" /* resolves come quickly; raises never wait for it */

static struct fmh_incident1 node;
static struct fmh_controller ctl;
static char dir[PATH_MAX];
static pid_t agent;
static char agent_log[PATH_MAX + 16];

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "latency: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (agent_log[0]) {
		char cmd[PATH_MAX + 64];
		snprintf(cmd, sizeof(cmd), "tail -n 30 %s >&2", agent_log);
		fprintf(stderr, "--- the agent's log:\n");
		if (system(cmd) < 0)
			fprintf(stderr, "(cannot show it)\n");
		snprintf(cmd, sizeof(cmd), "tail -n 30 %s >&2", ctl.log);
		fprintf(stderr, "--- the controller's log:\n");
		if (system(cmd) < 0)
			fprintf(stderr, "(cannot show it)\n");
	}
	fmh_incident1_stop(&node);
	fmh_cleanup();
	exit(1);
}

/* --- the controller's log ------------------------------------------------ */

static off_t log_at; /* where the lines not looked at yet begin */

static void log_mark(void)
{
	struct stat st;
	log_at = stat(ctl.log, &st) == 0 ? st.st_size : 0;
}

/* Waits (at most limit_ms) for the controller to log, after the mark, that
 * it stored code now in state ("critical", "resolved" ...); the commit's
 * CLOCK_MONOTONIC instant in µs. The mark moves past the line. */
static uint64_t stored(const char *code, const char *state, int limit_ms)
{
	char want_code[96], want_state[48];
	snprintf(want_code, sizeof(want_code), ": %s ", code);
	snprintf(want_state, sizeof(want_state), " now %s at monotonic ", state);
	uint64_t end = mono_us() + (uint64_t)limit_ms * 1000;
	for (;;) {
		FILE *f = fopen(ctl.log, "r");
		if (f && fseeko(f, log_at, SEEK_SET) == 0) {
			char line[1200];
			while (fgets(line, sizeof(line), f)) {
				size_t n = strlen(line);
				if (!n || line[n - 1] != '\n')
					break; /* the rest of it is not written yet */
				log_at += (off_t)n;
				char *s = strstr(line, want_state);
				if (strstr(line, want_code) && s) {
					fclose(f);
					return strtoull(s + strlen(want_state), NULL, 10);
				}
			}
		}
		if (f)
			fclose(f);
		if (mono_us() > end)
			die("the controller did not store %s %s within %d ms", code, state, limit_ms);
		/* The instant is in the line: how soon it is read does not count. */
		usleep(5000);
	}
}

static void sample(const char *kind, uint64_t t0, uint64_t t1)
{
	printf("sample %s %.1f\n", kind, t1 > t0 ? (double)(t1 - t0) / 1000.0 : 0.0);
	fflush(stdout);
}

/* --- the faults ------------------------------------------------------------ */

/* A kube-scheduler-like container named for pod, running; its main
 * process's pid (id gets the container's id). */
static long container_up(const char *pod, int i, char *id)
{
	char name[200], path[128], out[8192];
	snprintf(name, sizeof(name), "k8s_kube-scheduler_kube-scheduler-%s%d_kube-system_%032x_0", pod, i, 0x1a7e + i);
	if (fmh_docker_run(&node.dk, name, id, "sleep", "3600", NULL) < 0)
		die("cannot start %s", name);
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	if (fmh_docker_api_want(&node.dk, "GET", path, 200, out, sizeof(out)) < 0)
		die("cannot inspect %s", name);
	const char *p = strstr(out, "\"Pid\":");
	long pid = p ? strtol(p + 6, NULL, 10) : 0;
	if (pid <= 1)
		die("%s has no process", name);
	return pid;
}

/* Health back: the exited attempt removed, as kubelet's GC does. */
static void container_removed(const char *id)
{
	char path[128], out[1024];
	snprintf(path, sizeof(path), "/containers/%s", id);
	if (fmh_docker_api_want(&node.dk, "DELETE", path, 204, out, sizeof(out)) < 0)
		die("cannot remove %s", id);
}

static void container_exits(int i)
{
	char id[65];
	long pid = container_up("lat", i, id);
	log_mark();
	uint64_t t0 = mono_us();
	if (kill((pid_t)pid, SIGKILL) < 0)
		die("kill %ld: %s", pid, strerror(errno));
	sample("container", t0, stored("control-plane-crashloop", "critical", 10000));
	container_removed(id);
	stored("control-plane-crashloop", "resolved", 10000);
}

/* --- the CRI runtime's kind (issue 22) ------------------------------------- */

static struct fmh_containerd ctd; /* a real containerd beside Docker */

/* The "id" a cri_client.py run printed into id; dies when it failed. */
static void cri_id(int rc, const char *out, const char *what, char id[65])
{
	const char *p = rc == 0 ? strstr(out, "\"id\": \"") : NULL;
	if (!p || sscanf(p + 7, "%64[0-9a-f]", id) != 1)
		die("cri %s: %s", what, out);
}

/* The same fault on containerd: a kube-system container's process
 * SIGKILLed (a pod of its own per injection); its exit reaches the agent
 * as containerd's event. Health back: the container removed and its
 * sandbox stopped (the pause process's exit is the event that makes the
 * agent look again) and removed. */
static void cri_container_exits(int i)
{
	char out[8192], pod[160], uid[40], sbx[65], ctr[65];
	pid_t shim, init;
	snprintf(pod, sizeof(pod), "kube-scheduler-crilat%d", i);
	snprintf(uid, sizeof(uid), "%032x", 0x2b8f + i);
	cri_id(fmh_containerd_cri(&ctd, out, sizeof(out), "runp", pod, "kube-system", uid, "0", NULL), out, "runp", sbx);
	cri_id(fmh_containerd_cri(&ctd, out, sizeof(out), "create", sbx, "kube-scheduler", "0", "sleep", "3600", NULL), out,
	       "create", ctr);
	if (fmh_containerd_cri(&ctd, out, sizeof(out), "start", ctr, NULL) != 0 ||
	    fmh_containerd_task_pids(&ctd, ctr, &shim, &init) < 0)
		die("cri: cannot start %s: %s", ctr, out);
	log_mark();
	uint64_t t0 = mono_us();
	if (kill(init, SIGKILL) < 0)
		die("kill %d: %s", (int)init, strerror(errno));
	sample("cri", t0, stored("control-plane-crashloop", "critical", 10000));
	if (fmh_containerd_cri(&ctd, out, sizeof(out), "rm", ctr, NULL) != 0 ||
	    fmh_containerd_cri(&ctd, out, sizeof(out), "stopp", sbx, NULL) != 0 ||
	    fmh_containerd_cri(&ctd, out, sizeof(out), "rmp", sbx, NULL) != 0)
		die("cri: cannot remove %s: %s", ctr, out);
	stored("control-plane-crashloop", "resolved", 15000);
}

static struct fmh_latency_etcd etcd_cmd; /* how etcd is started again */

static void etcd_killed(int i)
{
	(void)i;
	log_mark();
	uint64_t t0 = mono_us();
	if (kill(node.etcd.pid, SIGKILL) < 0)
		die("kill etcd %d: %s", (int)node.etcd.pid, strerror(errno));
	sample("etcd", t0, stored("etcd-unreachable", "critical", 30000));
	if (fmh_latency_etcd_respawn(&node.etcd, &etcd_cmd) < 0)
		die("cannot start etcd again");
	stored("etcd-unreachable", "resolved", 30000);
}

static void journal_line(int i)
{
	char text[1400];
	/* incident 1's line, naming attempt 100+i and a holder Docker does not
	 * know (so the diagnosis is critical, not the fix's "info") */
	snprintf(text, sizeof(text),
		 "_TRANSPORT=stdout\n_SYSTEMD_UNIT=kubelet.service\nSYSLOG_IDENTIFIER=kubelet\nPRIORITY=6\n"
		 "MESSAGE=E0322 21:05:33.780814 1115805 pod_workers.go:191] Error syncing pod " FMH_I1_UID
		 " (\"kube-apiserver-pi-master1_kube-system(" FMH_I1_UID ")\"), skipping: failed to "
		 "\"StartContainer\" for \"kube-apiserver\" with CreateContainerError: \"Error response from "
		 "daemon: Conflict. The container name \\\"/" FMH_I1_APISERVER(%d) "\\\" is already in use by "
		 "container \\\"0f2a9c1e77d3aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55\\\". You have to "
		 "remove (or rename) that container to be able to reuse that name.\"\n\n",
		 100 + i);
	log_mark();
	uint64_t t0 = mono_us();
	if (fmh_journal_append(node.jfile, text) < 0)
		die("cannot append to %s", node.jfile);
	uint64_t t1 = mono_us();
	sample("journal", t0, stored("container-name-conflict", "critical", 10000));
	printf("append journal %.1f\n", (double)(t1 - t0) / 1000.0);
	/* The previous attempt's diagnosis is no longer what kubelet says. */
	if (i > 0)
		stored("container-name-conflict", "resolved", 10000);
}

/* Issue 21: a fault while another diagnosis is in its hold. A crash loop
 * is raised, the container removed (health back: the agent holds the
 * diagnosis for HOLD before resolving it), and 100 ms later, inside that
 * hold, kubelet's conflict line is appended. The conflict's raise must not
 * wait for the hold's end. Whether the injection really fell inside the
 * hold is read from the controller: the crash loop's resolve is committed
 * after the injection ("held yes"). */
static void fault_in_hold(int i)
{
	char id[65], text[1400];
	long pid = container_up("hold", i, id);
	log_mark();
	if (kill((pid_t)pid, SIGKILL) < 0)
		die("kill %ld: %s", pid, strerror(errno));
	stored("control-plane-crashloop", "critical", 10000);
	container_removed(id);
	usleep(100 * 1000);
	snprintf(text, sizeof(text),
		 "_TRANSPORT=stdout\n_SYSTEMD_UNIT=kubelet.service\nSYSLOG_IDENTIFIER=kubelet\nPRIORITY=6\n"
		 "MESSAGE=E0322 21:05:33.780814 1115805 pod_workers.go:191] Error syncing pod " FMH_I1_UID
		 " (\"kube-apiserver-pi-master1_kube-system(" FMH_I1_UID ")\"), skipping: failed to "
		 "\"StartContainer\" for \"kube-apiserver\" with CreateContainerError: \"Error response from "
		 "daemon: Conflict. The container name \\\"/" FMH_I1_APISERVER(%d) "\\\" is already in use by "
		 "container \\\"0f2a9c1e77d3aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55\\\". You have to "
		 "remove (or rename) that container to be able to reuse that name.\"\n\n",
		 300 + i);
	log_mark();
	off_t mark = log_at;
	uint64_t t0 = mono_us();
	if (fmh_journal_append(node.jfile, text) < 0)
		die("cannot append to %s", node.jfile);
	uint64_t raised = stored("container-name-conflict", "critical", 10000);
	log_at = mark;
	uint64_t resolved = stored("control-plane-crashloop", "resolved", 10000);
	sample("hold", t0, raised);
	printf("held %s\n", resolved > t0 ? "yes" : "no");
}

/* --- the node, the controller, the agent ----------------------------------- */

/* "memory agent VMRSS PRIVATE_DIRTY" (kB) once it runs with every source
 * on: what the watch's kept TLS connection costs shows beside the other
 * figures (bench/b_agent measures memory properly). */
static void agent_memory(void)
{
	char path[64], line[256];
	long rss = -1, pd = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)agent);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "VmRSS: %ld", &rss);
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)agent);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "Private_Dirty: %ld", &pd);
	if (f)
		fclose(f);
	printf("memory agent %ld %ld\n", rss, pd);
}

static void start_agent(const char *bin, bool cri)
{
	char psk[PATH_MAX + 8], state[PATH_MAX + 8], hex[128] = "";
	for (const char *k = FMH_KEY_A; *k; k++)
		snprintf(hex + strlen(hex), sizeof(hex) - strlen(hex), "%02x", (unsigned char)*k);
	snprintf(psk, sizeof(psk), "%s/psk", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	FILE *f = fopen(psk, "w");
	if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0 || chmod(psk, 0600) < 0)
		die("cannot write %s", psk);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", dir);
	const char *args[48] = {bin, "run", "--controller", ctl.url, "--psk-identity", FMH_NODE_A, "--psk-file", psk,
				"--state-dir", state, "--heartbeat", "60s", "--hold", HOLD};
	int n = 14;
	int m = fmh_incident1_args(&node, node.jdir, node.refusing, args + n, 48 - n - 2);
	if (m < 0)
		die("too many agent arguments");
	if (cri) {
		args[n + m] = "--runtime-endpoint";
		args[n + m + 1] = ctd.endpoint;
	}
	if ((agent = fmh_spawn(args, agent_log)) < 0)
		die("cannot start %s", bin);
	if (fmh_wait_log_pid(agent_log, "reporting to", agent, 15000) < 0)
		die("the agent did not start");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: latency AGENT [N] [container,cri,etcd,journal,hold]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 50;
	const char *kinds = argc > 3 ? argv[3] : "container,cri,etcd,journal,hold";
	if (n < 1 || n > 1000)
		die("N must be 1..1000");
	setvbuf(stdout, NULL, _IOLBF, 0);
	fmh_init();
	if (fmh_incident1_start(&node) < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 || fmh_controller_start(&ctl, false) < 0)
		die("cannot set the node and the controller up");
	bool cri = strstr(kinds, "cri") != NULL;
	if (cri && fmh_containerd_start(&ctd) < 0)
		die("cannot start containerd");
	log_mark();
	start_agent(argv[1], cri);
	/* Ready: the agent's first report (6443 refusing) is stored. */
	stored("apiserver-unreachable", "critical", 20000);
	printf("setup hold=%s collect=default\n", HOLD);
	agent_memory();
	if (fmh_latency_etcd_remember(&node.etcd, &etcd_cmd) < 0)
		die("cannot read etcd's command line");

	if (strstr(kinds, "container"))
		for (int i = 0; i < n; i++)
			container_exits(i);
	if (cri)
		for (int i = 0; i < n; i++)
			cri_container_exits(i);
	if (strstr(kinds, "etcd"))
		for (int i = 0; i < n; i++)
			etcd_killed(i);
	if (strstr(kinds, "journal"))
		for (int i = 0; i < n; i++)
			journal_line(i);
	if (strstr(kinds, "hold"))
		for (int i = 0; i < n; i++)
			fault_in_hold(i);

	int st = 0;
	if (fmh_stop_status(agent, &st) < 0 || st != 0)
		die("the agent ended with status %d", st);
	agent_log[0] = '\0';
	fmh_incident1_stop(&node);
	if (cri)
		fmh_containerd_stop(&ctd);
	fmh_cleanup();
	return 0;
}
