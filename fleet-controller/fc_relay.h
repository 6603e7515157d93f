/* fc_relay: triage requests relayed from `fleetmedic-controller triage`
 * (another process) to a node over the node's own DTLS session.
 *
 * The controller never dials a node (PROTOCOL.md): it keeps a reference to
 * the server-side session each node last spoke on. A triage request is sent
 * over it at once when the node spoke within FC_RELAY_FRESH_S (its NAT
 * binding is likely open); otherwise it is held, and the node's next
 * heartbeat is answered {"t":N} and the held requests go out over the
 * heartbeat's session (LwM2M's queue mode). The reference to a node's
 * session is dropped only when the node speaks on a new one (or at the
 * end): dropping it from libcoap's session events could free a session
 * libcoap is still tearing down; a request sent on a session that died
 * since fails (the node did not answer) rather than waiting forever. The answer (block-wise
 * reassembled by libcoap) goes back to the triage process.
 *
 * Control socket: a unix stream socket, mode 0600. The client writes one
 * JSON line {"node","m":"get"|"post","p":PATH,"q":QUERY,"timeout_ms":N} and
 * reads one JSON line back: {"code":"2.05","payload":TEXT} or
 * {"error":TEXT}. Lines are capped (request 2 KiB, payload 16 KiB).
 */
#ifndef FC_RELAY_H
#define FC_RELAY_H

#include "fc_keys.h"

#include <cjson/cJSON.h>
#include <coap3/coap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_RELAY_FRESH_S 30
#define FC_RELAY_ANSWER_MAX (16 * 1024)
#define FC_RELAY_PENDING_MAX 64

struct fm_loop;
struct fm_coap;
struct fc_relay;

/* Listens on control_path (replacing a stale socket file). Borrows loop
 * and coap. NULL with why filled. */
struct fc_relay *fc_relay_new(struct fm_loop *loop, struct fm_coap *coap, const char *control_path,
			      char *why, size_t why_size);
/* Answers every pending request with an error, closes and unlinks the
 * socket, releases the sessions. */
void fc_relay_delete(struct fc_relay **r);

/* node spoke on session (any request): remember the session, and send
 * what waits for the node over it. Returns how many requests were waiting
 * (the heartbeat's {"t":N}). */
unsigned fc_relay_seen(struct fc_relay *r, const char *node, coap_session_t *session);
/* The server closed node's session (revoked, rotated): not used again,
 * and libcoap may free it. */
void fc_relay_forget(struct fc_relay *r, const char *node, coap_session_t *session);
/* The answer to (or the failure of) a relayed request; the server's
 * response and nack handlers call these (what is not ours is ignored). */
void fc_relay_response(struct fc_relay *r, const coap_pdu_t *received);
void fc_relay_nack(struct fc_relay *r, const coap_pdu_t *sent, coap_nack_reason_t reason);
/* Expires requests past their deadline (call about every second). */
void fc_relay_tick(struct fc_relay *r);
/* An in-process asker (the HTTP API): req relayed as a control client's
 * would be; done(ctx, code, payload, len, error) is called once, from the
 * loop (perhaps inside this call), with code ("2.05") and the payload, or
 * with error set. 0, -EBUSY (FC_RELAY_PENDING_MAX wait) or -ENOMEM. */
struct fc_relay_request;
typedef void (*fc_relay_done_fn)(void *ctx, const char *code, const char *payload, size_t len, const char *error);
int fc_relay_submit(struct fc_relay *r, const struct fc_relay_request *req, fc_relay_done_fn done, void *ctx);
/* Forgets ctx's requests without calling their done. */
void fc_relay_cancel(struct fc_relay *r, void *ctx);
/* How many triage requests it has taken (0 for NULL). */
uint64_t fc_relay_requests(const struct fc_relay *r);

/* Several serves on one store (fc_peers): a request for a node this serve
 * has no fresh session for is offered to fn, which returns true when it
 * handed the request to the serve that holds the node's session; its
 * answer comes back through fc_relay_away_done with the same id (or the
 * request's deadline passes as for any other). fn false: held here for the
 * node's next heartbeat, as without it. fc_relay_away_waits: whether the
 * request of that id still waits (its asker may have gone). */
typedef bool (*fc_relay_away_fn)(void *arg, const struct fc_relay_request *req, uint64_t id);
void fc_relay_set_away(struct fc_relay *r, fc_relay_away_fn fn, void *arg);
void fc_relay_away_done(struct fc_relay *r, uint64_t id, const char *code, const char *payload, size_t len,
			const char *error);
bool fc_relay_away_waits(const struct fc_relay *r, uint64_t id);

/* The client side (the triage command): sends one request to the serve
 * listening on control_path and waits for its answer (the deadline is
 * timeout_ms plus a second). Returns the answer object (caller frees) or NULL
 * with why filled. */
cJSON *fc_relay_ask(const char *control_path, const char *node, const char *method, const char *path,
		    const char *query, uint64_t timeout_ms, char *why, size_t why_size);

/* One control request as the socket's client wrote it (see above). */
struct fc_relay_request {
	char node[FC_KEYS_ID_MAX + 1];
	bool post;
	char path[64];
	char query[512];
	uint64_t timeout_ms; /* 1..3600000 */
};

/* A triage verb as the command line and the HTTP API give it (WHAT and
 * its arguments) into the request's method, path and query (node and
 * timeout left 0). 0, or -EINVAL for what is not one of FC_RELAY_VERBS. */
#define FC_RELAY_VERBS                                                                                               \
	"status, diag, facts [KIND], containers, etcd, hal, journal UNIT [COUNT] [PATTERN] or rm ID"
int fc_relay_verb(const char *what, const char *const *args, size_t nargs, struct fc_relay_request *r);

/* Decodes a control request line (len bytes, not NUL-terminated). 0, or
 * -EINVAL when it is not one: not a JSON object, node missing or longer
 * than FC_KEYS_ID_MAX, m not "get"/"post", p missing or too long, q not a
 * string or too long, timeout_ms not a number 1..3600000. *r is filled on
 * success only. Borrows line. */
int fc_relay_parse_request(const char *line, size_t len, struct fc_relay_request *r);

#endif
