#include "fmh_incident.h"

#include "fm_harness.h"
#include "fm_kmsg.h"
#include "fmh_journal.h"
#include "fmh_loopdev.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WHY(...) fprintf(stderr, "fmh_incident2: " __VA_ARGS__)

static int64_t realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The container's overlay2 layer, from the daemon's inspect:
 * GraphDriver.Data.UpperDir is "<data-root>/overlay2/<layer>/diff". */
static int find_layer(struct fmh_incident2 *x)
{
	static char out[1 << 20];
	char path[128], want[PATH_MAX + 16];
	snprintf(path, sizeof(path), "/containers/%s/json", x->id);
	int rc = fmh_docker_api_want(&x->dk, "GET", path, 200, out, sizeof(out));
	if (rc < 0)
		return rc;
	cJSON *j = cJSON_Parse(out);
	const cJSON *up = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "GraphDriver"), "Data"),
		"UpperDir");
	snprintf(want, sizeof(want), "%s/overlay2/", x->mnt);
	rc = -EPROTO;
	if (cJSON_IsString(up) && strncmp(up->valuestring, want, strlen(want)) == 0) {
		const char *l = up->valuestring + strlen(want);
		size_t n = strcspn(l, "/");
		if (n > 0 && n < sizeof(x->layer) && strcmp(l + n, "/diff") == 0) {
			snprintf(x->layer, sizeof(x->layer), "%.*s", (int)n, l);
			rc = 0;
		}
	}
	if (rc < 0)
		WHY("no overlay2 upper dir under %s in the inspect of %s\n", x->mnt, x->id);
	cJSON_Delete(j);
	return rc;
}

/* lower's inode, asked of debugfs itself (the filesystem unmounted). */
static int find_inode(struct fmh_incident2 *x)
{
	char req[160], out[4096];
	snprintf(req, sizeof(req), "stat /overlay2/%s/lower", x->layer);
	int rc = fmh_debugfs_read(x->dev, req, out, sizeof(out));
	if (rc < 0)
		return rc;
	const char *p = strstr(out, "Inode: ");
	if (!p || sscanf(p, "Inode: %lu", &x->ino) != 1 || x->ino == 0) {
		WHY("debugfs did not say lower's inode:\n%s\n", out);
		return -EPROTO;
	}
	return 0;
}

/* /dev/kmsg opened at its end: what is read from it later was logged after
 * this moment, so an earlier test's lines about a reused loop device cannot
 * be taken for this run's. -errno when it cannot be opened. */
static int kmsg_mark(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		WHY("cannot open /dev/kmsg: %s\n", strerror(errno));
		return -errno;
	}
	if (lseek(fd, 0, SEEK_END) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* The first record logged since kmsg_mark() that holds needle, into out.
 * Reads what the ring holds now and stops at its end (the kernel logs
 * the error within the failing system call, before `docker start`
 * returns). 0 or -ENOENT. Closes fd. */
static int kmsg_find(int fd, const char *needle, char *out, size_t size)
{
	static char buf[FM_KMSG_RECORD_MAX];
	int rc = -ENOENT;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EPIPE)
			continue; /* overrun: the reader moved on to the oldest record */
		if (n <= 0)
			break;
		struct fm_kmsg_record r;
		if (fm_kmsg_parse(buf, (size_t)n, &r) < 0)
			continue;
		if (memmem(r.msg, r.len, needle, strlen(needle))) {
			snprintf(out, size, "%.*s", (int)r.len, r.msg);
			rc = 0;
			break;
		}
	}
	close(fd);
	return rc;
}

/* Appends one export-format entry to s (cap bytes). false when full. */
static bool entry(char *s, size_t cap, size_t *len, const char *unit, const char *ident,
		  const char *msg)
{
	int n = snprintf(s + *len, cap - *len,
			 "_TRANSPORT=stdout\n_SYSTEMD_UNIT=%s\nSYSLOG_IDENTIFIER=%s\nPRIORITY=3\nMESSAGE=%s\n\n",
			 unit, ident, msg);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/* The journal: this dockerd's own lines about the corruption as
 * docker.service entries, then kubelet-shaped lines quoting the daemon's
 * message (the seed's wording) and the refused apiserver. */
static int write_journal(struct fmh_incident2 *x, int port)
{
	size_t cap = 64 * 1024, len = 0;
	char *s = malloc(cap), line[2048], file[PATH_MAX + 32];
	FILE *f = fopen(x->dk.log, "re");
	int rc = -EIO;
	if (!s || !f) {
		rc = !s ? -ENOMEM : -errno;
		goto out;
	}
	x->journal_entries = 0;
	while (fgets(line, sizeof(line), f) && x->journal_entries < 32) {
		line[strcspn(line, "\n")] = '\0';
		if (!strstr(line, "structure needs cleaning"))
			continue;
		if (!entry(s, cap, &len, "docker.service", "dockerd", line))
			break;
		x->journal_entries++;
	}
	if (x->journal_entries == 0) {
		WHY("dockerd's log (%s) holds no \"structure needs cleaning\" line\n", x->dk.log);
		goto out;
	}
	snprintf(line, sizeof(line),
		 "E1105 06:07:57.076376     319 generic.go:241] PLEG: Ignoring events for pod "
		 "kube-apiserver-%s/kube-system: rpc error: code = Unknown desc = Error response from daemon: %s",
		 FMH_INCIDENT2_NODE, x->daemon_error);
	if (!entry(s, cap, &len, "kubelet.service", "kubelet", line))
		goto out;
	snprintf(line, sizeof(line),
		 "E1105 06:07:57.028616     319 reflector.go:205] k8s.io/kubernetes/pkg/kubelet/config/apiserver.go:47: "
		 "Failed to list *v1.Pod: Get https://127.0.0.1:%d/api/v1/pods?fieldSelector=spec.nodeName%%3D%s"
		 "&resourceVersion=0: dial tcp 127.0.0.1:%d: connect: connection refused",
		 port, FMH_INCIDENT2_NODE, port);
	if (!entry(s, cap, &len, "kubelet.service", "kubelet", line))
		goto out;
	x->journal_entries += 2;
	snprintf(x->jdir, sizeof(x->jdir), "%s/journal", x->dir);
	snprintf(file, sizeof(file), "%s/remote.journal", x->jdir);
	if (mkdir(x->jdir, 0700) < 0) {
		rc = -errno;
		goto out;
	}
	rc = fmh_journal_append(file, s);
out:
	if (f)
		fclose(f);
	free(s);
	return rc;
}

/* `docker ARGS` must fail with the daemon's "structure needs cleaning";
 * what it printed into out. */
static int must_fail_euclean(struct fmh_incident2 *x, const char *verb, char *out, size_t size)
{
	int st = fmh_docker_cli(&x->dk, out, size, verb, FMH_INCIDENT2_NAME, NULL);
	if (st < 0)
		return st;
	if (st == 0 || !strstr(out, "structure needs cleaning")) {
		WHY("docker %s exited %d without the daemon's \"structure needs cleaning\":\n%s\n", verb, st,
		    out);
		return -EPROTO;
	}
	return 0;
}

/* Waits until the filesystem on devname is gone from the kernel, not only
 * from our mount table: a mount namespace made while it was mounted (a
 * container another test starts: runc copies every mount before it pivots
 * away) keeps its superblock alive a moment longer, and a mount of the
 * same device meanwhile gets that superblock back with its inodes cached,
 * never reading what debugfs changed on disk. /proc/fs/ext4/DEV lives
 * exactly as long as the superblock. 0 or -EBUSY after limit_ms. */
static int ext4_gone(const char *devname, int limit_ms)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/fs/ext4/%s", devname);
	for (int waited = 0; access(path, F_OK) == 0; waited += 20) {
		if (waited >= limit_ms) {
			WHY("%s is still there %d ms after umount: another mount namespace holds the filesystem\n",
			    path, limit_ms);
			return -EBUSY;
		}
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

int fmh_incident_node(char *root, size_t size, struct fmh_etcd *etcd)
{
	int rc;
	if ((rc = fmh_init()) < 0 || (rc = fmh_tmpdir(root, size)) < 0 || (rc = fmh_pki(root)) < 0) {
		fprintf(stderr, "fmh_incident_node: cannot make the root and its PKI: %s\n", strerror(-rc));
		return rc;
	}
	if ((rc = fmh_etcd_start(etcd, root, NULL)) < 0)
		fprintf(stderr, "fmh_incident_node: cannot start etcd\n");
	return rc;
}

int fmh_incident2_setup(struct fmh_incident2 *x)
{
	int rc, kfd = -1;
	memset(x, 0, sizeof(*x));
	x->t0_us = realtime_us();
	if ((rc = fmh_tmpdir(x->dir, sizeof(x->dir))) < 0)
		return rc;
	snprintf(x->img, sizeof(x->img), "%s/ext4.img", x->dir);
	snprintf(x->mnt, sizeof(x->mnt), "%s/mnt", x->dir);
	if (mkdir(x->mnt, 0711) < 0)
		return -errno;
	/* errors=continue: the filesystem stays writable after the error, so
	 * what fails is the corrupted inode, not every write after it. */
	if ((rc = fmh_ext4_image(x->img, 64)) < 0 ||
	    (rc = fmh_loop_attach(x->img, x->dev, sizeof(x->dev))) < 0 ||
	    (rc = fmh_mount(x->dev, x->mnt, "errors=continue")) < 0)
		return rc;
	snprintf(x->devname, sizeof(x->devname), "%s", strrchr(x->dev, '/') + 1);

	if ((rc = fmh_docker_start_at(&x->dk, x->mnt)) < 0) {
		WHY("cannot start dockerd on %s\n", x->mnt);
		return rc;
	}
	if ((rc = fmh_docker_run_exited(&x->dk, FMH_INCIDENT2_NAME, x->id,
					"echo kube-apiserver: exiting; exit 255")) < 0 ||
	    (rc = find_layer(x)) < 0)
		return rc;
	snprintf(x->lower, sizeof(x->lower), "%s/overlay2/%s/lower", x->mnt, x->layer);
	struct stat st;
	if (stat(x->lower, &st) < 0) {
		WHY("%s: %s\n", x->lower, strerror(errno));
		return -errno;
	}

	/* The daemon stopped, the filesystem unmounted: corrupt lower. */
	if ((rc = fmh_docker_halt(&x->dk)) < 0) {
		WHY("dockerd left processes or mounts behind\n");
		return rc;
	}
	if ((rc = fmh_umount(x->mnt)) < 0) {
		WHY("umount %s: %s\n", x->mnt, strerror(-rc));
		return rc;
	}
	if ((rc = ext4_gone(x->devname, 30000)) < 0 || (rc = find_inode(x)) < 0)
		return rc;
	if (x->ino != (unsigned long)st.st_ino) {
		WHY("debugfs says inode %lu, stat said %lu\n", x->ino, (unsigned long)st.st_ino);
		return -EPROTO;
	}
	char req[80];
	/* Mode 0 is no file type: ext4_iget refuses the inode (EFSCORRUPTED). */
	snprintf(req, sizeof(req), "set_inode_field <%lu> mode 0", x->ino);
	if ((rc = fmh_debugfs(x->dev, req)) < 0)
		return rc;

	if ((kfd = kmsg_mark()) < 0)
		return kfd;
	if ((rc = fmh_mount(x->dev, x->mnt, "errors=continue")) < 0 ||
	    (rc = fmh_docker_restart(&x->dk)) < 0 ||
	    (rc = must_fail_euclean(x, "start", x->start_error, sizeof(x->start_error))) < 0 ||
	    (rc = must_fail_euclean(x, "logs", x->logs_error, sizeof(x->logs_error))) < 0) {
		close(kfd);
		return rc;
	}
	const char *m = strstr(x->start_error, "Error response from daemon: ");
	if (!m) {
		close(kfd);
		WHY("docker start did not quote the daemon: %s\n", x->start_error);
		return -EPROTO;
	}
	m += strlen("Error response from daemon: ");
	snprintf(x->daemon_error, sizeof(x->daemon_error), "%.*s", (int)strcspn(m, "\n"), m);
	char needle[64];
	snprintf(needle, sizeof(needle), "EXT4-fs error (device %s)", x->devname);
	if (kmsg_find(kfd, needle, x->kmsg_line, sizeof(x->kmsg_line)) < 0) {
		WHY("the kernel logged no \"%s\" in this run\n", needle);
		return -ENOENT;
	}

	int port = fmh_free_port();
	if (port < 0)
		return port;
	snprintf(x->apiserver, sizeof(x->apiserver), "https://127.0.0.1:%d", port);
	return write_journal(x, port);
}

int fmh_incident2_teardown(struct fmh_incident2 *x)
{
	int busy = 0;
	if (x->dk.dir[0] && fmh_docker_stop(&x->dk) < 0)
		busy++;
	if (x->mnt[0]) {
		int rc = fmh_umount(x->mnt);
		if (rc < 0 && rc != -ESRCH) {
			WHY("umount %s: %s\n", x->mnt, strerror(-rc));
			busy++;
		}
	}
	if (x->dev[0]) {
		int rc = fmh_loop_detach(x->dev);
		if (rc < 0 && rc != -ESRCH)
			busy++;
	}
	if (x->dk.dir[0])
		busy += fmh_docker_leftover_procs(x->dk.dir) + fmh_docker_leftover_mounts(x->dir);
	return busy ? -EBUSY : 0;
}

/* --- incident 1 ---------------------------------------------------------- */

/* Appends n kubelet entries (every every-th the conflict naming _24) to the
 * node's journal file. */
static int kubelet_lines(struct fmh_incident1 *s, size_t n, size_t every, enum fmh_kubelet_form form)
{
	char *text = fmh_journal_kubelet_form(n, every, every ? s->id24 : NULL, form);
	if (!text)
		return -ENOMEM;
	int rc = fmh_journal_append(s->jfile, text);
	free(text);
	if (rc < 0)
		fprintf(stderr, "incident 1: cannot write the journal: %s\n", strerror(-rc));
	return rc;
}

int fmh_incident1_start(struct fmh_incident1 *s)
{
	memset(s, 0, sizeof(*s));
	int rc;
	if ((rc = fmh_incident_node(s->root, sizeof(s->root), &s->etcd)) < 0)
		return rc;
	if ((rc = fmh_docker_start(&s->dk)) < 0) {
		fprintf(stderr, "incident 1: cannot start dockerd: %s\n", strerror(-rc));
		return rc;
	}
	/* The pod as it runs after the restart: attempt 24 and sandbox 17. */
	if ((rc = fmh_docker_run(&s->dk, FMH_I1_APISERVER(24), s->id24, "sleep", "100000", NULL)) < 0 ||
	    (rc = fmh_docker_run(&s->dk, FMH_I1_SANDBOX(17), s->id17, "sleep", "100000", NULL)) < 0)
		return rc;
	if ((rc = fmh_tmpdir(s->jdir, sizeof(s->jdir))) < 0)
		return rc;
	snprintf(s->jfile, sizeof(s->jfile), "%.*s/remote.journal", (int)sizeof(s->jfile) - 16, s->jdir);
	if ((rc = kubelet_lines(s, 20, 0, FMH_KUBELET_SEED)) < 0)
		return rc;
	if ((s->refusing_port = fmh_free_port()) < 0)
		return s->refusing_port;
	snprintf(s->refusing, sizeof(s->refusing), "https://127.0.0.1:%d", s->refusing_port);
	return 0;
}

int fmh_incident1_break_docker(struct fmh_incident1 *s)
{
	int rc;
	if ((rc = fmh_docker_run_exited(&s->dk, FMH_I1_APISERVER(23), s->id23, "echo apiserver 23; exit 0")) < 0 ||
	    (rc = fmh_docker_run_exited(&s->dk, FMH_I1_SANDBOX(15), s->id15, "exit 0")) < 0)
		return rc;
	return 0;
}

int fmh_incident1_break_journal(struct fmh_incident1 *s)
{
	return kubelet_lines(s, 30, 3, FMH_KUBELET_SEED);
}

int fmh_incident1_break_form(struct fmh_incident1 *s, enum fmh_kubelet_form form)
{
	int rc = fmh_incident1_break_docker(s);
	return rc < 0 ? rc : kubelet_lines(s, 30, 3, form);
}

int fmh_incident1_break(struct fmh_incident1 *s)
{
	return fmh_incident1_break_form(s, FMH_KUBELET_SEED);
}

int fmh_incident1_fix(struct fmh_incident1 *s)
{
	const char *ids[] = {s->id23, s->id15};
	char path[128], out[1024];
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/containers/%s", ids[i]);
		int rc = fmh_docker_api_want(&s->dk, "DELETE", path, 204, out, sizeof(out));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int fmh_incident1_stop(struct fmh_incident1 *s)
{
	return fmh_docker_stop(&s->dk);
}

int fmh_incident1_args(const struct fmh_incident1 *s, const char *jdir, const char *apiserver, const char **argv,
		       int max)
{
	const char *a[] = {"--kmsg", "none", "--journal-dir", jdir, "--docker-host", s->dk.host, "--root",
			   s->root, "--etcd", s->etcd.url, "--apiserver", apiserver};
	int n = (int)(sizeof(a) / sizeof(a[0]));
	if (n + 1 > max)
		return -ENOSPC;
	for (int i = 0; i < n; i++)
		argv[i] = a[i];
	argv[n] = NULL;
	return n;
}
