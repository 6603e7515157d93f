#include "fm_probe.h"

#include "fm_discover.h"
#include "fm_json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The library's code behind a reason said in words (issue 19 item 6): in
 * the fact, for --json and the controller; never in the human output. */
static void add_code(cJSON *fact, int code)
{
	char text[32];
	fm_tls_code_text(code, text, sizeof(text));
	cJSON_AddStringToObject(fact, "error_code", text);
}

/* The files the agent reached the server with: an expired one explains
 * the TLS failure (fm_diagnose). */
static void add_files(cJSON *fact, const struct fm_endpoint *ep)
{
	if (ep->ca[0])
		cJSON_AddStringToObject(fact, "ca_file", ep->ca);
	if (ep->cert[0])
		cJSON_AddStringToObject(fact, "cert_file", ep->cert);
}

cJSON *fm_probe_outcome(cJSON *fact, const struct fm_httpc *c)
{
	cJSON_AddStringToObject(fact, "state", fm_httpc_fail_name(c->fail));
	if (c->fail != FM_HTTPC_OK) {
		if (c->fail == FM_HTTPC_TLS)
			cJSON_AddStringToObject(fact, "tls", fm_tls_fail_name(c->tls_fail));
		if (c->fail == FM_HTTPC_TLS && c->tls_code)
			add_code(fact, c->tls_code);
		cJSON_AddStringToObject(fact, "reason", c->reason);
	}
	if (c->status)
		cJSON_AddNumberToObject(fact, "http_status", c->status);
	cJSON_AddNumberToObject(fact, "elapsed_ms", (double)c->elapsed_ms);
	return fact;
}

cJSON *fm_probe_config_error(const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "state", "config");
	cJSON_AddStringToObject(o, "reason", reason);
	return o;
}

struct fm_tls_options fm_probe_tls_options(const struct fm_endpoint *ep, int tls_max)
{
	struct fm_tls_options o = {
		.ca_file = ep->ca[0] ? ep->ca : NULL,
		.ca_pem = ep->ca_pem,
		.cert_file = ep->cert[0] ? ep->cert : NULL,
		.cert_pem = ep->cert_pem,
		.key_file = ep->key[0] ? ep->key : NULL,
		.key_pem = ep->key_pem,
		.max_version = tls_max,
	};
	return o;
}

static double now_ms_precise(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

enum fm_probe_asked fm_probe_ask_any(struct fm_probe_run *r, const char *method, const char *path,
				     const char *body, uint64_t max_body)
{
	if (r->dead)
		return FM_PROBE_SKIPPED;
	struct fm_httpc_req req = {
		.method = method,
		.path = path,
		.timeout_ms = r->next_timeout_ms > r->co->timeout_ms ? r->next_timeout_ms : r->co->timeout_ms,
		.max_body = max_body,
		.extra_headers = r->auth_header,
		.idempotent = true,
	};
	if (body) {
		req.content_type = "application/json";
		req.body = body;
		req.body_len = strlen(body);
	}
	r->next_timeout_ms = 0;
	double t0 = now_ms_precise();
	int rc = fm_httpc_fetch(r->c, &req);
	r->last_ms = now_ms_precise() - t0;
	if (rc == 0) {
		r->answered = true;
		return FM_PROBE_OK;
	}
	enum fm_httpc_fail f = r->c->fail;
	/* A timeout after the server has answered is that one request being
	 * slow (etcd without a leader holds raft-bound requests for its own
	 * 7 s): the next request goes on a fresh connection. */
	if (f != FM_HTTPC_MALFORMED && f != FM_HTTPC_TOO_LARGE &&
	    !(f == FM_HTTPC_TIMEOUT && r->answered)) {
		r->dead = true;
		snprintf(r->dead_reason, sizeof(r->dead_reason), "%s", r->c->reason);
	}
	return FM_PROBE_FAILED;
}

cJSON *fm_probe_body_json(const struct fm_httpc *c)
{
	return fm_json_parse(c->body.data ? c->body.data : "", c->body.len);
}

enum fm_probe_asked fm_probe_ask(struct fm_probe_run *r, const char *method, const char *path,
				 const char *body, uint64_t max_body, cJSON **json)
{
	if (json)
		*json = NULL;
	enum fm_probe_asked a = fm_probe_ask_any(r, method, path, body, max_body);
	if (a != FM_PROBE_OK)
		return a;
	if (fm_httpc_require_2xx(r->c) < 0)
		return FM_PROBE_FAILED;
	if (json && !(*json = fm_probe_body_json(r->c)))
		return FM_PROBE_NOT_JSON;
	return FM_PROBE_OK;
}

cJSON *fm_probe_failed_fact(const struct fm_probe_run *r, enum fm_probe_asked a, const char *what)
{
	cJSON *f = cJSON_CreateObject();
	char why[512];
	switch (a) {
	case FM_PROBE_SKIPPED:
		cJSON_AddStringToObject(f, "state", "skipped");
		snprintf(why, sizeof(why), "%s: not asked, the connection failed before: %s", what,
			 r->dead_reason);
		cJSON_AddStringToObject(f, "reason", why);
		break;
	case FM_PROBE_NOT_JSON:
		cJSON_AddStringToObject(f, "state", "malformed");
		snprintf(why, sizeof(why), "%s: the answer is not JSON", what);
		cJSON_AddStringToObject(f, "reason", why);
		cJSON_AddNumberToObject(f, "http_status", r->c->status);
		break;
	default:
		fm_probe_outcome(f, r->c);
	}
	return f;
}

int fm_probe_open(struct fm_httpc *c, struct fm_tls_config **tls, struct fm_loop *loop,
		  const struct fm_endpoint *ep, const struct fm_collect_opts *co, const char *kind,
		  struct fm_facts *facts)
{
	struct fm_tls_options to = fm_probe_tls_options(ep, co->tls_max);
	char err[320];
	int code = 0;

	*tls = NULL;
	to.code = &code;
	if ((strncmp(ep->url, "https://", 8) == 0 && fm_tls_config_new(tls, &to, err, sizeof(err)) < 0) ||
	    fm_httpc_init(c, loop, ep->url, *tls, err, sizeof(err)) < 0) {
		cJSON *f = fm_probe_config_error(err);
		if (code)
			add_code(f, code);
		add_files(f, ep);
		cJSON_AddStringToObject(f, "origin", ep->origin);
		fm_facts_put(facts, kind, ep->url, f);
		return -1;
	}
	return 0;
}

void fm_probe_put_endpoint(struct fm_facts *facts, const char *kind, const struct fm_endpoint *ep,
			   const struct fm_httpc *c, bool answered)
{
	cJSON *f = cJSON_CreateObject();
	if (answered) {
		cJSON_AddStringToObject(f, "state", "ok");
		cJSON_AddNumberToObject(f, "elapsed_ms", (double)c->elapsed_ms);
	} else {
		fm_probe_outcome(f, c);
	}
	if (c->tls_version && c->tls_version[0])
		cJSON_AddStringToObject(f, "tls_version", c->tls_version);
	add_files(f, ep);
	cJSON_AddStringToObject(f, "origin", ep->origin);
	fm_facts_put(facts, kind, ep->url, f);
}
