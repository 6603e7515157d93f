/* fm_uplink: the agent's session with the controller (PROTOCOL.md).
 *
 * The agent opens the session (coaps:// DTLS-PSK, or coap:// when
 * insecure); on every new session it asks GET /me first, then sends the
 * offline queue's reports one at a time (a confirmable POST /rp each, the
 * next after the previous one's 2.04) and a POST /hb every heartbeat
 * interval. An idle heartbeat is non-confirmable with No-Response for 2.xx
 * (RFC 7967): nothing comes back, so a healthy node's hour is 30 datagrams
 * (PROTOCOL.md, "The link's budget"); every third one without an answer in
 * between is confirmable, so a session the controller lost is found.
 * A request from the controller over the session (it had requests held for
 * this node and sent them as the heartbeat arrived) puts the uplink in
 * queue mode: a CoAP ping every 2 s keeps the NAT binding open for further
 * requests, and a confirmable heartbeat every 10 s asks whether more wait,
 * until its answer has no "t" (or 5 minutes passed). A confirmable
 * heartbeat answered {"t":N} starts queue mode too.
 *
 * When the controller is not reachable (libcoap gives up retransmitting,
 * DTLS fails or closes), the session is dropped and a new one is tried
 * after a back-off that doubles from retry_min to retry_max; reports stay in
 * the queue meanwhile (nothing is lost, nothing sent twice: the controller
 * keeps the last stored q).
 *
 * libcoap's response, NACK and event handlers of the context are the
 * uplink's; other modules (the triage resources) add resources only.
 */
#ifndef FM_UPLINK_H
#define FM_UPLINK_H

#include "fm_coap.h"
#include "fm_queue.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct fm_uplink_opts {
	const char *controller; /* coaps://HOST[:PORT] or coap:// (insecure) */
	const char *identity;	/* PSK identity: the node name */
	const uint8_t *key;	/* PSK */
	size_t key_len;
	bool insecure;		/* allows coap://; reports carry "i":1 */
	const char *board;	/* hal's board id, or NULL */
	uint32_t heartbeat_s;	/* 0: 120 */
	uint64_t ack_timeout_ms; /* CoAP ACK_TIMEOUT; 0: 2000 (RFC 7252) */
	unsigned max_retransmit; /* CoAP MAX_RETRANSMIT; 0: 4 */
	uint64_t retry_min_ms;	/* first new session after a failure; 0: 1000 */
	uint64_t retry_max_ms;	/* cap of the doubling; 0: 300000 */
};

/* The raised set now (fm_diag_track_active's long form; caller frees), for
 * the heartbeat. */
typedef cJSON *(*fm_uplink_active_fn)(void *arg);

struct fm_uplink;

/* Starts the uplink on c (whose handlers it takes; c's loop is loop) with
 * the queue q (borrowed; outlives the uplink): opens the first session.
 * Copies o's strings and key. NULL with err set when the controller's
 * address is wrong or needs --insecure. */
struct fm_uplink *fm_uplink_new(struct fm_loop *loop, struct fm_coap *c, const struct fm_uplink_opts *o,
				struct fm_queue *q, fm_uplink_active_fn active, void *arg, char *err,
				size_t err_size);
/* Releases the session, stops the timers, frees and NULLs *u; accepts NULL.
 * The queue is already on disk. */
void fm_uplink_delete(struct fm_uplink **u);

/* Reports were queued: send now if the session is ready and idle. */
void fm_uplink_kick(struct fm_uplink *u);
/* The controller sent a request over the session (the triage resources
 * call this): it has work for this node; queue mode until a heartbeat's
 * answer says nothing waits. */
void fm_uplink_asked(struct fm_uplink *u);
/* A new heartbeat interval (SIGHUP). */
void fm_uplink_set_heartbeat(struct fm_uplink *u, uint32_t heartbeat_s);

/* Whether s is the uplink's session (the controller's). */
bool fm_uplink_is_session(const struct fm_uplink *u, const struct coap_session_t *s);
/* Whether the session is up and GET /me has been answered. */
bool fm_uplink_ready(const struct fm_uplink *u);
/* The controller's address as given. */
const char *fm_uplink_controller(const struct fm_uplink *u);

#endif
