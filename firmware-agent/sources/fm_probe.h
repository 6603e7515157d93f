/* fm_probe: how a request's outcome is written into a fact, the same way for
 * every source that speaks HTTP (etcd, kube-apiserver, Docker). */
#ifndef FM_PROBE_H
#define FM_PROBE_H

#include "fm_facts.h"
#include "fm_httpc.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* What every source's collect function is given besides its endpoint. */
struct fm_collect_opts {
	int timeout_ms; /* per request */
	int tls_max;    /* 12 or 13; 0: 13 */
};

/* One collection over one connection to a source, as a state machine on
 * the loop (issue 21: a source never waits and never runs the loop): a
 * table of steps, each sending at most one request and reading its answer
 * when it arrives; the next step starts from the answer's callback. What
 * went wrong on the connection so far is kept: once it has failed (refused,
 * TLS, closed, or a timeout before any answer), asking again would only
 * wait for the same failure, so the later requests are not sent and their
 * reads see FM_PROBE_SKIPPED. */
struct fm_probe_run;

enum fm_probe_asked { FM_PROBE_OK, FM_PROBE_FAILED, FM_PROBE_SKIPPED, FM_PROBE_NOT_JSON };

struct fm_probe_step {
	/* The step's request (body: JSON text or NULL) ... */
	const char *method, *path, *body;
	uint64_t max_body;
	/* ... or, when set, what sends it (fm_probe_send) and returns true,
	 * or returns false when the step has nothing to ask (read is not
	 * called then). */
	bool (*send)(struct fm_probe_run *r, void *ctx);
	/* The answer: r->asked (FM_PROBE_OK when any status arrived) and
	 * r->c. May end the run (fm_probe_finish). */
	void (*read)(struct fm_probe_run *r, void *ctx);
};

struct fm_probe_run {
	struct fm_httpc *c;
	const struct fm_collect_opts *co;
	const char *url;
	const char *auth_header; /* "Authorization: Bearer ...\r\n" or NULL */
	bool dead;
	char dead_reason[400];
	bool answered;  /* some request on this endpoint got an answer */
	double last_ms; /* duration of the last request, sub-millisecond */
	/* The next request's deadline when longer than co->timeout_ms (a
	 * health check that is slow by design); reset by every request. */
	int next_timeout_ms;
	enum fm_probe_asked asked; /* the outcome of the step's request */

	/* Internal: the steps and where the run is in them. */
	const struct fm_probe_step *steps, *cur;
	size_t nsteps, at;
	void *ctx;
	void (*done)(void *ctx);
	double t0;
	bool sent, answer, advancing, ended;
};

/* Runs steps[0..n) on r (c, co, url and auth_header set; the connection
 * opened with fm_probe_open) and calls done(ctx) after the last, or after
 * a read called fm_probe_finish. done may run before fm_probe_steps
 * returns (a loopback refusal is known at once); r's owner frees r after
 * done, not from inside it. */
void fm_probe_steps(struct fm_probe_run *r, const struct fm_probe_step *steps, size_t n, void *ctx,
		    void (*done)(void *ctx));
/* From a step's send: one request (body: JSON text or NULL); any status is
 * an answer (health endpoints answer 500/503 with their verdict). Every
 * request is a read, safe to send again on a fresh connection. Nothing is
 * sent after the connection failed (r->asked FM_PROBE_SKIPPED then). */
void fm_probe_send(struct fm_probe_run *r, const char *method, const char *path, const char *body,
		   uint64_t max_body);
/* The step being sent or read (in its send and its read). */
const struct fm_probe_step *fm_probe_current(const struct fm_probe_run *r);
/* From a step's send: the step's own request (method, path, body,
 * max_body), when only whether to send it is the send's to decide. */
void fm_probe_send_own(struct fm_probe_run *r);
/* From a step's read: r->asked, where only a 2xx answer is a success;
 * with json, the body is parsed into *json (caller frees; NULL unless
 * FM_PROBE_OK). */
enum fm_probe_asked fm_probe_asked_2xx(struct fm_probe_run *r, cJSON **json);
/* From a step's read: no further step runs; done follows. */
void fm_probe_finish(struct fm_probe_run *r);
/* Stops a run that has not called done (its request canceled, done never
 * called): for the owner that goes away first (the daemon stopping). */
void fm_probe_abort(struct fm_probe_run *r);
/* Whether the run called done, or was never started. */
bool fm_probe_idle(const struct fm_probe_run *r);

/* What a source's collection on the loop calls once its last answer is
 * in: rc is what its blocking form returns. */
typedef void (*fm_collected_fn)(void *ctx, int rc);
/* A fm_collected_fn storing rc in the int ctx points to (the blocking
 * forms). */
void fm_collected_store(void *ctx, int rc);

/* What every server's collection holds (etcd's, the apiserver's: each
 * embeds one first): its endpoint, the connection and the run of steps on
 * it, and whom to tell when it is over. */
struct fm_endpoint;
struct fm_probe_collection {
	struct fm_loop *loop;
	const struct fm_endpoint *ep; /* borrowed */
	time_t now;		      /* the wall clock certificates are judged against */
	struct fm_collect_opts co;
	struct fm_facts *facts; /* borrowed */
	fm_collected_fn done;
	void *done_ctx;
	struct fm_tls_config *tls;
	struct fm_httpc c;
	struct fm_probe_run r;
	bool ended; /* done was called */
};

/* Sets p up and opens its connection to ep (fm_probe_open: on failure the
 * fact of kind says why and -1 is returned; p is then ready for
 * fm_probe_collection_end and _close all the same). */
int fm_probe_collection_open(struct fm_probe_collection *p, struct fm_loop *loop, const struct fm_endpoint *ep,
			     time_t now, const struct fm_collect_opts *co, const char *kind, struct fm_facts *facts,
			     fm_collected_fn done, void *ctx);
/* Calls done(ctx, rc), once; the owner may close p after (not from inside
 * done). */
void fm_probe_collection_end(struct fm_probe_collection *p, int rc);
/* Stops what still runs (done is not called) and frees the connection and
 * its TLS configuration. */
void fm_probe_collection_close(struct fm_probe_collection *p);

/* For one-shot commands (check, probe, Docker's logs): one request on r's
 * connection, waited for; r->asked is returned. Refused from inside a loop
 * callback (FM_PROBE_FAILED, nothing sent): the daemon never waits. */
enum fm_probe_asked fm_probe_ask_any(struct fm_probe_run *r, const char *method, const char *path,
				     const char *body, uint64_t max_body);
/* fm_probe_ask_any, then fm_probe_asked_2xx. */
enum fm_probe_asked fm_probe_ask(struct fm_probe_run *r, const char *method, const char *path,
				 const char *body, uint64_t max_body, cJSON **json);

/* The fact for a request that did not give what was asked (what: "/version"). */
cJSON *fm_probe_failed_fact(const struct fm_probe_run *r, enum fm_probe_asked a, const char *what);
/* The body of the last answer parsed as JSON (fm_json_parse: depth capped),
 * or NULL. Caller frees. */
cJSON *fm_probe_body_json(const struct fm_httpc *c);

/* Sets up c for ep: the TLS configuration (into *tls, which the caller
 * frees with fm_tls_config_delete) from ep's CA, certificate and key, and
 * the client. 0, or -1 after putting the fact (kind, ep->url) that says
 * why not (state "config", with ep's origin). */
struct fm_endpoint;
int fm_probe_open(struct fm_httpc *c, struct fm_tls_config **tls, struct fm_loop *loop,
		  const struct fm_endpoint *ep, const struct fm_collect_opts *co, const char *kind,
		  struct fm_facts *facts);
/* Puts the endpoint fact (kind, ep->url) after the first request on c:
 * state "ok" with its elapsed_ms when an answer arrived (whatever it said),
 * else the failure; the TLS version; where the endpoint came from. */
void fm_probe_put_endpoint(struct fm_facts *facts, const char *kind, const struct fm_endpoint *ep,
			   const struct fm_httpc *c, bool answered);

/* The fm_tls_options for an endpoint's CA, certificate and key (PEM from a
 * kubeconfig wins over paths; empty paths are "none"). Borrows ep. */
struct fm_endpoint;
struct fm_tls_options fm_probe_tls_options(const struct fm_endpoint *ep, int tls_max);

/* Adds to fact: "state" ("ok" or the failure kind: "refused", "timeout",
 * "tls", "http-status", "malformed", "too-large", "closed", "connect",
 * "canceled"), with a failure also "reason" and, for TLS, "tls" (the
 * fm_tls_fail_name); "http_status" when an answer arrived; "elapsed_ms".
 * Returns fact. */
cJSON *fm_probe_outcome(cJSON *fact, const struct fm_httpc *c);

/* A fact saying the source could not even be set up (files missing ...):
 * {"state":"config","reason":reason}. Caller owns the result. */
cJSON *fm_probe_config_error(const char *reason);

#endif
