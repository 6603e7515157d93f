/* fc_server: the controller's CoAP(S) endpoint (PROTOCOL.md), nested in
 * fm_loop through fm_coap.
 *
 * DTLS-PSK: libcoap asks validate_id_call_back for the key of the identity
 * the client gives; an identity not in the keystore gets no key and the
 * handshake fails, a wrong key fails it at Finished; both are logged with
 * the peer's address. Connection ID is used when libcoap supports it (its
 * Mbed TLS server side offers one to every client that asks).
 *
 * The node a request is about is the session's PSK identity, never a
 * payload field. With insecure (plain CoAP, no DTLS) there is no identity:
 * the node is then named by the request's Uri-Query "n=NODE", which must be
 * in the keystore too; every such request is logged at WARNING.
 *
 * Triage requests are relayed to nodes over their sessions (fc_relay):
 * held ones go out as soon as the node speaks (a heartbeat, even a
 * non-confirmable one that wants no answer); a confirmable heartbeat is
 * answered {"t":N} when N of them wait for the node.
 *
 * An idle DTLS session is kept FC_SERVER_SESSION_IDLE_S (libcoap's default
 * is 300 s, too close to the 120 s heartbeat of a link that loses one).
 *
 * Group commit: every report that came in one loop pass (fm_coap's pass:
 * the datagrams waiting when libcoap was called) is stored in one SQLite
 * transaction, and none is acknowledged before that transaction has
 * committed. A report's handler stores it (a savepoint of the pass's
 * transaction) and holds its answer with libcoap's coap_register_async,
 * leaving libcoap nothing to send; at the pass's end the transaction
 * commits and each held answer is released (coap_async_trigger): 2.04, or
 * 5.00 when the commit failed (the agent keeps the report and sends it
 * again). libcoap then calls the handler again and the answer goes as the
 * request's piggybacked ACK (its Message ID, kept), as before: 2 datagrams
 * a report, no byte more. Held past FC_SERVER_PIGGYBACK_MS (a long pass, a
 * commit that waited for a lock) the client may have retransmitted and had
 * an empty ACK from libcoap already, so the answer goes as libcoap's
 * separate response (CON, which the client acknowledges: 3 datagrams
 * instead of 2). Heartbeats are stored in
 * the pass's transaction too but answered at once (their answer promises
 * nothing stored); GET /me commits the pass's transaction first, so the q
 * it says is committed.
 *
 * The store's connection lost (PostgreSQL restarting; fc_db resets it with
 * back-off): a report is not answered 5.00 but held, unanswered, its
 * request's retransmissions given libcoap's empty ACK, up to
 * FC_SERVER_PARKED_MAX reports (then 5.03: the agent keeps it and tries
 * later). Every loop pass and every sweep looks whether the store is back;
 * then the held reports are stored in one transaction and answered as
 * separate responses once it has committed: none is acknowledged before
 * it is stored. A pass's transaction the lost connection took with it is
 * held the same way (stored again: a duplicate, if it had committed). A
 * report that comes while some are held is held behind them.
 *
 * Resources: POST /hb, POST /rp, GET /me. The CoAP context, its loop
 * integration and the endpoint are fm_coap's (the agent's uplink shares it). A timer marks nodes unreachable
 * after FC_STORE_MISSED_MAX missed heartbeat intervals, logged once per
 * transition.
 */
#ifndef FC_SERVER_H
#define FC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long an idle session is kept, s: ten default heartbeat intervals. */
#define FC_SERVER_SESSION_IDLE_S 1200
/* A node whose heartbeat says its raised set differs from the store's is
 * asked for the whole set (GET /diag) at most once in this many seconds;
 * at most this many such nodes are remembered. */
#define FC_SERVER_RESYNC_S 10
/* A held answer released within this many ms of its request's arrival
 * goes piggybacked (RFC 7252 §5.2.1: the ACK may carry the response; the
 * agent retransmits after its ACK_TIMEOUT, 2 s by default, 100 ms at the
 * least). Later it goes as a separate response: the client may have
 * retransmitted meanwhile and had libcoap's empty ACK. The request's wait
 * in the socket before it was read is not seen here, so a client that
 * retransmitted just before may still get the piggybacked answer after an
 * empty ACK of the same Message ID: libcoap's client (the agent's) matches
 * it by its token all the same. */
#define FC_SERVER_PIGGYBACK_MS 100
#define FC_SERVER_RESYNC_MAX 4096
/* Reports held while the store's connection is lost (a few kB each). */
#define FC_SERVER_PARKED_MAX 16384

struct fm_loop;
struct fc_keys;
struct fc_store;
struct fc_server;
struct fc_relay;

struct fc_server_conf {
	const char *listen;	/* HOST:PORT or [V6]:PORT */
	struct fc_keys *keys;	/* borrowed; serve's notes on rotated nodes go in it */
	struct fc_store *store;
	bool insecure;		/* plain CoAP instead of DTLS */
	unsigned sweep_ms;	/* how often to look for silent nodes; 0: 1000 */
	const char *control;	/* the triage relay's unix socket (fc_relay), or NULL */
};

/* Binds the endpoint and registers with loop. Borrows loop, keys and store
 * until fc_server_delete. NULL with why filled (one line). */
struct fc_server *fc_server_new(struct fm_loop *loop, const struct fc_server_conf *conf, char *why,
				size_t why_size);
void fc_server_delete(struct fc_server **s);

/* A reloaded key store (SIGHUP, the file changed): used from now on, s
 * borrows it (the caller frees the old one after this). Every session whose
 * node is gone from it (revoked) or whose key it no longer takes (rotated
 * with --now) is closed at once; the others carry on untouched. Returns
 * how many were closed. */
int fc_server_set_keys(struct fc_server *s, struct fc_keys *keys);

/* The address it serves on, as --listen gave it. */
const char *fc_server_address(const struct fc_server *s);

/* What it has done since it started (GET /metrics). */
struct fc_server_counters {
	uint64_t reports;	     /* stored (2.04, not a duplicate) */
	uint64_t reports_duplicate;  /* answered 2.04, already stored */
	uint64_t heartbeats;	     /* confirmable and not */
	uint64_t refused;	     /* 4.xx answers: malformed, unknown node */
	uint64_t handshakes;	     /* DTLS sessions that made a request */
	uint64_t handshake_failures; /* wrong key, unknown identity */
	uint64_t triage_requests;    /* taken from the control socket or HTTP */
	uint64_t resyncs;	     /* GET /diag asked for a set that differed */
	uint64_t sessions_closed;    /* for a revoked or replaced key */
	uint64_t store_errors;	     /* 5.00 answers */
};
void fc_server_counters(const struct fc_server *s, struct fc_server_counters *out);

/* Its id in the store's serves (fc_store.h): random, 16 hex digits. */
const char *fc_server_id(const struct fc_server *s);

/* Its triage relay (NULL without a control socket). */
struct fc_relay *fc_server_relay(struct fc_server *s);

#endif
