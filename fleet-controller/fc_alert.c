/* fc_alert: Alertmanager alerts from the store (see fc_alert.h). */
#include "fc_alert.h"

#include "fc_store.h"
#include "fm_httpc.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

/* One alert as an Alertmanager was (or is to be) told of it; a target's
 * record is sorted by its labels (node, code, severity). */
struct alert {
	char *node, *code; /* labels, with severity */
	int severity;	   /* 2 warning, 3 critical */
	char *summary;	   /* annotations */
	char *remedy;
	int64_t starts;	   /* s since the epoch */
	bool standing;	   /* in the store at the last tick */
	bool told;	   /* this state delivered */
	uint64_t sent_ms;  /* when it was last delivered (firing) */
	bool seen;	   /* marked during a tick */
};

struct target {
	struct fc_alerts *owner;
	char url[300];
	struct fm_httpc c;
	struct alert *a;
	size_t n, cap;
	bool busy, failing;
	uint64_t backoff_ms, retry_at_ms;
	char *body;   /* the POST in flight */
	size_t batch; /* how many of a[] it carries, flagged inflight */
	bool *inflight;
};

struct fc_alerts {
	struct fm_loop *loop;
	struct fc_store *store;
	uint64_t resend_ms;
	struct fm_timer tick;
	struct target t[FC_ALERT_URLS_MAX];
	size_t nt;
	struct fc_alerts_counters c;
};

static void iso(int64_t s, char out[32])
{
	time_t t = (time_t)s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What the store says stands this tick: read once, told to every target. */
struct row {
	char *node, *code, *summary, *remedy;
	int severity;
};

static int cmp_labels(const char *node, const char *code, int severity, const struct alert *a)
{
	int c = strcmp(node, a->node);
	if (!c)
		c = strcmp(code, a->code);
	return c ? c : severity - a->severity;
}

/* Where (node, code, severity) is in t's record, or where it would go;
 * *found says which. */
static size_t locate(const struct target *t, const struct row *r, bool *found)
{
	size_t lo = 0, hi = t->n;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_labels(r->node, r->code, r->severity, &t->a[mid]);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void free_alert(struct alert *a)
{
	free(a->node);
	free(a->code);
	free(a->summary);
	free(a->remedy);
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void set_str(char **dst, const char *src)
{
	if (same(*dst, src))
		return;
	free(*dst);
	*dst = strdup(src ? src : "");
}

/* The remedy's lines, one a line. */
static char *remedy_text(const char *json)
{
	cJSON *r = cJSON_Parse(json ? json : "[]");
	size_t len = 1;
	const cJSON *l;
	cJSON_ArrayForEach(l, r)
	{
		if (cJSON_IsString(l))
			len += strlen(l->valuestring) + 1;
	}
	char *out = calloc(1, len);
	cJSON_ArrayForEach(l, r)
	{
		if (out && cJSON_IsString(l)) {
			if (*out)
				strcat(out, "\n");
			strcat(out, l->valuestring);
		}
	}
	cJSON_Delete(r);
	return out;
}

struct rows {
	struct row *r;
	size_t n, cap;
	int64_t now;
	bool oom;
};

static void add_row(struct rows *x, const char *node, const char *code, int severity, const char *summary,
		    char *remedy /* taken */)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		struct row *nr = realloc(x->r, cap * sizeof(*nr));
		if (!nr) {
			x->oom = true;
			free(remedy);
			return;
		}
		x->r = nr;
		x->cap = cap;
	}
	struct row *r = &x->r[x->n];
	*r = (struct row){.node = strdup(node), .code = strdup(code), .summary = strdup(summary ? summary : ""),
			  .remedy = remedy, .severity = severity};
	if (!r->node || !r->code || !r->summary || !r->remedy) {
		free(r->node), free(r->code), free(r->summary), free(r->remedy);
		x->oom = true;
		return;
	}
	x->n++;
}

static void from_store(const struct fc_store_alert *s, void *arg)
{
	struct rows *x = arg;
	if (!s->code) {
		char summary[200];
		snprintf(summary, sizeof(summary), "node %s is unreachable: no heartbeat for %d intervals", s->node,
			 FC_STORE_MISSED_MAX);
		add_row(x, s->node, "node-unreachable", 3, summary,
			strdup("check the node's power, network and fleetmedic-agent (systemctl status fleetmedic-agent)"));
		return;
	}
	add_row(x, s->node, s->code, s->severity, s->summary, remedy_text(s->remedy));
}

static void free_rows(struct rows *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->r[i].node);
		free(x->r[i].code);
		free(x->r[i].summary);
		free(x->r[i].remedy);
	}
	free(x->r);
}

/* One standing row into t's record (kept sorted). */
static void standing(struct target *t, const struct row *r, int64_t now)
{
	bool found;
	size_t at = locate(t, r, &found);
	struct alert *a = &t->a[at];
	if (!found) {
		if (t->n >= FC_ALERT_MAX)
			return;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct alert *na = realloc(t->a, cap * sizeof(*na));
			if (!na)
				return;
			t->a = na;
			t->cap = cap;
		}
		struct alert fresh = {.node = strdup(r->node), .code = strdup(r->code), .severity = r->severity, .starts = now};
		if (!fresh.node || !fresh.code) {
			free_alert(&fresh);
			return;
		}
		a = &t->a[at];
		memmove(a + 1, a, (t->n - at) * sizeof(*a));
		*a = fresh;
		t->n++;
	}
	if (!a->standing || !same(a->summary, r->summary) || !same(a->remedy, r->remedy))
		a->told = false;
	a->standing = true;
	a->seen = true;
	set_str(&a->summary, r->summary);
	set_str(&a->remedy, r->remedy);
}

static cJSON *alert_json(const struct alert *a, int64_t now, uint64_t resend_ms)
{
	char ts[32];
	cJSON *o = cJSON_CreateObject(), *l = cJSON_AddObjectToObject(o, "labels"),
	      *an = cJSON_AddObjectToObject(o, "annotations");
	cJSON_AddStringToObject(l, "alertname", "fleetmedic");
	cJSON_AddStringToObject(l, "node", a->node);
	cJSON_AddStringToObject(l, "code", a->code);
	cJSON_AddStringToObject(l, "severity", fc_store_severity_name(a->severity));
	cJSON_AddStringToObject(an, "summary", a->summary ? a->summary : "");
	cJSON_AddStringToObject(an, "remedy", a->remedy ? a->remedy : "");
	iso(a->starts, ts);
	cJSON_AddStringToObject(o, "startsAt", ts);
	/* standing: resolved by Alertmanager itself if it hears nothing for
	 * four resend intervals; gone: now */
	iso(a->standing ? now + (int64_t)(4 * resend_ms / 1000) : now, ts);
	cJSON_AddStringToObject(o, "endsAt", ts);
	return o;
}

static void post_done(struct fm_httpc *c, void *ctx);

/* Sends t what it has not been told, and what stands and is due again. */
static void flush(struct target *t, int64_t now, uint64_t now_ms)
{
	struct fc_alerts *al = t->owner;
	if (t->busy || now_ms < t->retry_at_ms)
		return;
	cJSON *arr = cJSON_CreateArray();
	free(t->inflight);
	t->inflight = calloc(t->n ? t->n : 1, sizeof(*t->inflight));
	t->batch = 0;
	for (size_t i = 0; i < t->n && arr && t->inflight; i++) {
		struct alert *a = &t->a[i];
		bool due = !a->told || (a->standing && now_ms - a->sent_ms >= al->resend_ms);
		if (!due)
			continue;
		cJSON_AddItemToArray(arr, alert_json(a, now, al->resend_ms));
		t->inflight[i] = true;
		t->batch++;
	}
	if (!t->batch) {
		cJSON_Delete(arr);
		return;
	}
	free(t->body);
	t->body = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (!t->body)
		return;
	struct fm_httpc_req req = {.method = "POST",
				   .path = "/api/v2/alerts",
				   .content_type = "application/json",
				   .body = t->body,
				   .body_len = strlen(t->body),
				   .max_body = 65536,
				   .timeout_ms = 5000,
				   .on_done = post_done,
				   .done_ctx = t};
	t->busy = true;
	if (fm_httpc_start(&t->c, &req) < 0) {
		t->busy = false;
		fm_debug("alertmanager %s: cannot start a request", t->url);
	}
}

static void post_done(struct fm_httpc *c, void *ctx)
{
	struct target *t = ctx;
	struct fc_alerts *al = t->owner;
	uint64_t now_ms = fm_now_ms();
	t->busy = false;
	al->c.posts++;
	if (c->fail == FM_HTTPC_OK && c->status >= 200 && c->status < 300) {
		if (t->failing)
			fm_notice("alertmanager %s: reachable again; %zu alert(s) delivered", t->url, t->batch);
		t->failing = false;
		t->backoff_ms = 0;
		t->retry_at_ms = 0;
		al->c.alerts_sent += t->batch;
		/* delivered: told; a delivered resolution is forgotten */
		size_t w = 0;
		for (size_t i = 0; i < t->n; i++) {
			struct alert *a = &t->a[i];
			if (t->inflight && t->inflight[i]) {
				a->told = true;
				a->sent_ms = now_ms;
			}
			if (!a->standing && a->told) {
				free_alert(a);
				continue;
			}
			t->a[w++] = *a;
		}
		t->n = w;
	} else {
		al->c.post_failures++;
		if (!t->failing)
			fm_warn("alertmanager %s: alerts not delivered (%s%s%s); kept and tried again with back-off", t->url,
				c->fail == FM_HTTPC_OK ? "HTTP status" : fm_httpc_fail_name(c->fail),
				c->reason[0] ? ": " : "", c->reason);
		t->failing = true;
		t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (t->backoff_ms > BACKOFF_MAX_MS)
			t->backoff_ms = BACKOFF_MAX_MS;
		t->retry_at_ms = now_ms + t->backoff_ms;
	}
	free(t->inflight);
	t->inflight = NULL;
	t->batch = 0;
}

static void on_tick(struct fm_timer *tm)
{
	struct fc_alerts *al = container_of(tm, struct fc_alerts, tick);
	int64_t now = (int64_t)time(NULL);
	uint64_t now_ms = fm_now_ms();
	struct rows x = {0};
	if (fc_store_each_alert(al->store, from_store, &x) < 0 || x.oom) {
		free_rows(&x);
		return; /* the store's error is logged; next tick */
	}
	for (size_t k = 0; k < al->nt; k++) {
		struct target *t = &al->t[k];
		if (t->busy)
			continue; /* its batch's flags stand until it answers */
		for (size_t i = 0; i < t->n; i++)
			t->a[i].seen = false;
		for (size_t i = 0; i < x.n; i++)
			standing(t, &x.r[i], now);
		for (size_t i = 0; i < t->n; i++)
			if (!t->a[i].seen && t->a[i].standing) {
				t->a[i].standing = false; /* gone: its resolution is due */
				t->a[i].told = false;
			}
		flush(t, now, now_ms);
	}
	free_rows(&x);
}

struct fc_alerts *fc_alerts_new(struct fm_loop *loop, const struct fc_alerts_conf *conf, char *why, size_t why_size)
{
	if (conf->n > FC_ALERT_URLS_MAX) {
		snprintf(why, why_size, "--alertmanager: at most %d", FC_ALERT_URLS_MAX);
		return NULL;
	}
	struct fc_alerts *al = calloc(1, sizeof(*al));
	if (!al) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	al->loop = loop;
	al->store = conf->store;
	al->resend_ms = conf->resend_ms ? conf->resend_ms : FC_ALERT_RESEND_MS;
	al->tick = (struct fm_timer)FM_TIMER_INIT;
	for (size_t i = 0; i < conf->n; i++) {
		struct target *t = &al->t[i];
		char err[160];
		struct fm_httpc_url u;
		if (fm_httpc_url_parse(conf->urls[i], &u, err, sizeof(err)) < 0 || u.scheme != FM_HTTPC_HTTP) {
			snprintf(why, why_size, "--alertmanager %s: give http://HOST[:PORT] (Alertmanager's own port, 9093)",
				 conf->urls[i]);
			goto fail;
		}
		t->owner = al;
		snprintf(t->url, sizeof(t->url), "%s", conf->urls[i]);
		if (fm_httpc_init(&t->c, loop, conf->urls[i], NULL, err, sizeof(err)) < 0) {
			snprintf(why, why_size, "--alertmanager %s: %s", conf->urls[i], err);
			goto fail;
		}
		al->nt++;
	}
	uint64_t tick = conf->tick_ms ? conf->tick_ms : 1000;
	if (fm_timer_init(loop, &al->tick, on_tick) < 0 || fm_timer_arm(&al->tick, tick, tick) < 0) {
		snprintf(why, why_size, "--alertmanager: cannot arm its timer");
		goto fail;
	}
	for (size_t i = 0; i < al->nt; i++)
		fm_notice("alertmanager %s: raised critical and warning diagnoses go there", al->t[i].url);
	return al;
fail:
	fc_alerts_delete(&al);
	return NULL;
}

void fc_alerts_delete(struct fc_alerts **pa)
{
	struct fc_alerts *al = *pa;
	if (!al)
		return;
	fm_timer_close(&al->tick);
	for (size_t k = 0; k < al->nt; k++) {
		struct target *t = &al->t[k];
		fm_httpc_close(&t->c);
		for (size_t i = 0; i < t->n; i++)
			free_alert(&t->a[i]);
		free(t->a);
		free(t->body);
		free(t->inflight);
	}
	free(al);
	*pa = NULL;
}

void fc_alerts_counters(const struct fc_alerts *a, struct fc_alerts_counters *out)
{
	*out = a ? a->c : (struct fc_alerts_counters){0};
}
