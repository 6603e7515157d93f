/* fm_etcd: what etcd on 2379 says about itself, over mTLS.
 *
 * This is the first cut, used by `probe etcd`: /health, /version and the v3
 * gateway's maintenance status, each with the failure kind when it cannot be
 * had. Discovery of the endpoint and certificates from the static pod
 * manifests, alarms, members and metrics come with the control-plane issue.
 */
#ifndef FM_ETCD_H
#define FM_ETCD_H

#include "fm_httpc.h"
#include "fm_loop.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct fm_etcd_opts {
	const char *url;  /* https://127.0.0.1:2379 */
	const char *ca;   /* etcd's CA (kubeadm: /etc/kubernetes/pki/etcd/ca.crt) */
	const char *cert; /* a client certificate etcd trusts, or NULL */
	const char *key;
	int timeout_ms;   /* per request */
	int tls_max;      /* 12 or 13; 0: 13 */
};

struct fm_etcd_status {
	/* Reachability: the first request's outcome. */
	bool reachable;
	enum fm_httpc_fail fail;
	enum fm_tls_fail tls_fail;
	char reason[384];
	bool config_error; /* the CA/cert/key files could not be used */
	char tls_version[16];
	uint64_t rtt_ms;   /* /health round trip */

	/* GET /health */
	bool healthy;
	char health_reason[128]; /* etcd 3.5+: "RAFT NO LEADER", "ALARM NOSPACE" ... */
	/* GET /version */
	char server_version[32];
	char cluster_version[32];
	/* POST /v3/maintenance/status */
	bool have_status;
	char status_error[160]; /* why the status could not be had, if not */
	int64_t db_size;
	int64_t db_size_in_use; /* -1: not reported (etcd < 3.4) */
	uint64_t member_id, leader, raft_term, raft_index;
};

/* Runs the requests one after the other on loop (one connection, kept
 * alive), within timeout_ms each. Fills st; returns 0 when etcd answered and
 * is healthy, -1 otherwise (st says why). */
int fm_etcd_probe(struct fm_loop *loop, const struct fm_etcd_opts *o, struct fm_etcd_status *st);

/* The status as a JSON object (snake_case keys). Caller owns the result. */
cJSON *fm_etcd_status_json(const struct fm_etcd_status *st, const char *url);

#endif
