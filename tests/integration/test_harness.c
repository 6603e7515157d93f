/*
 * test_harness: the integration harness itself, against the real openssl,
 * etcd and etcdctl. If these pass, a failing integration test can be trusted
 * to fail for its own reasons and to leave nothing running.
 *
 * This program is a child subreaper: what the harness's children leave
 * orphaned is re-parented to us, so "gone" is exact: a pid is gone when we
 * reaped it ourselves or kill(pid, 0) says ESRCH, never merely a zombie.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fm_harness.h"

#ifndef FMH_VICTIM
#error "FMH_VICTIM (path of harness_victim) must be defined by the build"
#endif

#define RUN_MS 30000

/* The PKI written once by the group setup. */
static char root[PATH_MAX];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 2, 3))) static const char *path(char *buf, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, PATH_MAX, f, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
	return buf;
}

/* The value after "key=" in text, as a pid; fails the test if absent. */
static pid_t find_pid(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	long v;

	if (!p)
		fail_msg("no %s in output:\n%s", key, text);
	v = strtol(p + strlen(key), NULL, 10);
	assert_true(v > 1);
	return (pid_t)v;
}

/* The process state letter from /proc/<pid>/stat ('Z' for a zombie), or '?'. */
static char proc_state(pid_t pid)
{
	char p[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : '?';
}

/*
 * Waits at most timeout_ms until pid no longer exists. If it is (or becomes,
 * by re-parenting) our child, it is reaped here and *killsig gets the signal
 * that ended it (0 if it exited); otherwise it must vanish (ESRCH). Returns
 * 0, or -ETIMEDOUT with the process's state printed.
 */
static int wait_gone(pid_t pid, int timeout_ms, int *killsig)
{
	long long deadline = now_ms() + timeout_ms;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};

	if (killsig)
		*killsig = -1;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid && killsig)
			*killsig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		if (r != 0 && kill(pid, 0) == -1 && errno == ESRCH)
			return 0;
		if (now_ms() >= deadline) {
			print_error("pid %d still exists, state %c\n", (int)pid, proc_state(pid));
			return -ETIMEDOUT;
		}
		nanosleep(&tick, NULL);
	}
}

/* A blocking connect to 127.0.0.1:port: 0 or -errno. */
static int tcp_connect(int port, int *fd_out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = 0;

	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		ret = -errno;
	if (ret == 0 && fd_out)
		*fd_out = fd;
	else
		close(fd);
	return ret;
}

/* Runs argv, expects it to run (any exit status), returns the status. */
static int run(const char *const argv[], char *out, size_t out_size)
{
	int status, ret = fmh_run(argv, out, out_size, &status, RUN_MS);

	if (ret != 0)
		fail_msg("%s: %s", argv[0], strerror(-ret));
	return status;
}

#define PKI "etc/kubernetes/pki/"
#define NEG "test-pki/"

/* What the last openssl or etcdctl command said. */
static char said[4096];

/* `openssl verify -purpose purpose -CAfile root/ca root/cert`: its status. */
static int verify(const char *purpose, const char *ca, const char *cert)
{
	char ca_path[PATH_MAX], cert_path[PATH_MAX];
	const char *const argv[] = {"openssl",
				    "verify",
				    "-purpose",
				    purpose,
				    "-CAfile",
				    path(ca_path, "%s/%s", root, ca),
				    path(cert_path, "%s/%s", root, cert),
				    NULL};

	return run(argv, said, sizeof(said));
}

/* `openssl x509 -noout option [value] -in root/cert`: its status. */
static int x509(const char *cert, const char *option, const char *value)
{
	char cert_path[PATH_MAX];
	const char *const argv[] = {
	    "openssl", "x509", "-noout", "-in", path(cert_path, "%s/%s", root, cert),
	    option,    value,  NULL};

	return run(argv, said, sizeof(said));
}

/* `etcdctl endpoint health` against url with these files: its status. */
static int etcdctl_health(const char *url, const char *ca, const char *cert, const char *key)
{
	/* clang-format off */
	const char *const argv[] = {
		"env", "ETCDCTL_API=3", "etcdctl",
		"--endpoints", url, "--cacert", ca, "--cert", cert, "--key", key,
		"--dial-timeout=1s", "--command-timeout=2s",
		"endpoint", "health", NULL,
	};
	/* clang-format on */

	return run(argv, said, sizeof(said));
}

static int setup_pki(void **state)
{
	(void)state;
	if (fmh_tmpdir(root, sizeof(root)) != 0)
		return -1;
	return fmh_pki(root) == 0 ? 0 : -1;
}

static void test_pki(void **state)
{
	static const char *const keys[] = {
	    PKI "ca.key",
	    PKI "apiserver.key",
	    PKI "apiserver-etcd-client.key",
	    PKI "etcd/ca.key",
	    PKI "etcd/server.key",
	    PKI "etcd/peer.key",
	    PKI "etcd/healthcheck-client.key",
	    NEG "wrong-ca.key",
	    NEG "wrong-ca-client.key",
	    NEG "expired-client.key",
	    NEG "notyet-client.key",
	};
	char p[PATH_MAX];
	struct stat sb;

	(void)state;
	/* The good chains, each for what it is used for. */
	assert_int_equal(verify("sslserver", PKI "ca.crt", PKI "apiserver.crt"), 0);
	assert_int_equal(verify("sslclient", PKI "etcd/ca.crt", PKI "apiserver-etcd-client.crt"),
			 0);
	assert_int_equal(verify("sslserver", PKI "etcd/ca.crt", PKI "etcd/server.crt"), 0);
	assert_int_equal(verify("sslclient", PKI "etcd/ca.crt", PKI "etcd/server.crt"), 0);
	assert_int_equal(verify("sslserver", PKI "etcd/ca.crt", PKI "etcd/peer.crt"), 0);
	assert_int_equal(verify("sslclient", PKI "etcd/ca.crt", PKI "etcd/healthcheck-client.crt"),
			 0);
	assert_non_null(strstr(said, ": OK"));
	/* A client certificate is no server certificate, nor the etcd CA the
	 * cluster CA. */
	assert_int_not_equal(
	    verify("sslserver", PKI "etcd/ca.crt", PKI "etcd/healthcheck-client.crt"), 0);
	assert_int_not_equal(verify("sslserver", PKI "ca.crt", PKI "etcd/server.crt"), 0);

	/* The negative ones fail for the reason their names give. */
	assert_int_not_equal(verify("sslclient", PKI "etcd/ca.crt", NEG "wrong-ca-client.crt"), 0);
	assert_int_equal(verify("sslclient", NEG "wrong-ca.crt", NEG "wrong-ca-client.crt"), 0);
	assert_int_not_equal(verify("sslclient", PKI "etcd/ca.crt", NEG "expired-client.crt"), 0);
	assert_non_null(strstr(said, "expired"));
	assert_int_not_equal(x509(NEG "expired-client.crt", "-checkend", "0"), 0);
	assert_int_equal(x509(PKI "etcd/healthcheck-client.crt", "-checkend", "0"), 0);
	assert_int_not_equal(verify("sslclient", PKI "etcd/ca.crt", NEG "notyet-client.crt"), 0);
	assert_non_null(strstr(said, "not yet valid"));

	/* What kubeadm puts in the apiserver's SANs and the etcd client's O. */
	assert_int_equal(x509(PKI "apiserver.crt", "-ext", "subjectAltName"), 0);
	assert_non_null(strstr(said, "DNS:kubernetes.default.svc.cluster.local"));
	assert_non_null(strstr(said, "DNS:pi-master1"));
	assert_non_null(strstr(said, "IP Address:10.96.0.1"));
	assert_non_null(strstr(said, "IP Address:127.0.0.1"));
	assert_int_equal(x509(PKI "etcd/server.crt", "-ext", "subjectAltName"), 0);
	assert_non_null(strstr(said, "DNS:localhost, DNS:pi-master1, IP Address:127.0.0.1"));
	assert_int_equal(x509(PKI "apiserver-etcd-client.crt", "-subject", NULL), 0);
	assert_non_null(strstr(said, "O = system:masters, CN = kube-apiserver-etcd-client"));

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_int_equal(stat(path(p, "%s/%s", root, keys[i]), &sb), 0);
		assert_int_equal(sb.st_mode & 07777, 0600);
	}
}

static void test_etcd(void **state)
{
	static struct fmh_etcd e;
	char c[PATH_MAX], k[PATH_MAX];
	pid_t pid;

	(void)state;
	assert_int_equal(fmh_etcd_start(&e, root, "127.0.0.2"), 0);
	assert_true(e.pid > 0);
	assert_string_equal(e.name, "node");
	assert_memory_equal(e.version, "3.4.", 4); /* Debian 12's, from PATH */
	assert_string_equal(e.extra_url + strlen("https://127.0.0.2:"),
			    e.url + strlen("https://127.0.0.1:"));

	assert_int_equal(etcdctl_health(e.url, e.ca, e.cert, e.key), 0);
	assert_non_null(strstr(said, "is healthy"));
	/* --client-cert-auth is on: a certificate from another CA is refused. */
	assert_int_not_equal(etcdctl_health(e.url, e.ca,
					    path(c, "%s/" NEG "wrong-ca-client.crt", root),
					    path(k, "%s/" NEG "wrong-ca-client.key", root)),
			     0);
	assert_null(strstr(said, "is healthy"));
	/* The extra listener and the metrics port are there too. */
	assert_int_equal(fmh_wait_tcp("127.0.0.2", e.client_port, 1000), 0);
	assert_int_equal(fmh_wait_tcp("127.0.0.1", e.metrics_port, 1000), 0);

	pid = e.pid;
	assert_int_equal(fmh_etcd_stop(&e), 0);
	assert_int_equal(e.pid, 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(tcp_connect(e.client_port, NULL), -ECONNREFUSED);
	assert_int_equal(fmh_etcd_stop(&e), -ESRCH);
}

/* etcd that cannot start (no PKI there) is reported at once, not after 20 s. */
static void test_etcd_start_fails_fast(void **state)
{
	static struct fmh_etcd e;
	char empty[PATH_MAX];
	long long t0 = now_ms();

	(void)state;
	assert_int_equal(fmh_tmpdir(empty, sizeof(empty)), 0);
	assert_int_equal(fmh_etcd_start(&e, empty, NULL), -ESRCH);
	assert_int_equal(e.pid, 0);
	assert_true(now_ms() - t0 < 10000);
	assert_int_equal(fmh_etcd_start(&e, root, "10.0.0.1"), -EINVAL);

	/* Another binary: missing, or not saying which etcd it is. */
	assert_int_equal(fmh_etcd_start_bin(&e, "/nonexistent/etcd", root, NULL, NULL), -ENOENT);
	assert_int_equal(fmh_etcd_start_bin(&e, "true", root, NULL, NULL), -EPROTO);
	assert_int_equal(e.pid, 0);

	/* A cluster whose members cannot start (etcd refuses a flag it does
	 * not know and exits): every one is stopped. */
	static struct fmh_etcd m[FMH_ETCD_MAX_MEMBERS + 1];
	const char *const bad_flag[] = {"--fmh-no-such-flag", NULL};
	t0 = now_ms();
	assert_int_equal(fmh_etcd_cluster_start(m, 3, NULL, root, bad_flag), -ESRCH);
	for (int i = 0; i < 3; i++)
		assert_int_equal(m[i].pid, 0);
	assert_true(now_ms() - t0 < 10000);
	assert_int_equal(fmh_etcd_cluster_start(m, 1, NULL, root, NULL), -EINVAL);
	assert_int_equal(fmh_etcd_cluster_start(m, FMH_ETCD_MAX_MEMBERS + 1, NULL, root, NULL),
			 -EINVAL);
}

/*
 * Runs harness_victim in mode with its TMPDIR inside one of ours, checks how
 * it died, and that its `sleep 1000` is gone within 2 s. Returns the signal
 * that ended sleep if it was orphaned to us (-1 if its parent reaped it).
 */
static int victim(const char *mode, int want_status, bool want_dir_removed)
{
	char tmp[PATH_MAX], env_tmp[PATH_MAX + 8], out[8192], err[8192], *dir, *nl;
	const char *const argv[] = {"env", env_tmp, FMH_VICTIM, mode, NULL};
	int status, ret, sig;
	struct stat sb;
	pid_t sleep_pid;

	assert_int_equal(fmh_tmpdir(tmp, sizeof(tmp)), 0);
	snprintf(env_tmp, sizeof(env_tmp), "TMPDIR=%s", tmp);
	ret = fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, RUN_MS);
	assert_int_equal(ret, 0);
	if (status != want_status)
		fail_msg("victim %s: status %d, want %d\n%s%s", mode, status, want_status, out,
			 err);
	sleep_pid = find_pid(out, "SLEEP_PID=");
	assert_int_equal(wait_gone(sleep_pid, 2000, &sig), 0);

	dir = strstr(out, "TMPDIR=");
	assert_non_null(dir);
	dir += strlen("TMPDIR=");
	nl = strchr(dir, '\n');
	assert_non_null(nl);
	*nl = '\0';
	assert_memory_equal(dir, tmp, strlen(tmp));
	if (want_dir_removed) {
		assert_int_equal(stat(dir, &sb), -1);
		assert_int_equal(errno, ENOENT);
	}
	return sig;
}

static void test_victim_fails_assertion(void **state)
{
	(void)state;
	/* exit(1) from cmocka; atexit stopped and reaped sleep */
	assert_int_equal(victim("fail", 1, true), -1);
}

static void test_victim_aborts(void **state)
{
	(void)state;
	assert_int_equal(victim("abort", 128 + SIGABRT, true), -1);
}

static void test_victim_terminated(void **state)
{
	(void)state;
	assert_int_equal(victim("term", 128 + SIGTERM, true), -1);
}

static void test_victim_sigkilled(void **state)
{
	(void)state;
	/* No handler runs: sleep is orphaned to us and killed by PDEATHSIG. */
	assert_int_equal(victim("sigkill", 128 + SIGKILL, false), SIGKILL);
}

static void test_listen_silent(void **state)
{
	struct pollfd pfd;
	int port = 0, lfd, fd = -1;

	(void)state;
	lfd = fmh_listen_silent(&port);
	assert_true(lfd >= 0);
	assert_true(port > 0);
	assert_int_equal(tcp_connect(port, &fd), 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 300), 0);
	close(fd);
	close(lfd);
}

static void test_run_timeout(void **state)
{
	char out[256];
	int status;
	long long t0;
	pid_t pid;

	(void)state;
	{
		const char *const argv[] = {"sleep", "10", NULL};

		t0 = now_ms();
		assert_int_equal(fmh_run(argv, out, sizeof(out), &status, 200), -ETIMEDOUT);
		assert_true(now_ms() - t0 < 2000);
		assert_int_equal(status, 128 + SIGKILL);
	}
	/* The same with the pid known: it is reaped, not a zombie. */
	{
		const char *const argv[] = {"sh", "-c", "echo PID=$$ END; exec sleep 10", NULL};

		assert_int_equal(fmh_run(argv, out, sizeof(out), &status, 300), -ETIMEDOUT);
		pid = find_pid(out, "PID=");
		assert_int_equal(kill(pid, 0), -1);
		assert_int_equal(errno, ESRCH);
	}
	/* A background grandchild goes with it (SIGKILL to the process group). */
	{
		const char *const argv[] = {"sh", "-c", "sleep 10 & echo GPID=$! END; wait", NULL};
		int sig;

		assert_int_equal(fmh_run(argv, out, sizeof(out), &status, 300), -ETIMEDOUT);
		pid = find_pid(out, "GPID=");
		assert_int_equal(wait_gone(pid, 2000, &sig), 0);
		assert_int_equal(sig, SIGKILL);
	}
	/* A program that exits leaving a child behind: the child is killed, so
	 * fmh_run returns at once instead of waiting for the pipe it holds. */
	{
		const char *const argv[] = {"sh", "-c", "sleep 1000 & echo GPID=$! END", NULL};
		int sig;

		t0 = now_ms();
		assert_int_equal(fmh_run(argv, out, sizeof(out), &status, 5000), 0);
		assert_true(now_ms() - t0 < 4000);
		assert_int_equal(status, 0);
		pid = find_pid(out, "GPID=");
		assert_int_equal(wait_gone(pid, 2000, &sig), 0);
		assert_int_equal(sig, SIGKILL);
	}
}

static void test_run_capture(void **state)
{
	char out[256], err[256], small[16];
	int status;

	(void)state;
	{
		const char *const argv[] = {"sh", "-c", "exit 3", NULL};

		assert_int_equal(fmh_run(argv, NULL, 0, &status, RUN_MS), 0);
		assert_int_equal(status, 3);
	}
	{
		const char *const argv[] = {"sh", "-c", "kill -TERM $$", NULL};

		assert_int_equal(fmh_run(argv, out, sizeof(out), &status, RUN_MS), 0);
		assert_int_equal(status, 128 + SIGTERM);
	}
	{
		const char *const argv[] = {"sh", "-c", "echo to-out; echo to-err >&2", NULL};

		assert_int_equal(
		    fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, RUN_MS), 0);
		assert_int_equal(status, 0);
		assert_string_equal(out, "to-out\n");
		assert_string_equal(err, "to-err\n");
		assert_int_equal(fmh_run2(argv, out, sizeof(out), NULL, 0, &status, RUN_MS), 0);
		assert_string_equal(out, "to-out\n");
		assert_int_equal(fmh_run(argv, out, sizeof(out), &status, RUN_MS), 0);
		assert_non_null(strstr(out, "to-out\n"));
		assert_non_null(strstr(out, "to-err\n"));
	}
	/* 100 kB into 16 bytes: truncated, terminated, and the writer not blocked. */
	{
		const char *const argv[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a",
					    NULL};

		assert_int_equal(fmh_run(argv, small, sizeof(small), &status, RUN_MS), 0);
		assert_int_equal(status, 0);
		assert_string_equal(small, "aaaaaaaaaaaaaaa");
	}
	{
		const char *const argv[] = {"fmh-no-such-program", NULL};

		assert_int_equal(fmh_run(argv, out, sizeof(out), &status, RUN_MS), -ENOENT);
		assert_int_equal(fmh_spawn(argv, NULL), -ENOENT);
	}
}

static void test_wait_log(void **state)
{
	const char *const slow[] = {
	    "sh", "-c", "sleep 0.2; echo first-needle; sleep 0.2; echo second; exec sleep 1000",
	    NULL};
	const char *const quick[] = {"sh", "-c", "echo bye", NULL};
	char dir[PATH_MAX], log[PATH_MAX], log2[PATH_MAX];
	long long t0;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	path(log, "%s/slow.log", dir);
	pid = fmh_spawn(slow, log);
	assert_true(pid > 0);
	assert_int_equal(fmh_wait_log(log, "first-needle", 10000), 0);
	assert_int_equal(fmh_wait_log(log, "second", 10000), 0);
	t0 = now_ms();
	assert_int_equal(fmh_wait_log(log, "never-written", 200), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 200);
	assert_int_equal(fmh_stop(pid), 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(fmh_stop(pid), -ESRCH);

	/* A process that exits ends the wait at once; what it wrote is seen. */
	path(log2, "%s/quick.log", dir);
	pid = fmh_spawn(quick, log2);
	assert_true(pid > 0);
	t0 = now_ms();
	assert_int_equal(fmh_wait_log_pid(log2, "never-written", pid, 10000), -ESRCH);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(fmh_wait_log_pid(log2, "bye", pid, 10000), 0);
	assert_int_equal(fmh_stop_status(pid, &status), 0);
	assert_int_equal(status, 0);
}

/* A process group that ignores SIGTERM gets SIGKILL after the 3 s grace. */
static void test_stop_escalates(void **state)
{
	const char *const argv[] = {"sh", "-c", "trap '' TERM; sleep 1000 & echo GPID=$! END; wait",
				    NULL};
	char dir[PATH_MAX], log[PATH_MAX], text[256];
	int status, sig, fd;
	long long t0;
	ssize_t n;
	pid_t pid, gpid;

	(void)state;
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	path(log, "%s/trap.log", dir);
	pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	assert_int_equal(fmh_wait_log(log, "END", 10000), 0);
	fd = open(log, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	gpid = find_pid(text, "GPID=");

	t0 = now_ms();
	assert_int_equal(fmh_stop_status(pid, &status), 0);
	assert_true(now_ms() - t0 >= 2900);
	assert_true(now_ms() - t0 < 8000);
	assert_int_equal(status, 128 + SIGKILL);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(wait_gone(gpid, 2000, &sig), 0);
	assert_int_equal(sig, SIGKILL);

	/* Only recorded pids are ever signalled. */
	assert_int_equal(fmh_stop(getpid()), -ESRCH);
	assert_int_equal(fmh_stop(1), -ESRCH);
}

/* Last: fmh_cleanup() stops, closes and removes everything, twice is fine,
 * and the harness works afterwards. */
static void test_cleanup(void **state)
{
	const char *const argv[] = {"sleep", "1000", NULL};
	char dir[PATH_MAX], file[PATH_MAX];
	struct stat sb;
	int port, lfd, fd;
	pid_t pid;

	(void)state;
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(mkdir(path(file, "%s/a", dir), 0700), 0);
	fd = open(path(file, "%s/a/b", dir), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	lfd = fmh_listen_silent(&port);
	assert_true(lfd >= 0);
	pid = fmh_spawn(argv, NULL);
	assert_true(pid > 0);

	fmh_cleanup();
	assert_int_equal(stat(dir, &sb), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(fcntl(lfd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(tcp_connect(port, NULL), -ECONNREFUSED);
	fmh_cleanup();

	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(stat(dir, &sb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pki),
	    cmocka_unit_test(test_etcd),
	    cmocka_unit_test(test_etcd_start_fails_fast),
	    cmocka_unit_test(test_victim_fails_assertion),
	    cmocka_unit_test(test_victim_aborts),
	    cmocka_unit_test(test_victim_terminated),
	    cmocka_unit_test(test_victim_sigkilled),
	    cmocka_unit_test(test_listen_silent),
	    cmocka_unit_test(test_run_timeout),
	    cmocka_unit_test(test_run_capture),
	    cmocka_unit_test(test_wait_log),
	    cmocka_unit_test(test_stop_escalates),
	    cmocka_unit_test(test_cleanup),
	};

	/* Orphans of the harness's children come to us: see wait_gone(). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	if (fmh_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup_pki, NULL);
}
