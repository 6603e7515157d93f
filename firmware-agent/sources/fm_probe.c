#include "fm_probe.h"

#include "fm_discover.h"
#include "fm_json.h"

#include <errno.h>
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

static void advance(struct fm_probe_run *r);

/* The request's end (fm_httpc's on_done): its outcome, and the run goes
 * on, unless the answer came while the step was being sent (advance
 * reads it then). */
static void answered(struct fm_httpc *c, void *ctx)
{
	struct fm_probe_run *r = ctx;
	r->last_ms = now_ms_precise() - r->t0;
	if (r->ended)
		return;
	enum fm_httpc_fail f = c->fail;
	if (f == FM_HTTPC_OK) {
		r->answered = true;
		r->asked = FM_PROBE_OK;
	} else {
		r->asked = FM_PROBE_FAILED;
		/* A timeout after the server has answered is that one request
		 * being slow (etcd without a leader holds raft-bound requests
		 * for its own 7 s): the next request goes on a fresh
		 * connection. */
		if (f != FM_HTTPC_MALFORMED && f != FM_HTTPC_TOO_LARGE && !(f == FM_HTTPC_TIMEOUT && r->answered)) {
			r->dead = true;
			snprintf(r->dead_reason, sizeof(r->dead_reason), "%s", c->reason);
		}
	}
	r->answer = true;
	if (!r->advancing)
		advance(r);
}

void fm_probe_send(struct fm_probe_run *r, const char *method, const char *path, const char *body,
		   uint64_t max_body)
{
	r->answer = false;
	if (r->dead) {
		r->asked = FM_PROBE_SKIPPED;
		r->answer = true;
		return;
	}
	struct fm_httpc_req req = {
		.method = method,
		.path = path,
		.timeout_ms = r->next_timeout_ms > r->co->timeout_ms ? r->next_timeout_ms : r->co->timeout_ms,
		.max_body = max_body,
		.extra_headers = r->auth_header,
		.idempotent = true,
		.on_done = answered,
		.done_ctx = r,
	};
	if (body) {
		req.content_type = "application/json";
		req.body = body;
		req.body_len = strlen(body);
	}
	r->next_timeout_ms = 0;
	r->t0 = now_ms_precise();
	int rc = fm_httpc_start(r->c, &req);
	if (rc < 0) {
		snprintf(r->c->reason, sizeof(r->c->reason), "cannot start the request: %s", strerror(-rc));
		r->c->fail = FM_HTTPC_CONNECT;
		answered(r->c, r);
	}
}

void fm_probe_send_own(struct fm_probe_run *r)
{
	fm_probe_send(r, r->cur->method, r->cur->path, r->cur->body, r->cur->max_body);
}

const struct fm_probe_step *fm_probe_current(const struct fm_probe_run *r)
{
	return r->cur;
}

/* Sends and reads the steps in turn until one waits for its answer, or
 * none is left. The answer's callback comes back here. */
static void advance(struct fm_probe_run *r)
{
	r->advancing = true;
	while (!r->ended && r->at < r->nsteps) {
		const struct fm_probe_step *st = r->cur = &r->steps[r->at];
		if (!r->sent) {
			r->answer = false;
			if (!st->send)
				fm_probe_send_own(r);
			else if (!st->send(r, r->ctx)) {
				r->at++;
				continue;
			}
			r->sent = true;
			if (!r->answer) {
				r->advancing = false;
				return; /* answered() comes back */
			}
		}
		r->sent = false;
		r->at++;
		st->read(r, r->ctx);
	}
	r->advancing = false;
	if (r->ended && !r->done)
		return; /* aborted */
	r->ended = true;
	void (*done)(void *) = r->done;
	r->done = NULL;
	done(r->ctx); /* last: the owner may be done with r */
}

void fm_probe_steps(struct fm_probe_run *r, const struct fm_probe_step *steps, size_t n, void *ctx,
		    void (*done)(void *ctx))
{
	r->steps = steps;
	r->nsteps = n;
	r->at = 0;
	r->ctx = ctx;
	r->done = done;
	r->sent = r->answer = r->ended = false;
	advance(r);
}

void fm_probe_finish(struct fm_probe_run *r)
{
	r->at = r->nsteps;
}

void fm_probe_abort(struct fm_probe_run *r)
{
	r->ended = true;
	r->done = NULL;
}

bool fm_probe_idle(const struct fm_probe_run *r)
{
	return !r->done;
}

cJSON *fm_probe_body_json(const struct fm_httpc *c)
{
	return fm_json_parse(c->body.data ? c->body.data : "", c->body.len);
}

enum fm_probe_asked fm_probe_asked_2xx(struct fm_probe_run *r, cJSON **json)
{
	if (json)
		*json = NULL;
	if (r->asked != FM_PROBE_OK)
		return r->asked;
	if (fm_httpc_require_2xx(r->c) < 0)
		return FM_PROBE_FAILED;
	if (json && !(*json = fm_probe_body_json(r->c)))
		return FM_PROBE_NOT_JSON;
	return FM_PROBE_OK;
}

/* One request, waited for: a run of one step. */
static void one_read(struct fm_probe_run *r, void *ctx)
{
	(void)r;
	(void)ctx;
}

static void one_done(void *ctx)
{
	*(bool *)ctx = true;
}

enum fm_probe_asked fm_probe_ask_any(struct fm_probe_run *r, const char *method, const char *path,
				     const char *body, uint64_t max_body)
{
	const struct fm_probe_step step = {method, path, body, max_body, NULL, one_read};
	bool done = false;
	if (fm_loop_dispatching(r->c->loop)) {
		snprintf(r->c->reason, sizeof(r->c->reason),
			 "refused: a blocking request from inside a loop callback (a bug)");
		r->c->fail = FM_HTTPC_CANCELED;
		return r->asked = FM_PROBE_FAILED;
	}
	fm_probe_steps(r, &step, 1, &done, one_done);
	/* Stopped (SIGTERM): the request ends now, canceled. */
	if (fm_loop_run_until(r->c->loop, &done) < 0)
		fm_httpc_cancel(r->c);
	return r->asked;
}

enum fm_probe_asked fm_probe_ask(struct fm_probe_run *r, const char *method, const char *path,
				 const char *body, uint64_t max_body, cJSON **json)
{
	fm_probe_ask_any(r, method, path, body, max_body);
	return fm_probe_asked_2xx(r, json);
}

int fm_probe_collection_open(struct fm_probe_collection *p, struct fm_loop *loop, const struct fm_endpoint *ep,
			     time_t now, const struct fm_collect_opts *co, const char *kind, struct fm_facts *facts,
			     fm_collected_fn done, void *ctx)
{
	*p = (struct fm_probe_collection){.loop = loop, .ep = ep, .now = now, .co = *co, .facts = facts,
					  .done = done, .done_ctx = ctx, .c = {.fd = -1}};
	p->r = (struct fm_probe_run){.c = &p->c, .co = &p->co, .url = ep->url};
	return fm_probe_open(&p->c, &p->tls, loop, ep, &p->co, kind, facts);
}

void fm_probe_collection_end(struct fm_probe_collection *p, int rc)
{
	if (p->ended)
		return;
	p->ended = true;
	p->done(p->done_ctx, rc);
}

void fm_probe_collection_close(struct fm_probe_collection *p)
{
	fm_probe_abort(&p->r);
	fm_httpc_close(&p->c);
	fm_tls_config_delete(&p->tls);
}

void fm_collected_store(void *ctx, int rc)
{
	*(int *)ctx = rc;
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
