/* fm_queue: the offline queue (see fm_queue.h). */
#include "fm_queue.h"

#include "fm_json.h"
#include "fm_log.h"
#include "fm_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_FILE "uplink.json"

struct fm_queue {
	char *dir;	    /* NULL: memory only */
	size_t max_bytes;
	uint32_t last_seq;
	cJSON *reports;	    /* [{"t":…, "items":[…], "q":… once numbered}] */
	cJSON *reported;    /* the last reported set */
	char *payload;	    /* the head, encoded */
	uint64_t merges;
	bool over_warned;
	bool save_failing; /* said once per run of failures, not per write */
};

static int save(struct fm_queue *q)
{
	if (!q->dir)
		return 0;
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, "v", 1) || !cJSON_AddNumberToObject(o, "last_q", q->last_seq) ||
	    !cJSON_AddItemToObject(o, "reports", cJSON_Duplicate(q->reports, 1)) ||
	    !cJSON_AddItemToObject(o, "reported", cJSON_Duplicate(q->reported, 1))) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	int rc = fm_state_write_json(q->dir, STATE_FILE, o);
	if (rc < 0 && !q->save_failing)
		fm_err("uplink: cannot write %s/%s: %s (the queue is kept in memory; said once until it works again)",
		       q->dir, STATE_FILE, strerror(-rc));
	else if (rc == 0 && q->save_failing)
		fm_notice("uplink: %s/%s written again", q->dir, STATE_FILE);
	q->save_failing = rc < 0;
	return rc;
}

static size_t item_bytes(const cJSON *items)
{
	size_t n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		char *s = cJSON_PrintUnformatted(it);
		n += s ? strlen(s) + 1 : 0;
		free(s);
	}
	return n;
}

size_t fm_queue_bytes(const struct fm_queue *q)
{
	size_t n = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, q->reports)
	{
		n += item_bytes(cJSON_GetObjectItemCaseSensitive(r, "items"));
	}
	return n;
}

size_t fm_queue_count(const struct fm_queue *q)
{
	return (size_t)cJSON_GetArraySize(q->reports);
}

uint32_t fm_queue_last_seq(const struct fm_queue *q)
{
	return q->last_seq;
}

uint64_t fm_queue_merges(const struct fm_queue *q)
{
	return q->merges;
}

const cJSON *fm_queue_reported(const struct fm_queue *q)
{
	return q->reported;
}

void fm_queue_delete(struct fm_queue **q)
{
	if (!q || !*q)
		return;
	cJSON_Delete((*q)->reports);
	cJSON_Delete((*q)->reported);
	free((*q)->payload);
	free((*q)->dir);
	free(*q);
	*q = NULL;
}

/* Whether a report read back has the shape we write. */
static bool report_ok(const cJSON *r)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(r, "items"), *it;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "t"), *sq = cJSON_GetObjectItemCaseSensitive(r, "q");
	uint64_t tv, qv;
	/* t and q are converted to integers later: only values we could
	 * have written (a time 0..2^53, a uint32 sequence number). */
	if (!cJSON_IsObject(r) || !cJSON_IsArray(items) || !fm_json_u64(t, &tv) ||
	    (sq && (!fm_json_u64(sq, &qv) || qv > UINT32_MAX)))
		return false;
	cJSON_ArrayForEach(it, items)
	{
		const char *c, *k;
		if (!fm_report_item_id(it, &c, &k))
			return false;
	}
	return true;
}

struct fm_queue *fm_queue_open(const char *state_dir, size_t max_bytes, char *err, size_t err_size)
{
	struct fm_queue *q = calloc(1, sizeof(*q));
	if (!q || (state_dir && !(q->dir = strdup(state_dir)))) {
		snprintf(err, err_size, "out of memory");
		fm_queue_delete(&q);
		return NULL;
	}
	q->max_bytes = max_bytes ? max_bytes : FM_QUEUE_DEFAULT_MAX;
	if (state_dir) {
		/* A file this agent did not write (garbage, another owner, a
		 * link) is put aside and the queue starts empty: the reports
		 * it held are lost, those from now on are sent (issue 25). */
		int rc = 0;
		cJSON *o = fm_state_load_json(state_dir, STATE_FILE, &rc);
		if (!o && rc == -ENOMEM) {
			snprintf(err, err_size, "out of memory");
			fm_queue_delete(&q);
			return NULL;
		}
		if (o) {
			const cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "last_q"), *r;
			cJSON *reports = cJSON_DetachItemFromObjectCaseSensitive(o, "reports");
			cJSON *reported = cJSON_DetachItemFromObjectCaseSensitive(o, "reported");
			bool ok = cJSON_IsNumber(last) && last->valuedouble >= 0 && last->valuedouble <= UINT32_MAX &&
				  cJSON_IsArray(reports) && cJSON_IsArray(reported);
			if (ok) {
				cJSON_ArrayForEach(r, reports)
				{
					ok = ok && report_ok(r);
				}
			}
			if (ok) {
				q->last_seq = (uint32_t)last->valuedouble;
				q->reports = reports;
				q->reported = reported;
			} else {
				(void)fm_state_quarantine(state_dir, STATE_FILE, "is not the shape of a queue this agent writes");
				cJSON_Delete(reports);
				cJSON_Delete(reported);
			}
			cJSON_Delete(o);
		}
	}
	if (!q->reports)
		q->reports = cJSON_CreateArray();
	if (!q->reported)
		q->reported = cJSON_CreateArray();
	if (!q->reports || !q->reported) {
		snprintf(err, err_size, "out of memory");
		fm_queue_delete(&q);
	}
	return q;
}

/* --- merging --------------------------------------------------------------------- */

static cJSON *find_item(cJSON *items, const char *code, const char *key, bool resolved)
{
	cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		const char *c, *k;
		if (fm_report_item_resolved(it) == resolved && fm_report_item_id(it, &c, &k) &&
		    strcmp(c, code) == 0 && strcmp(k, key) == 0)
			return it;
	}
	return NULL;
}

int fm_queue_merge_items(cJSON *a, const cJSON *b)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, b)
	{
		const char *c, *k;
		if (!fm_report_item_id(it, &c, &k))
			continue;
		bool resolved = fm_report_item_resolved(it);
		cJSON *copy;
		if (resolved) {
			if (find_item(a, c, k, true))
				continue;
			if (!(copy = cJSON_Duplicate(it, 1)) || !cJSON_AddItemToArray(a, copy)) {
				cJSON_Delete(copy);
				return -ENOMEM;
			}
			continue;
		}
		/* Raised again after a resolve: the raise is what holds now. */
		cJSON *r = find_item(a, c, k, true);
		if (r)
			cJSON_Delete(cJSON_DetachItemViaPointer(a, r));
		if (!(copy = cJSON_Duplicate(it, 1)))
			return -ENOMEM;
		cJSON *d = find_item(a, c, k, false);
		if (d ? !cJSON_ReplaceItemViaPointer(a, d, copy) : !cJSON_AddItemToArray(a, copy)) {
			cJSON_Delete(copy);
			return -ENOMEM;
		}
	}
	return 0;
}

/* The index of the oldest report without a sequence number, or -1. */
static int first_unnumbered(const struct fm_queue *q)
{
	int i = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, q->reports)
	{
		if (!cJSON_GetObjectItemCaseSensitive(r, "q"))
			return i;
		i++;
	}
	return -1;
}

/* Merges the oldest two unnumbered reports; false when there are not two. */
static bool merge_oldest(struct fm_queue *q)
{
	int i = first_unnumbered(q);
	if (i < 0 || i + 1 >= cJSON_GetArraySize(q->reports))
		return false;
	cJSON *a = cJSON_GetArrayItem(q->reports, i), *b = cJSON_GetArrayItem(q->reports, i + 1);
	if (fm_queue_merge_items(cJSON_GetObjectItemCaseSensitive(a, "items"),
				 cJSON_GetObjectItemCaseSensitive(b, "items")) < 0)
		return false;
	/* The merged report is made when its newest change was. */
	cJSON_ReplaceItemInObjectCaseSensitive(a, "t", cJSON_Duplicate(cJSON_GetObjectItem(b, "t"), 0));
	cJSON_DeleteItemFromArray(q->reports, i + 1);
	q->merges++;
	return true;
}

int fm_queue_push(struct fm_queue *q, cJSON *items, int64_t t)
{
	if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) == 0) {
		cJSON_Delete(items);
		return 0;
	}
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddNumberToObject(r, "t", (double)t) || !cJSON_AddItemToObject(r, "items", items)) {
		if (!r || !cJSON_GetObjectItem(r, "items"))
			cJSON_Delete(items);
		cJSON_Delete(r);
		return -ENOMEM;
	}
	if (!cJSON_AddItemToArray(q->reports, r)) {
		cJSON_Delete(r);
		return -ENOMEM;
	}
	size_t bytes;
	while ((bytes = fm_queue_bytes(q)) > q->max_bytes && merge_oldest(q))
		;
	if (bytes > q->max_bytes && !q->over_warned) {
		/* Only distinct diagnoses left: keeping them beats the bound. */
		fm_warn("uplink: the queue holds %zu bytes of distinct changes, over its bound of %zu; nothing is dropped",
			bytes, q->max_bytes);
		q->over_warned = true;
	} else if (bytes <= q->max_bytes) {
		q->over_warned = false;
	}
	return save(q);
}

/* --- the head --------------------------------------------------------------------- */

static char *encode(const cJSON *r, bool insecure, int64_t now, uint32_t seq, size_t *used)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(r, "items");
	size_t n = (size_t)cJSON_GetArraySize(items), i = 0;
	const cJSON **v = calloc(n ? n : 1, sizeof(*v)), *it;
	if (!v)
		return NULL;
	cJSON_ArrayForEach(it, items)
	{
		v[i++] = it;
	}
	struct fm_report_head head = {.q = seq, .t = (int64_t)cJSON_GetObjectItem(r, "t")->valuedouble,
				      .insecure = insecure};
	head.t_left = now >= head.t && now - head.t <= FM_REPORT_FRESH_S;
	char *p = fm_report_encode(&head, v, n, used);
	free(v);
	return p;
}

const char *fm_queue_head(struct fm_queue *q, bool insecure, int64_t now, uint32_t *seq)
{
	cJSON *r = cJSON_GetArrayItem(q->reports, 0);
	free(q->payload);
	q->payload = NULL;
	if (!r)
		return NULL;
	const cJSON *sq = cJSON_GetObjectItemCaseSensitive(r, "q");
	size_t used = 0;
	if (sq) {
		*seq = (uint32_t)sq->valuedouble;
		/* Numbered and cut before: it fits whole. */
		q->payload = encode(r, insecure, now, *seq, &used);
		return q->payload;
	}
	*seq = q->last_seq + 1;
	if (*seq == 0)
		*seq = 1; /* 2^32 reports later: PROTOCOL.md's uint32 wraps */
	if (!(q->payload = encode(r, insecure, now, *seq, &used)))
		return NULL;
	cJSON *items = cJSON_GetObjectItemCaseSensitive(r, "items");
	if (used < (size_t)cJSON_GetArraySize(items)) {
		/* The rest waits as the next report, made at the same time. */
		cJSON *rest = cJSON_CreateObject(), *ritems = cJSON_CreateArray();
		if (!rest || !ritems || !cJSON_AddItemToObject(rest, "t", cJSON_Duplicate(cJSON_GetObjectItem(r, "t"), 0)) ||
		    !cJSON_AddItemToObject(rest, "items", ritems)) {
			if (rest && !cJSON_GetObjectItem(rest, "items"))
				cJSON_Delete(ritems);
			cJSON_Delete(rest);
			free(q->payload);
			return q->payload = NULL;
		}
		while ((size_t)cJSON_GetArraySize(items) > used)
			cJSON_AddItemToArray(ritems, cJSON_DetachItemFromArray(items, (int)used));
		cJSON_InsertItemInArray(q->reports, 1, rest);
	}
	cJSON_AddNumberToObject(r, "q", *seq);
	q->last_seq = *seq;
	save(q);
	return q->payload;
}

int fm_queue_ack(struct fm_queue *q, uint32_t seq)
{
	cJSON *r = cJSON_GetArrayItem(q->reports, 0);
	const cJSON *sq = r ? cJSON_GetObjectItemCaseSensitive(r, "q") : NULL;
	if (!sq || (uint32_t)sq->valuedouble != seq)
		return -ENOENT;
	cJSON_DeleteItemFromArray(q->reports, 0);
	return save(q);
}

int fm_queue_floor(struct fm_queue *q, uint32_t ctl_q)
{
	bool changed = false;
	cJSON *r;
	/* Numbered reports the controller already stored. */
	while ((r = cJSON_GetArrayItem(q->reports, 0)) && cJSON_GetObjectItemCaseSensitive(r, "q") &&
	       (uint32_t)cJSON_GetObjectItem(r, "q")->valuedouble <= ctl_q) {
		cJSON_DeleteItemFromArray(q->reports, 0);
		changed = true;
	}
	if (ctl_q > q->last_seq) {
		fm_notice("uplink: the controller holds reports up to %u, this agent had sent up to %u (state lost?): continuing at %u",
			  ctl_q, q->last_seq, ctl_q + 1);
		q->last_seq = ctl_q;
		changed = true;
	}
	return changed ? save(q) : 0;
}

int fm_queue_set_reported(struct fm_queue *q, const cJSON *active)
{
	static const char *const keep[] = {"code", "key", "severity", "summary", "remedy", "explains", "component"};
	cJSON *set = cJSON_CreateArray();
	const cJSON *d;
	if (!set)
		return -ENOMEM;
	cJSON_ArrayForEach(d, active)
	{
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(set, o)) {
			cJSON_Delete(o);
			cJSON_Delete(set);
			return -ENOMEM;
		}
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, keep[i]);
			if (v)
				cJSON_AddItemToObject(o, keep[i], cJSON_Duplicate(v, 1));
		}
	}
	if (cJSON_Compare(set, q->reported, true)) {
		cJSON_Delete(set);
		return 0;
	}
	cJSON_Delete(q->reported);
	q->reported = set;
	return save(q);
}
