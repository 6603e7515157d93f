#include "fc_keys.h"

#include "fm_buf.h"
#include "fm_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct entry {
	char id[FC_KEYS_ID_MAX + 1];
	size_t id_len;
	uint8_t key[FC_KEYS_KEY_MAX];
	size_t key_len;
};

struct fc_keys {
	struct entry *e; /* sorted by identity (bytes, then length) */
	size_t n, cap;
};

static void complain(struct fm_buf *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void complain(struct fm_buf *errs, const char *fmt, ...)
{
	if (!errs)
		return;
	char line[FC_KEYS_LINE_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fm_buf_append(errs, line, (size_t)n); /* full: the first ones are kept */
}

static int cmp_id(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return cmp_id(x->id, x->id_len, y->id, y->id_len);
}

static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap >= FC_KEYS_FILE_MAX) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;
			free(buf);
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > FC_KEYS_FILE_MAX) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* One line (len bytes, no '\n'): 0 and *e filled, 1 for a line with no
 * pair, or -EINVAL after complaining. */
static int parse_line(const char *path, unsigned lineno, const char *s, size_t len,
		      struct entry *e, struct fm_buf *errs)
{
	if (len > FC_KEYS_LINE_MAX) {
		complain(errs, "%s:%u: line longer than %d characters", path, lineno, FC_KEYS_LINE_MAX);
		return -EINVAL;
	}
	const char *hash = memchr(s, '#', len);
	if (hash)
		len = (size_t)(hash - s);
	const char *field[3];
	size_t flen[3];
	int nf = 0;
	for (size_t i = 0; i < len;) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && s[j] != ' ' && s[j] != '\t' && s[j] != '\r')
			j++;
		if (nf == 3) {
			nf++;
			break;
		}
		field[nf] = s + i;
		flen[nf++] = j - i;
		i = j;
	}
	if (nf == 0)
		return 1;
	if (nf != 2) {
		complain(errs, "%s:%u: expected 'IDENTITY HEXKEY', found %d field%s", path, lineno,
			 nf > 3 ? 3 : nf, nf == 1 ? "" : "s (or more)");
		return -EINVAL;
	}
	if (flen[0] > FC_KEYS_ID_MAX) {
		complain(errs, "%s:%u: identity longer than %d characters", path, lineno, FC_KEYS_ID_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < flen[0]; i++) {
		unsigned char c = (unsigned char)field[0][i];
		if (c < 0x21 || c > 0x7e) {
			complain(errs, "%s:%u: identity holds a character that is not printable ASCII (byte %zu)",
				 path, lineno, i + 1);
			return -EINVAL;
		}
	}
	size_t klen = 0;
	int rc = fm_conf_hex(field[1], flen[1], e->key, sizeof(e->key), &klen);
	if (rc == -EMSGSIZE || (rc == 0 && klen < FC_KEYS_KEY_MIN)) {
		complain(errs, "%s:%u: key is %zu bytes; give %d to %d bytes (%d to %d hex digits)",
			 path, lineno, flen[1] / 2, FC_KEYS_KEY_MIN, FC_KEYS_KEY_MAX,
			 2 * FC_KEYS_KEY_MIN, 2 * FC_KEYS_KEY_MAX);
		return -EINVAL;
	}
	if (rc < 0) {
		complain(errs, "%s:%u: key is not hex (an even number of 0-9a-f digits)", path, lineno);
		return -EINVAL;
	}
	memcpy(e->id, field[0], flen[0]);
	e->id[flen[0]] = '\0';
	e->id_len = flen[0];
	e->key_len = klen;
	return 0;
}

static int add(struct fc_keys *k, const struct entry *e)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		struct entry *ne = realloc(k->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		k->e = ne;
		k->cap = cap;
	}
	k->e[k->n++] = *e;
	return 0;
}

int fc_keys_load(const char *path, struct fc_keys **out, struct fm_buf *errs)
{
	unsigned mode = 0;
	int fd = fm_conf_open_secret(path, &mode);
	if (fd == -EPERM) {
		complain(errs, "%s: readable or writable by group or others (mode %04o): chmod 600 it", path,
			 mode);
		return -EPERM;
	}
	if (fd == -EINVAL) {
		complain(errs, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (fd < 0) {
		complain(errs, "%s: %s", path, strerror(-fd));
		return fd;
	}
	char *text = NULL;
	size_t len = 0;
	int rc = read_all(fd, &text, &len);
	close(fd);
	if (rc < 0) {
		complain(errs, "%s: %s", path, rc == -EFBIG ? "larger than 4 MiB: not a key store" : strerror(-rc));
		return rc;
	}
	struct fc_keys *k = calloc(1, sizeof(*k));
	if (!k) {
		free(text);
		return -ENOMEM;
	}
	/* The key material is wiped from every copy made on the way. */
	unsigned lineno = 0, bad = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;
		struct entry e;
		lineno++;
		int r;
		if (memchr(text + pos, '\0', l)) {
			complain(errs, "%s:%u: holds a NUL byte", path, lineno);
			r = -EINVAL;
		} else {
			r = parse_line(path, lineno, text + pos, l, &e, errs);
		}
		if (r < 0)
			bad++;
		else if (r == 0 && add(k, &e) < 0)
			rc = -ENOMEM;
		memset(&e, 0, sizeof(e));
		pos += l + (nl ? 1 : 0);
	}
	memset(text, 0, len);
	free(text);
	if (rc == 0 && k->n) {
		qsort(k->e, k->n, sizeof(*k->e), cmp_entry);
		for (size_t i = 1; i < k->n; i++) {
			if (cmp_entry(&k->e[i - 1], &k->e[i]) == 0) {
				complain(errs, "%s: identity %s is given twice", path, k->e[i].id);
				bad++;
			}
		}
	}
	if (rc == 0 && bad)
		rc = -EINVAL;
	if (rc < 0) {
		fc_keys_delete(&k);
		return rc;
	}
	*out = k;
	return 0;
}

void fc_keys_delete(struct fc_keys **pk)
{
	if (!pk || !*pk)
		return;
	struct fc_keys *k = *pk;
	if (k->e) {
		memset(k->e, 0, k->cap * sizeof(*k->e));
		free(k->e);
	}
	free(k);
	*pk = NULL;
}

const uint8_t *fc_keys_find(const struct fc_keys *k, const void *id, size_t id_len, size_t *len)
{
	size_t lo = 0, hi = k->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_id(id, id_len, k->e[mid].id, k->e[mid].id_len);
		if (c == 0) {
			*len = k->e[mid].key_len;
			return k->e[mid].key;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t fc_keys_count(const struct fc_keys *k)
{
	return k->n;
}
