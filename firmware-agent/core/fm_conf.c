#include "fm_conf.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fm_conf_duration_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / units[i].ms)
			return -EINVAL;
		*ms = v * units[i].ms;
		return 0;
	}
	return -EINVAL;
}

int fm_conf_hex(const char *s, size_t len, uint8_t *out, size_t max, size_t *n)
{
	if (len % 2)
		return -EINVAL;
	if (len / 2 > max)
		return -EMSGSIZE;
	for (size_t i = 0; i < len; i += 2) {
		int hi = fm_hexdigit(s[i]), lo = fm_hexdigit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return 0;
}

bool fm_node_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > FM_NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

int fm_conf_open_secret(const char *path, unsigned *mode)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if (mode)
		*mode = st.st_mode & 07777;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int fm_conf_parse(char *text, size_t len, fm_conf_line_fn fn, void *arg, unsigned *lineno, char *why,
		  size_t why_size)
{
	const char *keys[FM_CONF_KEYS_MAX];
	size_t nkeys = 0;
	char inner[320];

	*lineno = 0;
	if (memchr(text, '\0', len)) {
		snprintf(why, why_size, "not a text file (a NUL byte)");
		return -EINVAL;
	}
	for (char *line = text, *next; line; line = next) {
		++*lineno;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (strlen(line) > FM_CONF_LINE_MAX) {
			snprintf(why, why_size, "line longer than %d bytes", FM_CONF_LINE_MAX);
			return -EINVAL;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *k = line;
		while (blank(*k))
			k++;
		char *end = k + strlen(k);
		while (end > k && blank(end[-1]))
			*--end = '\0';
		if (!*k)
			continue;
		char *eq = strchr(k, '='), *v = eq ? eq + 1 : NULL, *kend = eq;
		if (!eq || eq == k) {
			snprintf(why, why_size, "give 'key = value'");
			return -EINVAL;
		}
		while (kend > k && blank(kend[-1]))
			kend--;
		*kend = '\0';
		while (blank(*v))
			v++;
		if (!*v) {
			snprintf(why, why_size, "%.64s: no value", k);
			return -EINVAL;
		}
		for (size_t i = 0; i < nkeys; i++) {
			if (strcmp(keys[i], k) == 0) {
				snprintf(why, why_size, "%.64s: given twice (once is enough)", k);
				return -EINVAL;
			}
		}
		if (nkeys == FM_CONF_KEYS_MAX) {
			snprintf(why, why_size, "more than %d settings", FM_CONF_KEYS_MAX);
			return -EINVAL;
		}
		keys[nkeys++] = k;
		inner[0] = '\0';
		if (fn(arg, k, v, inner, sizeof(inner)) < 0) {
			snprintf(why, why_size, "%.64s: %s", k, inner[0] ? inner : "refused");
			return -EINVAL;
		}
	}
	return 0;
}
