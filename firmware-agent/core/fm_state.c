/* fm_state: atomic small files in the state directory. */
#include "fm_state.h"

#include "fm_json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

/* The write itself, once the arguments are checked: path and tmp in dir. */
static int write_atomic(const char *dir, const char *path, const char *tmp, const void *data, size_t len)
{
	int rc;

	if ((rc = mkdir_p(dir)) < 0)
		return rc;

	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, data, len);
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
	return note(dir, name, write_atomic(dir, path, tmp, data, len));
}

int fm_file_replace(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	if (!dir || !name_ok(name))
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	return write_atomic(dir, path, tmp, data, len);
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
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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
