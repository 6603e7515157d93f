/* fm_report: compact heartbeats and reports (see fm_report.h, PROTOCOL.md). */
#include "fm_report.h"

#include "fm_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most a header can take: {"q":4294967295,"t":-9223372036854775808,
 * "i":1,"d":[ … ],"r":[ … ]} without the items. */
#define HEAD_RESERVE 72
#define ITEM_MAX     (FM_REPORT_MAX - HEAD_RESERVE)
/* What a diagnosis's evidence is cut to: one diagnosis per 320-byte report
 * (DESIGN.md's budget for incident 1) under a header of up to 38 bytes
 * ({"q":4294967295,"t":1796569522,"d":[ ]}); the whole evidence is one
 * GET /diag away. c, s, k, m and f are not cut for this. */
#define ITEM_TARGET 282
/* What the controller takes (PROTOCOL.md, "Answers to malformed
 * requests"): strings up to 512 bytes, 16 items in e/x/f, 32 diagnoses and
 * 64 resolved pairs in a report. */
#define STRING_MAX   512
#define LIST_MAX     16
#define REPORT_D_MAX 32
#define REPORT_R_MAX 64
/* One evidence string. */
#define EVIDENCE_MAX 64

uint32_t fm_report_fnv(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

int fm_report_severity(const char *severity)
{
	if (!severity)
		return 0;
	return strcmp(severity, "critical") == 0  ? 3
	       : strcmp(severity, "warning") == 0 ? 2
	       : strcmp(severity, "info") == 0	  ? 1
						  : 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The length of s cut to at most max bytes without splitting a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void fm_report_key(const char *key, char *out, size_t size)
{
	size_t n = strlen(key);
	if (n <= FM_REPORT_KEY_MAX)
		snprintf(out, size, "%s", key);
	else
		snprintf(out, size, "%.*s~%08" PRIx32, (int)utf8_cut(key, 20), key,
			 fm_report_fnv(FM_REPORT_FNV_INIT, key, n));
	/* Keys come from the host (file and container names): no control
	 * characters on the wire (the controller refuses them). */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* --- the raised set's hash and the heartbeat ---------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

uint32_t fm_report_hash(const cJSON *active)
{
	int n = cJSON_GetArraySize(active);
	uint32_t h = FM_REPORT_FNV_INIT;
	if (n <= 0)
		return h;
	char **lines = calloc((size_t)n, sizeof(*lines));
	int count = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, active)
	{
		if (!lines)
			break;
		/* Long form (code, key, severity) or compact (c, k, s). */
		const char *code = str(d, "code"), *key = str(d, "key");
		int sev = fm_report_severity(str(d, "severity"));
		char ck[FM_REPORT_KEY_MAX + 1];
		if (!code) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "s");
			code = str(d, "c");
			key = str(d, "k");
			sev = cJSON_IsNumber(s) ? s->valueint : 0;
			if (key)
				snprintf(ck, sizeof(ck), "%s", key);
		} else if (key) {
			fm_report_key(key, ck, sizeof(ck));
		}
		if (!code || !key)
			continue;
		size_t len = strlen(code) + strlen(ck) + 5;
		if (!(lines[count] = malloc(len)))
			continue;
		snprintf(lines[count++], len, "%s\x1f%s\x1f%d\n", code, ck, sev);
	}
	if (lines) {
		qsort(lines, (size_t)count, sizeof(*lines), cmp_str);
		for (int i = 0; i < count; i++) {
			h = fm_report_fnv(h, lines[i], strlen(lines[i]));
			free(lines[i]);
		}
	}
	free(lines);
	return h;
}

int fm_report_heartbeat(char *buf, size_t size, uint32_t last_q, const cJSON *active,
			uint32_t interval_s, bool waiting)
{
	int n = 0, w = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, active)
	{
		int s = fm_report_severity(str(d, "severity"));
		n++;
		if (s > w)
			w = s;
	}
	int len = snprintf(buf, size, "{\"q\":%" PRIu32 ",\"n\":%d,\"w\":%d,\"h\":\"%08" PRIx32 "\",\"i\":%" PRIu32 "%s}",
			   last_q, n, w, fm_report_hash(active), interval_s, waiting ? ",\"u\":1" : "");
	if (len < 0 || (size_t)len >= size)
		return -EMSGSIZE;
	return len;
}

/* --- items ---------------------------------------------------------------------- */

/* "kind:short": the id when it is short, else what says more in fewer bytes
 * (the log's source, the endpoint's state), else the id's first 12 bytes. */
static cJSON *evidence_string(const cJSON *e)
{
	const char *kind = str(e, "kind"), *id = str(e, "id");
	if (!kind || !id)
		return NULL;
	const char *shortid = id;
	size_t idlen = strlen(id);
	if (idlen > 24) {
		if (str(e, "source")) {
			/* a systemd unit's ".service" says nothing the kind does not */
			shortid = str(e, "source"), idlen = strlen(shortid);
			if (idlen > 8 && strcmp(shortid + idlen - 8, ".service") == 0)
				idlen -= 8;
		} else if (str(e, "state"))
			shortid = str(e, "state"), idlen = strlen(shortid);
		else
			idlen = utf8_cut(id, 12);
	}
	char buf[EVIDENCE_MAX + 1];
	size_t klen = utf8_cut(kind, 32);
	snprintf(buf, sizeof(buf), "%.*s:%.*s", (int)klen, kind, (int)idlen, shortid);
	buf[utf8_cut(buf, EVIDENCE_MAX)] = '\0';
	return cJSON_CreateString(buf);
}

/* The summary with a compacted key standing in for the key. */
static char *summary_for(const char *summary, const char *key, const char *ck)
{
	size_t klen = strlen(key), cklen = strlen(ck);
	size_t size = strlen(summary) + 1; /* the result only shrinks */
	char *out = malloc(size);
	if (!out)
		return NULL;
	size_t o = 0;
	const char *p = summary;
	while (*p) {
		if (klen > cklen && strncmp(p, key, klen) == 0) {
			memcpy(out + o, ck, cklen);
			o += cklen;
			p += klen;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return out;
}

static bool add_strings(cJSON *item, const char *name, const cJSON *from)
{
	if (cJSON_GetArraySize(from) <= 0)
		return true;
	cJSON *a = cJSON_AddArrayToObject(item, name);
	const cJSON *v;
	if (!a)
		return false;
	cJSON_ArrayForEach(v, from)
	{
		if (cJSON_IsString(v) && !cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring)))
			return false;
	}
	return true;
}

/* Whether a component can go on the wire: the controller takes
 * [a-z0-9-]{1,64} (PROTOCOL.md); a pod's name may hold a dot. One that
 * cannot is left out rather than have the report refused. */
static bool shaped(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* x: the codes of the symptoms the diagnosis explains, and y: the
 * component of each, in the same order (from its links; a change without
 * links, as a persisted one from an older agent, gives x alone). y is left
 * out when every symptom is about the diagnosis's own component p (a
 * blocked kube-apiserver explaining kube-apiserver refusing): the seed's
 * report keeps to its 320 bytes. */
static bool add_links(cJSON *item, const cJSON *change)
{
	const cJSON *links = cJSON_GetObjectItemCaseSensitive(change, "links"), *l;
	if (cJSON_GetArraySize(links) <= 0)
		return add_strings(item, "x", cJSON_GetObjectItemCaseSensitive(change, "explains"));
	const char *p = str(change, "component");
	bool own = p != NULL && shaped(p);
	cJSON *x = cJSON_AddArrayToObject(item, "x"), *y = cJSON_CreateArray();
	if (!x || !y) {
		cJSON_Delete(y);
		return false;
	}
	cJSON_ArrayForEach(l, links)
	{
		const char *code = str(l, "code"), *comp = str(l, "component");
		if (!code || !comp)
			continue;
		if (!shaped(comp))
			comp = "unknown"; /* said so rather than refused */
		own = own && strcmp(comp, p) == 0;
		if (!cJSON_AddItemToArray(x, cJSON_CreateString(code)) ||
		    !cJSON_AddItemToArray(y, cJSON_CreateString(comp))) {
			cJSON_Delete(y);
			return false;
		}
	}
	if (own) {
		cJSON_Delete(y);
		return true;
	}
	return cJSON_AddItemToObject(item, "y", y) || (cJSON_Delete(y), false);
}

static size_t printed_len(const cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	size_t n = s ? strlen(s) : SIZE_MAX;
	free(s);
	return n;
}

/* Cuts e (from its end: the engine lists the strongest evidence first)
 * until the item encodes in ITEM_TARGET, all of it if need be (a long fix
 * weighs more than a piece of evidence the controller can ask for); then
 * m until it encodes in ITEM_MAX. */
static void fit(cJSON *item)
{
	size_t len;
	cJSON *e = cJSON_GetObjectItemCaseSensitive(item, "e");
	while ((len = printed_len(item)) > ITEM_TARGET && cJSON_GetArraySize(e) > 0)
		cJSON_DeleteItemFromArray(e, cJSON_GetArraySize(e) - 1);
	if (cJSON_GetArraySize(e) == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(item, "e"), len = printed_len(item);
	if (len <= ITEM_MAX)
		return;
	/* the links' components before the summary: x still says what */
	cJSON_DeleteItemFromObjectCaseSensitive(item, "y");
	if ((len = printed_len(item)) <= ITEM_MAX)
		return;
	cJSON *m = cJSON_GetObjectItemCaseSensitive(item, "m");
	if (cJSON_IsString(m)) {
		size_t over = len - ITEM_MAX, ml = strlen(m->valuestring);
		/* escaped characters count more than one: cut by what is over,
		 * plus room for the ellipsis, and check again */
		while (len > ITEM_MAX && ml > 0) {
			size_t keep = ml > over + 3 ? utf8_cut(m->valuestring, ml - over - 3) : 0;
			char *cut = malloc(keep + 4);
			if (!cut)
				return;
			memcpy(cut, m->valuestring, keep);
			memcpy(cut + keep, "\xe2\x80\xa6", 4); /* … */
			cJSON_SetValuestring(m, cut);
			free(cut);
			ml = keep;
			len = printed_len(item);
			over = len > ITEM_MAX ? len - ITEM_MAX : 0;
		}
	}
}

cJSON *fm_report_item(const cJSON *change)
{
	const char *what = str(change, "change"), *code = str(change, "code"), *key = str(change, "key");
	if (!what || !code || !key)
		return NULL;
	char ck[FM_REPORT_KEY_MAX + 1];
	fm_report_key(key, ck, sizeof(ck));
	if (strcmp(what, "resolved") == 0) {
		cJSON *pair = cJSON_CreateArray();
		if (pair && (!cJSON_AddItemToArray(pair, cJSON_CreateString(code)) ||
			     !cJSON_AddItemToArray(pair, cJSON_CreateString(ck)))) {
			cJSON_Delete(pair);
			pair = NULL;
		}
		return pair;
	}
	if (strcmp(what, "raised") != 0 && strcmp(what, "changed") != 0)
		return NULL;
	cJSON *item = cJSON_CreateObject();
	char *m = summary_for(str(change, "summary") ? str(change, "summary") : "", key, ck);
	if (m && strlen(m) > STRING_MAX)
		memcpy(m + utf8_cut(m, STRING_MAX - 3), "\xe2\x80\xa6", 4); /* … */
	if (!item || !m || !cJSON_AddStringToObject(item, "c", code) ||
	    !cJSON_AddNumberToObject(item, "s", fm_report_severity(str(change, "severity"))) ||
	    !cJSON_AddStringToObject(item, "k", ck) || !cJSON_AddStringToObject(item, "m", m))
		goto out_oom;
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(change, "evidence"), *e;
	if (cJSON_GetArraySize(ev) > 0) {
		cJSON *a = cJSON_AddArrayToObject(item, "e");
		if (!a)
			goto out_oom;
		cJSON_ArrayForEach(e, ev)
		{
			cJSON *s = evidence_string(e);
			if (s && !cJSON_AddItemToArray(a, s)) {
				cJSON_Delete(s);
				goto out_oom;
			}
		}
	}
	const char *comp = str(change, "component");
	if (comp && shaped(comp) && !cJSON_AddStringToObject(item, "p", comp))
		goto out_oom;
	if (!add_links(item, change) || !add_strings(item, "f", cJSON_GetObjectItemCaseSensitive(change, "remedy")))
		goto out_oom;
	cJSON *e_arr = cJSON_GetObjectItemCaseSensitive(item, "e"), *x_arr = cJSON_GetObjectItemCaseSensitive(item, "x");
	while (cJSON_GetArraySize(e_arr) > LIST_MAX)
		cJSON_DeleteItemFromArray(e_arr, cJSON_GetArraySize(e_arr) - 1);
	cJSON *y_arr = cJSON_GetObjectItemCaseSensitive(item, "y");
	while (cJSON_GetArraySize(x_arr) > LIST_MAX)
		cJSON_DeleteItemFromArray(x_arr, cJSON_GetArraySize(x_arr) - 1);
	while (cJSON_GetArraySize(y_arr) > LIST_MAX)
		cJSON_DeleteItemFromArray(y_arr, cJSON_GetArraySize(y_arr) - 1);
	fit(item);
	free(m);
	return item;

out_oom:
	free(m);
	cJSON_Delete(item);
	return NULL;
}

bool fm_report_item_resolved(const cJSON *item)
{
	return cJSON_IsArray(item);
}

void fm_report_mark_absorbing(cJSON *items, const cJSON *active)
{
	cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(it, "x"), *o;
		if (fm_report_item_resolved(it) || cJSON_GetArraySize(x) <= 0)
			continue;
		bool resolves = false, raised = false;
		cJSON_ArrayForEach(o, items)
		{
			const char *c, *k;
			if (fm_report_item_resolved(o) && fm_report_item_id(o, &c, &k) &&
			    fm_json_lists(x, c))
				resolves = true;
		}
		cJSON_ArrayForEach(o, active)
		{
			const char *c = str(o, "code");
			if (c && fm_json_lists(x, c))
				raised = true;
		}
		if (resolves && !raised)
			cJSON_AddNumberToObject(it, "z", 1);
	}
}

/* Whether item is printed with z (see fm_report_mark_absorbing): none of
 * the report's diagnoses (take of them) has a code of its x, so the
 * controller resolving those codes there loses nothing raised. */
static bool absorbs(const cJSON *item, const cJSON *const *items, size_t take)
{
	const cJSON *z = cJSON_GetObjectItemCaseSensitive(item, "z");
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(item, "x");
	if (!cJSON_IsNumber(z) || z->valueint != 1 || fm_report_item_resolved(item))
		return false;
	for (size_t i = 0; i < take; i++) {
		const char *c = fm_report_item_resolved(items[i]) ? NULL : str(items[i], "c");
		if (c && fm_json_lists(x, c))
			return false;
	}
	return true;
}

/* Whether a resolved pair is left out: a diagnosis printed with z in the
 * same report resolves its code at the controller. */
static bool implied(const cJSON *pair, const cJSON *const *items, size_t take)
{
	const char *c, *k;
	if (!fm_report_item_id(pair, &c, &k))
		return false;
	for (size_t i = 0; i < take; i++)
		if (absorbs(items[i], items, take) &&
		    fm_json_lists(cJSON_GetObjectItemCaseSensitive(items[i], "x"), c))
			return true;
	return false;
}

bool fm_report_item_id(const cJSON *item, const char **code, const char **key)
{
	const cJSON *c, *k;
	if (cJSON_IsArray(item)) {
		c = cJSON_GetArrayItem(item, 0);
		k = cJSON_GetArrayItem(item, 1);
	} else {
		c = cJSON_GetObjectItemCaseSensitive(item, "c");
		k = cJSON_GetObjectItemCaseSensitive(item, "k");
	}
	if (!cJSON_IsString(c) || !cJSON_IsString(k))
		return false;
	*code = c->valuestring;
	*key = k->valuestring;
	return true;
}

/* --- reports --------------------------------------------------------------------- */

struct out {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

void fm_report_board(const char *board, char *out)
{
	/* Board ids are ours (boards/), but keep the query's size known:
	 * safe characters only, cut. */
	size_t i = 0;
	for (; board && board[i] && i < FM_REPORT_BOARD_MAX; i++) {
		char ch = board[i];
		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'
			     ? ch
			     : '_';
	}
	out[i] = '\0';
}

char *fm_report_encode(const struct fm_report_head *head, const cJSON *const *items, size_t n,
		       size_t *used)
{
	struct out o = {0};
	char buf[160];
	if (head->t_left)
		snprintf(buf, sizeof(buf), "{\"q\":%" PRIu32, head->q);
	else
		snprintf(buf, sizeof(buf), "{\"q\":%" PRIu32 ",\"t\":%" PRId64, head->q, head->t);
	puts_(&o, buf);
	if (head->insecure)
		puts_(&o, ",\"i\":1");

	/* How many items fit, in order: their printed lengths plus the
	 * brackets and commas. */
	size_t budget = FM_REPORT_MAX - o.len - strlen(",\"d\":[],\"r\":[]}");
	size_t take = 0, total = 0;
	char **printed = calloc(n ? n : 1, sizeof(*printed));
	if (!printed)
		goto out_oom;
	size_t nd = 0, nr = 0;
	for (; take < n; take++) {
		bool resolved = fm_report_item_resolved(items[take]);
		if (resolved ? nr == REPORT_R_MAX : nd == REPORT_D_MAX)
			break;
		nr += resolved;
		nd += !resolved;
		printed[take] = cJSON_PrintUnformatted(items[take]);
		if (!printed[take])
			goto out_oom;
		size_t l = strlen(printed[take]) + 1; /* and its comma */
		if (take > 0 && total + l > budget) {
			free(printed[take]);
			printed[take] = NULL;
			break;
		}
		total += l;
	}
	for (size_t i = 0; i < take; i++) {
		if (!fm_report_item_resolved(items[i]) &&
		    cJSON_GetObjectItemCaseSensitive(items[i], "z") &&
		    !absorbs(items[i], items, take)) {
			/* a diagnosis here raises one of its x codes: say it all */
			cJSON *copy = cJSON_Duplicate(items[i], 1);
			cJSON_DeleteItemFromObjectCaseSensitive(copy, "z");
			char *p = copy ? cJSON_PrintUnformatted(copy) : NULL;
			cJSON_Delete(copy);
			if (!p)
				goto out_oom;
			free(printed[i]);
			printed[i] = p;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		bool first = true;
		for (size_t i = 0; i < take; i++) {
			if (fm_report_item_resolved(items[i]) != (pass == 1))
				continue;
			if (pass == 1 && implied(items[i], items, take))
				continue;
			puts_(&o, first ? (pass ? ",\"r\":[" : ",\"d\":[") : ",");
			puts_(&o, printed[i]);
			first = false;
		}
		if (!first)
			puts_(&o, "]");
	}
	puts_(&o, "}");
	for (size_t i = 0; i < n; i++)
		free(printed[i]);
	free(printed);
	if (o.oom) {
		free(o.p);
		return NULL;
	}
	*used = take;
	return o.p;

out_oom:
	if (printed)
		for (size_t i = 0; i < n; i++)
			free(printed[i]);
	free(printed);
	free(o.p);
	return NULL;
}

int fm_report_answer(const void *data, size_t len, struct fm_report_answer *a)
{
	*a = (struct fm_report_answer){0};
	if (!data || len == 0 || len > FM_REPORT_MAX)
		return -EINVAL;
	cJSON *o = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -EINVAL;
	}
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "q"), *t = cJSON_GetObjectItemCaseSensitive(o, "t");
	if (cJSON_IsNumber(q) && q->valuedouble >= 0 && q->valuedouble <= UINT32_MAX) {
		a->has_q = true;
		a->q = (uint32_t)q->valuedouble;
	}
	a->waiting = cJSON_IsNumber(t) && t->valuedouble > 0;
	cJSON_Delete(o);
	return 0;
}
