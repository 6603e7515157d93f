/* fm_etcd: what etcd on 2379 says about itself, over mTLS, as facts.
 *
 * Facts (all with id = the client URL unless said otherwise):
 *   etcd.endpoint  state (ok / refused / timeout / tls ...), reason, tls,
 *                  tls_version, elapsed_ms (first request, handshake included),
 *                  origin (where the endpoint was found)
 *   etcd.version   server, cluster
 *   etcd.health    healthy, reason ("ALARM NOSPACE", "RAFT NO LEADER",
 *                  "/readyz: linearizable_read failed ..."), via ("/health",
 *                  or "/livez+/readyz" on etcd 3.4.29+ / 3.5.11+ / 3.6+),
 *                  rtt_ms (one request on the kept-alive connection: a round
 *                  trip without the handshake; absent when none was possible).
 *                  A raised alarm makes it unhealthy whatever the endpoint
 *                  said (3.5's /readyz ignores NOSPACE, 3.4's /health says
 *                  false without a reason).
 *   etcd.status    version, db_size, db_size_in_use, member_id, leader,
 *                  is_leader, raft_term, raft_index, errors (etcd's own
 *                  strings, e.g. "memberID:... alarm:NOSPACE ")
 *   etcd.alarm     id "<url>#<ALARM>" per raised alarm: alarm ("NOSPACE",
 *                  "CORRUPT"), member_id (hex), members (how many members
 *                  raised it). When the alarm list could not be read: one
 *                  fact with id "<url>" and state/reason.
 *   etcd.members   count, members [{id (hex), name, peer_urls, client_urls,
 *                  is_learner}] (the first 64)
 *   etcd.masterleases  count: keys under /registry/masterleases/ (one per
 *                  live kube-apiserver with the lease endpoint reconciler)
 *   etcd.disk      from the metrics listener: wal_fsync_count,
 *                  wal_fsync_slow_share, backend_commit_count,
 *                  backend_commit_slow_share (shares of operations slower
 *                  than bucket_le_ms, 128: etcd's le="0.128" bucket),
 *                  metrics_url
 *   cert           "<url> (served)": the server's certificate, and one per
 *                  certificate file used (the CA, our client certificate);
 *                  see fm_certs.h
 * Every request that fails leaves its failure on its fact (fm_probe.h
 * "state"/"reason"); after the connection itself failed (refused, timeout,
 * TLS, closed) the remaining requests are not sent and their facts say
 * "skipped" with the reason.
 */
#ifndef FM_ETCD_H
#define FM_ETCD_H

#include "fm_discover.h"
#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_probe.h"
#include "fm_promtext.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Asks etcd at ep (one connection, kept alive; each request within
 * co->timeout_ms) and its metrics listener at metrics_url ("http://HOST:PORT",
 * or NULL / "" when unknown: no etcd.disk fact), and puts what it learnt into
 * facts. now is the wall clock the certificates are judged against. Returns
 * 0 when etcd answered and is healthy, -1 otherwise (the facts say why). */
int fm_etcd_collect(struct fm_loop *loop, const struct fm_endpoint *ep, const char *metrics_url,
		    time_t now, const struct fm_collect_opts *co, struct fm_facts *facts);

/* The same collection as a state machine on the loop, for the daemon
 * (issue 21: it never waits): starts at once and calls done(ctx, rc) with
 * fm_etcd_collect's result when the last answer is in, perhaps before
 * fm_etcd_collection_new returns (a loopback refusal is known at once).
 * Borrows loop, ep, metrics_url and facts until deleted. NULL: out of
 * memory (done is never called). fm_etcd_collect is this and a wait. */
struct fm_etcd_collection;
struct fm_etcd_collection *fm_etcd_collection_new(struct fm_loop *loop, const struct fm_endpoint *ep,
						  const char *metrics_url, time_t now,
						  const struct fm_collect_opts *co, struct fm_facts *facts,
						  fm_collected_fn done, void *ctx);
/* Whether done was called. */
bool fm_etcd_collection_ended(const struct fm_etcd_collection *e);
/* Frees *e and NULLs it, canceling what still runs (done is not called
 * then); not from inside done. Accepts NULL. */
void fm_etcd_collection_delete(struct fm_etcd_collection **e);
/* The pure parts of fm_etcd_collect(): each reads one answer's body
 * (hostile input: any bytes, any length) and puts what it says into facts
 * under url, exactly as the collection does with a live answer; tests and
 * the fuzz target (tests/fuzz/fuzz_etcd.c) feed them recorded bodies. JSON
 * goes through fm_json_parse (depth capped). Those returning -EBADMSG put
 * nothing then: the caller states the failure ("the answer is not JSON"). */

/* etcd's version, as /version says it. */
struct fm_etcd_version {
	bool known; /* "etcdserver" read as MAJOR.MINOR.PATCH */
	int major, minor, patch;
};

/* /version ({"etcdserver":"3.5.16","etcdcluster":"3.5.0"}): puts etcd.version
 * (server, cluster; state "malformed" when there is no "etcdserver") and
 * fills v. 0, or -EBADMSG when body is not JSON. */
int fm_etcd_parse_version(struct fm_facts *facts, const char *url, const char *body, size_t len,
			  struct fm_etcd_version *v);

/* What etcd's health endpoints said, gathered before the etcd.health fact
 * is put (the alarms and the leader may still change it). */
struct fm_etcd_health {
	bool healthy;
	bool server_reason; /* reason holds the server's own words */
	char reason[256];
};

/* /health's answer of HTTP status (any status: etcd answers 503 with its
 * verdict): {"health":"true"|"false","reason":"..."}. Sets h->healthy,
 * h->reason (the server's, or "/health answered HTTP 503 ...") and
 * h->server_reason. */
void fm_etcd_parse_health(struct fm_etcd_health *h, int status, const char *body, size_t len);

/* A verbose /livez or /readyz answer of HTTP status (the Kubernetes healthz
 * text etcd adopted: "[+]serializable_read ok", "[-]linearizable_read
 * failed: ..."). A status other than 200 makes h unhealthy and appends to
 * h->reason ("; " between) "<endpoint>: <check> failed: ..." per failed
 * check, or "<endpoint> answered HTTP <status>" when none is listed. */
void fm_etcd_parse_checks(struct fm_etcd_health *h, const char *endpoint, int status,
			  const char *body, size_t len);

/* POST /v3/maintenance/status's StatusResponse: puts etcd.status (version,
 * db_size, db_size_in_use, member_id, leader, is_leader, raft_term,
 * raft_index, errors). *leader gets the leader's id (0: none or unknown),
 * *known whether the answer had a header (then a missing leader is raft's
 * "no leader"). 0, or -EBADMSG when body is not JSON. */
int fm_etcd_parse_status(struct fm_facts *facts, const char *url, const char *body, size_t len,
			 uint64_t *leader, bool *known);

/* One raised alarm, as fm_etcd_parse_alarms() counted it. */
struct fm_etcd_alarm {
	char name[24];	 /* "NOSPACE", "CORRUPT", "UNKNOWN" (a number past the enum) */
	uint64_t member; /* the first member seen raising it */
	int members;	 /* how many entries raised it */
};

/* Puts one etcd.alarm fact (id "<url>#<ALARM>": alarm, member_id in hex,
 * members) per distinct raised alarm of body, the AlarmResponse of POST
 * /v3/maintenance/alarm as etcd's JSON gateway writes it. The alarm may be
 * the enum's name or its number; absent or NONE entries are not alarms.
 * Keeps at most max distinct alarms in al (further ones are dropped) and
 * returns how many it kept (0 for an answer without "alarms"), or -EBADMSG
 * when body is not JSON. */
int fm_etcd_parse_alarms(struct fm_facts *facts, const char *url, const char *body, size_t len,
			 struct fm_etcd_alarm *al, int max);

/* POST /v3/cluster/member/list's MemberListResponse: puts etcd.members
 * (count, members: the first 64). 0, or -EBADMSG when body is not JSON. */
int fm_etcd_parse_members(struct fm_facts *facts, const char *url, const char *body, size_t len);

/* A count-only POST /v3/kv/range's RangeResponse over
 * /registry/masterleases/: puts etcd.masterleases (count). 0, or -EBADMSG
 * when body is not JSON or not a range answer (no "header"). */
int fm_etcd_parse_masterleases(struct fm_facts *facts, const char *url, const char *body,
			       size_t len);

#define FM_ETCD_DISK_HISTS 2

/* Zeroes h and names etcd's disk latency histograms in it (WAL fsync, then
 * backend commit), ready for fm_promtext_init(). */
void fm_etcd_disk_hists(struct fm_prom_hist h[FM_ETCD_DISK_HISTS]);

/* Adds the etcd.disk fields to f from h once fm_promtext has parsed
 * metrics_url's /metrics (pt: its line counters): wal_fsync_count,
 * wal_fsync_slow_share, backend_commit_count, backend_commit_slow_share,
 * bucket_le_ms; state "malformed" and a reason when neither histogram is
 * there or one contradicts itself. */
void fm_etcd_disk_fields(cJSON *f, const char *metrics_url, const struct fm_promtext *pt,
			 const struct fm_prom_hist h[FM_ETCD_DISK_HISTS]);

#endif
