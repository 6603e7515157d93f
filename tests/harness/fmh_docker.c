#include "fmh_docker.h"

#include "fm_harness.h"
#include "fm_httpc.h"
#include "fm_loop.h"

#include <cjson/cJSON.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DOCKER_CLI "/usr/bin/docker"

static struct fmh_docker *live[8]; /* stopped at exit */
static int next_ns;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fmh_docker_api(const struct fmh_docker *d, const char *method, const char *path,
		   const char *body, int *status, char *out, size_t out_size)
{
	struct fm_loop *loop = fm_loop_new();
	struct fm_httpc c = {.fd = -1};
	char err[256];
	int rc = -EIO;
	*status = 0;
	if (out_size)
		out[0] = '\0';
	if (!loop)
		return -ENOMEM;
	if (fm_httpc_init(&c, loop, d->host, NULL, err, sizeof(err)) < 0)
		goto out;
	struct fm_httpc_req r = {
		.method = method, .path = path, .timeout_ms = 30000, .max_body = 8u << 20,
		.content_type = body ? "application/json" : NULL,
		.body = body, .body_len = body ? strlen(body) : 0,
	};
	if (fm_httpc_fetch(&c, &r) < 0) {
		if (strcmp(path, "/_ping") != 0) /* polled while dockerd starts */
			fprintf(stderr, "fmh_docker_api %s %s: %s\n", method, path, c.reason);
		rc = c.fail == FM_HTTPC_TIMEOUT ? -ETIMEDOUT : -ECONNREFUSED;
		goto out;
	}
	*status = c.status;
	if (out_size) {
		size_t n = c.body.len < out_size - 1 ? c.body.len : out_size - 1;
		memcpy(out, c.body.data ? c.body.data : "", n);
		out[n] = '\0';
	}
	rc = 0;
out:
	fm_httpc_close(&c);
	fm_loop_delete(&loop);
	return rc;
}

int fmh_docker_cli(const struct fmh_docker *d, char *out, size_t out_size, ...)
{
	const char *argv[34] = {DOCKER_CLI, "-H", d->host};
	int n = 3, status = -1;
	va_list ap;
	va_start(ap, out_size);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 33;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	int rc = fmh_run(argv, out, out_size, &status, 60000);
	return rc < 0 ? rc : status;
}

int fmh_docker_run(const struct fmh_docker *d, const char *name, char id[65], ...)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "Image", FMH_DOCKER_IMAGE);
	cJSON *cmd = cJSON_AddArrayToObject(req, "Cmd");
	va_list ap;
	va_start(ap, id);
	for (const char *a; (a = va_arg(ap, const char *));)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(a));
	va_end(ap);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(req, "HostConfig"), "NetworkMode", "none");
	char *body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	char path[512], out[4096];
	int status, rc;
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	rc = fmh_docker_api(d, "POST", path, body, &status, out, sizeof(out));
	free(body);
	if (rc < 0)
		return rc;
	cJSON *j = cJSON_Parse(out);
	const cJSON *jid = cJSON_GetObjectItem(j, "Id");
	if (status != 201 || !cJSON_IsString(jid)) {
		fprintf(stderr, "fmh_docker_run %s: HTTP %d %s\n", name, status, out);
		cJSON_Delete(j);
		return -EIO;
	}
	snprintf(id, 65, "%s", jid->valuestring);
	cJSON_Delete(j);
	snprintf(path, sizeof(path), "/containers/%s/start", id);
	rc = fmh_docker_api(d, "POST", path, NULL, &status, out, sizeof(out));
	if (rc < 0)
		return rc;
	if (status != 204) {
		fprintf(stderr, "fmh_docker_run %s start: HTTP %d %s\n", name, status, out);
		return -EIO;
	}
	return 0;
}

static void print_tail(const struct fmh_docker *d)
{
	fmh_print_tail(d->log);
}

static int spawn_dockerd(struct fmh_docker *d)
{
	char data[PATH_MAX + 8], exec[PATH_MAX + 8], pidf[PATH_MAX + 8], h[140], nsp[40];
	snprintf(data, sizeof(data), "%s", d->data);
	snprintf(exec, sizeof(exec), "%s/exec", d->dir);
	snprintf(pidf, sizeof(pidf), "%s/d.pid", d->dir);
	snprintf(h, sizeof(h), "%s", d->host);
	snprintf(nsp, sizeof(nsp), "%s-p", d->ns);
	const char *argv[] = {"dockerd", "--data-root", data, "--exec-root", exec, "-H", h,
			      "--pidfile", pidf, "--iptables=false", "--ip6tables=false",
			      "--bridge=none", "--ip-masq=false", "--containerd-namespace", d->ns,
			      "--containerd-plugins-namespace", nsp,
			      d->tcp[0] ? "-H" : NULL, d->tcp, NULL};
	pid_t pid = fmh_spawn(argv, d->log);
	if (pid < 0)
		return (int)pid;
	d->pid = pid;
	/* Wait for the API itself, not just the socket file: dockerd binds
	 * early and answers once its containerd is up. */
	long long deadline = now_ms() + 60000;
	while (now_ms() < deadline) {
		int status = 0;
		char out[64];
		if (kill(pid, 0) < 0)
			break;
		if (access(d->sock, F_OK) == 0 &&
		    fmh_docker_api(d, "GET", "/_ping", NULL, &status, out, sizeof(out)) == 0 &&
		    status == 200)
			return 0;
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
	print_tail(d);
	return -ETIMEDOUT;
}

static void stop_at_exit(void)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i])
			fmh_docker_stop(live[i]);
}

static int make_rootfs(const struct fmh_docker *d)
{
	static const char *const applets[] = {"sh", "sleep", "true", "false", "echo", "cat", "kill"};
	char p[PATH_MAX + 64], t[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/rootfs/bin", d->dir);
	snprintf(t, sizeof(t), "%s/rootfs", d->dir);
	if (mkdir(t, 0755) < 0 || mkdir(p, 0755) < 0)
		return -errno;
	snprintf(t, sizeof(t), "%s/busybox", p);
	const char *cp[] = {"cp", "/bin/busybox", t, NULL};
	int status;
	if (fmh_run(cp, NULL, 0, &status, 10000) < 0 || status != 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		snprintf(t, sizeof(t), "%s/%s", p, applets[i]);
		if (symlink("busybox", t) < 0)
			return -errno;
	}
	return 0;
}

int fmh_docker_start(struct fmh_docker *d)
{
	return fmh_docker_start_at(d, NULL);
}

static int start(struct fmh_docker *d, const char *data_root, bool tcp);

int fmh_docker_start_at(struct fmh_docker *d, const char *data_root)
{
	return start(d, data_root, false);
}

int fmh_docker_start_tcp(struct fmh_docker *d)
{
	return start(d, NULL, true);
}

static int start(struct fmh_docker *d, const char *data_root, bool tcp)
{
	memset(d, 0, sizeof(*d));
	if (tcp) {
		int port = fmh_free_port();
		if (port < 0)
			return port;
		snprintf(d->tcp, sizeof(d->tcp), "tcp://127.0.0.1:%d", port);
	}
	fmh_init();
	/* Orphans of dockerd (containerd, shims) re-parent to us, so they are
	 * ours to find by pid. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	int rc = fmh_tmpdir(d->dir, sizeof(d->dir));
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(d->sock, sizeof(d->sock), "%s/d.sock", d->dir) >= sizeof(d->sock))
		return -ENAMETOOLONG;
	snprintf(d->host, sizeof(d->host), "unix://%s", d->sock);
	snprintf(d->log, sizeof(d->log), "%s/dockerd.log", d->dir);
	if (data_root)
		snprintf(d->data, sizeof(d->data), "%s", data_root);
	else
		snprintf(d->data, sizeof(d->data), "%s/data", d->dir);
	snprintf(d->ns, sizeof(d->ns), "fmtest-%d-%d", (int)getpid(), next_ns++);
	static bool registered;
	if (!registered) {
		atexit(stop_at_exit);
		registered = true;
	}
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (!live[i]) {
			live[i] = d;
			break;
		}
	if ((rc = make_rootfs(d)) < 0)
		return rc;
	if ((rc = spawn_dockerd(d)) < 0)
		return rc;
	char cmd[PATH_MAX * 2 + 256], out[2048];
	snprintf(cmd, sizeof(cmd), "tar -C '%s/rootfs' -c . | %s -H '%s' import - %s", d->dir,
		 DOCKER_CLI, d->host, FMH_DOCKER_IMAGE);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	int status;
	rc = fmh_run(sh, out, sizeof(out), &status, 60000);
	if (rc < 0 || status != 0) {
		fprintf(stderr, "fmh_docker_start: import failed: %s\n", out);
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

static bool read_file(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	*len = (size_t)n;
	return true;
}

int fmh_docker_kill(struct fmh_docker *d)
{
	if (!d->pid)
		return -ESRCH;
	char pf[PATH_MAX + 40], buf[32];
	size_t len;
	pid_t cpid = 0;
	snprintf(pf, sizeof(pf), "%s/exec/containerd/containerd.pid", d->dir);
	if (read_file(pf, buf, sizeof(buf), &len))
		cpid = (pid_t)atoi(buf);
	/* Only dockerd: fmh_stop would signal its whole group (containerd). */
	kill(d->pid, SIGKILL);
	/* Dead before fmh_stop looks, or it would SIGTERM the group
	 * (containerd) of a process it thinks still runs. */
	siginfo_t si;
	waitid(P_PID, (id_t)d->pid, &si, WEXITED | WNOWAIT);
	int st;
	int rc = fmh_stop_status(d->pid, &st);
	d->pid = 0;
	/* dockerd's containerd dies with it (its parent-death signal) and,
	 * re-parented to us as the subreaper, stays a zombie that the next
	 * dockerd would take for a live containerd: reap it. */
	long long deadline = now_ms() + 5000;
	while (cpid > 0 && now_ms() < deadline) {
		if (waitpid(cpid, NULL, WNOHANG) == cpid || (kill(cpid, 0) < 0 && errno == ESRCH))
			break;
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	return rc;
}

int fmh_docker_restart(struct fmh_docker *d)
{
	if (d->pid)
		return -EBUSY;
	return spawn_dockerd(d);
}

/* Children of this process left by a Docker under dir: their command line
 * names dir (containerd, shims) or they live in another pid namespace
 * (container processes whose shim died). Fills pids, returns the count. */
static int docker_children(const char *dir, pid_t *pids, int max)
{
	char self_ns[64] = "";
	ssize_t l = readlink("/proc/self/ns/pid", self_ns, sizeof(self_ns) - 1);
	if (l > 0)
		self_ns[l] = '\0';
	DIR *dp = opendir("/proc");
	int n = 0;
	if (!dp)
		return 0;
	for (struct dirent *e; (e = readdir(dp)) && n < max;) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char p[64], buf[8192], ns[64] = "";
		size_t len;
		snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
		if (!read_file(p, buf, sizeof(buf), &len))
			continue;
		const char *rp = strrchr(buf, ')');
		int ppid = 0;
		if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1 || ppid != getpid())
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/ns/pid", pid);
		l = readlink(p, ns, sizeof(ns) - 1);
		if (l > 0)
			ns[l] = '\0';
		bool other_ns = l > 0 && strcmp(ns, self_ns) != 0;
		bool names_dir = false;
		snprintf(p, sizeof(p), "/proc/%ld/cmdline", pid);
		if (read_file(p, buf, sizeof(buf), &len)) {
			for (size_t i = 0; i < len; i++)
				if (!buf[i])
					buf[i] = ' ';
			names_dir = strstr(buf, dir) != NULL;
		}
		if (other_ns || names_dir)
			pids[n++] = (pid_t)pid;
	}
	closedir(dp);
	return n;
}

int fmh_docker_leftover_procs(const char *dir)
{
	pid_t pids[256];
	return docker_children(dir, pids, 256);
}

/* Mount points under dir, from /proc/self/mountinfo (field 5), deepest
 * (longest) first. */
static int mounts_under(const char *dir, char (*out)[PATH_MAX], int max)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int n = 0;
	size_t dl = strlen(dir);
	if (!f)
		return 0;
	char line[4096];
	while (fgets(line, sizeof(line), f) && n < max) {
		char mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (strncmp(mp, dir, dl) == 0 && (mp[dl] == '/' || !mp[dl]))
			snprintf(out[n++], PATH_MAX, "%s", mp);
	}
	fclose(f);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strlen(out[j]) > strlen(out[i])) {
				char t[PATH_MAX];
				memcpy(t, out[i], PATH_MAX);
				memcpy(out[i], out[j], PATH_MAX);
				memcpy(out[j], t, PATH_MAX);
			}
	return n;
}

int fmh_docker_leftover_mounts(const char *dir)
{
	static char m[64][PATH_MAX];
	return mounts_under(dir, m, 64);
}

/* Kills (by pid) what outlived dockerd (after a SIGKILL, or a SIGTERM it
 * did not finish: its containerd, shims and their containers, re-parented
 * to us), unmounts what it left under its dir and under its data root (not
 * the data root itself: the caller's), deepest first. The number of
 * processes and mounts still there. */
static int clear_leftovers(const struct fmh_docker *d)
{
	for (int round = 0; round < 50; round++) {
		pid_t pids[256];
		int n = docker_children(d->dir, pids, 256);
		if (n == 0)
			break;
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		for (int i = 0; i < n; i++)
			waitpid(pids[i], NULL, 0);
	}
	static char m[64][PATH_MAX];
	const char *under[2] = {d->dir, d->data};
	/* The caller's data root (outside dir) is the caller's mount; dir/data
	 * is ours, and Docker may have mounted over it too. */
	size_t dl = strlen(d->dir);
	const char *keep = strncmp(d->data, d->dir, dl) == 0 && d->data[dl] == '/' ? NULL : d->data;
	int busy = fmh_docker_leftover_procs(d->dir);
	for (int k = 0; k < 2; k++) {
		int n = mounts_under(under[k], m, 64);
		for (int i = 0; i < n; i++) {
			if (keep && strcmp(m[i], keep) == 0)
				continue;
			if (umount2(m[i], MNT_DETACH) < 0)
				fprintf(stderr, "fmh_docker: umount %s: %s\n", m[i], strerror(errno));
		}
		n = mounts_under(under[k], m, 64);
		for (int i = 0; i < n; i++)
			busy += !keep || strcmp(m[i], keep) != 0;
	}
	return busy;
}

int fmh_docker_halt(struct fmh_docker *d)
{
	if (!d->pid)
		return -ESRCH;
	fmh_stop(d->pid); /* SIGTERM to dockerd's group: it stops its containerd */
	d->pid = 0;
	return clear_leftovers(d) ? -EBUSY : 0;
}

int fmh_docker_stop(struct fmh_docker *d)
{
	if (!d->dir[0])
		return 0;
	if (d->pid) {
		/* Remove the containers while dockerd can still do it cleanly. */
		char out[65536];
		int status;
		if (fmh_docker_api(d, "GET", "/containers/json?all=1", NULL, &status, out,
				   sizeof(out)) == 0 && status == 200) {
			cJSON *j = cJSON_Parse(out);
			const cJSON *e;
			cJSON_ArrayForEach(e, j) {
				const cJSON *id = cJSON_GetObjectItem(e, "Id");
				char path[256], o2[512];
				if (!cJSON_IsString(id))
					continue;
				snprintf(path, sizeof(path), "/containers/%s?force=1", id->valuestring);
				fmh_docker_api(d, "DELETE", path, NULL, &status, o2, sizeof(o2));
			}
			cJSON_Delete(j);
		}
		fmh_stop(d->pid);
		d->pid = 0;
	}
	int busy = clear_leftovers(d);
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == d)
			live[i] = NULL;
	return busy ? -EBUSY : 0;
}

int fmh_docker_api_want(const struct fmh_docker *d, const char *method, const char *path, int want,
			char *out, size_t out_size)
{
	int status = 0;
	int rc = fmh_docker_api(d, method, path, NULL, &status, out, out_size);
	if (rc < 0)
		return rc;
	if (status != want) {
		fprintf(stderr, "%s %s: HTTP %d (want %d): %s\n", method, path, status, want, out);
		return -EPROTO;
	}
	return 0;
}

int fmh_docker_run_exited(const struct fmh_docker *d, const char *name, char id[65], const char *cmd)
{
	char out[4096], path[128];
	int rc = fmh_docker_run(d, name, id, "sh", "-c", cmd, NULL);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/containers/%s/wait", id);
	return fmh_docker_api_want(d, "POST", path, 200, out, sizeof(out));
}
