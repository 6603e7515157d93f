#include "fm_etcd.h"

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

static void json_str(const cJSON *obj, const char *key, char *out, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsString(v))
		snprintf(out, size, "%s", v->valuestring);
}

static void take_failure(struct fm_etcd_status *st, const struct fm_httpc *c)
{
	st->fail = c->fail;
	st->tls_fail = c->tls_fail;
	snprintf(st->reason, sizeof(st->reason), "%s", c->reason);
}

static void parse_health(struct fm_etcd_status *st, const struct fm_httpc *c)
{
	cJSON *j = cJSON_ParseWithLength(c->body.data ? c->body.data : "", c->body.len);
	if (!j) {
		snprintf(st->health_reason, sizeof(st->health_reason), "/health answered HTTP %d with no JSON",
			 c->status);
		return;
	}
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "health");
	st->healthy = cJSON_IsString(h) && strcmp(h->valuestring, "true") == 0;
	json_str(j, "reason", st->health_reason, sizeof(st->health_reason));
	if (!st->healthy && !st->health_reason[0])
		snprintf(st->health_reason, sizeof(st->health_reason), "/health answered HTTP %d",
			 c->status);
	cJSON_Delete(j);
}

static void parse_status(struct fm_etcd_status *st, const struct fm_httpc *c)
{
	cJSON *j = cJSON_ParseWithLength(c->body.data ? c->body.data : "", c->body.len);
	if (!j) {
		snprintf(st->status_error, sizeof(st->status_error),
			 "maintenance status: answer is not JSON");
		return;
	}
	uint64_t v;
	st->db_size = json_u64(j, "dbSize", &v) ? (int64_t)v : -1;
	st->db_size_in_use = json_u64(j, "dbSizeInUse", &v) ? (int64_t)v : -1;
	json_u64(j, "leader", &st->leader);
	json_u64(j, "raftIndex", &st->raft_index);
	json_u64(j, "raftTerm", &st->raft_term);
	const cJSON *hdr = cJSON_GetObjectItemCaseSensitive(j, "header");
	if (cJSON_IsObject(hdr))
		json_u64(hdr, "member_id", &st->member_id);
	if (!st->server_version[0])
		json_str(j, "version", st->server_version, sizeof(st->server_version));
	st->have_status = true;
	cJSON_Delete(j);
}

int fm_etcd_probe(struct fm_loop *loop, const struct fm_etcd_opts *o, struct fm_etcd_status *st)
{
	struct fm_tls_config *tls = NULL;
	struct fm_tls_options to = {.ca_file = o->ca, .cert_file = o->cert, .key_file = o->key,
				    .max_version = o->tls_max};
	struct fm_httpc c;
	char err[256];
	int ret = -1;

	memset(st, 0, sizeof(*st));
	st->db_size = st->db_size_in_use = -1;
	memset(&c, 0, sizeof(c));
	c.fd = c.ev.fd = c.deadline.ev.fd = -1;

	if (strncmp(o->url, "https://", 8) == 0 && fm_tls_config_new(&tls, &to, err, sizeof(err)) < 0) {
		st->config_error = true;
		st->fail = FM_HTTPC_CONNECT;
		snprintf(st->reason, sizeof(st->reason), "%s", err);
		return -1;
	}
	if (fm_httpc_init(&c, loop, o->url, tls, err, sizeof(err)) < 0) {
		st->config_error = true;
		st->fail = FM_HTTPC_CONNECT;
		snprintf(st->reason, sizeof(st->reason), "%s", err);
		goto out_close;
	}

	struct fm_httpc_req req = {.method = "GET", .path = "/health", .timeout_ms = o->timeout_ms,
				   .max_body = 64 * 1024};
	if (fm_httpc_fetch(&c, &req) < 0) {
		take_failure(st, &c);
		goto out_close;
	}
	st->reachable = true;
	st->rtt_ms = c.elapsed_ms;
	snprintf(st->tls_version, sizeof(st->tls_version), "%s", c.tls_version);
	parse_health(st, &c);

	req.path = "/version";
	if (fm_httpc_fetch(&c, &req) == 0 && fm_httpc_require_2xx(&c) == 0) {
		cJSON *j = cJSON_ParseWithLength(c.body.data ? c.body.data : "", c.body.len);
		json_str(j, "etcdserver", st->server_version, sizeof(st->server_version));
		json_str(j, "etcdcluster", st->cluster_version, sizeof(st->cluster_version));
		cJSON_Delete(j);
	}

	/* The v3 gateway takes POST with a JSON body even for an empty request. */
	req = (struct fm_httpc_req){.method = "POST", .path = "/v3/maintenance/status",
				    .content_type = "application/json", .body = "{}", .body_len = 2,
				    .idempotent = true,
				    .timeout_ms = o->timeout_ms, .max_body = 64 * 1024};
	if (fm_httpc_fetch(&c, &req) == 0 && fm_httpc_require_2xx(&c) == 0)
		parse_status(st, &c);
	else
		snprintf(st->status_error, sizeof(st->status_error), "maintenance status: %s",
			 c.reason);
	ret = st->healthy ? 0 : -1;

out_close:
	fm_httpc_close(&c);
	fm_tls_config_delete(&tls);
	return ret;
}

static void add_id(cJSON *o, const char *key, uint64_t id)
{
	/* Member ids are 64-bit: hex as etcdctl prints them, never a lossy double. */
	char s[24];
	snprintf(s, sizeof(s), "%" PRIx64, id);
	cJSON_AddStringToObject(o, key, s);
}

cJSON *fm_etcd_status_json(const struct fm_etcd_status *st, const char *url)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "source", "etcd");
	cJSON_AddStringToObject(o, "endpoint", url);
	cJSON_AddBoolToObject(o, "reachable", st->reachable);
	cJSON_AddBoolToObject(o, "healthy", st->healthy);
	if (!st->reachable) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "kind", st->config_error ? "config" : fm_httpc_fail_name(st->fail));
		if (st->fail == FM_HTTPC_TLS)
			cJSON_AddStringToObject(e, "tls", fm_tls_fail_name(st->tls_fail));
		cJSON_AddStringToObject(e, "reason", st->reason);
		return o;
	}
	if (st->health_reason[0])
		cJSON_AddStringToObject(o, "health_reason", st->health_reason);
	cJSON_AddStringToObject(o, "tls_version", st->tls_version);
	cJSON_AddNumberToObject(o, "rtt_ms", (double)st->rtt_ms);
	if (st->server_version[0])
		cJSON_AddStringToObject(o, "version", st->server_version);
	if (st->cluster_version[0])
		cJSON_AddStringToObject(o, "cluster_version", st->cluster_version);
	if (st->have_status) {
		add_id(o, "member_id", st->member_id);
		add_id(o, "leader", st->leader);
		cJSON_AddBoolToObject(o, "is_leader", st->leader && st->leader == st->member_id);
		cJSON_AddNumberToObject(o, "raft_term", (double)st->raft_term);
		cJSON_AddNumberToObject(o, "raft_index", (double)st->raft_index);
		cJSON_AddNumberToObject(o, "db_size", (double)st->db_size);
		if (st->db_size_in_use >= 0)
			cJSON_AddNumberToObject(o, "db_size_in_use", (double)st->db_size_in_use);
	} else {
		cJSON_AddStringToObject(o, "status_error", st->status_error);
	}
	return o;
}
