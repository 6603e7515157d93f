/* fm_kubeconfig: see fm_kubeconfig.h.
 *
 * libyaml's event API feeds a small tree of our own (a pool of nodes linked
 * by index), built under the limits of the header: libyaml's document API
 * keeps aliases as shared references, and walking those is exactly what an
 * alias bomb exploits, so we refuse the alias event instead. The limits are
 * checked as events arrive, so an over-deep or over-long input stops the
 * parser early rather than after it has built everything.
 */
#include "fm_kubeconfig.h"

#include "fm_base64.h"
#include "hal/hal_path.h"

#include <yaml.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- a bounded YAML tree ------------------------------------------------------ */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ykind kind;
	bool plain; /* a scalar written without quotes (so "null" means null) */
	char *str;  /* scalar text, NUL-terminated (no NUL inside) */
	size_t len;
	int first; /* first child, -1 if none; a map's children alternate key, value */
	int last;
	int next; /* next sibling, -1 if none */
	int line; /* 1-based, for reasons */
};

struct ytree {
	struct ynode *n; /* n[0] is the document's root node */
	int count, cap;
	const char *name; /* how reasons name the input */
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void ytree_free(struct ytree *t)
{
	for (int i = 0; i < t->count; i++)
		free(t->n[i].str);
	free(t->n);
	t->n = NULL;
	t->count = t->cap = 0;
}

/* Appends a node as the last child of parent (-1: the root). Returns its
 * index or -errno. */
static int ytree_add(struct ytree *t, enum ykind kind, int parent, int line)
{
	if (t->count >= FM_YAML_MAX_NODES)
		return -E2BIG;
	if (t->count == t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		if (cap > FM_YAML_MAX_NODES)
			cap = FM_YAML_MAX_NODES;
		struct ynode *n = realloc(t->n, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->n = n;
		t->cap = cap;
	}
	int i = t->count++;
	t->n[i] = (struct ynode){.kind = kind, .first = -1, .last = -1, .next = -1, .line = line};
	if (parent >= 0) {
		struct ynode *p = &t->n[parent];
		if (p->last < 0)
			p->first = i;
		else
			t->n[p->last].next = i;
		p->last = i;
	}
	return i;
}

static const char *event_name(yaml_event_type_t type)
{
	switch (type) {
	case YAML_SEQUENCE_START_EVENT:
		return "sequence";
	case YAML_MAPPING_START_EVENT:
		return "mapping";
	default:
		return "node";
	}
}

/* A scalar event as node of parent: capped, no NUL inside. 0 or -errno
 * (-E2BIG, -ENOMEM said by the caller). */
static int add_scalar(struct ytree *t, const yaml_event_t *ev, int parent, int line, char *err, size_t errlen)
{
	if (ev->data.scalar.length > FM_YAML_MAX_SCALAR) {
		fail(err, errlen, "%s:%d: a string of %zu bytes, more than the %d accepted", t->name, line,
		     ev->data.scalar.length, FM_YAML_MAX_SCALAR);
		return -EINVAL;
	}
	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
		fail(err, errlen, "%s:%d: a string holding a NUL byte", t->name, line);
		return -EINVAL;
	}
	int i = ytree_add(t, Y_SCALAR, parent, line);
	if (i < 0)
		return i;
	t->n[i].plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	t->n[i].len = ev->data.scalar.length;
	t->n[i].str = malloc(ev->data.scalar.length + 1);
	if (!t->n[i].str)
		return -ENOMEM;
	memcpy(t->n[i].str, ev->data.scalar.value, ev->data.scalar.length);
	t->n[i].str[ev->data.scalar.length] = '\0';
	return 0;
}

/* Builds t from the first document of buf[0..len). 0 or -errno with a
 * reason. An empty stream gives an empty tree (count 0). */
static int ytree_load(struct ytree *t, const unsigned char *buf, size_t len, const char *name,
		      char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int stack[FM_YAML_MAX_DEPTH];
	int depth = 0, ret = 0;
	bool done = false;

	memset(t, 0, sizeof(*t));
	t->name = name;
	if (len > FM_KUBECONFIG_MAX_BYTES) {
		fail(err, errlen, "%s: %zu bytes, more than the %d accepted", name, len,
		     FM_KUBECONFIG_MAX_BYTES);
		return -E2BIG;
	}
	if (!yaml_parser_initialize(&p)) {
		fail(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	/* libyaml asserts a non-NULL input, even an empty one. */
	static const unsigned char none[1];
	yaml_parser_set_input_string(&p, buf ? buf : none, buf ? len : 0);
	while (!done && ret == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			ret = p.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
			fail(err, errlen, "%s:%zu:%zu: not valid YAML: %s%s%s%s", name,
			     p.problem_mark.line + 1, p.problem_mark.column + 1,
			     p.problem ? p.problem : "syntax error", p.context ? " (" : "",
			     p.context ? p.context : "", p.context ? ")" : "");
			break;
		}
		int line =
		    (int)(ev.start_mark.line + 1 > INT32_MAX ? INT32_MAX : ev.start_mark.line + 1);
		int parent = depth ? stack[depth - 1] : -1;
		int i;

		if (depth == 0 && t->count > 0 &&
		    (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
		     ev.type == YAML_MAPPING_START_EVENT)) {
			/* libyaml gives one root per document; be sure of it. */
			ret = -EINVAL;
			fail(err, errlen, "%s:%d: a second top-level node", name, line);
			yaml_event_delete(&ev);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			done = true; /* only the first document counts */
			break;
		case YAML_ALIAS_EVENT:
			ret = -EINVAL;
			fail(err, errlen, "%s:%d: YAML aliases (*%.64s) are not accepted", name,
			     line, ev.data.alias.anchor ? (const char *)ev.data.alias.anchor : "");
			break;
		case YAML_SCALAR_EVENT:
			ret = add_scalar(t, &ev, parent, line, err, errlen);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth >= FM_YAML_MAX_DEPTH) {
				ret = -EINVAL;
				fail(err, errlen, "%s:%d: a %s nested more than %d deep", name,
				     line, event_name(ev.type), FM_YAML_MAX_DEPTH);
				break;
			}
			i = ytree_add(t, ev.type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ,
				      parent, line);
			if (i < 0) {
				ret = i;
				break;
			}
			stack[depth++] = i;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		if (ret == -E2BIG)
			fail(err, errlen, "%s:%d: more than %d YAML nodes", name, line,
			     FM_YAML_MAX_NODES);
		else if (ret == -ENOMEM)
			fail(err, errlen, "%s: out of memory", name);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (ret == -E2BIG)
		ret = -EINVAL; /* too many nodes is malformed input, not a big file */
	if (ret < 0)
		ytree_free(t);
	return ret;
}

/* Is node i a scalar meaning null (plain "", "~", "null")? */
static bool is_null(const struct ytree *t, int i)
{
	const struct ynode *n = &t->n[i];
	return n->kind == Y_SCALAR && n->plain &&
	       (n->len == 0 || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

/* The value of key in mapping m (the last one when repeated, as Go's
 * decoders take it), or -1. */
static int map_get(const struct ytree *t, int m, const char *key)
{
	int found = -1;
	if (m < 0 || t->n[m].kind != Y_MAP)
		return -1;
	for (int k = t->n[m].first; k >= 0; k = t->n[k].next) {
		int v = t->n[k].next;
		if (v < 0)
			break;
		if (t->n[k].kind == Y_SCALAR && !strcmp(t->n[k].str, key))
			found = v;
		k = v;
	}
	return found;
}

/* The string at node i: NULL when i is absent, null, or not a scalar. */
static const char *str_at(const struct ytree *t, int i)
{
	if (i < 0 || t->n[i].kind != Y_SCALAR || is_null(t, i))
		return NULL;
	return t->n[i].str;
}

static const char *map_str(const struct ytree *t, int m, const char *key)
{
	return str_at(t, map_get(t, m, key));
}

static int line_of(const struct ytree *t, int i)
{
	return i >= 0 ? t->n[i].line : 0;
}

/* --- files ----------------------------------------------------------------- */

/* Reads a whole regular file of at most FM_KUBECONFIG_MAX_BYTES into a
 * malloc'd buffer (*buf, the caller frees it). O_NONBLOCK: a FIFO planted
 * at the path must not hang the agent; it is refused as not regular. */
static int read_capped(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t n = 0;
	int ret = 0;

	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		fail(err, errlen, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		fail(err, errlen, "%s: not a regular file", path);
		goto out_close;
	}
	if (st.st_size > FM_KUBECONFIG_MAX_BYTES) {
		ret = -E2BIG;
		fail(err, errlen, "%s: %lld bytes, more than the %d accepted", path,
		     (long long)st.st_size, FM_KUBECONFIG_MAX_BYTES);
		goto out_close;
	}
	/* One byte more than the cap, to see a file that grew past it. */
	*buf = malloc(FM_KUBECONFIG_MAX_BYTES + 1);
	if (!*buf) {
		ret = -ENOMEM;
		fail(err, errlen, "%s: out of memory", path);
		goto out_close;
	}
	while (n <= FM_KUBECONFIG_MAX_BYTES) {
		ssize_t r = read(fd, *buf + n, FM_KUBECONFIG_MAX_BYTES + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			fail(err, errlen, "%s: %s", path, strerror(errno));
			goto out_free;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > FM_KUBECONFIG_MAX_BYTES) {
		ret = -E2BIG;
		fail(err, errlen, "%s: more than the %d bytes accepted", path,
		     FM_KUBECONFIG_MAX_BYTES);
		goto out_free;
	}
	*len = n;
	goto out_close;

out_free:
	free(*buf);
	*buf = NULL;
out_close:
	close(fd);
	return ret;
}

/* The directory part of path ("." when it has none). */
static void dir_of(char *out, size_t size, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, size, ".");
	else if (slash == path)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)(slash - path), path);
}

/* --- kubeconfig ----------------------------------------------------------------- */

struct kc_ctx {
	const struct ytree *t;
	const char *dir, *root;
	char *err;
	size_t errlen;
};

/* Finds the entry of list (contexts, clusters, users) named name and
 * returns its inner mapping (entry.<inner>), or -1. */
static int named(const struct ytree *t, int list, const char *name, const char *inner)
{
	if (list < 0 || t->n[list].kind != Y_SEQ)
		return -1;
	for (int e = t->n[list].first; e >= 0; e = t->n[e].next) {
		const char *n = map_str(t, e, "name");
		if (n && !strcmp(n, name))
			return map_get(t, e, inner);
	}
	return -1;
}

/* Printable ASCII without spaces: what may go into a URL or a header. */
static bool printable_token(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return false;
	return true;
}

/* Resolves a file reference of the kubeconfig into out: absolute paths
 * are host paths (joined with the root prefix), relative ones relative to
 * the kubeconfig's directory. */
static int resolve(const struct kc_ctx *c, char *out, size_t size, int node, const char *what,
		   const char *owner)
{
	const char *p = str_at(c->t, node);
	int ret;
	if (!p)
		return 0;
	if (p[0] == '/')
		ret = hal_path(out, size, c->root, p);
	else {
		int n = snprintf(out, size, "%s/%s", c->dir, p);
		ret = n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
	}
	if (ret < 0) {
		out[0] = '\0';
		fail(c->err, c->errlen, "%s:%d: %s: %s \"%.64s\": the path is too long", c->t->name,
		     line_of(c->t, node), owner, what, p);
	}
	return ret;
}

/* Decodes a *-data field (base64 of PEM text) into a malloc'd string. */
static int pem_data(const struct kc_ctx *c, char **out, int node, const char *what,
		    const char *owner)
{
	const char *s = str_at(c->t, node);
	size_t n = 0, bad = 0;
	if (!s)
		return 0;
	int ret = fm_base64_decode_alloc(out, &n, s, c->t->n[node].len, &bad);
	if (ret == -ENOMEM) {
		fail(c->err, c->errlen, "%s: out of memory", c->t->name);
		return ret;
	}
	if (ret < 0) {
		fail(c->err, c->errlen, "%s:%d: %s: %s: not base64 (at character %zu)", c->t->name,
		     line_of(c->t, node), owner, what, bad + 1);
		return ret;
	}
	if (strlen(*out) != n || !strstr(*out, "-----BEGIN ")) {
		free(*out);
		*out = NULL;
		fail(c->err, c->errlen, "%s:%d: %s: %s does not hold PEM text", c->t->name,
		     line_of(c->t, node), owner, what);
		return -EINVAL;
	}
	return 0;
}

static int copy_field(const struct kc_ctx *c, char *out, size_t size, int node, const char *what,
		      const char *owner)
{
	const char *s = str_at(c->t, node);
	if (!s)
		return 0;
	if (strlen(s) >= size) {
		fail(c->err, c->errlen, "%s:%d: %s: %s is longer than %zu bytes", c->t->name,
		     line_of(c->t, node), owner, what, size - 1);
		return -ENAMETOOLONG;
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* The context's cluster: its server, whether TLS verification is off,
 * its CA. 0 or -errno with a reason. */
static int kc_cluster(struct fm_kubeconfig *kc, const struct kc_ctx *c, const char *cluster, const char *cur)
{
	const struct ytree *t = c->t;
	char owner[300];
	int ret;
	int cl = named(t, map_get(t, 0, "clusters"), cluster, "cluster");
	if (cl < 0 || t->n[cl].kind != Y_MAP) {
		fail(c->err, c->errlen, "%s: cluster \"%.64s\" (of context \"%.64s\") not found",
		     t->name, cluster, cur);
		return -ENOENT;
	}
	snprintf(owner, sizeof(owner), "cluster \"%.64s\"", cluster);
	int server = map_get(t, cl, "server");
	if ((ret = copy_field(c, kc->server, sizeof(kc->server), server, "server", owner)) < 0)
		return ret;
	if (!printable_token(kc->server)) {
		fail(c->err, c->errlen, "%s:%d: %s: server holds spaces or control characters",
		     t->name, line_of(t, server), owner);
		kc->server[0] = '\0';
		return -EINVAL;
	}
	const char *insecure = map_str(t, cl, "insecure-skip-tls-verify");
	kc->insecure = insecure && (!strcmp(insecure, "true") || !strcmp(insecure, "True") ||
				    !strcmp(insecure, "TRUE"));
	if ((ret = resolve(c, kc->ca_file, sizeof(kc->ca_file),
			   map_get(t, cl, "certificate-authority"), "certificate-authority",
			   owner)) < 0 ||
	    (ret = pem_data(c, &kc->ca_pem, map_get(t, cl, "certificate-authority-data"),
			    "certificate-authority-data", owner)) < 0)
		return ret;

	return 0;
}

/* The context's user: client certificate and key (files or data), token.
 * 0 or -errno with a reason. */
static int kc_user(struct fm_kubeconfig *kc, const struct kc_ctx *c, const char *user, const char *cur)
{
	const struct ytree *t = c->t;
	char owner[300];
	int ret;
	int us = named(t, map_get(t, 0, "users"), user, "user");
	if (us < 0 || t->n[us].kind != Y_MAP) {
		/* "user: {}" parses as a mapping; "user:" (null) means no credentials. */
		if (us >= 0 && is_null(t, us))
			return 0;
		fail(c->err, c->errlen, "%s: user \"%.64s\" (of context \"%.64s\") not found",
		     t->name, user, cur);
		return -ENOENT;
	}
	snprintf(owner, sizeof(owner), "user \"%.64s\"", user);
	if ((ret = resolve(c, kc->cert_file, sizeof(kc->cert_file),
			   map_get(t, us, "client-certificate"), "client-certificate", owner)) <
		0 ||
	    (ret = resolve(c, kc->key_file, sizeof(kc->key_file), map_get(t, us, "client-key"),
			   "client-key", owner)) < 0 ||
	    (ret = pem_data(c, &kc->cert_pem, map_get(t, us, "client-certificate-data"),
			    "client-certificate-data", owner)) < 0 ||
	    (ret = pem_data(c, &kc->key_pem, map_get(t, us, "client-key-data"), "client-key-data",
			    owner)) < 0)
		return ret;
	int tok = map_get(t, us, "token");
	const char *token = str_at(t, tok);
	if (token && *token) {
		/* It goes into an Authorization header: no CR, LF or spaces. */
		if (!printable_token(token)) {
			fail(c->err, c->errlen,
			     "%s:%d: %s: token holds spaces or control characters", t->name,
			     line_of(t, tok), owner);
			return -EINVAL;
		}
		kc->token = strdup(token);
		if (!kc->token) {
			fail(c->err, c->errlen, "%s: out of memory", t->name);
			return -ENOMEM;
		}
	}
	return 0;
}

static int kc_extract(struct fm_kubeconfig *kc, const struct kc_ctx *c)
{
	const struct ytree *t = c->t;
	char owner[300];
	int ret;

	if (t->count == 0 || t->n[0].kind != Y_MAP) {
		fail(c->err, c->errlen, "%s: not a kubeconfig (%s)", t->name,
		     t->count == 0 ? "empty" : "the top level is not a mapping");
		return -EINVAL;
	}
	int contexts = map_get(t, 0, "contexts");
	const char *cur = map_str(t, 0, "current-context");
	if (!cur || !*cur) {
		int only = -1, count = 0;
		if (contexts >= 0 && t->n[contexts].kind == Y_SEQ)
			for (int e = t->n[contexts].first; e >= 0; e = t->n[e].next, count++)
				only = e;
		cur = count == 1 ? map_str(t, only, "name") : NULL;
		if (!cur) {
			fail(c->err, c->errlen,
			     "%s: no current-context, and %d contexts to choose from", t->name,
			     count);
			return -ENOENT;
		}
		kc->current_context_missing = true;
	}
	if (strlen(cur) >= sizeof(kc->context)) {
		fail(c->err, c->errlen, "%s: current-context is longer than %zu bytes", t->name,
		     sizeof(kc->context) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(kc->context, cur, strlen(cur) + 1);

	int ctx = named(t, contexts, cur, "context");
	if (ctx < 0 || t->n[ctx].kind != Y_MAP) {
		fail(c->err, c->errlen, "%s: context \"%.64s\" not found", t->name, cur);
		return -ENOENT;
	}
	const char *cluster = map_str(t, ctx, "cluster");
	const char *user = map_str(t, ctx, "user");
	snprintf(owner, sizeof(owner), "context \"%.64s\"", cur);
	if (!cluster) {
		fail(c->err, c->errlen, "%s:%d: %s names no cluster", t->name, line_of(t, ctx),
		     owner);
		return -ENOENT;
	}
	if ((ret = copy_field(c, kc->cluster, sizeof(kc->cluster), map_get(t, ctx, "cluster"),
			      "cluster", owner)) < 0 ||
	    (ret = copy_field(c, kc->user, sizeof(kc->user), map_get(t, ctx, "user"), "user",
			      owner)) < 0)
		return ret;

	if ((ret = kc_cluster(kc, c, cluster, cur)) < 0)
		return ret;
	return user ? kc_user(kc, c, user, cur) : 0; /* a context without a user: no credentials */
}

int fm_kubeconfig_parse(struct fm_kubeconfig *kc, const void *buf, size_t len, const char *dir,
			const char *root, const char *name, char *err, size_t errlen)
{
	struct ytree t;
	memset(kc, 0, sizeof(*kc));
	if (!name)
		name = "kubeconfig";
	int ret = ytree_load(&t, buf, len, name, err, errlen);
	if (ret < 0)
		return ret;
	struct kc_ctx c = {
	    .t = &t, .dir = dir && *dir ? dir : ".", .root = root, .err = err, .errlen = errlen};
	ret = kc_extract(kc, &c);
	ytree_free(&t);
	if (ret < 0) {
		fm_kubeconfig_free(kc);
		memset(kc, 0, sizeof(*kc));
	}
	return ret;
}

int fm_kubeconfig_load(struct fm_kubeconfig *kc, const char *path, const char *root, char *err,
		       size_t errlen)
{
	unsigned char *buf;
	size_t len;
	char dir[PATH_MAX];

	memset(kc, 0, sizeof(*kc));
	int ret = read_capped(path, &buf, &len, err, errlen);
	if (ret < 0)
		return ret;
	dir_of(dir, sizeof(dir), path);
	ret = fm_kubeconfig_parse(kc, buf, len, dir, root, path, err, errlen);
	free(buf);
	return ret;
}

void fm_kubeconfig_free(struct fm_kubeconfig *kc)
{
	free(kc->ca_pem);
	free(kc->cert_pem);
	free(kc->key_pem);
	free(kc->token);
	kc->ca_pem = kc->cert_pem = kc->key_pem = kc->token = NULL;
}

/* --- static pod manifests ---------------------------------------------------------- */

/* Appends the string items of sequence seq (command or args) to m->argv. */
static int add_args(struct fm_manifest *m, const struct ytree *t, int seq, const char *what,
		    char *err, size_t errlen)
{
	if (seq < 0 || is_null(t, seq))
		return 0;
	if (t->n[seq].kind != Y_SEQ) {
		fail(err, errlen, "%s:%d: spec.containers[0].%s is not a list", t->name,
		     line_of(t, seq), what);
		return -EINVAL;
	}
	size_t k = 0;
	for (int i = t->n[seq].first; i >= 0; i = t->n[i].next, k++) {
		if (t->n[i].kind != Y_SCALAR) {
			fail(err, errlen, "%s:%d: spec.containers[0].%s[%zu] is not a string",
			     t->name, line_of(t, i), what, k);
			return -EINVAL;
		}
		if (m->argc >= FM_MANIFEST_MAX_ARGS) {
			fail(err, errlen, "%s:%d: more than %d command-line arguments", t->name,
			     line_of(t, i), FM_MANIFEST_MAX_ARGS);
			return -E2BIG;
		}
		/* A null item ("- ") is an empty argument, as Kubernetes has it. */
		const char *s = is_null(t, i) ? "" : t->n[i].str;
		char *copy = strdup(s);
		if (!copy) {
			fail(err, errlen, "%s: out of memory", t->name);
			return -ENOMEM;
		}
		m->argv[m->argc++] = copy;
	}
	return 0;
}

static int manifest_extract(struct fm_manifest *m, const struct ytree *t, char *err, size_t errlen)
{
	int ret;
	if (t->count == 0 || t->n[0].kind != Y_MAP) {
		fail(err, errlen, "%s: not a pod manifest (%s)", t->name,
		     t->count == 0 ? "empty" : "the top level is not a mapping");
		return -EINVAL;
	}
	int meta = map_get(t, 0, "metadata");
	const char *name = map_str(t, meta, "name");
	if (name) {
		if (strlen(name) >= sizeof(m->name)) {
			fail(err, errlen, "%s:%d: metadata.name is longer than %zu bytes", t->name,
			     line_of(t, meta), sizeof(m->name) - 1);
			return -EINVAL;
		}
		memcpy(m->name, name, strlen(name) + 1);
	}
	int containers = map_get(t, map_get(t, 0, "spec"), "containers");
	int c0 = containers >= 0 && t->n[containers].kind == Y_SEQ ? t->n[containers].first : -1;
	if (c0 < 0 || t->n[c0].kind != Y_MAP) {
		fail(err, errlen, "%s: not a pod manifest (no spec.containers[0])", t->name);
		return -EINVAL;
	}
	const char *cname = map_str(t, c0, "name");
	if (cname) {
		if (strlen(cname) >= sizeof(m->container)) {
			fail(err, errlen, "%s:%d: spec.containers[0].name is longer than %zu bytes",
			     t->name, line_of(t, c0), sizeof(m->container) - 1);
			return -EINVAL;
		}
		memcpy(m->container, cname, strlen(cname) + 1);
	}
	m->argv = calloc(FM_MANIFEST_MAX_ARGS + 1, sizeof(*m->argv));
	if (!m->argv) {
		fail(err, errlen, "%s: out of memory", t->name);
		return -ENOMEM;
	}
	if ((ret = add_args(m, t, map_get(t, c0, "command"), "command", err, errlen)) < 0 ||
	    (ret = add_args(m, t, map_get(t, c0, "args"), "args", err, errlen)) < 0)
		return ret;
	return 0;
}

int fm_manifest_parse(struct fm_manifest *m, const void *buf, size_t len, const char *name,
		      char *err, size_t errlen)
{
	struct ytree t;
	memset(m, 0, sizeof(*m));
	if (!name)
		name = "manifest";
	int ret = ytree_load(&t, buf, len, name, err, errlen);
	if (ret < 0)
		return ret;
	ret = manifest_extract(m, &t, err, errlen);
	ytree_free(&t);
	if (ret < 0) {
		fm_manifest_free(m);
		memset(m, 0, sizeof(*m));
	}
	return ret;
}

int fm_manifest_load(struct fm_manifest *m, const char *path, char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len;

	memset(m, 0, sizeof(*m));
	int ret = read_capped(path, &buf, &len, err, errlen);
	if (ret < 0)
		return ret;
	ret = fm_manifest_parse(m, buf, len, path, err, errlen);
	free(buf);
	return ret;
}

const char *fm_manifest_flag(const struct fm_manifest *m, const char *flag)
{
	const char *found = NULL;
	while (*flag == '-')
		flag++;
	size_t fl = strlen(flag);
	if (fl == 0)
		return NULL;
	for (size_t i = 0; i < m->argc; i++) {
		const char *a = m->argv[i];
		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-')
			continue;
		a += a[1] == '-' ? 2 : 1;
		if (strncmp(a, flag, fl) != 0)
			continue;
		if (a[fl] == '=') {
			found = a + fl + 1;
		} else if (a[fl] == '\0') {
			if (i + 1 < m->argc && m->argv[i + 1][0] != '-')
				found = m->argv[++i];
			else
				found = "";
		}
	}
	return found;
}

void fm_manifest_free(struct fm_manifest *m)
{
	if (m->argv) {
		for (size_t i = 0; i < m->argc; i++)
			free(m->argv[i]);
		free(m->argv);
	}
	m->argv = NULL;
	m->argc = 0;
}
