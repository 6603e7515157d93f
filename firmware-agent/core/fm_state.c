/* fm_state: atomic small files in the state directory. */
#include "fm_state.h"

#include "fm_json.h"
#include "fm_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* One agent per process, one loop thread: the writes' outcome as one record. */
static struct fm_state_status status;

/* Counts a write's outcome (rc) in dir; returns rc. */
static int note(const char *dir, const char *name, int rc)
{
	if (rc < 0) {
		if (strcmp(status.dir, dir) != 0)
			status.failing = 0;
		status.failed++;
		status.failing++;
		status.err = rc;
		snprintf(status.dir, sizeof(status.dir), "%s", dir);
		snprintf(status.name, sizeof(status.name), "%s", name);
	} else if (strcmp(status.dir, dir) == 0) {
		status.failing = 0;
	}
	return rc;
}

void fm_state_status(struct fm_state_status *st)
{
	*st = status;
}

uint64_t fm_state_failures(void)
{
	return status.failed;
}

bool fm_state_failure_is_new(void)
{
	return status.failing == 1;
}

static bool name_ok(const char *name)
{
	return name && name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) < 128;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates dir (0700) and its missing parents (0755), as `mkdir -p` would:
 * --state-dir /data/fleetmedic/state on a fresh card works. */
static int mkdir_p(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s", dir) >= sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

int fm_state_dir_usable(const char *dir)
{
	struct stat st;
	int rc = mkdir_p(dir);
	if (rc == 0 && stat(dir, &st) < 0)
		rc = -errno;
	else if (rc == 0 && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	/* the filesystem's trouble, not the configuration's */
	if (rc == -EROFS || rc == -ENOSPC || rc == -EDQUOT || rc == -EIO)
		return 0;
	return rc;
}

/* The write itself, once the arguments are checked: path and tmp in dir. */
/* keep_owner: the file keeps the owner and group of what it replaces
 * (else the writer's). */
static int write_atomic(const char *dir, const char *path, const char *tmp, const void *data, size_t len,
			bool keep_owner)
{
	int rc;

	if ((rc = mkdir_p(dir)) < 0)
		return rc;

	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, data, len);
	struct stat old;
	if (rc == 0 && keep_owner && stat(path, &old) == 0 && fchown(fd, old.st_uid, old.st_gid) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		goto out_unlink;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	/* The rename is durable only once the directory entry is. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	return rc;

out_unlink:
	/* Nothing half-written left behind (ENOSPC mid-file): the target
	 * keeps its last whole content. */
	unlink(tmp);
	return rc;
}

int fm_state_write(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	if (!dir || !name_ok(name))
		return -EINVAL;
	if (len > FM_STATE_MAX)
		return -EFBIG;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	return note(dir, name, write_atomic(dir, path, tmp, data, len, false));
}

int fm_file_replace(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	if (!dir || !name_ok(name))
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	return write_atomic(dir, path, tmp, data, len, true);
}

int fm_state_read(const char *dir, const char *name, char *buf, size_t size, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = 0;

	*len = 0;
	if (!dir || !name_ok(name) || size == 0)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	/* O_NONBLOCK: a FIFO put there must not hang the agent's start. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out_close;
	}
	if (st.st_uid != geteuid()) {
		rc = -EPERM;
		goto out_close;
	}
	if (st.st_size > FM_STATE_MAX || (size_t)st.st_size >= size) {
		rc = -EFBIG;
		goto out_close;
	}
	size_t got = 0;
	while (got < size - 1) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out_close;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == size - 1) {
		/* Grew since fstat: more than we take. */
		char c;
		if (read(fd, &c, 1) == 1) {
			rc = -EFBIG;
			goto out_close;
		}
	}
	buf[got] = '\0';
	*len = got;
out_close:
	close(fd);
	return rc;
}

int fm_state_write_json(const char *dir, const char *name, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	int rc = s ? fm_state_write(dir, name, s, strlen(s)) : -ENOMEM;
	free(s);
	return rc;
}

cJSON *fm_state_read_json(const char *dir, const char *name, int *rc)
{
	char *buf = malloc(FM_STATE_MAX + 1);
	size_t len;
	cJSON *o = NULL;
	*rc = buf ? fm_state_read(dir, name, buf, FM_STATE_MAX + 1, &len) : -ENOMEM;
	/* Not what we wrote when nested deeper than anything we write. */
	if (*rc == 0 && (fm_json_too_deep(buf, len) || !(o = cJSON_ParseWithLength(buf, len))))
		*rc = -EBADMSG;
	free(buf);
	return o;
}

/* --- damaged state --------------------------------------------------------- */

/* The files put aside by this process, the latest per dir/name. */
#define BAD_MAX 8
static struct fm_state_bad bad[BAD_MAX];
static size_t nbad;

static void remember(const struct fm_state_bad *b)
{
	size_t i;
	for (i = 0; i < nbad; i++)
		if (strcmp(bad[i].dir, b->dir) == 0 && strcmp(bad[i].name, b->name) == 0)
			break;
	if (i == BAD_MAX) {
		/* full: the oldest record goes */
		memmove(&bad[0], &bad[1], sizeof(bad[0]) * (BAD_MAX - 1));
		i = BAD_MAX - 1;
	} else if (i == nbad) {
		nbad++;
	}
	bad[i] = *b;
}

bool fm_state_bad_at(size_t i, struct fm_state_bad *b)
{
	if (i >= nbad)
		return false;
	*b = bad[i];
	return true;
}

/* Whether entry is one of name's files put aside (NAME.bad-…). */
static bool is_bad_of(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && strncmp(entry + n, ".bad-", 5) == 0;
}

static int newer_first(const void *a, const void *b)
{
	/* NAME.bad-20250101T000000Z < NAME.bad-20250101T000000Z-2 < …-10 */
	return strverscmp(*(char *const *)b, *(char *const *)a);
}

/* Removes all but the newest FM_STATE_BAD_KEEP of name's files put aside
 * in the open dir dfd. Best effort: what cannot be removed stays. */
static void prune(int dfd, const char *name)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	char *found[64];
	size_t n = 0;
	const struct dirent *e;
	while ((e = readdir(d)) && n < sizeof(found) / sizeof(found[0]))
		if (is_bad_of(e->d_name, name) && (found[n] = strdup(e->d_name)))
			n++;
	closedir(d);
	qsort(found, n, sizeof(found[0]), newer_first);
	for (size_t i = 0; i < n; i++) {
		/* a directory put aside goes only when empty */
		if (i >= FM_STATE_BAD_KEEP && unlinkat(dfd, found[i], 0) < 0 && errno == EISDIR)
			(void)unlinkat(dfd, found[i], AT_REMOVEDIR);
		free(found[i]);
	}
}

/* dfd's name NAME.bad-STAMP (i 1) or NAME.bad-STAMP-i, into kept. 0 or
 * -ENAMETOOLONG. */
static int bad_name(const char *name, const char *stamp, int i, char *kept, size_t size)
{
	int n = i == 1 ? snprintf(kept, size, "%s.bad-%s", name, stamp)
		       : snprintf(kept, size, "%s.bad-%s-%d", name, stamp, i);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Renames name in dfd to NAME.bad-STAMP, or -N after the highest N of
 * that second already there (not the first free one: one pruned must not
 * make the newest sort as the oldest). Into kept. 0 or -errno. */
static int rename_aside(int dfd, const char *name, int64_t at, char *kept, size_t size)
{
	char stamp[32];
	struct tm tm;
	struct stat st;
	time_t t = (time_t)at;
	int last = 0, rc;
	if (!gmtime_r(&t, &tm) || !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		snprintf(stamp, sizeof(stamp), "%lld", (long long)at);
	for (int i = 1; i < 100; i++) {
		if ((rc = bad_name(name, stamp, i, kept, size)) < 0)
			return rc;
		if (fstatat(dfd, kept, &st, AT_SYMLINK_NOFOLLOW) == 0)
			last = i;
		else if (errno != ENOENT)
			return -errno;
	}
	if (last == 99)
		return -EEXIST;
	if ((rc = bad_name(name, stamp, last + 1, kept, size)) < 0)
		return rc;
	/* rename moves the entry itself: a symbolic link is moved, never followed */
	return renameat(dfd, name, dfd, kept) < 0 ? -errno : 0;
}

int fm_state_quarantine(const char *dir, const char *name, const char *why)
{
	struct fm_state_bad b = {.at = (int64_t)time(NULL)};
	int rc;

	if (!dir || !name_ok(name))
		return -EINVAL;
	snprintf(b.dir, sizeof(b.dir), "%s", dir);
	snprintf(b.name, sizeof(b.name), "%s", name);
	snprintf(b.why, sizeof(b.why), "%s", why ? why : "unreadable");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		goto out_record;
	}
	rc = rename_aside(dfd, name, b.at, b.kept, sizeof(b.kept));
	if (rc == 0) {
		prune(dfd, name);
		/* the new name durable before the agent writes the old one anew */
		if (fsync(dfd) < 0)
			rc = -errno;
	} else {
		b.kept[0] = '\0';
	}
	close(dfd);
out_record:
	if (b.kept[0])
		fm_warn("state: %s/%s %s: kept aside as %s, starting from a clean state", dir, name, b.why, b.kept);
	else
		fm_warn("state: %s/%s %s and cannot be put aside (%s): starting from a clean state", dir, name,
			b.why, strerror(-rc));
	remember(&b);
	return rc;
}

/* What a read's error (rc) says of the file, into why: for the log and the
 * diagnosis. */
static void why_of(int rc, char *why, size_t size)
{
	switch (rc) {
	case -EBADMSG: snprintf(why, size, "is not JSON (truncated or damaged)"); break;
	case -ELOOP: snprintf(why, size, "is a symbolic link (not followed)"); break;
	case -EINVAL: snprintf(why, size, "is not a regular file"); break;
	case -EPERM: snprintf(why, size, "is not owned by the agent's user (uid %u)", (unsigned)geteuid()); break;
	case -EFBIG: snprintf(why, size, "is larger than any state the agent writes"); break;
	default: snprintf(why, size, "cannot be read (%s)", strerror(-rc)); break;
	}
}

cJSON *fm_state_load_json(const char *dir, const char *name, int *rc)
{
	cJSON *o = fm_state_read_json(dir, name, rc);
	/* none yet, or nothing said of the file: not put aside */
	if (!o && *rc != -ENOENT && *rc != -ENOMEM && *rc != -ENAMETOOLONG && *rc != -ENOTDIR) {
		char why[96];
		why_of(*rc, why, sizeof(why));
		(void)fm_state_quarantine(dir, name, why);
	}
	return o;
}

int fm_state_device(const char *dir, char *dev, size_t size)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext4 /dev/loop3 rw" */
	char line[4096], src[256] = "";
	int lines = 0;
	while (!src[0] && lines++ < 100000 && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %u:%u", &maj, &min) != 2 || maj != major(st.st_dev) ||
		    min != minor(st.st_dev))
			continue;
		if (sscanf(sep + 3, "%*s %255s", src) != 1)
			src[0] = '\0';
	}
	fclose(f);
	const char *base = strrchr(src, '/');
	base = base ? base + 1 : src;
	int n = base[0] ? snprintf(dev, size, "%s", base)
					  : snprintf(dev, size, "%u:%u", major(st.st_dev), minor(st.st_dev));
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* --- fm_saver ------------------------------------------------------------------ */

void fm_saver_prepare(struct fm_saver *s, uint64_t save_ms)
{
	memset(s, 0, sizeof(*s));
	s->timer.ev.fd = -1;
	s->save_ms = save_ms;
}

int fm_saver_init(struct fm_saver *s, struct fm_loop *loop, fm_timer_fn fn)
{
	return fm_timer_init(loop, &s->timer, fn);
}

void fm_saver_close(struct fm_saver *s)
{
	fm_timer_close(&s->timer);
}

bool fm_saver_due(struct fm_saver *s, bool urgent)
{
	s->dirty = true;
	if (s->save_ms == 0 || !s->saved_once || urgent || s->failed || s->failures != fm_state_failures() ||
	    s->timer.ev.fd < 0)
		return true;
	if (!fm_timer_armed(&s->timer))
		fm_timer_arm(&s->timer, s->save_ms, 0);
	return false;
}

void fm_saver_wrote(struct fm_saver *s, int rc)
{
	/* a failed write is tried again at the next change (a full or
	 * read-only card costs no flash), not by a loop of its own */
	s->dirty = rc < 0;
	s->failed = rc < 0;
	s->saved_once = true;
	s->failures = fm_state_failures();
	s->saves += rc == 0;
	if (s->timer.ev.fd >= 0)
		fm_timer_disarm(&s->timer);
}
