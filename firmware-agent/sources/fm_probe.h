/* fm_probe: how a request's outcome is written into a fact, the same way for
 * every source that speaks HTTP (etcd, kube-apiserver, Docker). */
#ifndef FM_PROBE_H
#define FM_PROBE_H

#include "fm_httpc.h"

#include <cjson/cJSON.h>

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
