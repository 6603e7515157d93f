/* make demo: incident 1 (seeds/) on this machine with real parts, seen from
 * the node and from the fleet.
 *
 * The node is the scenario tests' own (tests/harness/fmh_incident: a real
 * etcd with kubeadm's PKI over mTLS, a private real dockerd, real journal
 * files, 6443 refusing). `fleetmedic-agent run` watches it and reports over
 * CoAP/DTLS-PSK to a local `fleetmedic-controller serve`. The incident's
 * evidence appears; the demo shows what `fleetmedic-controller nodes` and
 * `show` print, asks the node over its own session (`triage`), shows
 * `fleetmedic-agent check` at the node's console, applies the fix remotely
 * (`triage … rm`), lets the apiserver come back (the TLS stand-in: no real
 * kube-apiserver is installable here) and shows the fleet again.
 *
 * Everything started is stopped by pid and every temporary directory
 * removed at the end, also on Ctrl-C (the harness's signal cleanup).
 *
 *   fmh_demo PATH-TO-fleetmedic-agent PATH-TO-fleetmedic-controller
 */
#include "fm_loop.h"
#include "fmh_controller.h"
#include "fmh_incident.h"
#include "fmh_standin.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *agent, *controller;
static struct fmh_incident1 node;
static struct fmh_controller ctl;

static void title(const char *fmt, ...)
{
	va_list ap;
	bool tty = isatty(STDOUT_FILENO);
	printf("\n%s== ", tty ? "\033[1m" : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("%s\n", tty ? "\033[0m" : "");
	fflush(stdout);
}

/* An argument as a person would read it: the temporary trees shortened. */
static void print_arg(const char *a)
{
	const struct {
		const char *dir, *name;
	} dirs[] = {{node.root, "$NODE"}, {ctl.dir, "$CTL"}};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t n = strlen(dirs[i].dir);
		if (n && strncmp(a, dirs[i].dir, n) == 0) {
			printf(" %s%s", dirs[i].name, a + n);
			return;
		}
	}
	printf(strchr(a, ' ') ? " '%s'" : " %s", a);
}

/* Prints the command, then runs it on this terminal. Its exit status. */
static int show(const char *const argv[])
{
	printf("$");
	for (size_t i = 0; argv[i]; i++)
		print_arg(i == 0 && strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i]);
	printf("\n");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int check(void)
{
	const char *argv[32] = {agent, "check"};
	if (fmh_incident1_args(&node, node.jdir, node.refusing, argv + 2, 30) < 0)
		return -1;
	return show(argv);
}

static void fleet(const char *what, const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *argv[] = {controller, what, a1, a2, a3, a4, NULL, NULL, NULL};
	size_t n = 2;
	while (argv[n])
		n++;
	if (strcmp(what, "triage") != 0) {
		argv[n++] = "--db";
		argv[n++] = ctl.db;
	} else {
		argv[n++] = "--control"; /* serve's socket beside the database */
		static char sock[PATH_MAX + 8];
		snprintf(sock, sizeof(sock), "%s.sock", ctl.db);
		argv[n++] = sock;
	}
	show(argv);
}

/* Waits until the controller holds code for the node at severity sev (""
 * for: not at all). The milliseconds it took, or -1 after limit_ms. */
static long wait_fleet(const char *code, const char *sev, uint64_t limit_ms)
{
	long ms = fmh_controller_wait(&ctl, FMH_NODE_A, code, sev, limit_ms);
	return ms < 0 ? -1 : ms;
}

static char agent_log[PATH_MAX + 16];

static int fail(const char *what)
{
	fprintf(stderr, "demo: %s failed; cleaning up\n", what);
	if (agent_log[0]) {
		const char *tail[] = {"tail", "-20", agent_log, NULL};
		fprintf(stderr, "the agent's log ends:\n");
		show(tail);
	}
	fmh_incident1_stop(&node);
	fmh_cleanup();
	return 1;
}

/* The node's key (the controller's key store holds FMH_KEY_A) and its
 * config file, as an installer would write them. */
static int node_config(char *conf, size_t size)
{
	char psk[PATH_MAX + 16], state[PATH_MAX + 16];
	snprintf(psk, sizeof(psk), "%s/etc/fleetmedic/psk", node.root);
	snprintf(state, sizeof(state), "%s/var/lib/fleetmedic", node.root);
	snprintf(conf, size, "%s/etc/fleetmedic/fleetmedic.conf", node.root);
	char d[PATH_MAX + 16];
	snprintf(d, sizeof(d), "%s/etc/fleetmedic", node.root);
	if (mkdir(d, 0755) < 0 && errno != EEXIST)
		return -errno;
	FILE *f = fopen(psk, "w");
	if (!f)
		return -errno;
	for (const char *k = FMH_KEY_A; *k; k++)
		fprintf(f, "%02x", (unsigned char)*k);
	fputc('\n', f);
	fclose(f);
	chmod(psk, 0600);
	f = fopen(conf, "w");
	if (!f)
		return -errno;
	fprintf(f, "controller = %s\npsk-identity = %s\npsk-file = %s\nstate-dir = %s\nallow-actions = rm\n", ctl.url,
		FMH_NODE_A, psk, state);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH-TO-fleetmedic-agent PATH-TO-fleetmedic-controller\n", argv[0]);
		return 2;
	}
	agent = argv[1];
	controller = argv[2];
	setenv("FM_AGENT", agent, 1);
	setenv("FM_CONTROLLER", controller, 1);
	if (geteuid() != 0) {
		fprintf(stderr, "demo: run as root (it starts a private dockerd and etcd)\n");
		return 2;
	}
	if (fmh_init() < 0)
		return 1;

	title("Incident 1 (seeds/): \"connection refused\" on 6443 after a reboot");
	printf("Building the node from real parts: etcd with kubeadm's PKI (mTLS), a private\n"
	       "dockerd running the apiserver pod, kubelet's journal; and a fleet controller.\n");
	fflush(stdout);
	if (fmh_incident1_start(&node) < 0)
		return fail("starting etcd and dockerd");
	if (fmh_controller_start(&ctl, false) < 0)
		return fail("starting the controller");
	printf("etcd        %s (healthy)\n", node.etcd.url);
	printf("dockerd     %s\n", node.dk.host);
	printf("apiserver   %s (refusing: nothing listens)\n", node.refusing);
	printf("controller  %s (DTLS-PSK), database $CTL/fleet.db\n", ctl.url);

	char conf[PATH_MAX + 32];
	char *log = agent_log;
	if (node_config(conf, sizeof(conf)) < 0)
		return fail("writing the node's config");
	title("The node's agent, configured to report to the controller");
	const char *cat[] = {"cat", conf, NULL};
	show(cat);
	const char *run[40] = {agent, "run", "--config", conf, "--heartbeat", "10s", "--hold", "2s"};
	if (fmh_incident1_args(&node, node.jdir, node.refusing, run + 8, 32) < 0)
		return fail("the agent's options");
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", ctl.dir);
	printf("$");
	for (size_t i = 0; run[i]; i++)
		print_arg(i == 0 ? "fleetmedic-agent" : run[i]);
	printf(" &\n");
	if (fmh_spawn(run, log) < 0 || fmh_wait_log(log, "reporting to", 15000) < 0)
		return fail("starting fleetmedic-agent run");
	if (wait_fleet("apiserver-unreachable", "critical", 15000) < 0)
		return fail("the first report");

	title("The fleet, before anyone knows why: 6443 refuses, and that is all");
	fleet("nodes", NULL, NULL, NULL, NULL);

	title("The evidence appears: an exited apiserver attempt, kubelet's Conflict lines");
	uint64_t t0 = fm_now_ms();
	if (fmh_incident1_break(&node) < 0)
		return fail("setting up the incident");
	uint64_t made = fm_now_ms() - t0;
	long ms = wait_fleet("container-name-conflict", "critical", 10000);
	if (ms < 0)
		return fail("waiting for the report");
	const char *ps[] = {"docker", "-H", node.dk.host, "ps", "-a", "--format", "table {{.ID}}\t{{.Status}}\t{{.Names}}", NULL};
	show(ps);
	const char *jc[] = {"journalctl", "--directory", node.jdir, "--no-pager", "-o", "cat", "-n", "1", NULL};
	show(jc);
	printf("(the evidence took %llu ms to set up; the controller stored the diagnosis %ld ms\n"
	       "after the last of it was written)\n", (unsigned long long)made, ms);

	title("The fleet now: the root cause, not the symptom");
	fleet("nodes", NULL, NULL, NULL, NULL);
	fleet("show", FMH_NODE_A, NULL, NULL, NULL);

	title("Remote triage over the node's own session (no SSH)");
	fleet("triage", FMH_NODE_A, "journal", "kubelet", "1");

	title("At the node's console, the same in one go");
	if (check() < 0)
		return fail("running the agent");

	title("The fix, applied from the controller (actions are on in this node's config)");
	char s23[13], s15[13];
	snprintf(s23, sizeof(s23), "%.12s", node.id23);
	snprintf(s15, sizeof(s15), "%.12s", node.id15);
	fleet("triage", FMH_NODE_A, "rm", s23, NULL);
	fleet("triage", FMH_NODE_A, "rm", s15, NULL);

	/* With the name free, kubelet starts the apiserver again. No
	 * kube-apiserver can be installed here: the TLS stand-in the tests use
	 * (tests/harness/apiserver_standin.py, serving the documented health
	 * formats) takes its place, on the port that refused. */
	struct fmh_standin api;
	if (fmh_standin_start_port(&api, node.root, "healthy", NULL, node.refusing_port) < 0)
		return fail("starting the apiserver stand-in");
	printf("\nkubelet can now create the apiserver; a TLS STAND-IN for kube-apiserver answers\n"
	       "at %s (no real kube-apiserver is installable here).\n", api.url);
	printf("(the agent asks the apiserver every 10 s and resolves a diagnosis 2 s after it\n"
	       "went away: waiting for the fleet to see it)\n");
	fflush(stdout);
	/* The agent asks the apiserver every 10 s (its default) and resolves a
	 * diagnosis after it has been gone for --hold. */
	if (wait_fleet("container-name-conflict", "info", 15000) < 0 ||
	    wait_fleet("apiserver-unreachable", "", 25000) < 0)
		return fail("waiting for the fleet to see the fix");

	title("The fleet after the fix (kubelet's old lines stay as info for an hour)");
	fleet("nodes", NULL, NULL, NULL, NULL);
	fleet("show", FMH_NODE_A, NULL, NULL, NULL);

	title("Cleaning up");
	int rc = fmh_incident1_stop(&node);
	fmh_cleanup();
	printf("The agent, the controller, dockerd, etcd and the stand-in are stopped; their\n"
	       "temporary directories are gone%s.\n", rc < 0 ? " (dockerd left something behind: see above)" : "");
	return rc < 0 ? 1 : 0;
}
