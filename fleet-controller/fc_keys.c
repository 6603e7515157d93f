#include "fc_keys.h"

#include "fm_buf.h"
#include "fm_conf.h"

#include "fm_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STR(x) #x
#define XSTR(x) STR(x)

struct entry {
	char id[FC_KEYS_ID_MAX + 1];
	size_t id_len;
	uint8_t key[FC_KEYS_KEY_MAX];
	size_t key_len;
	uint8_t prev[FC_KEYS_KEY_MAX]; /* prev_len 0: none */
	size_t prev_len;
	enum fc_keys_note note;
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

/* A key's hex (a line's second or third field) into key. 0, or -EINVAL
 * after complaining. */
static int key_field(const char *path, unsigned lineno, const char *hex, size_t len, uint8_t *key,
		     size_t *key_len, struct fm_buf *errs)
{
	size_t klen = 0;
	int rc = fm_conf_hex(hex, len, key, FC_KEYS_KEY_MAX, &klen);
	if (rc == -EMSGSIZE || (rc == 0 && klen < FC_KEYS_KEY_MIN)) {
		complain(errs, "%s:%u: key is %zu bytes; give %d to %d bytes (%d to %d hex digits)", path, lineno,
			 len / 2, FC_KEYS_KEY_MIN, FC_KEYS_KEY_MAX, 2 * FC_KEYS_KEY_MIN, 2 * FC_KEYS_KEY_MAX);
		return -EINVAL;
	}
	if (rc < 0) {
		complain(errs, "%s:%u: key is not hex (an even number of 0-9a-f digits)", path, lineno);
		return -EINVAL;
	}
	*key_len = klen;
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
	const char *field[4];
	size_t flen[4];
	int nf = 0;
	for (size_t i = 0; i < len;) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && s[j] != ' ' && s[j] != '\t' && s[j] != '\r')
			j++;
		if (nf == 4) {
			nf++;
			break;
		}
		field[nf] = s + i;
		flen[nf++] = j - i;
		i = j;
	}
	if (nf == 0)
		return 1;
	if (nf != 2 && nf != 3) {
		complain(errs, "%s:%u: expected 'IDENTITY HEXKEY [PREVIOUS-HEXKEY]', found %d field%s", path,
			 lineno, nf > 4 ? 4 : nf, nf == 1 ? "" : "s (or more)");
		return -EINVAL;
	}
	if (flen[0] > FC_KEYS_ID_MAX) {
		complain(errs, "%s:%u: identity longer than %d characters", path, lineno, FC_KEYS_ID_MAX);
		return -EINVAL;
	}
	if (!fm_node_name_ok(field[0], flen[0])) {
		complain(errs, "%s:%u: identity is not a node name (%s)", path, lineno, FM_NODE_NAME_RULE);
		return -EINVAL;
	}
	if (key_field(path, lineno, field[1], flen[1], e->key, &e->key_len, errs) < 0 ||
	    (nf == 3 && key_field(path, lineno, field[2], flen[2], e->prev, &e->prev_len, errs) < 0))
		return -EINVAL;
	if (nf == 2)
		e->prev_len = 0;
	e->note = FC_KEYS_NOTE_NONE;
	memcpy(e->id, field[0], flen[0]);
	e->id[flen[0]] = '\0';
	e->id_len = flen[0];
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

/* The file's text (*text NUL-terminated, caller wipes and frees): 0, or
 * -errno after complaining (-ENOENT without a word when missing_ok). */
static int load_text(const char *path, bool missing_ok, char **text, size_t *len, struct fm_buf *errs)
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
	if (fd == -ENOENT && missing_ok)
		return -ENOENT;
	if (fd < 0) {
		complain(errs, "%s: %s", path, strerror(-fd));
		return fd;
	}
	int rc = read_all(fd, text, len);
	close(fd);
	if (rc < 0)
		complain(errs, "%s: %s", path,
			 rc == -EFBIG ? "larger than " XSTR(FC_KEYS_FILE_MAX_MIB) " MiB: not a key store"
				      : strerror(-rc));
	return rc;
}

/* Calls fn for each line of text (len bytes) with the line (l bytes, no
 * '\n') and, r, what parse_line made of it (0: *e holds a pair, 1: none,
 * -EINVAL: bad, already complained of). The entry is wiped after each. */
static void each_line(const char *path, const char *text, size_t len, struct fm_buf *errs,
		      void (*fn)(void *arg, const char *line, size_t l, int r, const struct entry *e), void *arg)
{
	unsigned lineno = 0;
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
		fn(arg, text + pos, l, r, &e);
		explicit_bzero(&e, sizeof(e));
		pos += l + (nl ? 1 : 0);
	}
}

struct parse_ctx {
	struct fc_keys *k;
	unsigned bad;
	int rc;
};

static void parse_one(void *arg, const char *line, size_t l, int r, const struct entry *e)
{
	(void)line;
	(void)l;
	struct parse_ctx *c = arg;
	if (r < 0)
		c->bad++;
	else if (r == 0 && add(c->k, e) < 0)
		c->rc = -ENOMEM;
}

/* The key store of text (see fc_keys_load). */
static int parse_text(const char *path, const char *text, size_t len, struct fc_keys **out, struct fm_buf *errs)
{
	struct parse_ctx c = {.k = calloc(1, sizeof(struct fc_keys))};
	if (!c.k)
		return -ENOMEM;
	each_line(path, text, len, errs, parse_one, &c);
	struct fc_keys *k = c.k;
	if (c.rc == 0 && k->n) {
		qsort(k->e, k->n, sizeof(*k->e), cmp_entry);
		for (size_t i = 1; i < k->n; i++) {
			if (cmp_entry(&k->e[i - 1], &k->e[i]) == 0) {
				complain(errs, "%s: identity %s is given twice", path, k->e[i].id);
				c.bad++;
			}
		}
	}
	if (c.rc == 0 && c.bad)
		c.rc = -EINVAL;
	if (c.rc < 0) {
		fc_keys_delete(&k);
		return c.rc;
	}
	*out = k;
	return 0;
}

int fc_keys_load(const char *path, struct fc_keys **out, struct fm_buf *errs)
{
	char *text = NULL;
	size_t len = 0;
	int rc = load_text(path, false, &text, &len, errs);
	if (rc < 0)
		return rc;
	/* The key material is wiped from every copy made on the way. */
	rc = parse_text(path, text, len, out, errs);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* What fc_keys_edit writes: the old text with node's line changed. */
struct edit_ctx {
	const char *node;
	enum fc_keys_op op;
	const uint8_t *key;
	size_t key_len;
	struct fm_buf out;
	bool found, failed;
};

static void put_hex(struct fm_buf *b, const uint8_t *key, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char two[2];
	for (size_t i = 0; i < len; i++) {
		two[0] = hex[key[i] >> 4];
		two[1] = hex[key[i] & 15];
		fm_buf_append(b, two, 2);
	}
}

/* A pair's line: NODE KEY [PREV]. */
static void put_pair(struct edit_ctx *c, const uint8_t *prev, size_t prev_len)
{
	fm_buf_append(&c->out, c->node, strlen(c->node));
	fm_buf_append(&c->out, " ", 1);
	put_hex(&c->out, c->key, c->key_len);
	if (prev_len) {
		fm_buf_append(&c->out, " ", 1);
		put_hex(&c->out, prev, prev_len);
	}
	fm_buf_append(&c->out, "\n", 1);
}

static void edit_one(void *arg, const char *line, size_t l, int r, const struct entry *e)
{
	struct edit_ctx *c = arg;
	if (r != 0 || strcmp(e->id, c->node) != 0) {
		fm_buf_append(&c->out, line, l);
		fm_buf_append(&c->out, "\n", 1);
		return;
	}
	c->found = true;
	switch (c->op) {
	case FC_KEYS_ADD: /* refused by the caller */
	case FC_KEYS_REVOKE:
		break;
	case FC_KEYS_ROTATE:
		/* The key the node is known to hold stays the previous one
		 * until it has handshaken with the new: a rotation made
		 * before the last one was taken up keeps the older key. */
		if (e->prev_len)
			put_pair(c, e->prev, e->prev_len);
		else
			put_pair(c, e->key, e->key_len);
		break;
	case FC_KEYS_ROTATE_NOW:
		put_pair(c, NULL, 0);
		break;
	}
}

const char *fc_keys_dir(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
	return slash ? slash + 1 : path;
}

int fc_keys_edit(const char *path, const char *node, enum fc_keys_op op, const uint8_t *key, size_t key_len,
		 struct fm_buf *errs)
{
	if (!fm_node_name_ok(node, strlen(node))) {
		complain(errs, "'%s' is not a node name (%s)", node, FM_NODE_NAME_RULE);
		return -EINVAL;
	}
	char dir[PATH_MAX];
	const char *base = fc_keys_dir(path, dir, sizeof(dir));
	if (!*base) {
		complain(errs, "%s: a file, not a directory", path);
		return -EINVAL;
	}
	/* One editor at a time (another enroll, revoke): the lock is on the
	 * directory, which a rename of the file does not replace. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT && op == FC_KEYS_ADD && mkdir(dir, 0700) == 0)
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		int rc = -errno;
		complain(errs, "%s: %s", dir, strerror(errno));
		return rc;
	}
	while (flock(dfd, LOCK_EX) < 0 && errno == EINTR)
		;
	char *text = NULL;
	size_t len = 0;
	struct fc_keys *k = NULL;
	struct edit_ctx c = {.node = node, .op = op, .key = key, .key_len = key_len};
	fm_buf_init(&c.out, FC_KEYS_FILE_MAX);
	int rc = load_text(path, op == FC_KEYS_ADD, &text, &len, errs);
	if (rc == -ENOENT) {
		rc = 0; /* a first node: the file is made */
	} else if (rc == 0 && (rc = parse_text(path, text, len, &k, errs)) == 0) {
		/* a file that does not load is not edited: its bad lines are
		 * the operator's to see */
		size_t have = 0;
		bool present = fc_keys_find(k, node, strlen(node), &have) != NULL;
		if (op == FC_KEYS_ADD && present) {
			complain(errs, "%s: %s is enrolled already (--rotate gives it a new key)", path, node);
			rc = -EEXIST;
		} else if (op != FC_KEYS_ADD && !present) {
			complain(errs, "%s: no node %s", path, node);
			rc = -ENOENT;
		}
	}
	if (rc == 0) {
		each_line(path, text ? text : "", len, NULL, edit_one, &c);
		if (op == FC_KEYS_ADD)
			put_pair(&c, NULL, 0);
		if (c.out.failed) {
			complain(errs, "%s: would be larger than " XSTR(FC_KEYS_FILE_MAX_MIB) " MiB", path);
			rc = -EFBIG;
		} else if ((rc = fm_file_replace(dir, base, c.out.data ? c.out.data : "", c.out.len)) < 0) {
			complain(errs, "%s: %s", path, strerror(-rc));
		}
	}
	fc_keys_delete(&k);
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	if (c.out.data)
		explicit_bzero(c.out.data, c.out.len);
	fm_buf_free(&c.out);
	close(dfd); /* and the lock with it */
	return rc;
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

static struct entry *find(const struct fc_keys *k, const void *id, size_t id_len)
{
	size_t lo = 0, hi = k->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_id(id, id_len, k->e[mid].id, k->e[mid].id_len);
		if (c == 0)
			return &k->e[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool fc_keys_get(const struct fc_keys *k, const void *id, size_t id_len, struct fc_keys_pair *out)
{
	const struct entry *e = find(k, id, id_len);
	if (!e)
		return false;
	*out = (struct fc_keys_pair){e->key, e->key_len, e->prev_len ? e->prev : NULL, e->prev_len, e->note};
	return true;
}

void fc_keys_set_note(struct fc_keys *k, const void *id, size_t id_len, enum fc_keys_note note)
{
	struct entry *e = find(k, id, id_len);
	if (e && e->prev_len)
		e->note = note;
}

static bool same_key(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

void fc_keys_carry_notes(struct fc_keys *to, const struct fc_keys *from)
{
	/* both sorted by identity: one walk */
	for (size_t i = 0, j = 0; i < to->n && j < from->n;) {
		struct entry *t = &to->e[i];
		const struct entry *f = &from->e[j];
		int c = cmp_entry(t, f);
		if (c == 0 && t->prev_len && same_key(t->key, t->key_len, f->key, f->key_len) &&
		    same_key(t->prev, t->prev_len, f->prev, f->prev_len))
			t->note = f->note;
		i += c <= 0;
		j += c >= 0;
	}
}

void fc_keys_forget_prev(struct fc_keys *k, const void *id, size_t id_len)
{
	struct entry *e = find(k, id, id_len);
	if (e) {
		explicit_bzero(e->prev, sizeof(e->prev));
		e->prev_len = 0;
		e->note = FC_KEYS_NOTE_NONE;
	}
}

const uint8_t *fc_keys_find(const struct fc_keys *k, const void *id, size_t id_len, size_t *len)
{
	const struct entry *e = find(k, id, id_len);
	if (!e)
		return NULL;
	*len = e->key_len;
	return e->key;
}

size_t fc_keys_count(const struct fc_keys *k)
{
	return k->n;
}
