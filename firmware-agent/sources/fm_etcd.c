#include "fm_etcd.h"

#include "fm_certs.h"
#include "fm_httpc.h"
#include "fm_json.h"
#include "fm_promtext.h"
#include "fm_tls.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALARMS      16
#define MAX_MEMBERS     64
#define MAX_MEMBER_URLS 8
#define SMALL_BODY      (64 * 1024)
#define LIST_BODY       (512 * 1024)
/* /metrics is parsed as it streams in and never held: the cap only bounds
 * the time a runaway answer can take. etcd 3.4 serves ~150 KiB. */
#define METRICS_BODY    (16 * 1024 * 1024)
#define SLOW_LE_S       0.128

/* The keys of the count-only range over /registry/masterleases/, base64 as
 * the v3 gateway wants bytes fields (proto3 JSON mapping); constant, so
 * written out:
 *   "/registry/masterleases/" -> L3JlZ2lzdHJ5L21hc3RlcmxlYXNlcy8=
 *   "/registry/masterleases0" -> L3JlZ2lzdHJ5L21hc3RlcmxlYXNlczA=
 * (range_end is the prefix with its last byte + 1: '/' + 1 = '0'). */
static const char masterleases_range[] =
	"{\"key\":\"L3JlZ2lzdHJ5L21hc3RlcmxlYXNlcy8=\","
	"\"range_end\":\"L3JlZ2lzdHJ5L21hc3RlcmxlYXNlczA=\",\"count_only\":true}";

/* etcd's JSON gateway renders 64-bit integers as strings (proto3 JSON
 * mapping); older servers and other fields use numbers. Accept both. */
static bool json_u64(const cJSON *obj, const char *key, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (fm_json_u64(v, out))
		return true;
	if (cJSON_IsString(v) && v->valuestring[0] >= '0' && v->valuestring[0] <= '9') {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(v->valuestring, &end, 10);
		if (errno || *end)
			return false;
		*out = x;
		return true;
	}
	return false;
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void hex_id(char *s, size_t size, uint64_t id)
{
	/* Member ids are 64-bit: hex as etcdctl prints them, never a lossy double. */
	snprintf(s, size, "%" PRIx64, id);
}

static void add_id(cJSON *o, const char *key, uint64_t id)
{
	char s[24];
	hex_id(s, sizeof(s), id);
	cJSON_AddStringToObject(o, key, s);
}

/* --- version ------------------------------------------------------------ */

/* /livez and /readyz came with 3.6 and were backported to 3.5.11 and 3.4.29. */
static bool has_livez(const struct fm_etcd_version *v)
{
	if (!v->known || v->major < 3)
		return false;
	if (v->major > 3 || v->minor >= 6)
		return true;
	return (v->minor == 5 && v->patch >= 11) || (v->minor == 4 && v->patch >= 29);
}

int fm_etcd_parse_version(struct fm_facts *facts, const char *url, const char *body, size_t len,
			  struct fm_etcd_version *v)
{
	cJSON *j = fm_json_parse(body, len);
	if (!j)
		return -EBADMSG;
	cJSON *f = cJSON_CreateObject();
	const char *s = json_str(j, "etcdserver"), *cl = json_str(j, "etcdcluster");
	if (s) {
		cJSON_AddStringToObject(f, "server", s);
		v->known = sscanf(s, "%d.%d.%d", &v->major, &v->minor, &v->patch) == 3;
	}
	if (cl)
		cJSON_AddStringToObject(f, "cluster", cl);
	if (!s) {
		cJSON_AddStringToObject(f, "state", "malformed");
		cJSON_AddStringToObject(f, "reason", "/version: no \"etcdserver\" in the answer");
	}
	cJSON_Delete(j);
	fm_facts_put(facts, "etcd.version", url, f);
	return 0;
}

/* --- health ------------------------------------------------------------- */

struct health {
	struct fm_etcd_health said; /* what the endpoints said */
	cJSON *failure;       /* the request failed: this is the fact (until put) */
	bool failed;
	const char *via;
	bool have_rtt;
	double rtt_ms;
};

/* One collection of etcd (fm_etcd_collection_new): what its steps learn
 * on the way, read by the later ones. */
struct fm_etcd_collection {
	struct fm_probe_collection p; /* first: the connection, the run, whom to tell */
	const char *metrics_url;
	struct health h;
	struct fm_etcd_alarm alarms[MAX_ALARMS];
	int n_alarms;
	struct fm_etcd_version ver;
	uint64_t leader;
	bool leader_known;
	bool past_version; /* the connection held past /version: a verdict to conclude */
	int ret;

	/* The metrics listener, on a connection of its own, after etcd. */
	struct fm_httpc m;
	struct fm_prom_hist hist[FM_ETCD_DISK_HISTS];
	struct fm_promtext pt;
	cJSON *disk;
};

/* Appends s to the reason, "; " between, cut at the reason's size. */
static void append_reason(struct fm_etcd_health *h, const char *s)
{
	size_t have = strlen(h->reason), len = strlen(s);
	if (have && have + 2 < sizeof(h->reason)) {
		strcpy(h->reason + have, "; ");
		have += 2;
	}
	if (len > sizeof(h->reason) - 1 - have)
		len = sizeof(h->reason) - 1 - have;
	memcpy(h->reason + have, s, len);
	h->reason[have + len] = '\0';
}

static void note_rtt(struct fm_probe_run *r, struct health *h)
{
	/* Only a request on the kept-alive connection measures the round
	 * trip; a fresh one would include the TCP and TLS handshakes. */
	if (r->c->reused && r->c->fail == FM_HTTPC_OK && !h->have_rtt) {
		h->have_rtt = true;
		h->rtt_ms = round(r->last_ms * 100) / 100;
	}
}

void fm_etcd_parse_health(struct fm_etcd_health *h, int status, const char *body, size_t len)
{
	cJSON *j = fm_json_parse(body, len);
	const cJSON *hv = cJSON_GetObjectItemCaseSensitive(j, "health");
	h->healthy = cJSON_IsString(hv) && strcmp(hv->valuestring, "true") == 0;
	const char *reason = json_str(j, "reason");
	if (reason && reason[0]) {
		snprintf(h->reason, sizeof(h->reason), "%s", reason);
		h->server_reason = true;
	} else if (!h->healthy) {
		snprintf(h->reason, sizeof(h->reason),
			 j ? "/health answered HTTP %d" : "/health answered HTTP %d with no JSON",
			 status);
	}
	cJSON_Delete(j);
}

/* One health endpoint's answer (/health, /livez, /readyz: name) into h. */
static void read_health(struct fm_probe_run *r, struct health *h, const char *name)
{
	if (r->asked != FM_PROBE_OK) {
		h->failure = fm_probe_failed_fact(r, r->asked, name);
		return;
	}
	note_rtt(r, h);
	if (strcmp(name, "/health") == 0)
		fm_etcd_parse_health(&h->said, r->c->status, r->c->body.data, r->c->body.len);
	else
		fm_etcd_parse_checks(&h->said, name, r->c->status, r->c->body.data, r->c->body.len);
}

void fm_etcd_parse_checks(struct fm_etcd_health *h, const char *endpoint, int status,
			  const char *body, size_t len)
{
	if (status == 200)
		return;
	h->healthy = false;
	const char *p = body ? body : "";
	const char *end = p + (body ? len : 0);
	bool any = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		if (e - p > 3 && memcmp(p, "[-]", 3) == 0) {
			char line[160];
			snprintf(line, sizeof(line), "%s: %.*s", endpoint,
				 (int)(e - p - 3 > 120 ? 120 : e - p - 3), p + 3);
			append_reason(h, line);
			any = true;
		}
		p = e + 1;
	}
	if (!any) {
		char line[96];
		snprintf(line, sizeof(line), "%s answered HTTP %d", endpoint, status);
		append_reason(h, line);
	} else {
		h->server_reason = true;
	}
}

static void put_health(struct fm_probe_run *r, struct fm_facts *facts, struct health *h)
{
	if (h->failure) {
		cJSON_AddStringToObject(h->failure, "via", h->via);
		fm_facts_put(facts, "etcd.health", r->url, h->failure);
		h->failure = NULL;
		h->failed = true;
		return;
	}
	cJSON *f = cJSON_CreateObject();
	cJSON_AddBoolToObject(f, "healthy", h->said.healthy);
	if (!h->said.healthy && h->said.reason[0])
		cJSON_AddStringToObject(f, "reason", h->said.reason);
	cJSON_AddStringToObject(f, "via", h->via);
	if (h->have_rtt)
		cJSON_AddNumberToObject(f, "rtt_ms", h->rtt_ms);
	fm_facts_put(facts, "etcd.health", r->url, f);
}

/* --- alarms ------------------------------------------------------------- */

/* The alarm's name: the gateway writes the enum's name, a marshaller with
 * EnumsAsInts its number (etcdserverpb.AlarmType: NONE 0, NOSPACE 1,
 * CORRUPT 2). Names become fact ids: only [A-Z0-9_] is kept. */
static bool alarm_name(const cJSON *v, char *out, size_t size)
{
	static const char *const names[] = {"NONE", "NOSPACE", "CORRUPT"};
	if (cJSON_IsNumber(v)) {
		double n = v->valuedouble;
		snprintf(out, size, "%s", n >= 0 && n < 3 ? names[(int)n] : "UNKNOWN");
	} else if (cJSON_IsString(v)) {
		size_t o = 0;
		for (const char *p = v->valuestring; *p && o + 1 < size; p++)
			if ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
				out[o++] = *p;
		out[o] = '\0';
	} else {
		/* Absent: proto3 JSON omits the zero value, NONE. */
		snprintf(out, size, "NONE");
	}
	return out[0] && strcmp(out, "NONE") != 0;
}

int fm_etcd_parse_alarms(struct fm_facts *facts, const char *url, const char *body, size_t len,
			 struct fm_etcd_alarm *al, int max)
{
	cJSON *answer = fm_json_parse(body, len);
	if (!answer)
		return -EBADMSG;
	int n = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(answer, "alarms"))
	{
		char name[sizeof(al->name)];
		uint64_t member = 0;
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(item, "alarm");
		if (!alarm_name(kind, name, sizeof(name)))
			continue;
		json_u64(item, "memberID", &member);
		int i;
		for (i = 0; i < n && strcmp(al[i].name, name) != 0; i++)
			;
		if (i < n) {
			al[i].members++;
			continue;
		}
		if (n == max)
			continue;
		snprintf(al[n].name, sizeof(al[n].name), "%s", name);
		al[n].member = member;
		al[n].members = 1;
		n++;
	}
	for (int i = 0; i < n; i++) {
		char id[sizeof(((struct fm_endpoint *)0)->url) + 32];
		snprintf(id, sizeof(id), "%s#%s", url, al[i].name);
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "alarm", al[i].name);
		add_id(f, "member_id", al[i].member);
		cJSON_AddNumberToObject(f, "members", al[i].members);
		fm_facts_put(facts, "etcd.alarm", id, f);
	}
	cJSON_Delete(answer);
	return n;
}

/* The alarm facts; n_alarms gets how many distinct alarms are raised, or
 * -1 when the list could not be read. */
static void read_alarms(struct fm_probe_run *r, void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	enum fm_probe_asked a = fm_probe_asked_2xx(r, NULL);
	int n = -1;
	if (a == FM_PROBE_OK &&
	    (n = fm_etcd_parse_alarms(e->p.facts, r->url, r->c->body.data, r->c->body.len, e->alarms, MAX_ALARMS)) < 0)
		a = FM_PROBE_NOT_JSON;
	if (a != FM_PROBE_OK) {
		fm_facts_put(e->p.facts, "etcd.alarm", r->url, fm_probe_failed_fact(r, a, "the alarm list"));
		n = -1;
	}
	e->n_alarms = n;
}

/* --- status, members, masterleases --------------------------------------- */

int fm_etcd_parse_status(struct fm_facts *facts, const char *url, const char *body, size_t len,
			 uint64_t *leader, bool *known)
{
	uint64_t v, member = 0;
	*leader = 0;
	*known = false;
	cJSON *j = fm_json_parse(body, len);
	if (!j)
		return -EBADMSG;
	cJSON *f = cJSON_CreateObject();
	const char *ver = json_str(j, "version");
	if (ver)
		cJSON_AddStringToObject(f, "version", ver);
	if (json_u64(j, "dbSize", &v))
		cJSON_AddNumberToObject(f, "db_size", (double)v);
	if (json_u64(j, "dbSizeInUse", &v))
		cJSON_AddNumberToObject(f, "db_size_in_use", (double)v);
	const cJSON *hdr = cJSON_GetObjectItemCaseSensitive(j, "header");
	if (cJSON_IsObject(hdr) && json_u64(hdr, "member_id", &member))
		add_id(f, "member_id", member);
	/* proto3 JSON omits zero: no "leader" is leader 0, raft.None. */
	*known = cJSON_IsObject(hdr);
	if (json_u64(j, "leader", leader))
		add_id(f, "leader", *leader);
	cJSON_AddBoolToObject(f, "is_leader", *leader && *leader == member);
	if (json_u64(j, "raftTerm", &v))
		cJSON_AddNumberToObject(f, "raft_term", (double)v);
	if (json_u64(j, "raftIndex", &v))
		cJSON_AddNumberToObject(f, "raft_index", (double)v);
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors");
	if (cJSON_IsArray(errs) && cJSON_GetArraySize(errs) > 0) {
		cJSON *out = cJSON_AddArrayToObject(f, "errors");
		const cJSON *e;
		int n = 0;
		cJSON_ArrayForEach(e, errs)
		{
			if (cJSON_IsString(e) && n++ < 8)
				cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring));
		}
	}
	cJSON_Delete(j);
	fm_facts_put(facts, "etcd.status", url, f);
	return 0;
}

/* The health fact first (so it reads second; restated in place once the
 * alarms and the leader are known), then the status: leader gets the
 * leader's id, 0 when there is none or it is unknown. */
static void read_status(struct fm_probe_run *r, void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	put_health(r, e->p.facts, &e->h);
	e->leader = 0;
	e->leader_known = false;
	enum fm_probe_asked a = fm_probe_asked_2xx(r, NULL);
	if (a == FM_PROBE_OK &&
	    fm_etcd_parse_status(e->p.facts, r->url, r->c->body.data, r->c->body.len, &e->leader, &e->leader_known) < 0)
		a = FM_PROBE_NOT_JSON;
	if (a != FM_PROBE_OK) {
		fm_facts_put(e->p.facts, "etcd.status", r->url, fm_probe_failed_fact(r, a, "maintenance status"));
		e->leader = 0;
	}
}

static cJSON *url_list(const cJSON *arr)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *u;
	int n = 0;
	cJSON_ArrayForEach(u, arr)
	{
		if (cJSON_IsString(u) && n++ < MAX_MEMBER_URLS)
			cJSON_AddItemToArray(out, cJSON_CreateString(u->valuestring));
	}
	return out;
}

int fm_etcd_parse_members(struct fm_facts *facts, const char *url, const char *body, size_t len)
{
	cJSON *j = fm_json_parse(body, len);
	if (!j)
		return -EBADMSG;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "members");
	cJSON *f = cJSON_CreateObject();
	cJSON *out = cJSON_CreateArray();
	int count = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, list)
	{
		if (!cJSON_IsObject(m))
			continue;
		if (count++ >= MAX_MEMBERS)
			continue;
		cJSON *o = cJSON_CreateObject();
		uint64_t id = 0;
		const char *name = json_str(m, "name");
		json_u64(m, "ID", &id);
		add_id(o, "id", id);
		/* A member added but not started yet has no name. */
		cJSON_AddStringToObject(o, "name", name ? name : "");
		const cJSON *peers = cJSON_GetObjectItemCaseSensitive(m, "peerURLs");
		const cJSON *clients = cJSON_GetObjectItemCaseSensitive(m, "clientURLs");
		const cJSON *learner = cJSON_GetObjectItemCaseSensitive(m, "isLearner");
		cJSON_AddItemToObject(o, "peer_urls", url_list(peers));
		cJSON_AddItemToObject(o, "client_urls", url_list(clients));
		cJSON_AddBoolToObject(o, "is_learner", cJSON_IsTrue(learner));
		cJSON_AddItemToArray(out, o);
	}
	cJSON_AddNumberToObject(f, "count", count);
	cJSON_AddItemToObject(f, "members", out);
	cJSON_Delete(j);
	fm_facts_put(facts, "etcd.members", url, f);
	return 0;
}

static void read_members(struct fm_probe_run *r, void *ctx)
{
	struct fm_facts *facts = ((struct fm_etcd_collection *)ctx)->p.facts;
	enum fm_probe_asked a = fm_probe_asked_2xx(r, NULL);
	if (a == FM_PROBE_OK &&
	    fm_etcd_parse_members(facts, r->url, r->c->body.data, r->c->body.len) < 0)
		a = FM_PROBE_NOT_JSON;
	if (a != FM_PROBE_OK)
		fm_facts_put(facts, "etcd.members", r->url, fm_probe_failed_fact(r, a, "the member list"));
}

int fm_etcd_parse_masterleases(struct fm_facts *facts, const char *url, const char *body,
			       size_t len)
{
	uint64_t count = 0;
	cJSON *j = fm_json_parse(body, len);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "header"))) {
		/* Not JSON, or JSON but not a range answer. */
		cJSON_Delete(j);
		return -EBADMSG;
	}
	/* proto3 JSON omits a zero count. */
	json_u64(j, "count", &count);
	cJSON_Delete(j);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "count", (double)count);
	fm_facts_put(facts, "etcd.masterleases", url, f);
	return 0;
}

static void read_masterleases(struct fm_probe_run *r, void *ctx)
{
	struct fm_facts *facts = ((struct fm_etcd_collection *)ctx)->p.facts;
	enum fm_probe_asked a = fm_probe_asked_2xx(r, NULL);
	if (a == FM_PROBE_OK &&
	    fm_etcd_parse_masterleases(facts, r->url, r->c->body.data, r->c->body.len) < 0)
		a = FM_PROBE_NOT_JSON;
	if (a != FM_PROBE_OK)
		fm_facts_put(facts, "etcd.masterleases", r->url,
			     fm_probe_failed_fact(r, a, "the /registry/masterleases/ range"));
}

/* --- metrics ------------------------------------------------------------- */

static void add_share(cJSON *f, const char *prefix, const struct fm_prom_hist *h, double *bound,
		      const char **bad)
{
	char key[64];
	double count, share;
	if (!h->seen || !fm_prom_hist_count(h, &count))
		return;
	snprintf(key, sizeof(key), "%s_count", prefix);
	cJSON_AddNumberToObject(f, key, count);
	int rc = fm_prom_hist_share_above(h, SLOW_LE_S, &share, bound);
	if (rc == 0) {
		snprintf(key, sizeof(key), "%s_slow_share", prefix);
		cJSON_AddNumberToObject(f, key, round(share * 1e4) / 1e4);
	} else if (rc == -ERANGE) {
		*bad = h->name;
	}
}

void fm_etcd_disk_hists(struct fm_prom_hist h[FM_ETCD_DISK_HISTS])
{
	memset(h, 0, FM_ETCD_DISK_HISTS * sizeof(h[0]));
	h[0].name = "etcd_disk_wal_fsync_duration_seconds";
	h[1].name = "etcd_disk_backend_commit_duration_seconds";
}

void fm_etcd_disk_fields(cJSON *f, const char *metrics_url, const struct fm_promtext *pt,
			 const struct fm_prom_hist h[FM_ETCD_DISK_HISTS])
{
	char err[320];
	double bound = SLOW_LE_S;
	const char *bad = NULL;
	add_share(f, "wal_fsync", &h[0], &bound, &bad);
	add_share(f, "backend_commit", &h[1], &bound, &bad);
	cJSON_AddNumberToObject(f, "bucket_le_ms", round(bound * 1000));
	if (!h[0].seen && !h[1].seen) {
		snprintf(err, sizeof(err),
			 "%s/metrics has no etcd_disk_* histograms (%" PRIu64 " lines, %" PRIu64
			 " unreadable): not etcd's metrics listener?",
			 metrics_url, pt->lines, pt->bad_lines + pt->long_lines);
		cJSON_AddStringToObject(f, "state", "malformed");
		cJSON_AddStringToObject(f, "reason", err);
	} else if (bad) {
		snprintf(err, sizeof(err),
			 "%s/metrics: %s has more observations in a bucket than in total",
			 metrics_url, bad);
		cJSON_AddStringToObject(f, "state", "malformed");
		cJSON_AddStringToObject(f, "reason", err);
	}
}

/* --- the collection ---------------------------------------------------- */


static void read_version(struct fm_probe_run *r, void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	enum fm_probe_asked a = fm_probe_asked_2xx(r, NULL);
	/* Any answer, JSON or not, counts for the endpoint. */
	fm_probe_put_endpoint(e->p.facts, "etcd.endpoint", e->p.ep, r->c,
			      a == FM_PROBE_OK || r->c->fail == FM_HTTPC_STATUS);
	if (r->dead) {
		fm_probe_finish(r);
		return;
	}
	e->past_version = true;
	if (a == FM_PROBE_OK &&
	    fm_etcd_parse_version(e->p.facts, r->url, r->c->body.data, r->c->body.len, &e->ver) < 0)
		a = FM_PROBE_NOT_JSON;
	if (a != FM_PROBE_OK)
		fm_facts_put(e->p.facts, "etcd.version", r->url, fm_probe_failed_fact(r, a, "/version"));
}

/* /livez and /readyz where etcd has them (3.4.29+, 3.5.11+, 3.6+), else
 * /health; /readyz only after /livez answered. */
static bool send_livez(struct fm_probe_run *r, void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	if (!has_livez(&e->ver))
		return false;
	e->h.via = "/livez+/readyz";
	e->h.said.healthy = true;
	fm_probe_send_own(r);
	return true;
}

static bool send_readyz(struct fm_probe_run *r, void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	if (!has_livez(&e->ver) || e->h.failure)
		return false;
	fm_probe_send_own(r);
	return true;
}

static bool send_health(struct fm_probe_run *r, void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	if (has_livez(&e->ver))
		return false;
	e->h.via = "/health";
	fm_probe_send_own(r);
	return true;
}

/* The health endpoint's answer, named by its path without the query. */
static void read_health_step(struct fm_probe_run *r, void *ctx)
{
	char name[16];
	const char *path = fm_probe_current(r)->path;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(path, "?"), path);
	read_health(r, &((struct fm_etcd_collection *)ctx)->h, name);
}

/* /version first: cheap, and it decides how health is asked; it opens the
 * connection, so its time includes the handshakes. The status right after
 * health: etcd answers it from local state, also without a leader, when
 * the alarm list (raft-bound) may only time out. */
static const struct fm_probe_step etcd_steps[] = {
	{"GET", "/version", NULL, SMALL_BODY, NULL, read_version},
	{"GET", "/livez?verbose", NULL, SMALL_BODY, send_livez, read_health_step},
	{"GET", "/readyz?verbose", NULL, SMALL_BODY, send_readyz, read_health_step},
	{"GET", "/health", NULL, SMALL_BODY, send_health, read_health_step},
	{"POST", "/v3/maintenance/status", "{}", SMALL_BODY, NULL, read_status},
	/* AlarmRequest: action GET (0), memberID 0 and alarm NONE: all alarms. */
	{"POST", "/v3/maintenance/alarm", "{\"action\":\"GET\"}", SMALL_BODY, NULL, read_alarms},
	{"POST", "/v3/cluster/member/list", "{}", LIST_BODY, NULL, read_members},
	{"POST", "/v3/kv/range", masterleases_range, SMALL_BODY, NULL, read_masterleases},
};

/* What /health leaves unsaid, the other answers tell. */
static void conclude_health(struct fm_etcd_collection *e)
{
	struct health *h = &e->h;
	if (!h->failed && e->n_alarms > 0) {
		h->said.healthy = false;
		if (!h->said.server_reason) {
			h->said.reason[0] = '\0';
			for (int i = 0; i < e->n_alarms; i++) {
				char s[40];
				snprintf(s, sizeof(s), "ALARM %s", e->alarms[i].name);
				append_reason(&h->said, s);
			}
			h->said.server_reason = true;
		}
	}
	if (!h->failed && !h->said.healthy && !h->said.server_reason && e->leader_known && e->leader == 0)
		snprintf(h->said.reason, sizeof(h->said.reason), "RAFT NO LEADER");
	if (h->failed && e->leader_known && e->leader == 0) {
		/* Without a leader etcd holds /health and /readyz until its own
		 * request timeout; the status, answered at once, says why. */
		const cJSON *old = fm_facts_get(e->p.facts, "etcd.health", e->p.ep->url);
		const cJSON *why = old ? cJSON_GetObjectItemCaseSensitive(old, "reason") : NULL;
		snprintf(h->said.reason, sizeof(h->said.reason), "RAFT NO LEADER (%s did not answer: %s)", h->via,
			 cJSON_IsString(why) ? why->valuestring : "");
		h->failed = false;
		h->said.healthy = false;
	}
	if (!h->failed)
		put_health(&e->p.r, e->p.facts, h);
	e->ret = !h->failed && h->said.healthy ? 0 : -1;
}

static void end(struct fm_etcd_collection *e)
{
	if (e->disk) {
		fm_facts_put(e->p.facts, "etcd.disk", e->p.ep->url, e->disk);
		e->disk = NULL;
	}
	fm_probe_collection_end(&e->p, e->ret); /* last: the owner may delete e after */
}

static void metrics_done(struct fm_httpc *m, void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	if (fm_httpc_require_2xx(m) < 0) {
		fm_probe_outcome(e->disk, m);
	} else {
		fm_promtext_end(&e->pt);
		fm_etcd_disk_fields(e->disk, e->metrics_url, &e->pt, e->hist);
	}
	end(e);
}

/* etcd.disk from the metrics listener, parsed as it streams in. */
static void ask_metrics(struct fm_etcd_collection *e)
{
	char err[320];
	e->disk = cJSON_CreateObject();
	cJSON_AddStringToObject(e->disk, "metrics_url", e->metrics_url);
	fm_etcd_disk_hists(e->hist);
	fm_promtext_init(&e->pt, e->hist, FM_ETCD_DISK_HISTS);
	if (fm_httpc_init(&e->m, e->p.loop, e->metrics_url, e->p.tls, err, sizeof(err)) < 0) {
		cJSON_AddStringToObject(e->disk, "state", "config");
		cJSON_AddStringToObject(e->disk, "reason", err);
		end(e);
		return;
	}
	struct fm_httpc_req req = {.method = "GET", .path = "/metrics", .timeout_ms = e->p.co.timeout_ms,
				   .max_body = METRICS_BODY, .on_body = fm_promtext_feed, .body_ctx = &e->pt,
				   .on_done = metrics_done, .done_ctx = e};
	int rc = fm_httpc_start(&e->m, &req);
	if (rc < 0) {
		snprintf(e->m.reason, sizeof(e->m.reason), "cannot start the request: %s", strerror(-rc));
		e->m.fail = FM_HTTPC_CONNECT;
		metrics_done(&e->m, e);
	}
}

/* etcd's own requests are over (or could not start): the verdict, the
 * served certificate, then the metrics listener. */
static void asked(void *ctx)
{
	struct fm_etcd_collection *e = ctx;
	if (e->past_version)
		conclude_health(e);
	fm_certs_put_endpoint(e->p.facts, e->p.ep, &e->p.c, e->p.now);
	fm_httpc_close(&e->p.c);
	if (e->metrics_url && e->metrics_url[0])
		ask_metrics(e);
	else
		end(e);
}

struct fm_etcd_collection *fm_etcd_collection_new(struct fm_loop *loop, const struct fm_endpoint *ep,
						  const char *metrics_url, time_t now,
						  const struct fm_collect_opts *co, struct fm_facts *facts,
						  fm_collected_fn done, void *ctx)
{
	struct fm_etcd_collection *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->metrics_url = metrics_url;
	e->ret = -1;
	e->m = (struct fm_httpc){.fd = -1};
	fm_facts_drop(facts, "etcd.");
	if (fm_probe_collection_open(&e->p, loop, ep, now, co, "etcd.endpoint", facts, done, ctx) < 0)
		asked(e);
	else
		fm_probe_steps(&e->p.r, etcd_steps, sizeof(etcd_steps) / sizeof(etcd_steps[0]), e, asked);
	return e;
}

void fm_etcd_collection_delete(struct fm_etcd_collection **ep)
{
	struct fm_etcd_collection *e = *ep;
	if (!e)
		return;
	fm_probe_collection_close(&e->p);
	fm_httpc_close(&e->m);
	cJSON_Delete(e->h.failure);
	cJSON_Delete(e->disk);
	free(e);
	*ep = NULL;
}

bool fm_etcd_collection_ended(const struct fm_etcd_collection *e)
{
	return e->p.ended;
}

int fm_etcd_collect(struct fm_loop *loop, const struct fm_endpoint *ep, const char *metrics_url,
		    time_t now, const struct fm_collect_opts *co, struct fm_facts *facts)
{
	int rc = -1;
	struct fm_etcd_collection *e = fm_etcd_collection_new(loop, ep, metrics_url, now, co, facts, fm_collected_store, &rc);
	if (!e)
		return -1;
	fm_loop_run_until(loop, &e->p.ended);
	fm_etcd_collection_delete(&e);
	return rc;
}
