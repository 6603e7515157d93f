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
 * Several controllers (issue 28), in order of preference: the session goes
 * to the first that answers. When a session fails (libcoap gives up
 * retransmitting a confirmable message, DTLS fails or closes, GET /me or a
 * report is answered 4.01 or 5.xx), it is dropped and the next controller
 * of the list is tried at once; only when every controller failed in a row
 * does the back-off apply (doubling from retry_min to retry_max), after
 * which the round starts again from the first. With one controller that is
 * the back-off after every failure, as before. Reports stay in the queue
 * meanwhile and every new session asks GET /me first, so whichever
 * controller is reached gets them in order from where its store stands
 * (nothing is lost, nothing stored twice: a controller keeps the last
 * stored q; controllers sharing one store resume from it).
 *
 * Coming back ("prefer the first"): while the session is with another
 * controller than the first, a second session to the first is tried now
 * and then (after retry_min, then doubling to retry_max; not while in queue
 * mode): a DTLS handshake and GET /me. When the first answers, the agent
 * moves back to it (the other session is dropped: a report out on it is
 * sent again, which the controllers take once); when it does not, the
 * healthy session is kept and the next try waits twice as long. So a fleet
 * that failed over goes back to its first controller within retry_max of
 * its return. The cost while the first stays away: one handshake attempt
 * per retry_max (a ClientHello and its retransmissions).
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

#define FM_UPLINK_CONTROLLERS_MAX 8

struct fm_uplink_opts {
	/* coaps://HOST[:PORT] or coap:// (insecure), the first preferred */
	const char *controllers[FM_UPLINK_CONTROLLERS_MAX];
	size_t n_controllers; /* 1..FM_UPLINK_CONTROLLERS_MAX */
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
 * the queue q (borrowed; outlives the uplink): opens the first session, to
 * the first controller. Copies o's strings and key. NULL with err set when
 * a controller's address is wrong or needs --insecure, or there is none. */
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
/* The address, as given, of the controller the session is with (or being
 * opened to); valid until the uplink moves to another. "(none)" for NULL. */
const char *fm_uplink_controller(const struct fm_uplink *u);

#endif
