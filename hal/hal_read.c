#include "hal/hal_read.h"
#include "hal/hal_path.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int hal_open(const char *root, const char *path, int flags)
{
	char p[HAL_PATH_MAX];
	int rc = hal_path(p, sizeof(p), root, path);
	if (rc < 0)
		return rc;
	int fd = open(p, flags | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

int hal_read_text(const char *root, const char *path, char *buf, size_t size)
{
	if (size == 0)
		return -EINVAL;
	buf[0] = '\0';
	int rc, fd = hal_open(root, path, O_RDONLY);
	if (fd < 0)
		return fd;
	size_t len = 0;
	/* sysfs answers in one read; procfs files (mountinfo) need several. */
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			close(fd);
			buf[0] = '\0';
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (int)len;
}

int hal_read_line(const char *root, const char *path, char *buf, size_t size)
{
	int rc = hal_read_text(root, path, buf, size);
	if (rc < 0)
		return rc;
	char *s = buf;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strcspn(s, "\n");
	while (n > 0 && isspace(s[n - 1]))
		n--;
	memmove(buf, s, n);
	buf[n] = '\0';
	return n ? (int)n : -EINVAL;
}

int hal_parse_s64(const char *s, int base, int64_t *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, base);
	if (errno || end == s)
		return -EINVAL;
	while (*end && isspace(*end))
		end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int hal_read_s64(const char *root, const char *path, int64_t *out)
{
	char b[64];
	int rc = hal_read_line(root, path, b, sizeof(b));
	return rc < 0 ? rc : hal_parse_s64(b, 0, out);
}

int hal_read_u64_hex(const char *root, const char *path, uint64_t *out)
{
	char b[64];
	int rc = hal_read_line(root, path, b, sizeof(b));
	if (rc < 0)
		return rc;
	int64_t v;
	if (b[0] == '-' || hal_parse_s64(b, 16, &v) < 0 || v < 0)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

bool hal_exists(const char *root, const char *path)
{
	char p[HAL_PATH_MAX];
	struct stat st;
	return hal_path(p, sizeof(p), root, path) == 0 && stat(p, &st) == 0;
}

/* The record getdents64 fills; glibc declares it only with _LARGEFILE64 in
 * some versions, so it is spelled out. */
struct dirent64_rec {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

int hal_dir_each(const char *root, const char *path, const char *prefix,
		 int (*fn)(const char *name, void *ctx), void *ctx)
{
	int rc, fd = hal_open(root, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	size_t plen = strlen(prefix);
	int count = 0;
	_Alignas(8) char buf[4096];
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n < 0) {
			rc = -errno;
			goto out_close;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			const struct dirent64_rec *d = (const void *)(buf + off);
			off += d->reclen;
			if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
				continue;
			if (strncmp(d->name, prefix, plen) != 0)
				continue;
			count++;
			rc = fn(d->name, ctx);
			if (rc)
				goto out_close;
		}
	}
	rc = count;
out_close:
	close(fd);
	return rc;
}

void hal_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

void hal_reason(char *out, size_t size, int err, const char *path)
{
	if (err == -ENOENT || err == -ENOTDIR)
		hal_fmt(out, size, "missing %s", path);
	else if (err == -EINVAL)
		hal_fmt(out, size, "malformed %s", path);
	else if (err == -EACCES || err == -EPERM)
		hal_fmt(out, size, "not allowed to read %s", path);
	else
		hal_fmt(out, size, "cannot read %s: %s", path, strerror(-err));
}

void hal_copy(char *dst, size_t size, const char *src)
{
	if (size == 0)
		return;
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int hal_text_field(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, kl) != 0)
			continue;
		const char *v = l + kl;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != ':')
			continue; /* "MemTotalX" or a longer key */
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t n = strcspn(v, "\n");
		while (n > 0 && isspace(v[n - 1]))
			n--;
		if (n >= size)
			n = size - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

int hal_each_line(const char *root, const char *path, int (*fn)(char *line, void *ctx), void *ctx)
{
	int rc, fd = hal_open(root, path, O_RDONLY);
	if (fd < 0)
		return fd;
	char buf[2 * HAL_LINE_MAX];
	size_t have = 0;
	bool skipping = false; /* inside a line too long to keep */
	int lines = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out_close;
		}
		have += (size_t)n;
		buf[have] = '\0';
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (!nl && n > 0)
				break;
			if (!nl && start == have)
				break;
			if (nl)
				*nl = '\0';
			if (!skipping) {
				lines++;
				rc = fn(buf + start, ctx);
				if (rc)
					goto out_close;
			}
			skipping = false;
			start = nl ? (size_t)(nl - buf) + 1 : have;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (n == 0)
			break;
		if (have >= HAL_LINE_MAX) {
			skipping = true; /* drop what we have of this line */
			have = 0;
		}
	}
	rc = lines;
out_close:
	close(fd);
	return rc;
}
