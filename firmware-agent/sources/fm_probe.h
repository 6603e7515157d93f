/* fm_probe: how a request's outcome is written into a fact, the same way for
 * every source that speaks HTTP (etcd, kube-apiserver, Docker). */
#ifndef FM_PROBE_H
#define FM_PROBE_H

#include "fm_facts.h"
#include "fm_httpc.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* What every source's collect function is given besides its endpoint. */
struct fm_collect_opts {
	int timeout_ms; /* per request */
	int tls_max;    /* 12 or 13; 0: 13 */
};

/* One collection over one connection to a source, and what went wrong on it
 * so far: once the connection has failed (refused, TLS, closed, or a timeout
 * before any answer), asking again would only wait for the same failure, so
 * the later requests are skipped and their facts say so. */
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
};

enum fm_probe_asked { FM_PROBE_OK, FM_PROBE_FAILED, FM_PROBE_SKIPPED, FM_PROBE_NOT_JSON };

/* Sends one request (body: JSON text or NULL) and waits for it; any status
 * is an answer (health endpoints answer 500/503 with their verdict). Every
 * request is a read, safe to send again on a fresh connection. */
enum fm_probe_asked fm_probe_ask_any(struct fm_probe_run *r, const char *method, const char *path,
				     const char *body, uint64_t max_body);
/* fm_probe_ask_any, and only a 2xx answer is a success; with json, the body
 * is parsed into *json (caller frees; NULL unless FM_PROBE_OK). */
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
