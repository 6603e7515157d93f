/* fm_probe: how a request's outcome is written into a fact, the same way for
 * every source that speaks HTTP (etcd, kube-apiserver, Docker). */
#ifndef FM_PROBE_H
#define FM_PROBE_H

#include "fm_httpc.h"

#include <cjson/cJSON.h>

/* What every source's collect function is given besides its endpoint. */
struct fm_collect_opts {
	int timeout_ms; /* per request */
	int tls_max;    /* 12 or 13; 0: 13 */
};

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
