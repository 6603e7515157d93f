#include "fc_wire.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int fc_why(char *why, size_t size, int rc, const char *fmt, ...)
{
	if (why && size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Nesting depth of a JSON text, counted before cJSON sees it (cJSON's own
 * limit is 1000, far above ours). Brackets inside strings do not count. */
static int depth(const char *s, size_t len)
{
	int d = 0, max = 0;
	bool str = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				str = false;
		} else if (c == '"') {
			str = true;
		} else if (c == '{' || c == '[') {
			if (++d > max)
				max = d;
		} else if (c == '}' || c == ']') {
			d--;
		}
	}
	return max;
}

static cJSON *parse(const void *data, size_t len, char *why, size_t size, int *rc)
{
	if (len > FC_WIRE_PAYLOAD_MAX) {
		*rc = fc_why(why, size, -EMSGSIZE, "payload of %zu bytes (at most %d)", len, FC_WIRE_PAYLOAD_MAX);
		return NULL;
	}
	if (depth(data, len) > FC_WIRE_DEPTH_MAX) {
		*rc = fc_why(why, size, -EINVAL, "JSON nested deeper than %d", FC_WIRE_DEPTH_MAX);
		return NULL;
	}
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (!o) {
		*rc = fc_why(why, size, -EINVAL, "not JSON");
		return NULL;
	}
	/* trailing blanks are fine, anything else is not one JSON object */
	for (const char *p = end; p && p < (const char *)data + len; p++) {
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
			cJSON_Delete(o);
			*rc = fc_why(why, size, -EINVAL, "text after the JSON object");
			return NULL;
		}
	}
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		*rc = fc_why(why, size, -EINVAL, "not a JSON object");
		return NULL;
	}
	return o;
}

/* An integer member in [lo, hi]: 1 found (*v set), 0 absent, -EINVAL. */
static int get_int(const cJSON *o, const char *key, double lo, double hi, int64_t *v, char *why,
		   size_t size)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!j)
		return 0;
	double d = j->valuedouble;
	if (!cJSON_IsNumber(j) || !isfinite(d) || d != floor(d) || d < lo || d > hi)
		return fc_why(why, size, -EINVAL, "\"%s\" must be an integer in %.0f..%.0f", key, lo, hi);
	*v = (int64_t)d;
	return 1;
}

static int need_int(const cJSON *o, const char *key, double lo, double hi, int64_t *v, char *why,
		    size_t size)
{
	int rc = get_int(o, key, lo, hi, v, why, size);
	if (rc == 0)
		return fc_why(why, size, -EINVAL, "\"%s\" is missing", key);
	return rc < 0 ? rc : 0;
}

static bool no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool fc_wire_code_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > FC_WIRE_CODE_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

enum shape { ANY_TEXT, KEY_TEXT, CODE };

static bool shape_ok(const char *s, enum shape sh)
{
	switch (sh) {
	case CODE: return fc_wire_code_ok(s);
	case KEY_TEXT: return strlen(s) <= FC_WIRE_KEY_MAX && no_controls(s);
	default: return strlen(s) <= FC_WIRE_TEXT_MAX;
	}
}

static const char *shape_name(enum shape sh)
{
	switch (sh) {
	case CODE: return "a code ([a-z0-9-], at most 64)";
	case KEY_TEXT: return "a string of at most 256 bytes without control characters";
	default: return "a string of at most 512 bytes";
	}
}

/* A string member: 1 found (*v set), 0 absent, -EINVAL. */
static int get_str(const cJSON *o, const char *key, enum shape sh, const char **v, const char *ctx,
		   char *why, size_t size)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!j)
		return 0;
	if (!cJSON_IsString(j) || !shape_ok(j->valuestring, sh))
		return fc_why(why, size, -EINVAL, "%s\"%s\" must be %s", ctx, key, shape_name(sh));
	*v = j->valuestring;
	return 1;
}

/* An array member of strings of that shape, at most max: its node (NULL
 * when absent) or -EINVAL through rc. */
static const cJSON *get_list(const cJSON *o, const char *key, enum shape sh, int max, const char *ctx,
			     int *rc, char *why, size_t size)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
	*rc = 0;
	if (!a)
		return NULL;
	if (!cJSON_IsArray(a)) {
		*rc = fc_why(why, size, -EINVAL, "%s\"%s\" must be an array", ctx, key);
		return NULL;
	}
	int n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, a) {
		if (++n > max) {
			*rc = fc_why(why, size, -EINVAL, "%s\"%s\" has more than %d items", ctx, key, max);
			return NULL;
		}
		if (!cJSON_IsString(it) || !shape_ok(it->valuestring, sh)) {
			*rc = fc_why(why, size, -EINVAL, "%s\"%s\" item %d must be %s", ctx, key, n,
				     shape_name(sh));
			return NULL;
		}
	}
	return a;
}

static int get_insecure(const cJSON *o, bool *insecure, char *why, size_t size)
{
	int64_t v = 0;
	int rc = get_int(o, "i", 1, 1, &v, why, size);
	*insecure = rc == 1;
	return rc < 0 ? fc_why(why, size, -EINVAL, "\"i\" must be 1 when present") : 0;
}

int fc_wire_hb(const void *data, size_t len, struct fc_hb *hb, char *why, size_t size)
{
	int rc = 0;
	if (len == 0) { /* "alive, nothing changed" (PROTOCOL.md) */
		memset(hb, 0, sizeof(*hb));
		hb->bare = true;
		return 0;
	}
	cJSON *o = parse(data, len, why, size, &rc);
	if (!o)
		return rc;
	int64_t q = 0, n = 0, w = 0, i = 0, u = 0;
	const char *h = NULL;
	memset(hb, 0, sizeof(*hb));
	if ((rc = need_int(o, "q", 0, UINT32_MAX, &q, why, size)) < 0 ||
	    (rc = need_int(o, "n", 0, UINT32_MAX, &n, why, size)) < 0 ||
	    (rc = need_int(o, "w", 0, 3, &w, why, size)) < 0 ||
	    (rc = need_int(o, "i", 1, FC_WIRE_HB_INTERVAL_MAX, &i, why, size)) < 0 ||
	    (rc = get_int(o, "u", 0, 1, &u, why, size)) < 0)
		goto out;
	/* "i" is the interval in a heartbeat; insecurity is the session's. */
	if ((rc = get_str(o, "h", ANY_TEXT, &h, "", why, size)) <= 0) {
		rc = rc ? rc : fc_why(why, size, -EINVAL, "\"h\" is missing");
		goto out;
	}
	if (strlen(h) != 8 || strspn(h, "0123456789abcdef") != 8) {
		rc = fc_why(why, size, -EINVAL, "\"h\" must be 8 lowercase hex digits");
		goto out;
	}
	hb->q = (uint32_t)q;
	hb->n = (uint32_t)n;
	hb->w = (int)w;
	hb->i = (uint32_t)i;
	hb->waiting = u == 1;
	memcpy(hb->h, h, 9);
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

int fc_wire_diag(const cJSON *o, int idx, struct fc_diag *d, char *why, size_t size)
{
	char ctx[32];
	snprintf(ctx, sizeof(ctx), "d[%d].", idx);
	if (!cJSON_IsObject(o))
		return fc_why(why, size, -EINVAL, "d[%d] must be an object", idx);
	int64_t s = 0;
	int rc;
	if ((rc = get_str(o, "c", CODE, &d->code, ctx, why, size)) <= 0)
		return rc ? rc : fc_why(why, size, -EINVAL, "%s\"c\" is missing", ctx);
	if ((rc = get_str(o, "k", KEY_TEXT, &d->key, ctx, why, size)) <= 0)
		return rc ? rc : fc_why(why, size, -EINVAL, "%s\"k\" is missing", ctx);
	if ((rc = get_int(o, "s", 1, 3, &s, why, size)) <= 0)
		return rc ? rc : fc_why(why, size, -EINVAL, "%s\"s\" is missing", ctx);
	d->severity = (int)s;
	d->summary = "";
	if ((rc = get_str(o, "m", ANY_TEXT, &d->summary, ctx, why, size)) < 0)
		return rc;
	d->evidence = get_list(o, "e", ANY_TEXT, FC_WIRE_LIST_MAX, ctx, &rc, why, size);
	if (rc < 0)
		return rc;
	d->explains = get_list(o, "x", CODE, FC_WIRE_LIST_MAX, ctx, &rc, why, size);
	if (rc < 0)
		return rc;
	/* issue 20: p the component, y the component of each x (optional:
	 * older agents send neither) */
	d->component = "";
	if ((rc = get_str(o, "p", CODE, &d->component, ctx, why, size)) < 0)
		return rc;
	d->explains_components = get_list(o, "y", CODE, FC_WIRE_LIST_MAX, ctx, &rc, why, size);
	if (rc < 0)
		return rc;
	if (d->explains_components &&
	    cJSON_GetArraySize(d->explains_components) != cJSON_GetArraySize(d->explains))
		return fc_why(why, size, -EINVAL, "%s\"y\" must have one component per item of \"x\"", ctx);
	d->remedy = get_list(o, "f", ANY_TEXT, FC_WIRE_LIST_MAX, ctx, &rc, why, size);
	if (rc < 0)
		return rc;
	int64_t z = 0;
	if ((rc = get_int(o, "z", 1, 1, &z, why, size)) < 0)
		return rc;
	if (z && cJSON_GetArraySize(d->explains) <= 0)
		return fc_why(why, size, -EINVAL, "%s\"z\" needs \"x\"", ctx);
	const cJSON *x;
	cJSON_ArrayForEach(x, d->explains)
	{
		if (z && strcmp(x->valuestring, d->code) == 0)
			return fc_why(why, size, -EINVAL, "%s\"z\" with its own code in \"x\"",
				      ctx);
	}
	d->absorbs = z == 1;
	return 0;
}

static int resolved(const cJSON *o, int idx, struct fc_resolved *r, char *why, size_t size)
{
	const cJSON *c = cJSON_GetArrayItem(o, 0), *k = cJSON_GetArrayItem(o, 1);
	if (!cJSON_IsArray(o) || cJSON_GetArraySize(o) != 2 || !cJSON_IsString(c) ||
	    !cJSON_IsString(k) || !fc_wire_code_ok(c->valuestring) || !shape_ok(k->valuestring, KEY_TEXT))
		return fc_why(why, size, -EINVAL, "r[%d] must be a [code, key] pair", idx);
	r->code = c->valuestring;
	r->key = k->valuestring;
	return 0;
}

int fc_wire_report(const void *data, size_t len, struct fc_report *r, char *why, size_t size)
{
	int rc = 0;
	memset(r, 0, sizeof(*r));
	cJSON *o = parse(data, len, why, size, &rc);
	if (!o)
		return rc;
	int64_t q = 0, t = 0;
	if ((rc = need_int(o, "q", 1, UINT32_MAX, &q, why, size)) < 0 ||
	    /* 2^53: exact in a double, and far beyond any clock; absent: the
	     * report went as it was made (the controller's clock says when) */
	    (rc = get_int(o, "t", 0, 9007199254740991.0, &t, why, size)) < 0 ||
	    (rc = get_insecure(o, &r->insecure, why, size)) < 0 ||
	    (rc = get_str(o, "b", KEY_TEXT, &r->board, "", why, size)) < 0)
		goto fail;
	r->q = (uint32_t)q;
	r->t = t;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "d");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "r");
	if ((d && !cJSON_IsArray(d)) || (res && !cJSON_IsArray(res))) {
		rc = fc_why(why, size, -EINVAL, "\"%s\" must be an array", d && !cJSON_IsArray(d) ? "d" : "r");
		goto fail;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, d) {
		if (r->nd == FC_WIRE_DIAG_MAX) {
			rc = fc_why(why, size, -EINVAL, "\"d\" has more than %d diagnoses", FC_WIRE_DIAG_MAX);
			goto fail;
		}
		if ((rc = fc_wire_diag(it, (int)r->nd, &r->d[r->nd], why, size)) < 0)
			goto fail;
		r->nd++;
	}
	cJSON_ArrayForEach(it, res) {
		if (r->nr == FC_WIRE_RESOLVED_MAX) {
			rc = fc_why(why, size, -EINVAL, "\"r\" has more than %d pairs", FC_WIRE_RESOLVED_MAX);
			goto fail;
		}
		if ((rc = resolved(it, (int)r->nr, &r->r[r->nr], why, size)) < 0)
			goto fail;
		r->nr++;
	}
	r->root = o;
	return 0;
fail:
	cJSON_Delete(o);
	memset(r, 0, sizeof(*r));
	return rc;
}

void fc_wire_report_free(struct fc_report *r)
{
	cJSON_Delete(r->root);
	memset(r, 0, sizeof(*r));
}

uint32_t fc_wire_hash_line(uint32_t h, const char *code, const char *key, int severity)
{
	char sev = (char)('0' + severity);
	const char *parts[] = {code, "\x1f", key, "\x1f", &sev, "\n"};
	const size_t lens[] = {strlen(code), 1, strlen(key), 1, 1, 1};
	for (size_t p = 0; p < 6; p++) {
		for (size_t i = 0; i < lens[p]; i++) {
			h ^= (unsigned char)parts[p][i];
			h *= 16777619u;
		}
	}
	return h;
}

int fc_wire_query(const void *query, size_t len, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = query, *end = p ? p + len : NULL;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t n = (size_t)(stop - p) - klen - 1;
			if (n + 1 > size || memchr(p + klen + 1, '\0', n))
				return -2;
			memcpy(out, p + klen + 1, n);
			out[n] = '\0';
			return (int)n;
		}
		p = amp ? amp + 1 : NULL;
	}
	return -1;
}

bool fc_wire_board_ok(const char *board)
{
	size_t n = strlen(board);
	return n >= 1 && n <= FC_WIRE_BOARD_MAX &&
	       strspn(board, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
		   n;
}
