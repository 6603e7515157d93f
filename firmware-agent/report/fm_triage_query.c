/* fm_triage_query: the triage resources' query parser (see
 * fm_triage_query.h): pure, so it is fuzzed alone. */
#include "fm_triage_query.h"

#include "fm_conf.h"
#include "fm_journal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_hex(const char *s)
{
	for (; *s; s++)
		if (fm_hexdigit(*s) < 0)
			return false;
	return true;
}

/* Copies v[0..len) into out (size bytes with the NUL), percent-decoded:
 * libcoap hands the Uri-Query options over joined with '&' and escaped as
 * RFC 7252 6.5.8 says ("already%20in%20use", a '&' inside a value as %26).
 * false when it does not fit, an escape is malformed, or a decoded byte is
 * a NUL or a control character. */
static bool take(char *out, size_t size, const char *v, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)v[i];
		if (c == '%') {
			int hi = i + 2 < len ? fm_hexdigit(v[i + 1]) : -1, lo = i + 2 < len ? fm_hexdigit(v[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}

int fm_triage_query_parse(const char *resource, const char *query, size_t len, struct fm_triage_query *q,
			  char *err, size_t err_size)
{
	bool journal = strcmp(resource, "journal") == 0, facts = strcmp(resource, "facts") == 0,
	     act = strcmp(resource, "act/rm") == 0;
	bool seen_u = false, seen_n = false, seen_g = false, seen_k = false, seen_id = false;
	memset(q, 0, sizeof(*q));
	q->n = 20;
	size_t at = 0;
	while (query && at < len) {
		const char *p = query + at, *amp = memchr(p, '&', len - at);
		size_t plen = amp ? (size_t)(amp - p) : len - at;
		at += plen + 1;
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		const char *v = eq ? eq + 1 : p + plen;
		size_t vlen = eq ? plen - klen - 1 : 0;
		bool *seen = NULL;
		bool ok = false;
		if (journal && klen == 1 && p[0] == 'u') {
			seen = &seen_u;
			ok = vlen > 0 && take(q->u, sizeof(q->u), v, vlen);
		} else if (journal && klen == 1 && p[0] == 'g') {
			seen = &seen_g;
			ok = take(q->g, sizeof(q->g), v, vlen);
		} else if (journal && klen == 1 && p[0] == 'n') {
			char num[8];
			seen = &seen_n;
			ok = vlen > 0 && take(num, sizeof(num), v, vlen);
			unsigned long n = 0;
			for (size_t i = 0; ok && i < vlen; i++) {
				ok = num[i] >= '0' && num[i] <= '9';
				n = n * 10 + (unsigned long)(num[i] - '0');
			}
			ok = ok && n >= 1 && n <= FM_JOURNAL_TAIL_MAX;
			q->n = (unsigned)n;
		} else if (facts && klen == 1 && p[0] == 'k') {
			seen = &seen_k;
			ok = take(q->k, sizeof(q->k), v, vlen);
		} else if (act && klen == 2 && memcmp(p, "id", 2) == 0) {
			seen = &seen_id;
			/* The length decoded: "%61%62%63%64" is 12 bytes and 4 digits,
			 * a prefix docker rm would take for any container it starts. */
			ok = take(q->id, sizeof(q->id), v, vlen) && strlen(q->id) >= 12 && is_hex(q->id);
		} else {
			snprintf(err, err_size, "unknown query key '%.*s' for /%s", (int)(klen > 32 ? 32 : klen), p,
				 resource);
			return -EINVAL;
		}
		if (*seen) {
			snprintf(err, err_size, "query key '%.*s' given twice", (int)klen, p);
			return -EINVAL;
		}
		*seen = true;
		if (!ok || !eq) {
			snprintf(err, err_size,
				 "bad value for '%.*s' (u: a unit of at most 32 bytes; n: 1..%d; g: at most 128 bytes; k: at most 64; id: 12..64 hex digits)",
				 (int)klen, p, FM_JOURNAL_TAIL_MAX);
			return -EINVAL;
		}
	}
	if (journal && !seen_u) {
		snprintf(err, err_size, "/journal needs u=UNIT (kubelet, docker, containerd, etcd, k3s, kernel)");
		return -EINVAL;
	}
	if (act && !seen_id) {
		snprintf(err, err_size, "/act/rm needs id=CONTAINER (12..64 hex digits)");
		return -EINVAL;
	}
	return 0;
}

