/* fm_apiserver: what kube-apiserver on 6443 says about itself and, with
 * credentials, about the nodes and the kube-system pods, as facts.
 *
 * Facts (id = the URL unless said otherwise):
 *   apiserver.endpoint  state (ok / refused / timeout / tls ...), reason, tls,
 *                  tls_version, elapsed_ms (first request, handshake
 *                  included), origin (where the endpoint was found)
 *   apiserver.livez     healthy, http_status, failed [names] (from
 *                  /livez?verbose; a 500 that lists its checks is an answer:
 *                  healthy false)
 *   apiserver.readyz    healthy, http_status, checks [{name, ok, reason (when
 *                  failed: the public endpoint says "reason withheld")}],
 *                  failed [names]; the first 64 checks, check_count and
 *                  truncated when there were more
 *   apiserver.version   git_version, major, minor (numbers, "19+" read as
 *                  19), platform
 *   apiserver.auth      state "ok" when the lists below were answered, else
 *                  "http-status" with http_status 401 / 403, reason and the
 *                  server's message; credentials ("client-cert", "token",
 *                  "client-cert+token" or "none"); denied [what was refused].
 *                  Without credentials the lists are asked anonymously: the
 *                  server's answer is the fact.
 *   apiserver.nodes     count, kept, truncated (at most 256 node facts)
 *   apiserver.pods      namespace ("kube-system"), count, kept, truncated
 *                  (at most 256 pod facts); count is what the server says
 *                  exists (kept + remainingItemCount), absent when unknown
 *   node           id = node name: ready, ready_status ("True" / "False" /
 *                  "Unknown" / "absent"), ready_reason and ready_message when
 *                  not ready; memory_pressure, disk_pressure, pid_pressure,
 *                  network_unavailable: true when the condition's status is
 *                  True, false when False, absent when Unknown or not
 *                  reported
 *   pod            id = "kube-system/<name>": namespace, name, node, phase,
 *                  reason ("Evicted" ...), message; containers [{name,
 *                  init (only when true), ready, restarts, state ("waiting",
 *                  "running", "terminated"), waiting_reason, waiting_message,
 *                  exit_code, terminated_reason (current state), last_exit_code,
 *                  last_reason (lastState.terminated)}] (the first 16).
 *                  Messages are cut at 512 bytes (on a UTF-8 boundary) and
 *                  end in "..." when cut.
 * A list request that fails leaves its failure on apiserver.nodes /
 * apiserver.pods (fm_probe.h "state"/"reason"), except 401/403, which are
 * the apiserver.auth fact's. After the connection itself failed (refused,
 * timeout, TLS, closed) the remaining requests are not sent and their facts
 * say "skipped" with the reason.
 *
 * Every collection first removes what the previous one said: the kinds
 * starting with "apiserver.", "node" and "pod".
 *
 * The bearer token goes only into the Authorization header; it is never
 * logged nor put into a fact.
 */
#ifndef FM_APISERVER_H
#define FM_APISERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "fm_discover.h"
#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_probe.h"

/* How long /livez is given at least: kube-apiserver's etcd check waits its
 * --etcd-healthcheck-timeout (2 s by default) for an etcd that hangs before
 * it answers "[-]etcd failed", and the handshake comes before (on a board,
 * under load). */
#define FM_APISERVER_HEALTH_MS 2500

/* Asks kube-apiserver at ep (one connection, kept alive; each request within
 * co->timeout_ms, /livez within FM_APISERVER_HEALTH_MS at least), verified against ep's CA (ca_pem or ca), with ep's client
 * certificate (cert_pem/key_pem or cert/key) and/or bearer token when it has
 * them, and puts what it learnt into facts. Borrows ep. Returns 0 when the
 * apiserver answered and /livez and /readyz say healthy, -1 otherwise (the
 * facts say why). */
int fm_apiserver_collect(struct fm_loop *loop, const struct fm_endpoint *ep, time_t now,
			 const struct fm_collect_opts *co, struct fm_facts *facts);

/* The same collection as a state machine on the loop, for the daemon
 * (issue 21: it never waits): starts at once and calls done(ctx, rc) with
 * fm_apiserver_collect's result when the last answer is in, perhaps before
 * fm_apiserver_collection_new returns (a loopback refusal is known at
 * once). Borrows loop, ep and facts until deleted. NULL: out of memory
 * (done is never called). fm_apiserver_collect is this and a wait. */
struct fm_apiserver_collection;
struct fm_apiserver_collection *fm_apiserver_collection_new(struct fm_loop *loop, const struct fm_endpoint *ep,
							    time_t now, const struct fm_collect_opts *co,
							    struct fm_facts *facts, fm_collected_fn done,
							    void *ctx);
/* Whether done was called. */
bool fm_apiserver_collection_ended(const struct fm_apiserver_collection *k);
/* Frees *k and NULLs it, canceling what still runs (done is not called
 * then); not from inside done. Accepts NULL. */
void fm_apiserver_collection_delete(struct fm_apiserver_collection **k);
/* The pure parts of fm_apiserver_collect(): each reads one answer's body
 * (hostile input: any bytes, any length) and puts what it says into facts
 * under url, exactly as the collection does with a live answer; tests and
 * the fuzz target (tests/fuzz/fuzz_apiserver.c) feed them recorded bodies.
 * JSON goes through fm_json_parse (depth capped). Those returning -EBADMSG
 * put nothing then: the caller states the failure. */

/* A verbose /livez or /readyz answer (name "livez" or "readyz") of HTTP
 * status: puts apiserver.<name> (healthy, http_status, failed; checks when
 * detailed; check_count and truncated past 64 checks). Returns 1 healthy, 0
 * unhealthy, or -ENODATA (nothing put) when the body holds neither check
 * lines nor a plain "ok": no verdict to read. */
int fm_apiserver_parse_health(struct fm_facts *facts, const char *url, const char *name,
			      bool detailed, int status, const char *body, size_t len);

/* /version ({"major":"1","minor":"29","gitVersion":"v1.29.2",...}): puts
 * apiserver.version. 0, or -EBADMSG when body is not a JSON object with a
 * "gitVersion". */
int fm_apiserver_parse_version(struct fm_facts *facts, const char *url, const char *body,
			       size_t len);

/* GET /api/v1/nodes's NodeList: puts a node fact per item (the first 256)
 * and apiserver.nodes. 0, or -EBADMSG when body is not JSON with an
 * "items" array. */
int fm_apiserver_parse_nodes(struct fm_facts *facts, const char *url, const char *body,
			     size_t len);

/* GET /api/v1/namespaces/kube-system/pods's PodList: puts a pod fact per
 * item (the first 256) and apiserver.pods. 0, or -EBADMSG as above. */
int fm_apiserver_parse_pods(struct fm_facts *facts, const char *url, const char *body, size_t len);

#endif
