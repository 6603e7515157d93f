/* fm_uplink: the session with the controller (see fm_uplink.h). */
#include "fm_uplink.h"

#include "fm_log.h"
#include "fm_report.h"

#include <coap3/coap.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS	       2000 /* queue mode: a ping this often (PROTOCOL.md) */
#define POLL_HB_TICKS  5    /* and the heartbeat again every 5th tick */
#define POLL_MAX_TICKS 150  /* at most 5 minutes of queue mode per heartbeat */
/* An idle heartbeat is non-confirmable, empty, and asks for no 2.xx answer
 * (RFC 7967): the third one in a row without any answer on the session is
 * confirmable, so a session the controller lost (restart, idle timeout) is
 * found within three intervals (PROTOCOL.md, "The link's budget"). */
#define HB_UNANSWERED_MAX 2
/* RFC 7967 No-Response: "not interested in 2.xx responses". */
#define NO_RESPONSE_2XX 2

enum pending { P_NONE, P_ME, P_RP, P_HB };

struct fm_uplink {
	struct fm_coap *c;
	struct fm_coap_uri uri;
	char controller[300], identity[FM_COAP_IDENTITY_MAX + 1], board[FM_REPORT_BOARD_MAX + 1];
	uint8_t key[FM_COAP_PSK_MAX];
	size_t key_len;
	bool insecure;
	uint32_t heartbeat_s;
	uint64_t ack_timeout_ms, retry_min_ms, retry_max_ms, backoff_ms;
	unsigned max_retransmit;
	struct fm_queue *q;
	fm_uplink_active_fn active;
	void *arg;

	coap_session_t *s;
	bool ready;	  /* GET /me answered on this session */
	bool down;	  /* the session failed: replaced from the retry timer */
	uint16_t next_tok;
	uint16_t tok_me, tok_rp, tok_hb;
	bool me_out, rp_out, hb_out;
	unsigned hb_unanswered; /* heartbeats sent since the last answer */
	char hb_sent[FM_HEARTBEAT_MAX + 1];  /* the confirmable heartbeat out */
	char hb_acked[FM_HEARTBEAT_MAX + 1]; /* the last one answered 2.xx */
	uint32_t rp_seq;
	int poll_ticks;
	bool polling;
	bool complained; /* the first failure is logged, then the recovery */
	struct fm_timer hb_timer, retry_timer, poll_timer;
};

/* --- requests ------------------------------------------------------------------- */

/* Sends a request; *tok gets its token and *out is true while it waits for
 * its answer. Both are set before libcoap sees the request: on loopback the
 * answer can be handled before coap_send returns. 0 or -errno (*out false).
 * A heartbeat (path "hb") goes with an empty token and no Content-Format
 * (absent is 50, PROTOCOL.md): it has no other request to be told apart
 * from, and every byte of it is paid 30 times an hour. A non-confirmable
 * one (out NULL) also carries No-Response for 2.xx. */
static int send_request(struct fm_uplink *u, coap_pdu_code_t code, const char *path, const char *extra_query,
			const char *payload, size_t len, uint16_t *tok, bool *out)
{
	bool hb = strcmp(path, "hb") == 0;
	coap_pdu_t *pdu = coap_pdu_init(out ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, code, coap_new_message_id(u->s),
					coap_session_max_pdu_size(u->s));
	if (!pdu)
		return -ENOMEM;
	uint8_t t[2], cf[4], nr[1] = {NO_RESPONSE_2XX};
	if (!hb && ++u->next_tok == 0)
		u->next_tok++; /* 0 stands for the heartbeat's empty token */
	*tok = hb ? 0 : u->next_tok;
	t[0] = (uint8_t)(*tok >> 8);
	t[1] = (uint8_t)*tok;
	char query[FM_COAP_IDENTITY_MAX + 3];
	/* Options in ascending number: Uri-Path 11, Content-Format 12,
	 * Uri-Query 15, No-Response 258. A plain session has no PSK identity:
	 * the node names itself (PROTOCOL.md, insecure). */
	if (!coap_add_token(pdu, hb ? 0 : sizeof(t), t) ||
	    !coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path), (const uint8_t *)path) ||
	    (payload && !hb &&
	     !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
			      coap_encode_var_safe(cf, sizeof(cf), COAP_MEDIATYPE_APPLICATION_JSON), cf)))
		goto out_fail;
	if (!u->uri.secure) {
		int n = snprintf(query, sizeof(query), "n=%s", u->identity);
		if (!coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)query))
			goto out_fail;
	}
	if (extra_query && !coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(extra_query),
					    (const uint8_t *)extra_query))
		goto out_fail;
	if (!out && !coap_add_option(pdu, COAP_OPTION_NORESPONSE, sizeof(nr), nr))
		goto out_fail;
	if (payload && !coap_add_data(pdu, len, (const uint8_t *)payload))
		goto out_fail;
	if (out)
		*out = true;
	if (coap_send(u->s, pdu) == COAP_INVALID_MID) {
		if (out)
			*out = false;
		return -EIO; /* libcoap freed it */
	}
	fm_coap_process(u->c);
	return 0;

out_fail:
	coap_delete_pdu(pdu);
	return -ENOMEM;
}

static void send_me(struct fm_uplink *u)
{
	/* The board, once a session: the controller keeps it for the node
	 * (reports carry none; PROTOCOL.md, GET /me). */
	char b[FM_REPORT_BOARD_MAX + 3];
	snprintf(b, sizeof(b), "b=%s", u->board);
	send_request(u, COAP_REQUEST_CODE_GET, "me", u->board[0] ? b : NULL, NULL, 0, &u->tok_me,
		     &u->me_out);
}

/* The heartbeat. Confirmable, with its payload, as the first of a session,
 * when the payload differs from the last one the controller acknowledged
 * on this session, in queue mode (its answer says whether requests still
 * wait), and after HB_UNANSWERED_MAX heartbeats without any answer on the
 * session (is the session still there?). Otherwise non-confirmable, with
 * No-Response for 2.xx and an empty payload: "alive, nothing changed"
 * (PROTOCOL.md, "The link's budget"). */
static void send_heartbeat(struct fm_uplink *u)
{
	if (!u->ready || u->hb_out)
		return;
	char buf[FM_HEARTBEAT_MAX + 1];
	cJSON *active = u->active(u->arg);
	/* u: reports still wait in the queue (the controller holds its resync
	 * until they are delivered) */
	int n = fm_report_heartbeat(buf, sizeof(buf), fm_queue_last_seq(u->q), active, u->heartbeat_s,
				    fm_queue_count(u->q) > 0);
	cJSON_Delete(active);
	if (n <= 0)
		return;
	bool con = u->polling || u->hb_unanswered >= HB_UNANSWERED_MAX || strcmp(buf, u->hb_acked) != 0;
	if (con) {
		memcpy(u->hb_sent, buf, (size_t)n + 1);
		send_request(u, COAP_REQUEST_CODE_POST, "hb", NULL, buf, (size_t)n, &u->tok_hb, &u->hb_out);
	} else if (send_request(u, COAP_REQUEST_CODE_POST, "hb", NULL, NULL, 0, &u->tok_hb, NULL) == 0) {
		u->hb_unanswered++;
	}
}

/* The next queued report, when the session is ready and none is out. */
static void send_next(struct fm_uplink *u)
{
	if (!u->ready || u->rp_out)
		return;
	uint32_t seq;
	/* the board goes once a session, with GET /me (PROTOCOL.md) */
	const char *p = fm_queue_head(u->q, u->insecure, (int64_t)time(NULL), &seq);
	if (!p)
		return;
	if (u->insecure)
		fm_warn("uplink: report %u goes to %s without DTLS (--insecure)", seq, u->controller);
	u->rp_seq = seq;
	/* Said before it goes: the answer can be handled inside send_request,
	 * and sending the next report from there frees p. */
	fm_debug("uplink: report %u: %s", seq, p);
	int rc = send_request(u, COAP_REQUEST_CODE_POST, "rp", NULL, p, strlen(p), &u->tok_rp, &u->rp_out);
	if (rc < 0)
		fm_debug("uplink: report %u not sent: %s", seq, strerror(-rc));
}

/* --- the session ------------------------------------------------------------------ */

static void drop_session(struct fm_uplink *u)
{
	if (u->s) {
		coap_session_set_app_data(u->s, NULL);
		coap_session_release(u->s);
		u->s = NULL;
	}
	u->ready = u->me_out = u->rp_out = u->hb_out = false;
	u->hb_unanswered = 0;
	u->hb_acked[0] = '\0';
	u->polling = false;
	fm_timer_disarm(&u->poll_timer);
}

static void open_session(struct fm_uplink *u)
{
	char err[512];
	drop_session(u);
	u->down = false;
	u->s = fm_coap_client(u->c, &u->uri, u->identity, u->key, u->key_len, err, sizeof(err));
	if (!u->s) {
		if (!u->complained)
			fm_warn("uplink: %s", err);
		u->complained = true;
		fm_timer_arm(&u->retry_timer, u->backoff_ms, 0);
		u->backoff_ms = u->backoff_ms * 2 > u->retry_max_ms ? u->retry_max_ms : u->backoff_ms * 2;
		return;
	}
	coap_session_set_app_data(u->s, u);
	coap_fixed_point_t ack = {.integer_part = (uint16_t)(u->ack_timeout_ms / 1000),
				  .fractional_part = (uint16_t)(u->ack_timeout_ms % 1000)};
	coap_session_set_ack_timeout(u->s, ack);
	coap_session_set_max_retransmit(u->s, u->max_retransmit);
	/* GET /me first: nothing is sent before the controller said what it
	 * holds (PROTOCOL.md). The DTLS handshake runs on this request. */
	send_me(u);
}

/* The session failed: a new one after the back-off (never from inside
 * libcoap's callbacks: the retry timer does it). */
static void session_failed(struct fm_uplink *u, const char *why)
{
	if (u->down)
		return;
	u->down = true;
	if (!u->complained)
		fm_warn("uplink: %s unreachable (%s); reports are kept in the queue, next try in %llu ms",
			u->controller, why, (unsigned long long)u->backoff_ms);
	u->complained = true;
	u->ready = false;
	fm_timer_arm(&u->retry_timer, u->backoff_ms, 0);
	u->backoff_ms = u->backoff_ms * 2 > u->retry_max_ms ? u->retry_max_ms : u->backoff_ms * 2;
}

static void on_retry(struct fm_timer *t)
{
	open_session(container_of(t, struct fm_uplink, retry_timer));
}

static void on_heartbeat(struct fm_timer *t)
{
	struct fm_uplink *u = container_of(t, struct fm_uplink, hb_timer);
	send_heartbeat(u);
}

static void on_poll(struct fm_timer *t)
{
	struct fm_uplink *u = container_of(t, struct fm_uplink, poll_timer);
	if (!u->ready || ++u->poll_ticks > POLL_MAX_TICKS) {
		u->polling = false;
		fm_timer_disarm(t);
		return;
	}
	if (u->poll_ticks % POLL_HB_TICKS == 0)
		send_heartbeat(u);
	else
		coap_session_send_ping(u->s);
	fm_coap_process(u->c);
}

/* --- libcoap's handlers --------------------------------------------------------- */

/* A request's token (an empty one is 0: the heartbeat's); -1 for a token
 * the uplink never sends. */
static int token_of(const coap_pdu_t *pdu)
{
	coap_bin_const_t t = coap_pdu_get_token(pdu);
	return t.length == 2 ? (t.s[0] << 8 | t.s[1]) : t.length == 0 ? 0 : -1;
}

/* The answer's payload decoded (fm_report_answer); all unset without one. */
static struct fm_report_answer answer_of(const coap_pdu_t *pdu)
{
	size_t len = 0, off, total;
	const uint8_t *data;
	struct fm_report_answer a = {0};
	if (coap_get_data_large(pdu, &len, &data, &off, &total))
		fm_report_answer(data, len, &a);
	return a;
}

static void answered_me(struct fm_uplink *u, coap_pdu_code_t code, const coap_pdu_t *rcvd)
{
	u->me_out = false;
	if (COAP_RESPONSE_CLASS(code) != 2) {
		fm_warn("uplink: %s answered GET /me with %d.%02d", u->controller, COAP_RESPONSE_CLASS(code),
			code & 0x1f);
		session_failed(u, "GET /me refused");
		return;
	}
	struct fm_report_answer a = answer_of(rcvd);
	if (a.has_q)
		fm_queue_floor(u->q, a.q);
	if (u->complained)
		fm_notice("uplink: %s reachable again (%s); %zu report(s) queued", u->controller,
			  fm_coap_session_cipher(u->s), fm_queue_count(u->q));
	else
		fm_notice("uplink: session with %s open (%s)", u->controller, fm_coap_session_cipher(u->s));
	u->complained = false;
	u->backoff_ms = u->retry_min_ms;
	u->ready = true;
	send_next(u);
	send_heartbeat(u);
}

static void answered_rp(struct fm_uplink *u, coap_pdu_code_t code)
{
	u->rp_out = false;
	int cls = COAP_RESPONSE_CLASS(code);
	if (cls == 2) {
		fm_queue_ack(u->q, u->rp_seq);
	} else if (cls == 4 && code != COAP_RESPONSE_CODE(401)) {
		/* The controller will never take this one (malformed for it):
		 * keeping it would stop every later report behind it. */
		fm_err("uplink: %s refused report %u with %d.%02d; dropped", u->controller, u->rp_seq, cls,
		       code & 0x1f);
		fm_queue_ack(u->q, u->rp_seq);
	} else {
		/* 4.01 (not known yet) or 5.xx (cannot store now): kept, tried
		 * again on the next session. */
		session_failed(u, cls == 5 ? "it cannot store reports now" : "it does not know this node");
		return;
	}
	send_next(u);
}

static void answered_hb(struct fm_uplink *u, coap_pdu_code_t code, const coap_pdu_t *rcvd)
{
	u->hb_out = false;
	if (COAP_RESPONSE_CLASS(code) != 2)
		return;
	memcpy(u->hb_acked, u->hb_sent, sizeof(u->hb_acked));
	bool waiting = answer_of(rcvd).waiting;
	if (waiting && !u->polling) {
		u->polling = true;
		u->poll_ticks = 0;
		fm_timer_arm(&u->poll_timer, POLL_MS, POLL_MS);
	} else if (!waiting && u->polling) {
		u->polling = false;
		fm_timer_disarm(&u->poll_timer);
	}
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
				   const coap_mid_t mid)
{
	(void)mid;
	struct fm_uplink *u = coap_session_get_app_data(s);
	if (!u || s != u->s)
		return COAP_RESPONSE_OK;
	int tok = token_of(sent ? sent : rcvd);
	coap_pdu_code_t code = coap_pdu_get_code(rcvd);
	fm_debug("uplink: answer %d.%02d token %04x (me %d/%04x rp %d/%04x hb %d/%04x)", COAP_RESPONSE_CLASS(code),
		 code & 0x1f, tok, u->me_out, u->tok_me, u->rp_out, u->tok_rp, u->hb_out, u->tok_hb);
	u->hb_unanswered = 0; /* the session is alive */
	if (u->me_out && tok == u->tok_me)
		answered_me(u, code, rcvd);
	else if (u->rp_out && tok == u->tok_rp)
		answered_rp(u, code);
	else if (u->hb_out && tok == u->tok_hb)
		answered_hb(u, code, rcvd);
	return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason,
		    const coap_mid_t mid)
{
	(void)sent;
	(void)mid;
	struct fm_uplink *u = coap_session_get_app_data(s);
	if (!u || s != u->s)
		return;
	switch (reason) {
	case COAP_NACK_TOO_MANY_RETRIES: session_failed(u, "no answer after the retransmissions"); break;
	case COAP_NACK_TLS_FAILED: session_failed(u, "DTLS failed: wrong key or identity?"); break;
	case COAP_NACK_RST: session_failed(u, "reset by the peer"); break;
	case COAP_NACK_NOT_DELIVERABLE: session_failed(u, "not deliverable"); break;
	default: session_failed(u, "the request was not answered"); break;
	}
}

static int on_event(coap_session_t *s, const coap_event_t ev)
{
	struct fm_uplink *u = coap_session_get_app_data(s);
	if (!u || s != u->s)
		return 0;
	if (ev == COAP_EVENT_DTLS_CLOSED || ev == COAP_EVENT_DTLS_ERROR || ev == COAP_EVENT_SESSION_FAILED)
		session_failed(u, ev == COAP_EVENT_DTLS_ERROR ? "DTLS error" : "session closed");
	return 0;
}

/* --- life cycle ---------------------------------------------------------------- */

static int start(struct fm_uplink *u, struct fm_loop *loop);

struct fm_uplink *fm_uplink_new(struct fm_loop *loop, struct fm_coap *c, const struct fm_uplink_opts *o,
				struct fm_queue *q, fm_uplink_active_fn active, void *arg, char *err,
				size_t err_size)
{
	struct fm_uplink *u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	u->hb_timer.ev.fd = u->retry_timer.ev.fd = u->poll_timer.ev.fd = -1;
	if (fm_coap_parse_uri(o->controller, &u->uri, err, err_size) < 0)
		goto out_delete;
	if (!u->uri.secure && !o->insecure) {
		snprintf(err, err_size, "%s: plain CoAP carries the diagnoses unauthenticated; use coaps:// or give --insecure",
			 o->controller);
		goto out_delete;
	}
	if (u->uri.secure && (!o->key || o->key_len == 0)) {
		snprintf(err, err_size, "%s: DTLS-PSK needs a key (--psk-file)", o->controller);
		goto out_delete;
	}
	if (!o->identity || !o->identity[0] || strlen(o->identity) > FM_COAP_IDENTITY_MAX) {
		snprintf(err, err_size, "the PSK identity (--psk-identity, else the node name) is empty or longer than %d bytes",
			 FM_COAP_IDENTITY_MAX);
		goto out_delete;
	}
	snprintf(u->controller, sizeof(u->controller), "%s", o->controller);
	snprintf(u->identity, sizeof(u->identity), "%s", o->identity);
	fm_report_board(o->board, u->board);
	if (o->key_len > sizeof(u->key)) {
		snprintf(err, err_size, "the PSK is longer than %d bytes", FM_COAP_PSK_MAX);
		goto out_delete;
	}
	if (o->key)
		memcpy(u->key, o->key, o->key_len);
	u->key_len = o->key_len;
	u->insecure = o->insecure;
	u->c = c;
	u->q = q;
	u->active = active;
	u->arg = arg;
	u->heartbeat_s = o->heartbeat_s ? o->heartbeat_s : 120;
	u->ack_timeout_ms = o->ack_timeout_ms ? o->ack_timeout_ms : 2000;
	u->max_retransmit = o->max_retransmit ? o->max_retransmit : 4;
	u->retry_min_ms = o->retry_min_ms ? o->retry_min_ms : 1000;
	u->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 300000;
	if (u->retry_max_ms < u->retry_min_ms)
		u->retry_max_ms = u->retry_min_ms;
	u->backoff_ms = u->retry_min_ms;
	u->next_tok = (uint16_t)(fm_now_ms() * 2654435761u >> 7);
	coap_context_t *ctx = fm_coap_context(c);
	coap_register_response_handler(ctx, on_response);
	coap_register_nack_handler(ctx, on_nack);
	coap_register_event_handler(ctx, on_event);
	if (u->uri.secure)
		fm_info("uplink: DTLS-PSK as '%s' to %s%s", u->identity, u->controller,
			coap_dtls_cid_is_supported() ? " (Connection ID asked for)" : "");
	else
		fm_warn("uplink: INSECURE: plain CoAP to %s (--insecure): diagnoses travel unauthenticated",
			u->controller);
	int rc = start(u, loop);
	if (rc < 0) {
		snprintf(err, err_size, "uplink timers: %s", strerror(-rc));
		goto out_delete;
	}
	return u;

out_delete:
	fm_uplink_delete(&u);
	return NULL;
}

/* The timers, and the first session. */
static int start(struct fm_uplink *u, struct fm_loop *loop)
{
	int rc;
	if ((rc = fm_timer_init(loop, &u->hb_timer, on_heartbeat)) < 0 ||
	    (rc = fm_timer_init(loop, &u->retry_timer, on_retry)) < 0 ||
	    (rc = fm_timer_init(loop, &u->poll_timer, on_poll)) < 0)
		return rc;
	fm_timer_arm(&u->hb_timer, (uint64_t)u->heartbeat_s * 1000, (uint64_t)u->heartbeat_s * 1000);
	open_session(u);
	return 0;
}

void fm_uplink_delete(struct fm_uplink **u)
{
	if (!u || !*u)
		return;
	fm_timer_close(&(*u)->hb_timer);
	fm_timer_close(&(*u)->retry_timer);
	fm_timer_close(&(*u)->poll_timer);
	drop_session(*u);
	explicit_bzero((*u)->key, sizeof((*u)->key));
	free(*u);
	*u = NULL;
}

void fm_uplink_kick(struct fm_uplink *u)
{
	send_next(u);
}

void fm_uplink_asked(struct fm_uplink *u)
{
	if (!u || !u->ready || u->polling)
		return;
	u->hb_unanswered = 0;
	u->polling = true;
	u->poll_ticks = 0;
	fm_timer_arm(&u->poll_timer, POLL_MS, POLL_MS);
}

void fm_uplink_set_heartbeat(struct fm_uplink *u, uint32_t heartbeat_s)
{
	if (!heartbeat_s || heartbeat_s == u->heartbeat_s)
		return;
	u->heartbeat_s = heartbeat_s;
	fm_timer_arm(&u->hb_timer, (uint64_t)heartbeat_s * 1000, (uint64_t)heartbeat_s * 1000);
}

bool fm_uplink_is_session(const struct fm_uplink *u, const coap_session_t *s)
{
	return u && s && s == u->s;
}

bool fm_uplink_ready(const struct fm_uplink *u)
{
	return u && u->ready;
}

const char *fm_uplink_controller(const struct fm_uplink *u)
{
	return u->controller;
}
