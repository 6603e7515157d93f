#include "fm_etcd.h"

#include "fm_httpc.h"
#include "fm_tls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* etcd's JSON gateway renders 64-bit integers as strings (proto3 JSON
 * mapping); older servers and other fields use numbers. Accept both. */
static bool json_u64(const cJSON *obj, const char *key, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
		*out = (uint64_t)v->valuedouble;
		return true;
	}
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

static cJSON *body_json(const struct fm_httpc *c)
{
	return cJSON_ParseWithLength(c->body.data ? c->body.data : "", c->body.len);
}

static void add_id(cJSON *o, const char *key, uint64_t id)
{
	/* Member ids are 64-bit: hex as etcdctl prints them, never a lossy double. */
	char s[24];
	snprintf(s, sizeof(s), "%" PRIx64, id);
	cJSON_AddStringToObject(o, key, s);
}

static bool put_health(struct fm_facts *facts, const char *url, const struct fm_httpc *c)
{
	cJSON *f = cJSON_CreateObject();
	cJSON *j = body_json(c);
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "health");
	bool healthy = cJSON_IsString(h) && strcmp(h->valuestring, "true") == 0;
	const char *reason = json_str(j, "reason");
	char why[96];

	cJSON_AddBoolToObject(f, "healthy", healthy);
	if (!healthy && (!reason || !reason[0])) {
		snprintf(why, sizeof(why), j ? "/health answered HTTP %d" : "/health answered HTTP %d with no JSON",
			 c->status);
		reason = why;
	}
	if (reason && reason[0])
		cJSON_AddStringToObject(f, "reason", reason);
	cJSON_Delete(j);
	fm_facts_put(facts, "etcd.health", url, f);
	return healthy;
}

static void put_version(struct fm_facts *facts, const char *url, const struct fm_httpc *c)
{
	cJSON *f = cJSON_CreateObject();
	cJSON *j = body_json(c);
	const char *s = json_str(j, "etcdserver"), *cl = json_str(j, "etcdcluster");
	if (s)
		cJSON_AddStringToObject(f, "server", s);
	if (cl)
		cJSON_AddStringToObject(f, "cluster", cl);
	cJSON_Delete(j);
	fm_facts_put(facts, "etcd.version", url, f);
}

static void put_status(struct fm_facts *facts, const char *url, const struct fm_httpc *c)
{
	cJSON *f = cJSON_CreateObject();
	cJSON *j = body_json(c);
	uint64_t v, member = 0, leader = 0;
	if (!j) {
		cJSON_AddStringToObject(f, "state", "malformed");
		cJSON_AddStringToObject(f, "reason", "maintenance status: the answer is not JSON");
		fm_facts_put(facts, "etcd.status", url, f);
		return;
	}
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
	if (json_u64(j, "leader", &leader))
		add_id(f, "leader", leader);
	cJSON_AddBoolToObject(f, "is_leader", leader && leader == member);
	if (json_u64(j, "raftTerm", &v))
		cJSON_AddNumberToObject(f, "raft_term", (double)v);
	if (json_u64(j, "raftIndex", &v))
		cJSON_AddNumberToObject(f, "raft_index", (double)v);
	cJSON_Delete(j);
	fm_facts_put(facts, "etcd.status", url, f);
}

int fm_etcd_collect(struct fm_loop *loop, const struct fm_endpoint *ep,
		    const struct fm_collect_opts *co, struct fm_facts *facts)
{
	struct fm_tls_config *tls = NULL;
	struct fm_tls_options to = fm_probe_tls_options(ep, co->tls_max);
	struct fm_httpc c = {.fd = -1};
	char err[320];
	int ret = -1;
	const char *url = ep->url;

	fm_facts_drop(facts, "etcd.");
	if ((strncmp(url, "https://", 8) == 0 && fm_tls_config_new(&tls, &to, err, sizeof(err)) < 0) ||
	    fm_httpc_init(&c, loop, url, tls, err, sizeof(err)) < 0) {
		cJSON *f = fm_probe_config_error(err);
		cJSON_AddStringToObject(f, "origin", ep->origin);
		fm_facts_put(facts, "etcd.endpoint", url, f);
		goto out_close;
	}

	struct fm_httpc_req req = {.method = "GET", .path = "/health",
				   .timeout_ms = co->timeout_ms, .max_body = 64 * 1024};
	int rc = fm_httpc_fetch(&c, &req);
	cJSON *ef = fm_probe_outcome(cJSON_CreateObject(), &c);
	if (c.tls_version[0])
		cJSON_AddStringToObject(ef, "tls_version", c.tls_version);
	cJSON_AddStringToObject(ef, "origin", ep->origin);
	fm_facts_put(facts, "etcd.endpoint", url, ef);
	if (rc < 0)
		goto out_close;
	bool healthy = put_health(facts, url, &c);

	req.path = "/version";
	if (fm_httpc_fetch(&c, &req) == 0 && fm_httpc_require_2xx(&c) == 0)
		put_version(facts, url, &c);

	/* The v3 gateway takes POST with a JSON body even for an empty request. */
	req = (struct fm_httpc_req){.method = "POST", .path = "/v3/maintenance/status",
				    .content_type = "application/json", .body = "{}", .body_len = 2,
				    .idempotent = true, .timeout_ms = co->timeout_ms,
				    .max_body = 64 * 1024};
	if (fm_httpc_fetch(&c, &req) == 0 && fm_httpc_require_2xx(&c) == 0)
		put_status(facts, url, &c);
	else
		fm_facts_put(facts, "etcd.status", url, fm_probe_outcome(cJSON_CreateObject(), &c));
	ret = healthy ? 0 : -1;

out_close:
	fm_httpc_close(&c);
	fm_tls_config_delete(&tls);
	return ret;
}
