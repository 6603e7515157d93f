/*
 * fmh_containerd: a private containerd with its CRI plugin. See
 * fmh_containerd.h for the contract.
 *
 * What finds and removes leftovers (processes, shim sockets, mounts, cgroups)
 * runs from the fatal-signal path too (fmh_on_cleanup), so it is written with
 * async-signal-safe calls only: open, read, getdents64, kill, umount2, rmdir,
 * unlink, and string functions; no stdio, no allocation. The rest (starting,
 * the image, the CRI client) is ordinary code.
 */
#include "fmh_containerd.h"

#include "fm_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONTAINERD   "/usr/bin/containerd"
#define CTR	     "/usr/bin/ctr"
#define PYTHON	     "/usr/bin/python3" /* Debian's, with python3-grpcio */
#define START_MS     60000
#define CRI_RUN_MS   60000 /* one cri_client.py run; each of its calls has 30 s */
#define MAX_LIVE     8
#define MAX_PROCS    256
#define MAX_MOUNTS   64
#define MAX_CGROUPS  16
#define MAX_SHIMS    64
#define TASKS_SUBDIR "io.containerd.runtime.v2.task/" FMH_CONTAINERD_NS
/* Where containerd 1.6 puts its shims' sockets, whatever its config says. */
#define SHIM_SOCK_DIR "/run/containerd/s/"

/* The running instances: the caller's struct, and our copy of it kept in
 * step, which the stop at exit and the signal path use (the caller's may be
 * gone by then, e.g. from a stack). Its dir never changes once used. */
static struct {
	const struct fmh_containerd *owner;
	struct fmh_containerd copy;
} live[MAX_LIVE];
static volatile sig_atomic_t live_used[MAX_LIVE];

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* --- signal-safe helpers -------------------------------------------------- */

/* Concatenates the strings after size (NULL-terminated) into out, bounded:
 * snprintf is not async-signal-safe. false when they do not fit. */
static bool cat(char *out, size_t size, ...)
{
	va_list ap;
	size_t n = 0;
	bool fits = true;
	va_start(ap, size);
	for (const char *s; (s = va_arg(ap, const char *));)
		for (; *s && fits; s++) {
			if (n + 1 >= size)
				fits = false;
			else
				out[n++] = *s;
		}
	va_end(ap);
	out[n] = '\0';
	return fits;
}

/* The whole file (up to size - 1 bytes, NUL-terminated) into buf: its
 * length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;
	if (fd < 0)
		return -1;
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

static long parse_long(const char *s)
{
	long v = 0;
	while (*s == ' ')
		s++;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

struct dent64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* Calls fn for every entry of dir but . and .. (getdents64 into a stack
 * buffer: opendir allocates). */
static void list_dir(const char *dir, void (*fn)(const char *dir, const char *name,
						 unsigned char type, void *arg),
		     void *arg)
{
	_Alignas(8) char buf[4096];
	long n;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			const struct dent64 *d = (const struct dent64 *)(buf + off);
			off += d->reclen;
			if (strcmp(d->name, ".") != 0 && strcmp(d->name, "..") != 0)
				fn(dir, d->name, d->type, arg);
		}
	close(fd);
}

/* "fmhctd-" + the dir's last component: the pods' cgroup parent, without
 * its leading slash. */
static void cg_name(const char *dir, char *out, size_t size)
{
	const char *base = strrchr(dir, '/');
	cat(out, size, "fmhctd-", base ? base + 1 : dir, NULL);
}

/* --- processes -------------------------------------------------------------- */

struct scan {
	const char *dir, *cg;
	pid_t self;
	pid_t *pids;
	int n, max;
};

/* Whether /proc/<pid>/cgroup puts it under our cgroup parent, in any
 * hierarchy: a line "N:ctrl:/<cg>/..." or "N:ctrl:/<cg>". */
static bool in_our_cgroup(const char *pid, const char *cg)
{
	char p[64], buf[4096], want[80];
	if (!cat(p, sizeof(p), "/proc/", pid, "/cgroup", NULL) || slurp(p, buf, sizeof(buf)) <= 0)
		return false;
	cat(want, sizeof(want), ":/", cg, NULL);
	size_t wl = strlen(want);
	for (const char *s = strstr(buf, want); s; s = strstr(s + 1, want))
		if (s[wl] == '/' || s[wl] == '\n' || !s[wl])
			return true;
	return false;
}

/* Ours: a live process in the pods' cgroups (a container, a sandbox), or
 * a child of the test (re-parented: we are the subreaper) whose command
 * line names dir (containerd, its shims). Zombies are not: they only need
 * reaping. */
static bool proc_is_ours(const char *pid, const struct scan *s)
{
	char p[64], buf[8192];
	if (!cat(p, sizeof(p), "/proc/", pid, "/stat", NULL) || slurp(p, buf, sizeof(buf)) <= 0)
		return false;
	const char *rp = strrchr(buf, ')');
	if (!rp || strlen(rp) < 5 || rp[2] == 'Z')
		return false;
	if (in_our_cgroup(pid, s->cg))
		return true;
	if (parse_long(rp + 4) != s->self)
		return false;
	cat(p, sizeof(p), "/proc/", pid, "/cmdline", NULL);
	ssize_t n = slurp(p, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	return n > 0 && strstr(buf, s->dir) != NULL;
}

static void scan_one(const char *dir, const char *name, unsigned char type, void *arg)
{
	struct scan *s = arg;
	(void)dir;
	(void)type;
	if (name[0] < '1' || name[0] > '9' || s->n >= s->max)
		return;
	if (proc_is_ours(name, s))
		s->pids[s->n++] = (pid_t)parse_long(name);
}

/* The processes of the containerd under dir (see proc_is_ours). */
static int our_procs(const char *dir, pid_t *pids, int max)
{
	char cg[64];
	cg_name(dir, cg, sizeof(cg));
	struct scan s = {.dir = dir, .cg = cg, .self = getpid(), .pids = pids, .max = max};
	list_dir("/proc", scan_one, &s);
	return s.n;
}

/* Waits (up to 5 s) until pid is gone: reaped by us when it is, or became,
 * our child; or by its own parent. */
static void wait_gone(pid_t pid)
{
	long long end = now_ms() + 5000;
	while (now_ms() < end) {
		if (waitpid(pid, NULL, WNOHANG) == pid || (kill(pid, 0) < 0 && errno == ESRCH))
			return;
		sleep_ms(5);
	}
}

/* Whether pid has ended: no longer in /proc, or a zombie (which has left
 * its cgroups already). */
static bool ended(pid_t pid)
{
	char num[24], p[48], buf[512];
	size_t n = sizeof(num) - 1;
	num[n] = '\0';
	for (unsigned long v = (unsigned long)pid; n > 0;) {
		num[--n] = (char)('0' + v % 10);
		if (!(v /= 10))
			break;
	}
	cat(p, sizeof(p), "/proc/", num + n, "/stat", NULL);
	if (slurp(p, buf, sizeof(buf)) <= 0)
		return true;
	const char *rp = strrchr(buf, ')');
	return rp && strlen(rp) > 2 && rp[2] == 'Z';
}

/* --- shim sockets ----------------------------------------------------------- */

struct shims {
	char addr[MAX_SHIMS][128];
	int n;
};

/* A task's "address" file says where its shim listens: unix:///run/
 * containerd/s/<sha256>. Kept only when it is that form exactly. */
static void shim_one(const char *dir, const char *name, unsigned char type, void *arg)
{
	struct shims *sh = arg;
	char p[PATH_MAX], buf[160];
	(void)type;
	if (sh->n >= MAX_SHIMS || !cat(p, sizeof(p), dir, "/", name, "/address", NULL) ||
	    slurp(p, buf, sizeof(buf)) <= 0)
		return;
	const char *path = strncmp(buf, "unix://", 7) == 0 ? buf + 7 : buf;
	size_t pl = strlen(SHIM_SOCK_DIR);
	if (strncmp(path, SHIM_SOCK_DIR, pl) != 0 || strlen(path + pl) != 64 ||
	    strspn(path + pl, "0123456789abcdef") != 64)
		return;
	cat(sh->addr[sh->n++], sizeof(sh->addr[0]), path, NULL);
}

/* The sockets of the shims of the containerd under dir, read while they
 * run: a SIGKILLed shim leaves its socket behind, outside our dir. */
static void shim_sockets(const char *dir, struct shims *sh)
{
	char tasks[PATH_MAX];
	sh->n = 0;
	if (cat(tasks, sizeof(tasks), dir, "/state/" TASKS_SUBDIR, NULL))
		list_dir(tasks, shim_one, sh);
}

static void unlink_shim_sockets(const struct shims *sh)
{
	for (int i = 0; i < sh->n; i++)
		unlink(sh->addr[i]);
}

/* --- mounts and cgroups ----------------------------------------------------- */

struct mounts {
	const char *under; /* mount points under it (NULL: cgroup hierarchies) */
	char (*mp)[PATH_MAX];
	int n, max;
};

/* One mountinfo line: "id parent maj:min root mountpoint opts ... - type
 * source superopts". */
static void mount_line(char *line, struct mounts *m)
{
	char *f = line, *sep = strstr(line, " - ");
	for (int i = 0; i < 4 && f; i++) {
		f = strchr(f, ' ');
		f = f ? f + 1 : NULL;
	}
	if (!f || !sep || m->n >= m->max)
		return;
	char *end = strchr(f, ' ');
	if (!end)
		return;
	*end = '\0';
	if (m->under) {
		size_t ul = strlen(m->under);
		if (strncmp(f, m->under, ul) == 0 && (f[ul] == '/' || !f[ul]))
			cat(m->mp[m->n++], PATH_MAX, f, NULL);
	} else if (strncmp(sep + 3, "cgroup ", 7) == 0 || strncmp(sep + 3, "cgroup2 ", 8) == 0) {
		cat(m->mp[m->n++], PATH_MAX, f, NULL);
	}
}

/* Fills m from /proc/self/mountinfo, in its order (a mount after the one
 * it is mounted on). read() line by line: no stdio. */
static void read_mounts(struct mounts *m)
{
	char chunk[4096], line[8192];
	size_t ll = 0;
	ssize_t n;
	m->n = 0;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = chunk[i];
				continue;
			}
			line[ll] = '\0';
			mount_line(line, m);
			ll = 0;
		}
	close(fd);
}

static char mount_tab[MAX_MOUNTS][PATH_MAX];

static int mounts_under(const char *dir)
{
	struct mounts m = {.under = dir, .mp = mount_tab, .max = MAX_MOUNTS};
	read_mounts(&m);
	return m.n;
}

/* Unmounts everything under dir, the last mounted (the deepest) first;
 * lazily when busy. The number of mounts still there. */
static int unmount_under(const char *dir)
{
	for (int pass = 0; pass < 3; pass++) {
		int n = mounts_under(dir);
		if (!n)
			return 0;
		for (int i = n - 1; i >= 0; i--)
			if (umount2(mount_tab[i], 0) < 0)
				umount2(mount_tab[i], MNT_DETACH);
	}
	return mounts_under(dir);
}

static void rm_cgroup_tree(const char *path);

static void rm_cgroup_child(const char *dir, const char *name, unsigned char type, void *arg)
{
	char p[PATH_MAX];
	(void)arg;
	if (type == DT_DIR && cat(p, sizeof(p), dir, "/", name, NULL))
		rm_cgroup_tree(p);
}

/* A cgroup and the cgroups under it, the leaves first (rmdir takes an empty
 * cgroup with its control files). */
static void rm_cgroup_tree(const char *path)
{
	list_dir(path, rm_cgroup_child, NULL);
	rmdir(path);
}

static char cgroup_tab[MAX_CGROUPS][PATH_MAX];

/* Removes (remove) or counts the pods' cgroup parent of dir in every
 * hierarchy. The number still there. */
static int pod_cgroups(const char *dir, bool remove)
{
	char cg[64], p[PATH_MAX];
	struct mounts m = {.mp = cgroup_tab, .max = MAX_CGROUPS};
	int left = 0;
	cg_name(dir, cg, sizeof(cg));
	read_mounts(&m);
	for (int i = 0; i < m.n; i++) {
		if (!cat(p, sizeof(p), cgroup_tab[i], "/", cg, NULL))
			continue;
		if (remove)
			rm_cgroup_tree(p);
		left += access(p, F_OK) == 0;
	}
	return left;
}

/* What the fatal-signal path (and fmh_cleanup) does for one instance:
 * SIGKILL what is ours, in rounds (a shim may be starting a process while
 * we kill), until it has ended; drop the shims' sockets, unmount, remove
 * the cgroups. Bounded to 3 s. A round's dead are reaped once all of it has
 * ended, so a container whose shim died is ours by then: init may not reap
 * (this machine's does not). Reaping a pid the harness recorded is safe: it
 * asks waitid before it signals. */
static void undo_one(const char *dir)
{
	static struct shims sh;
	pid_t pids[MAX_PROCS];
	long long end = now_ms() + 3000;
	int n;
	shim_sockets(dir, &sh);
	while ((n = our_procs(dir, pids, MAX_PROCS)) > 0 && now_ms() < end) {
		for (int k = 0; k < n; k++)
			kill(pids[k], SIGKILL);
		for (int k = 0; k < n; k++)
			while (!ended(pids[k]) && now_ms() < end)
				sleep_ms(5);
		for (int k = 0; k < n; k++)
			waitpid(pids[k], NULL, WNOHANG);
	}
	unlink_shim_sockets(&sh);
	unmount_under(dir);
	while (pod_cgroups(dir, true) && now_ms() < end)
		sleep_ms(20);
}

static void undo_all(void)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live_used[i])
			undo_one(live[i].copy.dir);
}

int fmh_containerd_leftover_procs(const char *dir)
{
	pid_t pids[MAX_PROCS];
	return our_procs(dir, pids, MAX_PROCS);
}

int fmh_containerd_leftover_mounts(const char *dir)
{
	return mounts_under(dir);
}

int fmh_containerd_leftover_cgroups(const char *dir)
{
	return pod_cgroups(dir, false);
}

/* Kills by pid what outlived containerd (shims, containers; every round
 * waits for the killed to be gone, so their orphans show up in the next),
 * unmounts what is left under dir and removes the pods' cgroups (retried
 * while a killed container still leaves its cgroup). The number of
 * processes, mounts and cgroups still there. */
static int clear_leftovers(const char *dir)
{
	pid_t pids[MAX_PROCS];
	for (int round = 0; round < 20; round++) {
		int n = our_procs(dir, pids, MAX_PROCS);
		if (!n)
			break;
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		for (int i = 0; i < n; i++)
			wait_gone(pids[i]);
	}
	int busy = our_procs(dir, pids, MAX_PROCS);
	int mounts = unmount_under(dir);
	if (mounts)
		fprintf(stderr, "fmh_containerd: %d mounts left under %s\n", mounts, dir);
	long long end = now_ms() + 3000;
	int cgroups;
	while ((cgroups = pod_cgroups(dir, true)) && now_ms() < end)
		sleep_ms(20);
	if (cgroups)
		fprintf(stderr, "fmh_containerd: %d cgroups left of %s\n", cgroups, dir);
	return busy + mounts + cgroups;
}

/* --- the CRI client ---------------------------------------------------------- */

/* tests/harness/cri_client.py, beside this file (the build passes sources
 * by absolute path) unless the build says where. */
static const char *client_path(void)
{
#ifdef FMH_CRI_CLIENT
	return FMH_CRI_CLIENT;
#else
	static char path[PATH_MAX];
	if (!path[0]) {
		const char *slash = strrchr(__FILE__, '/');
		int dl = slash ? (int)(slash - __FILE__) : 1;
		snprintf(path, sizeof(path), "%.*s/cri_client.py", dl, slash ? __FILE__ : ".");
	}
	return path;
#endif
}

/* Runs the client with args (NULL-terminated, at most 24); its stdout into
 * out. The exit status or -errno. */
static int cri_run(const struct fmh_containerd *c, char *out, size_t out_size,
		   const char *const args[])
{
	const char *argv[40] = {PYTHON,		 client_path(), "--endpoint", c->endpoint,
				"--cgroup-parent", c->cgroup,	  "--log-root", c->logs};
	int n = 8, status = -1;
	for (int i = 0; args[i]; i++) {
		if (n >= 8 + 24)
			return -E2BIG;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	char err[4096];
	int rc = fmh_run2(argv, out, out_size, err, sizeof(err), &status, CRI_RUN_MS);
	if (rc < 0)
		return rc;
	/* 1 is the runtime's refusal, in out for the caller; more is the
	 * client's own failure (usage, proto, a traceback). */
	if (status > 1)
		fprintf(stderr, "fmh_containerd: cri_client.py %s: exit %d: %s\n", args[0], status,
			err);
	return status;
}

int fmh_containerd_cri(const struct fmh_containerd *c, char *out, size_t out_size, ...)
{
	const char *args[25];
	int n = 0;
	va_list ap;
	va_start(ap, out_size);
	for (const char *a; (a = va_arg(ap, const char *));) {
		if (n >= 24) {
			va_end(ap);
			return -E2BIG;
		}
		args[n++] = a;
	}
	va_end(ap);
	args[n] = NULL;
	if (!n)
		return -EINVAL;
	return cri_run(c, out, out_size, args);
}

void fmh_containerd_print_log_tail(const struct fmh_containerd *c)
{
	fmh_print_tail(c->log);
}

int fmh_containerd_task_pids(const struct fmh_containerd *c, const char *id, pid_t *shim,
			     pid_t *init)
{
	char p[PATH_MAX + 256], buf[8192];
	*shim = *init = 0;
	snprintf(p, sizeof(p), "%s/" TASKS_SUBDIR "/%s/init.pid", c->state, id);
	if (slurp(p, buf, sizeof(buf)) <= 0 || (*init = (pid_t)parse_long(buf)) <= 0)
		return -ENOENT;
	/* containerd 1.6 writes no shim.pid: the shim is the subreaper that
	 * runc's init re-parented to, and names our dir (-address). */
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)*init);
	const char *rp = slurp(p, buf, sizeof(buf)) > 0 ? strrchr(buf, ')') : NULL;
	pid_t parent = rp && strlen(rp) > 4 ? (pid_t)parse_long(rp + 4) : 0;
	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)parent);
	ssize_t n = parent > 1 ? slurp(p, buf, sizeof(buf)) : -1;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	if (n > 0 && strstr(buf, c->dir))
		*shim = parent;
	return 0;
}

/* --- the image --------------------------------------------------------------- */

static int run_quiet(const char *const argv[], char *out, size_t size)
{
	int status = -1;
	int rc = fmh_run(argv, out, size, &status, 60000);
	if (rc < 0 || status != 0) {
		fprintf(stderr, "fmh_containerd: %s failed (%d, exit %d): %s\n", argv[0], rc,
			status, out ? out : "");
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

/* busybox-static and its applets under dir/rootfs, as fmh_docker's image. */
static int make_rootfs(const char *dir)
{
	static const char *const applets[] = {"sh",   "sleep", "true", "false",
					      "echo", "cat",   "kill"};
	char p[PATH_MAX + 64], t[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/rootfs/bin", dir);
	snprintf(t, sizeof(t), "%s/rootfs", dir);
	if (mkdir(t, 0755) < 0 || mkdir(p, 0755) < 0)
		return -errno;
	snprintf(t, sizeof(t), "%s/busybox", p);
	const char *cp[] = {"cp", "/bin/busybox", t, NULL};
	int rc = run_quiet(cp, NULL, 0);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		snprintf(t, sizeof(t), "%s/%s", p, applets[i]);
		if (symlink("busybox", t) < 0)
			return -errno;
	}
	return 0;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	bool ok = fputs(text, f) >= 0;
	ok = fclose(f) == 0 && ok;
	return ok ? 0 : -EIO;
}

/* Moves layout/name into layout/blobs/sha256/<its sha256>: its digest
 * ("sha256:<hex>") into digest and its size into *size. */
static int put_blob(const char *layout, const char *name, char digest[72], long long *size)
{
	char path[PATH_MAX + 64], blob[PATH_MAX + 128], out[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", layout, name);
	const char *sum[] = {"sha256sum", path, NULL};
	int rc = run_quiet(sum, out, sizeof(out));
	if (rc < 0)
		return rc;
	if (strspn(out, "0123456789abcdef") != 64 || stat(path, &st) < 0)
		return -EIO;
	snprintf(digest, 72, "sha256:%.64s", out);
	*size = (long long)st.st_size;
	snprintf(blob, sizeof(blob), "%s/blobs/sha256/%.64s", layout, out);
	return rename(path, blob) < 0 ? -errno : 0;
}

/* The image's platform, as Go names it (OCI's architecture and variant). */
static void platform(char *arch, size_t size, const char **variant)
{
	struct utsname u;
	*variant = NULL;
	uname(&u);
	if (strcmp(u.machine, "x86_64") == 0)
		snprintf(arch, size, "amd64");
	else if (strcmp(u.machine, "aarch64") == 0)
		snprintf(arch, size, "arm64");
	else if (strncmp(u.machine, "armv7", 5) == 0 && (*variant = "v7"))
		snprintf(arch, size, "arm");
	else
		snprintf(arch, size, "%s", u.machine);
}

/* The image config: the layer, and a default command that runs for ever,
 * so the image is the pods' sandbox too (Entrypoint empty: a container's
 * CRI command replaces the whole of it). */
static int write_config(const char *layout, const char *layer, char digest[72], long long *size)
{
	char text[1024], arch[32], path[PATH_MAX + 16], var[32] = "";
	const char *variant;
	platform(arch, sizeof(arch), &variant);
	if (variant)
		snprintf(var, sizeof(var), "\"variant\":\"%s\",", variant);
	snprintf(text, sizeof(text),
		 "{\"architecture\":\"%s\",%s\"os\":\"linux\","
		 "\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"/bin/sleep\",\"2147483647\"],"
		 "\"WorkingDir\":\"/\"},"
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		 arch, var, layer);
	snprintf(path, sizeof(path), "%s/config.json", layout);
	int rc = write_text(path, text);
	return rc < 0 ? rc : put_blob(layout, "config.json", digest, size);
}

/* The manifest of config and layer, and the index naming it
 * FMH_CONTAINERD_IMAGE (io.containerd.image.name: ctr import takes the
 * name from it). */
static int write_manifest(const char *layout, const char *config, long long config_size,
			  const char *layer, long long layer_size)
{
	char text[1024], path[PATH_MAX + 16], digest[72];
	long long size;
	snprintf(text, sizeof(text),
		 "{\"schemaVersion\":2,"
		 "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"%s\",\"size\":%lld},"
		 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
		 "\"digest\":\"%s\",\"size\":%lld}]}",
		 config, config_size, layer, layer_size);
	snprintf(path, sizeof(path), "%s/manifest.json", layout);
	int rc = write_text(path, text);
	if (rc < 0 || (rc = put_blob(layout, "manifest.json", digest, &size)) < 0)
		return rc;
	snprintf(text, sizeof(text),
		 "{\"schemaVersion\":2,\"manifests\":[{"
		 "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		 "\"digest\":\"%s\",\"size\":%lld,\"annotations\":{"
		 "\"io.containerd.image.name\":\"%s\","
		 "\"org.opencontainers.image.ref.name\":\"test\"}}]}",
		 digest, size, FMH_CONTAINERD_IMAGE);
	snprintf(path, sizeof(path), "%s/index.json", layout);
	if ((rc = write_text(path, text)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/oci-layout", layout);
	return write_text(path, "{\"imageLayoutVersion\":\"1.0.0\"}");
}

/* dir/image.tar: an OCI image layout (one uncompressed layer: the rootfs),
 * the form `ctr images import` takes. The layer's tar is reproducible
 * (sorted, owner 0, mtime 0), so the image's id is the same every run. */
static int make_image(const char *dir)
{
	char layout[PATH_MAX + 16], p[PATH_MAX + 64], rootfs[PATH_MAX + 16], tarball[PATH_MAX + 16];
	char layer[72], config[72];
	long long layer_size, config_size;
	int rc = make_rootfs(dir);
	if (rc < 0)
		return rc;
	snprintf(layout, sizeof(layout), "%s/image", dir);
	snprintf(p, sizeof(p), "%s/blobs", layout);
	if (mkdir(layout, 0755) < 0 || mkdir(p, 0755) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/blobs/sha256", layout);
	if (mkdir(p, 0755) < 0)
		return -errno;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	snprintf(p, sizeof(p), "%s/layer.tar", layout);
	const char *tar[] = {"tar", "-C", rootfs, "--sort=name", "--numeric-owner", "--owner=0",
			     "--group=0", "--mtime=@0", "-cf", p, ".", NULL};
	char out[1024];
	if ((rc = run_quiet(tar, out, sizeof(out))) < 0 ||
	    (rc = put_blob(layout, "layer.tar", layer, &layer_size)) < 0 ||
	    (rc = write_config(layout, layer, config, &config_size)) < 0 ||
	    (rc = write_manifest(layout, config, config_size, layer, layer_size)) < 0)
		return rc;
	snprintf(tarball, sizeof(tarball), "%s/image.tar", dir);
	const char *pack[] = {"tar", "-C", layout, "-cf", tarball, "oci-layout", "index.json",
			      "blobs", NULL};
	return run_quiet(pack, out, sizeof(out));
}

/* --- containerd ------------------------------------------------------------- */

static void stop_at_exit(void)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live_used[i])
			fmh_containerd_stop(&live[i].copy);
}

/* Stopped at exit (fully), and from fmh_cleanup and fatal signals (the
 * signal-safe part, undo_all). */
static int track(const struct fmh_containerd *c)
{
	static bool registered;
	if (!registered) {
		if (atexit(stop_at_exit) != 0 || fmh_on_cleanup(undo_all) < 0)
			return -ENOMEM;
		registered = true;
	}
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live_used[i]) {
			live[i].owner = c;
			live[i].copy = *c;
			live_used[i] = 1;
			return 0;
		}
	return -ENOSPC;
}

/* Whether slot i is c: its struct (or our copy) on the same dir (a struct
 * started again without a stop is another instance). */
static bool is_slot(int i, const struct fmh_containerd *c)
{
	return live_used[i] && (live[i].owner == c || &live[i].copy == c) &&
	       strcmp(live[i].copy.dir, c->dir) == 0;
}

/* Our copy takes c's changes (its pid). */
static void sync_copy(const struct fmh_containerd *c)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (is_slot(i, c) && &live[i].copy != c)
			live[i].copy = *c;
}

static void untrack(const struct fmh_containerd *c)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (is_slot(i, c)) {
			live_used[i] = 0;
			live[i].owner = NULL;
		}
}

/* Whether an overlay mounts under dir (not where dir is itself on an
 * overlay, e.g. inside a container): containerd's overlayfs snapshotter
 * needs it, its native one does not. */
static bool overlay_works(const char *dir)
{
	char base[PATH_MAX], l[PATH_MAX + 8], u[PATH_MAX + 8], w[PATH_MAX + 8], m[PATH_MAX + 8];
	char opts[4 * PATH_MAX];
	snprintf(base, sizeof(base), "%s/overlay-probe", dir);
	snprintf(l, sizeof(l), "%s/l", base);
	snprintf(u, sizeof(u), "%s/u", base);
	snprintf(w, sizeof(w), "%s/w", base);
	snprintf(m, sizeof(m), "%s/m", base);
	if (mkdir(base, 0700) < 0 || mkdir(l, 0700) < 0 || mkdir(u, 0700) < 0 ||
	    mkdir(w, 0700) < 0 || mkdir(m, 0700) < 0)
		return false;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", l, u, w);
	if (mount("overlay", m, "overlay", 0, opts) < 0) {
		fprintf(stderr, "fmh_containerd: no overlay under %s (%s): native snapshotter\n",
			dir, strerror(errno));
		return false;
	}
	umount2(m, 0);
	return true;
}

/* The runc Debian ships (/usr/sbin on Debian 12), or PATH's. */
static const char *runc_path(void)
{
	return access("/usr/sbin/runc", X_OK) == 0 ? "/usr/sbin/runc"
	       : access("/usr/bin/runc", X_OK) == 0 ? "/usr/bin/runc"
						    : "runc";
}

/* config.toml: everything under dir, nothing on the host. */
static int write_toml(const struct fmh_containerd *c)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/config.toml", c->dir);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f,
		"# fmh_containerd: a private containerd for one test.\n"
		"version = 2\nroot = \"%s\"\nstate = \"%s\"\noom_score = 0\n"
		"# Not the host's /opt/containerd, no snapshotter that needs its own\n"
		"# filesystem, no tracing.\n"
		"disabled_plugins = [\"io.containerd.internal.v1.opt\",\n"
		"  \"io.containerd.snapshotter.v1.btrfs\",\n"
		"  \"io.containerd.snapshotter.v1.zfs\",\n"
		"  \"io.containerd.snapshotter.v1.devmapper\",\n"
		"  \"io.containerd.snapshotter.v1.aufs\",\n"
		"  \"io.containerd.tracing.processor.v1.otlp\",\n"
		"  \"io.containerd.internal.v1.tracing\"]\n\n"
		"[grpc]\n  address = \"%s\"\n  tcp_address = \"\"\n"
		"# ttrpc on the grpc socket's path + \".ttrpc\"; no debug or metrics listener.\n"
		"[ttrpc]\n  address = \"\"\n"
		"[debug]\n  address = \"\"\n"
		"[metrics]\n  address = \"\"\n\n"
		"# The v1 runtime cannot be disabled (the tasks service, and so CRI,\n"
		"# need it); its runc root would be /run/containerd/runc.\n"
		"[plugins.\"io.containerd.runtime.v1.linux\"]\n  runtime_root = \"%s/runc-v1\"\n\n",
		c->root, c->state, c->sock, c->state);
	fprintf(f,
		"[plugins.\"io.containerd.grpc.v1.cri\"]\n"
		"  sandbox_image = \"%s\"\n"
		"  # The test may not lower oom_score_adj (no CAP_SYS_RESOURCE here), and\n"
		"  # CRI asks runc for -998 for a sandbox: keep what containerd has.\n"
		"  restrict_oom_score_adj = true\n"
		"  disable_apparmor = true\n  enable_selinux = false\n"
		"  systemd_cgroup = false\n  disable_cgroup = false\n"
		"  netns_mounts_under_state_dir = true\n"
		"  disable_tcp_service = true\n"
		"  stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n"
		"  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
		"    bin_dir = \"%s/cni\"\n    conf_dir = \"%s/cni\"\n"
		"  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
		"    snapshotter = \"%s\"\n    default_runtime_name = \"runc\"\n"
		"    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
		"      runtime_type = \"io.containerd.runc.v2\"\n"
		"      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
		"        BinaryName = \"%s\"\n"
		"        # runc's state: by default /run/containerd/runc/k8s.io on the host.\n"
		"        Root = \"%s/runc\"\n        SystemdCgroup = false\n",
		c->image, c->dir, c->dir, c->snapshotter, runc_path(), c->state);
	return fclose(f) == 0 ? 0 : -EIO;
}

static bool exited(pid_t pid)
{
	siginfo_t si = {0};
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == pid;
}

static bool sock_answers(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Polls until the grpc socket accepts, then until CRI's Version names
 * containerd (the CRI plugin answers only once it has recovered its state),
 * giving up early when containerd exits. */
static int wait_cri(const struct fmh_containerd *c, long long deadline)
{
	static const char *const version[] = {"version", NULL};
	char out[1024] = "";
	int err = -ETIMEDOUT;
	while (now_ms() < deadline && !exited(c->pid)) {
		if (!sock_answers(c->sock)) {
			sleep_ms(20);
			continue;
		}
		int rc = cri_run(c, out, sizeof(out), version);
		if (rc == 0 && strstr(out, "\"runtime_name\": \"containerd\""))
			return 0;
		/* Not to retry: the client failed itself (printed), or
		 * containerd serves without CRI (it serves once every plugin
		 * loaded or failed, so CRI failed: its log says why). */
		if (rc < 0 || rc > 1) {
			err = rc < 0 ? rc : -EIO;
			break;
		}
		if (strstr(out, "UNIMPLEMENTED")) {
			err = -ENOPROTOOPT;
			break;
		}
		sleep_ms(100);
	}
	if (exited(c->pid))
		err = -ESRCH;
	fprintf(stderr, "fmh_containerd: CRI did not answer on %s%s; last: %s\n", c->endpoint,
		err == -ESRCH ? " (containerd exited)" : "", out);
	fmh_containerd_print_log_tail(c);
	return err;
}

static int spawn_containerd(struct fmh_containerd *c)
{
	char cfg[PATH_MAX + 16];
	snprintf(cfg, sizeof(cfg), "%s/config.toml", c->dir);
	const char *argv[] = {CONTAINERD, "--config", cfg, NULL};
	pid_t pid = fmh_spawn(argv, c->log);
	if (pid < 0)
		return (int)pid;
	c->pid = pid;
	sync_copy(c);
	return wait_cri(c, now_ms() + START_MS);
}

/* ctr imports image.tar into CRI's namespace, unpacked for the snapshotter
 * CRI uses; then we wait until CRI's own image list has it (it learns of
 * images from containerd's events). */
static int import_image(const struct fmh_containerd *c)
{
	static const char *const images[] = {"images", NULL};
	char tarball[PATH_MAX + 16], out[4096];
	snprintf(tarball, sizeof(tarball), "%s/image.tar", c->dir);
	const char *argv[] = {CTR, "--address", c->sock, "-n", FMH_CONTAINERD_NS, "images",
			      "import", "--snapshotter", c->snapshotter, tarball, NULL};
	int rc = run_quiet(argv, out, sizeof(out));
	if (rc < 0) {
		fmh_containerd_print_log_tail(c);
		return rc;
	}
	long long deadline = now_ms() + START_MS;
	while (now_ms() < deadline) {
		if (cri_run(c, out, sizeof(out), images) == 0 &&
		    strstr(out, "\"" FMH_CONTAINERD_IMAGE "\""))
			return 0;
		sleep_ms(100);
	}
	fprintf(stderr, "fmh_containerd: CRI does not list %s: %s\n", FMH_CONTAINERD_IMAGE, out);
	fmh_containerd_print_log_tail(c);
	return -ETIMEDOUT;
}

/* The paths of c under its fresh dir. */
static int fill(struct fmh_containerd *c)
{
	if ((size_t)snprintf(c->sock, sizeof(c->sock), "%s/containerd.sock", c->dir) >=
	    sizeof(c->sock))
		return -ENAMETOOLONG;
	snprintf(c->endpoint, sizeof(c->endpoint), "unix://%s", c->sock);
	snprintf(c->root, sizeof(c->root), "%s/root", c->dir);
	snprintf(c->state, sizeof(c->state), "%s/state", c->dir);
	snprintf(c->log, sizeof(c->log), "%s/containerd.log", c->dir);
	snprintf(c->logs, sizeof(c->logs), "%s/logs", c->dir);
	char cg[64];
	cg_name(c->dir, cg, sizeof(cg));
	snprintf(c->cgroup, sizeof(c->cgroup), "/%s", cg);
	snprintf(c->image, sizeof(c->image), "%s", FMH_CONTAINERD_IMAGE);
	return 0;
}

int fmh_containerd_start(struct fmh_containerd *c)
{
	char p[PATH_MAX + 16];
	memset(c, 0, sizeof(*c));
	fmh_init();
	/* The shims daemonize: as the subreaper we get them, and the
	 * containers of a killed shim, as children to find and reap. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	int rc = fmh_tmpdir(c->dir, sizeof(c->dir));
	if (rc < 0 || (rc = fill(c)) < 0 || (rc = track(c)) < 0)
		return rc;
	snprintf(p, sizeof(p), "%s/cni", c->dir); /* stays empty: pods use the host's network */
	if (mkdir(p, 0755) < 0 || mkdir(c->logs, 0755) < 0)
		return -errno;
	const char *snap = getenv("FMH_CONTAINERD_SNAPSHOTTER");
	if (!snap || !*snap)
		snap = overlay_works(c->dir) ? "overlayfs" : "native";
	snprintf(c->snapshotter, sizeof(c->snapshotter), "%s", snap);
	sync_copy(c);
	if ((rc = make_image(c->dir)) < 0 || (rc = write_toml(c)) < 0)
		return rc;
	if ((rc = spawn_containerd(c)) < 0)
		return rc;
	return import_image(c);
}

int fmh_containerd_kill(struct fmh_containerd *c)
{
	if (!c->pid)
		return -ESRCH;
	/* containerd only: its shims are in process groups of their own. */
	kill(c->pid, SIGKILL);
	/* Dead before fmh_stop looks, or it would SIGTERM its group first. */
	siginfo_t si;
	waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOWAIT);
	int st;
	int rc = fmh_stop_status(c->pid, &st);
	c->pid = 0;
	sync_copy(c);
	return rc;
}

int fmh_containerd_restart(struct fmh_containerd *c)
{
	if (c->pid)
		return -EBUSY;
	if (!c->dir[0])
		return -EINVAL;
	/* After a stop too: then it is to be stopped at exit again. */
	for (int i = 0; i < MAX_LIVE; i++)
		if (is_slot(i, c))
			return spawn_containerd(c);
	int rc = track(c);
	return rc < 0 ? rc : spawn_containerd(c);
}

/* Every pod stopped and removed through CRI, with its containers: the
 * clean way, which unmounts their rootfs and ends their shims. */
static void remove_pods(const struct fmh_containerd *c)
{
	static const char *const rmall[] = {"rmall", NULL};
	char out[8192];
	if (cri_run(c, out, sizeof(out), rmall) != 0) {
		fprintf(stderr, "fmh_containerd: removing the pods: %s\n", out);
		fmh_containerd_print_log_tail(c);
	}
}

int fmh_containerd_stop(struct fmh_containerd *c)
{
	static struct shims sh;
	pid_t before[MAX_PROCS];
	if (!c->dir[0])
		return 0;
	/* Read while they run: what the shims leave outside dir if killed, and
	 * who they are, to reap those that exit of themselves. */
	shim_sockets(c->dir, &sh);
	int nb = our_procs(c->dir, before, MAX_PROCS);
	if (c->pid) {
		remove_pods(c);
		fmh_stop(c->pid); /* SIGTERM: containerd leaves its shims running */
		c->pid = 0;
		sync_copy(c);
	}
	int busy = clear_leftovers(c->dir);
	for (int i = 0; i < nb; i++)
		wait_gone(before[i]);
	unlink_shim_sockets(&sh);
	untrack(c);
	return busy ? -EBUSY : 0;
}
