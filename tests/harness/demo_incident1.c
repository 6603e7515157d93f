/* make demo: incident 1 (../shared/seeds/) reproduced on this machine with
 * real parts (tests/harness/fmh_incident1: the same node the scenario test
 * builds), then `fleetmedic-agent check` as a person at the console would run
 * it, the fix it names applied, and check again. Everything started is
 * stopped by pid and every temporary directory removed at the end, also on
 * Ctrl-C (the harness's signal cleanup).
 *
 *   fmh_demo PATH-TO-fleetmedic-agent
 */
#include "fmh_incident.h"
#include "fmh_standin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *agent;
static struct fmh_incident1 node;

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

/* Prints the command as a person would type it (long temporary paths
 * shortened to $NODE), then runs it on this terminal. Its exit status. */
static int show(const char *const argv[])
{
	printf("$");
	for (size_t i = 0; argv[i]; i++) {
		const char *a = argv[i];
		if (i == 0 && strrchr(a, '/'))
			a = strrchr(a, '/') + 1;
		size_t n = strlen(node.root);
		if (strncmp(a, node.root, n) == 0)
			printf(" $NODE%s", a + n);
		else
			printf(" %s", a);
	}
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

static int check(const char *apiserver)
{
	const char *argv[32] = {agent, "check"};
	if (fmh_incident1_args(&node, node.jdir, apiserver, argv + 2, 30) < 0)
		return -1;
	int rc = show(argv);
	printf("(exit status %d: %s)\n", rc, rc == 1 ? "a critical diagnosis" : rc == 0 ? "nothing critical" : "error");
	return rc;
}

static int docker(const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *argv[] = {"docker", "-H", node.dk.host, a1, a2, a3, a4, NULL};
	return show(argv);
}

static int fail(const char *what)
{
	fprintf(stderr, "demo: %s failed; cleaning up\n", what);
	fmh_incident1_stop(&node);
	fmh_cleanup();
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-fleetmedic-agent\n", argv[0]);
		return 2;
	}
	agent = argv[1];
	if (geteuid() != 0) {
		fprintf(stderr, "demo: run as root (it starts a private dockerd and etcd)\n");
		return 2;
	}
	if (fmh_init() < 0)
		return 1;

	title("Incident 1 (shared/seeds): \"connection refused\" on 6443 after a reboot");
	printf("Building the node from real parts: etcd with kubeadm's PKI (mTLS), a private\n"
	       "dockerd, kubelet's journal. This takes a few seconds.\n");
	fflush(stdout);
	if (fmh_incident1_start(&node) < 0)
		return fail("starting etcd and dockerd");
	if (fmh_incident1_break(&node) < 0)
		return fail("setting up the incident");
	printf("etcd        %s (healthy)\n", node.etcd.url);
	printf("dockerd     %s\n", node.dk.host);
	printf("apiserver   %s (refusing: nothing listens, as in the incident)\n", node.refusing);
	printf("journal     %s (kubelet's lines, real journal files)\n", node.jdir);

	title("What the person saw: the apiserver's containers, one attempt exited");
	docker("ps", "-a", "--format", "table {{.ID}}\t{{.Status}}\t{{.Names}}");

	title("What kubelet kept saying");
	const char *jc[] = {"journalctl", "--directory", node.jdir, "--no-pager", "-o", "cat", "-n", "2", NULL};
	show(jc);

	title("fleetmedic-agent check: the cause, its evidence and the fix, in one go");
	if (check(node.refusing) < 0)
		return fail("running the agent");

	title("Applying the fix it names");
	char s23[13], s15[13];
	snprintf(s23, sizeof(s23), "%.12s", node.id23);
	snprintf(s15, sizeof(s15), "%.12s", node.id15);
	if (docker("rm", s23, s15, NULL) != 0)
		return fail("docker rm");

	/* With the name free, kubelet starts the apiserver again. No
	 * kube-apiserver can be installed here: the TLS stand-in the tests use
	 * (tests/harness/apiserver_standin.py, serving the documented health
	 * formats) takes its place. */
	struct fmh_standin api;
	if (fmh_standin_start(&api, node.root, "healthy", NULL) < 0)
		return fail("starting the apiserver stand-in");
	printf("kubelet can now create the apiserver again; a TLS STAND-IN for kube-apiserver\n"
	       "answers at %s (no real kube-apiserver is installable here).\n", api.url);

	title("check again: healthy (kubelet's old lines stay as info for an hour)");
	check(api.url);
	fmh_standin_stop(&api);

	title("Cleaning up");
	int rc = fmh_incident1_stop(&node);
	fmh_cleanup();
	printf("dockerd, etcd and their temporary directories are gone%s.\n",
	       rc < 0 ? " (dockerd left something behind: see above)" : "");
	return rc < 0 ? 1 : 0;
}
