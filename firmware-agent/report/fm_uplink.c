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
	/* The controllers, the first preferred; the session is with cur's. */
	size_t n, cur;
	struct fm_coap_uri uri[FM_UPLINK_CONTROLLERS_MAX];
	char controller[FM_UPLINK_CONTROLLERS_MAX][300];
	size_t failed;	  /* controllers failed in a row since a session worked */
	size_t last_ready; /* whose session worked last (n: none yet) */
	char why[400];	  /* the first failure since then, "ADDRESS: why" */
	bool all_said;	  /* "no controller answered" logged for this outage */
	char identity[FM_COAP_IDENTITY_MAX + 1], board[FM_REPORT_BOARD_MAX + 1];
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
	/* Coming back to the first controller while on another (fm_uplink.h):
	 * a session of its own, GET /me on it; taken over once answered. */
	coap_session_t *probe;
	bool probe_out;	  /* its GET /me waits */
	bool probe_ok;	  /* answered: the retry timer moves the uplink to it */
	uint16_t tok_probe;
	struct fm_report_answer probe_answer;
	uint64_t probe_ms; /* the delay before the next try: retry_min doubling to retry_max */
	struct fm_timer hb_timer, retry_timer, poll_timer, probe_timer;
};

/* --- requests ------------------------------------------------------------------- */

/* Whether s (the uplink's session or its probe) is DTLS. */
static bool session_secure(const struct fm_uplink *u, const coap_session_t *s)
{
	return u->uri[s == u->probe ? 0 : u->cur].secure;
}

/* Sends a request on s (the session or the probe); *tok gets its token and
 * *out is true while it waits for its answer. Both are set before libcoap sees the request: on loopback the
 * answer can be handled before coap_send returns. 0 or -errno (*out false).
 * A heartbeat (path "hb") goes with an empty token and no Content-Format
 * (absent is 50, PROTOCOL.md): it has no other request to be told apart
 * from, and every byte of it is paid 30 times an hour. A non-confirmable
 * one (out NULL) also carries No-Response for 2.xx. */
static int send_request(struct fm_uplink *u, coap_session_t *s, coap_pdu_code_t code, const char *path,
			const char *extra_query, const char *payload, size_t len, uint16_t *tok, bool *out)
{
	bool hb = strcmp(path, "hb") == 0;
	coap_pdu_t *pdu = coap_pdu_init(out ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, code, coap_new_message_id(s),
					coap_session_max_pdu_size(s));
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
	if (!session_secure(u, s)) {
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
	if (coap_send(s, pdu) == COAP_INVALID_MID) {
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

static void send_me(struct fm_uplink *u, coap_session_t *s, uint16_t *tok, bool *out)
{
	/* The board, once a session: the controller keeps it for the node
	 * (reports carry none; PROTOCOL.md, GET /me). */
	char b[FM_REPORT_BOARD_MAX + 3];
	snprintf(b, sizeof(b), "b=%s", u->board);
	send_request(u, s, COAP_REQUEST_CODE_GET, "me", u->board[0] ? b : NULL, NULL, 0, tok, out);
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
		send_request(u, u->s, COAP_REQUEST_CODE_POST, "hb", NULL, buf, (size_t)n, &u->tok_hb, &u->hb_out);
	} else if (send_request(u, u->s, COAP_REQUEST_CODE_POST, "hb", NULL, NULL, 0, &u->tok_hb, NULL) == 0) {
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
		fm_warn("uplink: report %u goes to %s without DTLS (--insecure)", seq, u->controller[u->cur]);
	u->rp_seq = seq;
	/* Said before it goes: the answer can be handled inside send_request,
	 * and sending the next report from there frees p. */
	fm_debug("uplink: report %u: %s", seq, p);
	int rc = send_request(u, u->s, COAP_REQUEST_CODE_POST, "rp", NULL, p, strlen(p), &u->tok_rp, &u->rp_out);
	if (rc < 0)
		fm_debug("uplink: report %u not sent: %s", seq, strerror(-rc));
}

/* --- the session ------------------------------------------------------------------ */

static uint64_t doubled(const struct fm_uplink *u, uint64_t ms)
{
	return ms * 2 > u->retry_max_ms ? u->retry_max_ms : ms * 2;
}

/* Releases *s (the session or the probe) and NULLs it; its handlers no
 * longer see it as the uplink's. */
static void release(coap_session_t **s)
{
	if (*s) {
		coap_session_set_app_data(*s, NULL);
		coap_session_release(*s);
		*s = NULL;
	}
}

static void drop_session(struct fm_uplink *u)
{
	release(&u->s);
	u->ready = u->me_out = u->rp_out = u->hb_out = false;
	u->hb_unanswered = 0;
	u->hb_acked[0] = '\0';
	u->polling = false;
	fm_timer_disarm(&u->poll_timer);
}

static void drop_probe(struct fm_uplink *u)
{
	release(&u->probe);
	u->probe_out = u->probe_ok = false;
	fm_timer_disarm(&u->probe_timer);
}

/* A session to controllers[i], with the uplink's CoAP timing; NULL with
 * err set. */
static coap_session_t *session_to(struct fm_uplink *u, size_t i, char *err, size_t err_size)
{
	coap_session_t *s = fm_coap_client(u->c, &u->uri[i], u->identity, u->key, u->key_len, err, err_size);
	if (!s)
		return NULL;
	coap_session_set_app_data(s, u);
	coap_fixed_point_t ack = {.integer_part = (uint16_t)(u->ack_timeout_ms / 1000),
				  .fractional_part = (uint16_t)(u->ack_timeout_ms % 1000)};
	coap_session_set_ack_timeout(s, ack);
	coap_session_set_max_retransmit(s, u->max_retransmit);
	return s;
}

/* controllers[cur] failed (its session, or opening one): the next of the
 * list at once, or, once every one has failed in a row, the first again
 * after the back-off. The retry timer opens it, never libcoap's callbacks
 * (this is called from them). The first failure of an outage is logged at
 * WARNING, the round that found none at WARNING once, the moves between
 * them at INFO (complain once; the recovery says where the agent went). */
static void failed(struct fm_uplink *u, const char *why)
{
	const char *was = u->controller[u->cur];
	if (!u->complained)
		snprintf(u->why, sizeof(u->why), "%s: %s", was, why);
	u->failed++;
	if (u->probe_ok) {
		/* The first answered meanwhile: taken at once. */
		fm_info("uplink: %s unreachable (%s); the first, %s, answers", was, why, u->controller[0]);
		fm_timer_arm(&u->retry_timer, 1, 0);
		return;
	}
	if (u->failed < u->n) {
		size_t next = (u->cur + 1) % u->n;
		if (!u->complained)
			fm_warn("uplink: %s unreachable (%s); reports are kept in the queue; moving to %s", was, why,
				u->controller[next]);
		else
			fm_info("uplink: %s unreachable (%s); trying %s", was, why, u->controller[next]);
		u->complained = true;
		u->cur = next;
		fm_timer_arm(&u->retry_timer, 1, 0);
		return;
	}
	/* Every one failed in a row: the back-off, then from the top. */
	if (!u->complained)
		fm_warn("uplink: %s unreachable (%s); reports are kept in the queue, next try in %llu ms", was, why,
			(unsigned long long)u->backoff_ms);
	else if (!u->all_said)
		fm_warn("uplink: none of the %zu controllers answered (the last, %s: %s); reports are kept in the "
			"queue, next round from %s in %llu ms",
			u->n, was, why, u->controller[0], (unsigned long long)u->backoff_ms);
	else
		fm_info("uplink: %s unreachable (%s); next round from %s in %llu ms", was, why, u->controller[0],
			(unsigned long long)u->backoff_ms);
	u->complained = true;
	u->all_said = u->n > 1;
	u->failed = 0;
	u->cur = 0;
	fm_timer_arm(&u->retry_timer, u->backoff_ms, 0);
	u->backoff_ms = doubled(u, u->backoff_ms);
}

static void open_session(struct fm_uplink *u)
{
	char err[512];
	drop_session(u);
	drop_probe(u);
	u->down = false;
	if (!(u->s = session_to(u, u->cur, err, sizeof(err)))) {
		failed(u, err);
		return;
	}
	/* GET /me first: nothing is sent before the controller said what it
	 * holds (PROTOCOL.md). The DTLS handshake runs on this request. */
	send_me(u, u->s, &u->tok_me, &u->me_out);
}

/* The session failed: dropped and replaced (failed() says by which). */
static void session_failed(struct fm_uplink *u, const char *why)
{
	if (u->down)
		return;
	u->down = true;
	u->ready = false;
	failed(u, why);
}

/* The next try of the first controller, while on another. */
static void probe_later(struct fm_uplink *u)
{
	fm_timer_arm(&u->probe_timer, u->probe_ms, 0);
	u->probe_ms = doubled(u, u->probe_ms);
}

/* The session is up and GET /me answered (a): the queue goes, from where
 * the controller's store stands. */
static void session_ready(struct fm_uplink *u, const struct fm_report_answer *a)
{
	if (a->has_q)
		fm_queue_floor(u->q, a->q);
	u->complained = u->all_said = false;
	u->failed = 0;
	u->last_ready = u->cur;
	u->backoff_ms = u->retry_min_ms;
	u->ready = true;
	if (u->cur == 0)
		u->probe_ms = u->retry_min_ms;
	else if (!fm_timer_armed(&u->probe_timer))
		probe_later(u);
	send_next(u);
	send_heartbeat(u);
}

/* The try of the first controller failed: the healthy session stays. Not
 * released here (libcoap's callbacks call this): the next try does it. */
static void probe_failed(struct fm_uplink *u, const char *why)
{
	if (!u->probe_out)
		return;
	u->probe_out = false;
	fm_info("uplink: the first controller, %s, does not answer yet (%s); staying with %s, next try in %llu ms",
		u->controller[0], why, u->controller[u->cur], (unsigned long long)u->probe_ms);
	probe_later(u);
}

/* Tries the first controller again: a session of its own and GET /me. */
static void on_probe(struct fm_timer *t)
{
	struct fm_uplink *u = container_of(t, struct fm_uplink, probe_timer);
	char err[512];
	release(&u->probe); /* the last try's, failed */
	u->probe_out = u->probe_ok = false;
	if (!u->ready || u->cur == 0)
		return; /* no session (the rounds start from the first) or on the first */
	if (u->polling) {
		/* The controller has requests for this node over this session:
		 * not now. */
		probe_later(u);
		return;
	}
	if (!(u->probe = session_to(u, 0, err, sizeof(err)))) {
		u->probe_out = true;
		probe_failed(u, err);
		return;
	}
	fm_debug("uplink: trying the first controller, %s, again", u->controller[0]);
	send_me(u, u->probe, &u->tok_probe, &u->probe_out);
}

/* The first controller answered the probe's GET /me: the uplink moves to
 * that session (from the retry timer: it releases the other). */
static void take_probe(struct fm_uplink *u)
{
	if (u->ready && u->polling) {
		/* queue mode began meanwhile: its requests come over this session */
		drop_probe(u);
		probe_later(u);
		return;
	}
	char was[sizeof(u->controller[0])];
	snprintf(was, sizeof(was), "%s", u->controller[u->cur]);
	struct fm_report_answer a = u->probe_answer;
	drop_session(u);
	u->s = u->probe;
	u->probe = NULL;
	u->probe_out = u->probe_ok = false;
	fm_timer_disarm(&u->probe_timer);
	u->cur = 0;
	u->down = false;
	fm_notice("uplink: back to the first controller, %s (%s), from %s; %zu report(s) queued", u->controller[0],
		  fm_coap_session_cipher(u->s), was, fm_queue_count(u->q));
	session_ready(u, &a);
}

static void on_retry(struct fm_timer *t)
{
	struct fm_uplink *u = container_of(t, struct fm_uplink, retry_timer);
	if (u->probe_ok)
		take_probe(u);
	else
		open_session(u);
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
	const char *ctl = u->controller[u->cur];
	if (COAP_RESPONSE_CLASS(code) != 2) {
		fm_warn("uplink: %s answered GET /me with %d.%02d", ctl, COAP_RESPONSE_CLASS(code), code & 0x1f);
		session_failed(u, "GET /me refused");
		return;
	}
	struct fm_report_answer a = answer_of(rcvd);
	/* Where the agent went, and why, when it is not where it was. */
	if (u->complained && u->cur != u->last_ready && u->last_ready < u->n)
		fm_notice("uplink: moved to %s (%s) after %s; %zu report(s) queued", ctl, fm_coap_session_cipher(u->s),
			  u->why, fm_queue_count(u->q));
	else if (u->complained && u->cur != u->last_ready)
		fm_notice("uplink: session with %s open (%s) after %s; %zu report(s) queued", ctl,
			  fm_coap_session_cipher(u->s), u->why, fm_queue_count(u->q));
	else if (u->complained)
		fm_notice("uplink: %s reachable again (%s); %zu report(s) queued", ctl, fm_coap_session_cipher(u->s),
			  fm_queue_count(u->q));
	else
		fm_notice("uplink: session with %s open (%s)", ctl, fm_coap_session_cipher(u->s));
	session_ready(u, &a);
}

/* The probe's GET /me: the first controller is back (moved to from the
 * retry timer), or not yet. */
static void answered_probe(struct fm_uplink *u, coap_pdu_code_t code, const coap_pdu_t *rcvd)
{
	if (COAP_RESPONSE_CLASS(code) != 2) {
		probe_failed(u, "GET /me refused");
		return;
	}
	u->probe_out = false;
	u->probe_answer = answer_of(rcvd);
	u->probe_ok = true;
	fm_timer_arm(&u->retry_timer, 1, 0);
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
		fm_err("uplink: %s refused report %u with %d.%02d; dropped", u->controller[u->cur], u->rp_seq, cls,
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
	if (!u || (s != u->s && s != u->probe))
		return COAP_RESPONSE_OK;
	int tok = token_of(sent ? sent : rcvd);
	coap_pdu_code_t code = coap_pdu_get_code(rcvd);
	if (s == u->probe) {
		if (u->probe_out && tok == u->tok_probe)
			answered_probe(u, code, rcvd);
		return COAP_RESPONSE_OK;
	}
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
	if (!u || (s != u->s && s != u->probe))
		return;
	const char *why;
	switch (reason) {
	case COAP_NACK_TOO_MANY_RETRIES: why = "no answer after the retransmissions"; break;
	case COAP_NACK_TLS_FAILED: why = "DTLS failed: wrong key or identity?"; break;
	case COAP_NACK_RST: why = "reset by the peer"; break;
	case COAP_NACK_NOT_DELIVERABLE: why = "not deliverable"; break;
	case COAP_NACK_ICMP_ISSUE: why = "port unreachable"; break;
	default: why = "the request was not answered"; break;
	}
	if (s == u->probe)
		probe_failed(u, why);
	else
		session_failed(u, why);
}

static int on_event(coap_session_t *s, const coap_event_t ev)
{
	struct fm_uplink *u = coap_session_get_app_data(s);
	if (!u || (s != u->s && s != u->probe))
		return 0;
	if (ev != COAP_EVENT_DTLS_CLOSED && ev != COAP_EVENT_DTLS_ERROR && ev != COAP_EVENT_SESSION_FAILED)
		return 0;
	const char *why = ev == COAP_EVENT_DTLS_ERROR ? "DTLS error" : "session closed";
	if (s == u->probe)
		probe_failed(u, why);
	else
		session_failed(u, why);
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
	u->hb_timer.ev.fd = u->retry_timer.ev.fd = u->poll_timer.ev.fd = u->probe_timer.ev.fd = -1;
	if (o->n_controllers == 0 || o->n_controllers > FM_UPLINK_CONTROLLERS_MAX) {
		snprintf(err, err_size, "give 1 to %d controllers, not %zu", FM_UPLINK_CONTROLLERS_MAX, o->n_controllers);
		goto out_delete;
	}
	u->n = o->n_controllers;
	u->last_ready = u->n;
	for (size_t i = 0; i < u->n; i++) {
		const char *addr = o->controllers[i];
		if (fm_coap_parse_uri(addr, &u->uri[i], err, err_size) < 0)
			goto out_delete;
		if (!u->uri[i].secure && !o->insecure) {
			snprintf(err, err_size, "%s: plain CoAP carries the diagnoses unauthenticated; use coaps:// or give --insecure",
				 addr);
			goto out_delete;
		}
		if (u->uri[i].secure && (!o->key || o->key_len == 0)) {
			snprintf(err, err_size, "%s: DTLS-PSK needs a key (--psk-file)", addr);
			goto out_delete;
		}
		if (strlen(addr) >= sizeof(u->controller[i])) {
			snprintf(err, err_size, "%.64s...: longer than %zu bytes", addr, sizeof(u->controller[i]) - 1);
			goto out_delete;
		}
		snprintf(u->controller[i], sizeof(u->controller[i]), "%s", addr);
	}
	if (!o->identity || !o->identity[0] || strlen(o->identity) > FM_COAP_IDENTITY_MAX) {
		snprintf(err, err_size, "the PSK identity (--psk-identity, else the node name) is empty or longer than %d bytes",
			 FM_COAP_IDENTITY_MAX);
		goto out_delete;
	}
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
	u->backoff_ms = u->probe_ms = u->retry_min_ms;
	u->next_tok = (uint16_t)(fm_now_ms() * 2654435761u >> 7);
	coap_context_t *ctx = fm_coap_context(c);
	coap_register_response_handler(ctx, on_response);
	coap_register_nack_handler(ctx, on_nack);
	coap_register_event_handler(ctx, on_event);
	for (size_t i = 0; i < u->n; i++) {
		if (u->uri[i].secure)
			fm_info("uplink: DTLS-PSK as '%s' to %s%s", u->identity, u->controller[i],
				coap_dtls_cid_is_supported() ? " (Connection ID asked for)" : "");
		else
			fm_warn("uplink: INSECURE: plain CoAP to %s (--insecure): diagnoses travel unauthenticated",
				u->controller[i]);
	}
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
	    (rc = fm_timer_init(loop, &u->poll_timer, on_poll)) < 0 ||
	    (rc = fm_timer_init(loop, &u->probe_timer, on_probe)) < 0)
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
	fm_timer_close(&(*u)->probe_timer);
	release(&(*u)->probe);
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
	return u ? u->controller[u->cur] : "(none)";
}
