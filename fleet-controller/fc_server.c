#include "fc_server.h"

#include "fc_keys.h"
#include "fc_relay.h"
#include "fc_store.h"
#include "fc_wire.h"
#include "fm_coap.h"
#include "fm_log.h"
#include "fm_report.h"
#include "fm_loop.h"

#include <coap3/coap.h>
#include <mbedtls/sha256.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* A live server session, tracked from libcoap's SERVER_SESSION_NEW to its
 * _DEL (libcoap has no way to walk them): what a key reload closes. */
struct sess {
	size_t idx; /* in fc_server.sess */
	bool seen;  /* its first request came (the handshake is done) */
};

/* A report's answer, held until the pass's transaction commits (see the
 * header): the app data of its coap_async_t; freed when answered. */
struct held {
	struct held *next, *prev; /* fc_server.live */
	coap_async_t *async;
	coap_mid_t mid; /* the request's: the answer is its ACK */
	bool con;
	uint64_t at_ms;	      /* when it came */
	coap_pdu_code_t code; /* the answer, set at the commit */
	char node[FC_KEYS_ID_MAX + 1];
	struct fc_report r; /* logged once committed, then freed */
	enum fc_store_outcome outcome;
	uint32_t gap_from, gap_to;
	bool insecure;
	int64_t arrived; /* s since the epoch: what the store is told */
};

struct fc_server {
	struct fm_loop *loop;
	struct fc_keys *keys;
	struct fc_store *store;
	bool insecure;
	struct fm_coap *coap;
	coap_context_t *ctx; /* borrowed from coap */
	struct fm_timer sweep;
	struct fc_relay *relay; /* NULL without a control socket */
	struct fc_server_counters c;
	uint8_t key[FM_COAP_PSK_MAX]; /* the key validate_id found last */
	coap_bin_const_t key_bin;
	char address[300];
	coap_session_t **sess;
	size_t nsess, capsess;
	bool closing;
	struct resync *resyncs; /* the nodes asked for their set lately */
	size_t nresyncs, capresyncs;
	struct held **pass; /* the reports stored in the pass's transaction */
	size_t npass, cappass;
	struct held *live; /* every held answer not yet sent */
	/* reports that came while the store's connection was lost, held
	 * unanswered until it is back (at most FC_SERVER_PARKED_MAX) */
	struct held **parked;
	size_t nparked, capparked;
	char id[FC_STORE_SERVE_ID_LEN + 1]; /* this serve's, in the store's serves */
	bool up;			    /* its row written */
	int64_t renewed;		    /* when alive_at was last renewed */
};

/* A node whose heartbeat's hash differed from the store's: asked for its
 * whole raised set (GET /diag) at most once per FC_SERVER_RESYNC_S. */
struct resync {
	char node[FC_KEYS_ID_MAX + 1];
	int64_t at;	    /* the last ask (0: never) */
	bool busy;	    /* its answer awaited */
	struct fc_server *s;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static const char *peer(const coap_session_t *session, char *buf, size_t size)
{
	const coap_address_t *a = coap_session_get_addr_remote(session);
	if (!a || !coap_print_addr(a, (unsigned char *)buf, size))
		snprintf(buf, size, "?");
	return buf;
}

/* An identity as it may be logged: printable ASCII, others as \xNN, cut. */
static const char *printable(const uint8_t *s, size_t len, char *buf, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < size; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[o++] = (char)s[i];
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", s[i]);
	}
	buf[o] = '\0';
	return buf;
}

static struct fc_server *server_of(coap_session_t *session)
{
	return fm_coap_owner(coap_session_get_context(session));
}

/* A key's fingerprint as the store keeps it (never the key): the first 8
 * bytes of its SHA-256 in hex. */
static void key_fp(const uint8_t *key, size_t len, char fp[17])
{
	uint8_t sum[32];
	mbedtls_sha256(key, len, sum, 0);
	for (int i = 0; i < 8; i++)
		snprintf(fp + 2 * i, 3, "%02x", sum[i]);
	explicit_bzero(sum, sizeof(sum));
}

/* The key to give identity's handshake (*len bytes), or NULL to refuse it.
 * A rotated node (a previous key in the file) gets the key it used last:
 * this serve's note, else the store's record of the key it last handshook
 * with (a restart forgets no more than the note), else the new one; after a
 * failure the other. When the store says it has handshaken with the new
 * one, the previous key is gone for good. */
static const uint8_t *key_for(struct fc_server *s, const uint8_t *identity, size_t id_len, size_t *len)
{
	struct fc_keys_pair p;
	if (!fc_keys_get(s->keys, identity, id_len, &p))
		return NULL;
	if (p.prev && p.note == FC_KEYS_NOTE_NONE) {
		char node[FC_KEYS_ID_MAX + 1], fp[17], seen[17];
		snprintf(node, sizeof(node), "%.*s", (int)id_len, (const char *)identity);
		char prev_fp[17];
		if (fc_store_key_seen(s->store, node, seen) == 0) {
			key_fp(p.key, p.len, fp);
			key_fp(p.prev, p.prev_len, prev_fp);
			if (strcmp(seen, fp) == 0) {
				fc_keys_forget_prev(s->keys, identity, id_len);
				p.prev = NULL;
			} else if (strcmp(seen, prev_fp) == 0) {
				p.note = FC_KEYS_NOTE_PREV;
			}
		}
	}
	if (p.prev && p.note == FC_KEYS_NOTE_PREV) {
		*len = p.prev_len;
		return p.prev;
	}
	*len = p.len;
	return p.key;
}

/* fm_coap's key lookup: the keystore's key for identity, or 0 to refuse it.
 * Used through validate_id below, which has the session. */
static size_t lookup(void *arg, const uint8_t *identity, size_t id_len, uint8_t *key)
{
	struct fc_server *s = arg;
	size_t len = 0;
	const uint8_t *k = key_for(s, identity, id_len, &len);
	if (!k || len > FM_COAP_PSK_MAX)
		return 0;
	memcpy(key, k, len);
	return len;
}

/* libcoap's server PSK callback, put in place of fm_coap's after
 * fm_coap_listen: fm_coap_psk_lookup_fn gets no session, and an unknown
 * identity must be logged with the peer's address (libcoap raises no
 * DTLS_ERROR event for a handshake refused at the identity). */
static const coap_bin_const_t *validate_id(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
	struct fc_server *s = arg;
	size_t len = identity ? lookup(s, identity->s, identity->length, s->key) : 0;
	if (!len) {
		char who[80], id[FC_KEYS_ID_MAX * 4 + 8] = "";
		if (identity)
			printable(identity->s, identity->length > 80 ? 80 : identity->length, id, sizeof(id));
		fm_warn("DTLS from %s refused: unknown PSK identity '%s'", peer(session, who, sizeof(who)), id);
		s->c.handshake_failures++;
		return NULL;
	}
	s->key_bin.s = s->key;
	s->key_bin.length = len;
	return &s->key_bin; /* libcoap copies it into the session */
}

static void track(struct fc_server *s, coap_session_t *session)
{
	if (s->nsess == s->capsess) {
		size_t cap = s->capsess ? 2 * s->capsess : 64;
		coap_session_t **n = realloc(s->sess, cap * sizeof(*n));
		if (!n)
			return; /* untracked: a reload cannot close it; it idles out */
		s->sess = n;
		s->capsess = cap;
	}
	struct sess *t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->idx = s->nsess;
	s->sess[s->nsess++] = session;
	coap_session_set_app_data(session, t);
}

static void untrack(struct fc_server *s, coap_session_t *session)
{
	struct sess *t = coap_session_get_app_data(session);
	if (!t)
		return;
	coap_session_set_app_data(session, NULL);
	coap_session_t *last = s->sess[--s->nsess];
	if (last != session) {
		s->sess[t->idx] = last;
		((struct sess *)coap_session_get_app_data(last))->idx = t->idx;
	}
	free(t);
}

/* Closes session (a close_notify goes to the node; libcoap frees it once
 * nothing holds it). */
static void close_session(struct fc_server *s, coap_session_t *session, const char *node, const char *why)
{
	char who[80];
	fm_notice("node %s: DTLS session with %s closed: %s", node, peer(session, who, sizeof(who)), why);
	s->c.sessions_closed++;
	if (s->relay)
		fc_relay_forget(s->relay, node, session);
	untrack(s, session);
	coap_session_disconnected(session, COAP_NACK_NOT_DELIVERABLE);
}

/* Whether the session's key is one the keystore takes for node now. */
static bool key_still_good(struct fc_server *s, coap_session_t *session, const char *node)
{
	const coap_bin_const_t *k = coap_session_get_psk_key(session);
	struct fc_keys_pair p;
	if (!k || !fc_keys_get(s->keys, node, strlen(node), &p))
		return false;
	if (k->length == p.len && memcmp(k->s, p.key, p.len) == 0)
		return true;
	return p.prev && k->length == p.prev_len && memcmp(k->s, p.prev, p.prev_len) == 0;
}

/* A session's handshake done (its first request): for a rotated node, which
 * key it used decides the next handshake's, and the new one retires the
 * previous key (in the store, so a restart keeps it retired) and closes
 * the node's sessions made with it. */
static void key_taken(struct fc_server *s, coap_session_t *session, const char *node)
{
	struct fc_keys_pair p;
	const coap_bin_const_t *k = coap_session_get_psk_key(session);
	if (!k || !fc_keys_get(s->keys, node, strlen(node), &p) || !p.prev)
		return;
	size_t n = strlen(node);
	char fp[17];
	if (k->length == p.prev_len && memcmp(k->s, p.prev, p.prev_len) == 0) {
		/* still the old key: offered first from now on, also after a
		 * restart of serve */
		fc_keys_set_note(s->keys, node, n, FC_KEYS_NOTE_PREV);
		key_fp(p.prev, p.prev_len, fp);
		fc_store_set_key_seen(s->store, node, fp, now_s());
		return;
	}
	key_fp(p.key, p.len, fp);
	if (fc_store_set_key_seen(s->store, node, fp, now_s()) < 0)
		return; /* tried again at its next handshake */
	fc_keys_forget_prev(s->keys, node, n);
	fm_notice("node %s has handshaken with its new key: the previous one no longer works", node);
	for (size_t i = 0; i < s->nsess;) {
		coap_session_t *o = s->sess[i];
		char id[FC_KEYS_ID_MAX + 1];
		if (o != session && fm_coap_session_identity(o, id, sizeof(id)) && strcmp(id, node) == 0 &&
		    !key_still_good(s, o, node))
			close_session(s, o, node, "made with the previous key");
		else
			i++;
	}
}

int fc_server_set_keys(struct fc_server *s, struct fc_keys *keys)
{
	s->keys = keys;
	int closed = 0;
	for (size_t i = 0; i < s->nsess;) {
		coap_session_t *o = s->sess[i];
		char id[FC_KEYS_ID_MAX + 1];
		size_t len;
		/* a handshake that failed already is libcoap's to free */
		if (coap_session_get_proto(o) != COAP_PROTO_DTLS || coap_session_get_state(o) == COAP_SESSION_STATE_NONE ||
		    !fm_coap_session_identity(o, id, sizeof(id))) {
			i++;
			continue;
		}
		if (!fc_keys_find(keys, id, strlen(id), &len)) {
			close_session(s, o, id, "the node is no longer in the keys file (revoked)");
			closed++;
		} else if (!key_still_good(s, o, id)) {
			close_session(s, o, id, "its key was replaced (enroll --rotate --now)");
			closed++;
		} else {
			i++;
		}
	}
	return closed;
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
	char who[80], id[FC_KEYS_ID_MAX * 4 + 8] = "";
	const coap_bin_const_t *ident;
	switch (event) {
	case COAP_EVENT_SERVER_SESSION_NEW: {
		struct fc_server *s = server_of(session);
		if (s && !s->closing)
			track(s, session);
		break;
	}
	case COAP_EVENT_SERVER_SESSION_DEL: {
		struct fc_server *s = server_of(session);
		if (s && !s->closing)
			untrack(s, session);
		break;
	}
	case COAP_EVENT_DTLS_ERROR: {
		struct fc_server *s = server_of(session);
		size_t len;
		/* libcoap records the identity the client gave before it asks
		 * for the key, so a refused one is known here */
		ident = coap_session_get_psk_identity(session);
		if (ident)
			printable(ident->s, ident->length > 80 ? 80 : ident->length, id, sizeof(id));
		/* an unknown identity was logged by validate_id */
		if (!ident || fc_keys_find(s->keys, ident->s, ident->length, &len)) {
			struct fc_keys_pair p;
			const coap_bin_const_t *k = coap_session_get_psk_key(session);
			/* a rotated node: the other key than this one next time */
			if (ident && k && fc_keys_get(s->keys, ident->s, ident->length, &p) && p.prev)
				fc_keys_set_note(s->keys, ident->s, ident->length,
						 k->length == p.prev_len && memcmp(k->s, p.prev, p.prev_len) == 0
						     ? FC_KEYS_NOTE_CURRENT
						     : FC_KEYS_NOTE_PREV);
			s->c.handshake_failures++;
			fm_warn("DTLS handshake with %s (PSK identity '%s') failed: wrong key, or not our protocol",
				peer(session, who, sizeof(who)), id);
		}
		break;
	}
	default:
		break;
	}
	return 0;
}

/* The node's session is this serve's now (several serves on one store:
 * fc_peers relays triage to the serve that holds it). */
static void hold_session(struct fc_server *s, const char *node)
{
	if (s->up && fc_store_hold(s->store, node, s->id, now_s()) < 0)
		fm_warn("node %s: cannot record in the store that this serve holds its session", node);
}

/* The serve's row: written at the start, renewed every
 * FC_STORE_SERVE_RENEW_S, written again when it is gone (a store that was
 * down, or rows removed behind serve's back). */
static void serve_alive(struct fc_server *s)
{
	int64_t now = now_s();
	if (s->up && now - s->renewed < FC_STORE_SERVE_RENEW_S)
		return;
	int rc = s->up ? fc_store_serve_alive(s->store, s->id, now) : -ENOENT;
	if (rc == -ENOENT) {
		char host[256] = "?";
		gethostname(host, sizeof(host) - 1);
		rc = fc_store_serve_up(s->store, s->id, host, s->address, now);
		if (rc == 0 && !s->up)
			fm_info("this serve is %s in the store's serves", s->id);
		s->up = rc == 0;
	}
	if (rc == 0)
		s->renewed = now;
}

/* The node a request is about (see the header). false: answered already. */
static bool node_of(struct fc_server *s, coap_session_t *session, const coap_string_t *query,
		    coap_pdu_t *response, char node[FC_KEYS_ID_MAX + 1])
{
	if (coap_session_get_proto(session) == COAP_PROTO_DTLS) {
		size_t len = 0;
		/* the handshake only succeeds for a keystore identity, so this
		 * holds; checked all the same, as the name goes into SQL */
		if (fm_coap_session_identity(session, node, FC_KEYS_ID_MAX + 1) &&
		    fc_keys_find(s->keys, node, strlen(node), &len)) {
			/* libcoap (4.3.5, Mbed TLS) raises DTLS_CONNECTED for
			 * client sessions only: a server session's first
			 * request is where its handshake is known done */
			struct sess *t = coap_session_get_app_data(session);
			if (!t || !t->seen) {
				char who[80];
				fm_info("DTLS session with %s as '%s' (%s, %d-byte records in)",
					peer(session, who, sizeof(who)), node,
					fm_coap_session_cipher(session),
					fm_coap_session_record_max(session));
				if (t)
					t->seen = true;
				s->c.handshakes++;
				key_taken(s, session, node);
				hold_session(s, node);
			}
			return true;
		}
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_UNAUTHORIZED);
		return false;
	}
	/* insecure: "n=NODE" */
	char who[80];
	size_t len = 0;
	int n = query ? fc_wire_query(query->s, query->length, "n", node, FC_KEYS_ID_MAX + 1) : -1;
	if (n > 0 && fc_keys_find(s->keys, node, (size_t)n, &len)) {
		fm_warn("insecure request from %s for node %s (plain CoAP: anyone could have sent it)",
			peer(session, who, sizeof(who)), node);
		return true;
	}
	fm_warn("insecure request from %s refused: no known node in its query (n=NODE)",
		peer(session, who, sizeof(who)));
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_UNAUTHORIZED);
	return false;
}

static void answer_text(coap_pdu_t *response, coap_pdu_code_t code, const char *text)
{
	coap_pdu_set_code(response, code);
	if (text && *text)
		coap_add_data(response, strlen(text), (const uint8_t *)text);
}

static void answer_json(coap_pdu_t *response, coap_pdu_code_t code, const char *json)
{
	uint8_t buf[4];
	coap_pdu_set_code(response, code);
	coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
			coap_encode_var_safe(buf, sizeof(buf), COAP_MEDIATYPE_APPLICATION_JSON), buf);
	coap_add_data(response, strlen(json), (const uint8_t *)json);
}

/* The request's body: false when answered already (too large, not JSON). */
static bool body_of(const coap_pdu_t *request, coap_pdu_t *response, const uint8_t **data, size_t *len)
{
	coap_opt_iterator_t it;
	coap_opt_t *cf = coap_check_option(request, COAP_OPTION_CONTENT_FORMAT, &it);
	if (cf && coap_decode_var_bytes(coap_opt_value(cf), coap_opt_length(cf)) !=
			  COAP_MEDIATYPE_APPLICATION_JSON) {
		answer_text(response, COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT,
			    "content-format must be 50 (application/json)");
		return false;
	}
	size_t offset = 0, total = 0;
	*data = NULL;
	*len = 0;
	if (!coap_get_data_large(request, len, data, &offset, &total)) {
		*data = (const uint8_t *)"";
		*len = 0;
	} else if (offset != 0 || total != *len || total > FC_WIRE_PAYLOAD_MAX) {
		answer_text(response, COAP_RESPONSE_CODE_REQUEST_TOO_LARGE, "payload over 1024 bytes");
		return false;
	}
	return true;
}

static void resync_done(void *ctx, const char *code, const char *payload, size_t len, const char *error)
{
	struct resync *r = ctx;
	struct fc_server *s = r->s;
	r->busy = false;
	r->at = now_s();
	if (error || !code || strcmp(code, "2.05") != 0) {
		fm_warn("node %s: resync: GET /diag failed: %s", r->node, error ? error : code ? code : "no answer");
		return;
	}
	cJSON *set = cJSON_ParseWithLength(payload, len);
	cJSON *items = cJSON_CreateArray();
	struct fc_diag d[FC_WIRE_DIAG_MAX];
	size_t n = 0;
	char why[200] = "";
	const cJSON *it;
	if (!cJSON_IsArray(set)) {
		snprintf(why, sizeof(why), "the answer is not a JSON array");
		goto out;
	}
	/* the set as the node's reports carry it (compact keys, evidence
	 * cut as they cut it), checked as a report's items are */
	cJSON_ArrayForEach(it, set)
	{
		if (n == FC_WIRE_DIAG_MAX) {
			snprintf(why, sizeof(why), "more than %d diagnoses", FC_WIRE_DIAG_MAX);
			goto out;
		}
		cJSON *change = cJSON_Duplicate(it, true);
		if (!change || !cJSON_AddStringToObject(change, "change", "raised")) {
			cJSON_Delete(change);
			snprintf(why, sizeof(why), "out of memory");
			goto out;
		}
		cJSON *item = fm_report_item(change);
		cJSON_Delete(change);
		if (!item || !cJSON_AddItemToArray(items, item)) {
			cJSON_Delete(item);
			snprintf(why, sizeof(why), "diagnosis %zu is not one", n);
			goto out;
		}
		if (fc_wire_diag(item, (int)n, &d[n], why, sizeof(why)) < 0)
			goto out;
		n++;
	}
	unsigned raised, resolved;
	char hash[9];
	if (fc_store_resync(s->store, r->node, d, n, now_s(), &raised, &resolved, hash) < 0) {
		snprintf(why, sizeof(why), "the store refused it");
		goto out;
	}
	fm_notice("node %s: resync: %zu diagnoses on the node; %u raised or changed, %u resolved here; the set's "
		  "hash is %s",
		  r->node, n, raised, resolved, hash);
out:
	if (why[0])
		fm_warn("node %s: resync: the answer to GET /diag is refused: %s", r->node, why);
	cJSON_Delete(items);
	cJSON_Delete(set);
}

/* The entry of node (made when missing; NULL when all are busy). */
static struct resync *resync_entry(struct fc_server *s, const char *node)
{
	for (size_t i = 0; i < s->nresyncs; i++)
		if (strcmp(s->resyncs[i].node, node) == 0)
			return &s->resyncs[i];
	/* requests in flight point to entries: the array never moves */
	if (!s->resyncs && !(s->resyncs = calloc(FC_SERVER_RESYNC_MAX, sizeof(*s->resyncs))))
		return NULL;
	struct resync *r = NULL;
	if (s->nresyncs < FC_SERVER_RESYNC_MAX) {
		r = &s->resyncs[s->nresyncs++];
	} else {
		/* full: the idle entry used longest ago makes room */
		for (size_t i = 0; i < s->nresyncs; i++)
			if (!s->resyncs[i].busy && (!r || s->resyncs[i].at < r->at))
				r = &s->resyncs[i];
		if (!r)
			return NULL;
	}
	*r = (struct resync){.s = s};
	snprintf(r->node, sizeof(r->node), "%s", node);
	return r;
}

/* The node's set differs from the store's: ask it for the whole set over
 * its session (PROTOCOL.md, "The set hash"), unless reports still wait in
 * its queue ("u": a queue draining after an outage; the set is compared
 * again once they are delivered). A node whose q is past the store's with
 * nothing waiting had reports acknowledged that the store lost (restored
 * from an older copy): asked too. */
static void resync(struct fc_server *s, const char *node, const struct fc_hb *hb, const char *hash)
{
	struct resync *r;
	if (!s->relay || hb->waiting || !(r = resync_entry(s, node)))
		return;
	int64_t now = now_s();
	if (r->busy || (r->at && now - r->at < FC_SERVER_RESYNC_S))
		return;
	struct fc_relay_request req = {.timeout_ms = 30000};
	snprintf(req.node, sizeof(req.node), "%s", node);
	snprintf(req.path, sizeof(req.path), "diag");
	fm_notice("node %s: its raised set (%s) differs from the stored one (%s): asking it for the whole set",
		  node, hb->h, hash);
	r->busy = true;
	r->at = now;
	if (fc_relay_submit(s->relay, &req, resync_done, r) < 0)
		r->busy = false;
	else
		s->c.resyncs++;
}

static void on_hb(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
		  const coap_string_t *query, coap_pdu_t *response)
{
	(void)resource;
	struct fc_server *s = server_of(session);
	char node[FC_KEYS_ID_MAX + 1], why[160], hash[9];
	const uint8_t *data;
	size_t len;
	struct fc_hb hb;
	bool back = false;
	if (!node_of(s, session, query, response, node) || !body_of(request, response, &data, &len))
		return;
	if (fc_wire_hb(data, len, &hb, why, sizeof(why)) < 0) {
		fm_notice("heartbeat from %s refused: %s", node, why);
		answer_text(response, COAP_RESPONSE_CODE_BAD_REQUEST, why);
		return;
	}
	/* in the pass's transaction (answered at once all the same: the
	 * answer promises nothing stored) */
	fc_store_batch_begin(s->store);
	if (fc_store_heartbeat(s->store, node, &hb, s->insecure, now_s(), &back, hash) < 0) {
		answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot store");
		return;
	}
	if (back)
		fm_notice("node %s is reachable again", node);
	/* a bare heartbeat says what the last one with a payload said */
	struct fc_hb said = hb;
	if ((!hb.bare || fc_store_node_said(s->store, node, &said) == 0) && strcmp(hash, said.h) != 0)
		resync(s, node, &said, hash);
	unsigned waiting = s->relay ? fc_relay_seen(s->relay, node, session) : 0;
	if (waiting) {
		/* queue mode: the node keeps the path open until served */
		char t[32];
		snprintf(t, sizeof(t), "{\"t\":%u}", waiting);
		answer_json(response, COAP_RESPONSE_CODE_CHANGED, t);
		return;
	}
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
}

/* The report just committed, one line per item, with the CLOCK_MONOTONIC
 * instant of the commit: on the same machine it compares with the clock of
 * whatever injected the fault (bench/latency.c measures fault to stored
 * diagnosis with it); otherwise it says what changed for a node and when. */
static void log_stored(const char *node, const struct fc_report *r)
{
	static const char *const sev[] = {"?", "info", "warning", "critical"};
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long us = (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
	fm_info("node %s: report %u stored (%zu raised or changed, %zu resolved) at monotonic %llu us", node, r->q,
		r->nd, r->nr, us);
	for (size_t i = 0; i < r->nd; i++)
		fm_info("node %s: report %u: %s %s now %s at monotonic %llu us", node, r->q, r->d[i].code,
			r->d[i].key, sev[r->d[i].severity >= 1 && r->d[i].severity <= 3 ? r->d[i].severity : 0], us);
	for (size_t i = 0; i < r->nr; i++)
		fm_info("node %s: report %u: %s %s now resolved at monotonic %llu us", node, r->q, r->r[i].code,
			r->r[i].key, us);
}

/* A report's outcome, once its transaction has committed: logged and
 * counted. */
static void committed(struct fc_server *s, const char *node, struct fc_report *r,
		      enum fc_store_outcome outcome, uint32_t gap_from, uint32_t gap_to,
		      bool insecure)
{
	if (gap_from)
		fm_warn("node %s: reports %u..%u never arrived (got %u)", node, gap_from, gap_to,
			r->q);
	if (outcome == FC_STORE_DUPLICATE) {
		fm_info("node %s: report %u stored before, not again", node, r->q);
		s->c.reports_duplicate++;
	} else {
		log_stored(node, r);
		s->c.reports++;
	}
	if (r->insecure || insecure)
		fm_warn("node %s: report %u came over an insecure session", node, r->q);
}

static void unlink_held(struct fc_server *s, struct held *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		s->live = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

/* Holds request's answer in the list *list (the pass's, or the parked)
 * until it is released: NULL when libcoap or memory cannot. */
/* Room in *list (n used, cap allocated) for more held answers. */
static bool room(struct held ***list, size_t n, size_t *cap, size_t more)
{
	if (n + more <= *cap)
		return true;
	size_t c = *cap ? *cap : 64;
	while (c < n + more)
		c *= 2;
	struct held **l = realloc(*list, c * sizeof(*l));
	if (!l)
		return false;
	*list = l;
	*cap = c;
	return true;
}

static struct held *hold_in(struct fc_server *s, coap_session_t *session, const coap_pdu_t *request,
			    struct held ***list, size_t *n, size_t *cap)
{
	if (!room(list, *n, cap, 1))
		return NULL;
	struct held *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	/* delay 0: until coap_async_trigger; a retransmission meanwhile is
	 * answered by libcoap with an empty ACK */
	h->async = coap_register_async(session, request, 0);
	if (!h->async) {
		free(h);
		return NULL;
	}
	coap_async_set_app_data(h->async, h);
	h->mid = coap_pdu_get_mid(request);
	h->con = coap_pdu_get_type(request) == COAP_MESSAGE_CON;
	h->at_ms = fm_now_ms();
	h->arrived = now_s();
	h->next = s->live;
	if (s->live)
		s->live->prev = h;
	s->live = h;
	(*list)[(*n)++] = h;
	return h;
}

/* Holds request's answer until the pass's transaction commits: NULL when
 * libcoap or memory cannot (the caller then commits and answers now). */
static struct held *hold(struct fc_server *s, coap_session_t *session, const coap_pdu_t *request)
{
	return hold_in(s, session, request, &s->pass, &s->npass, &s->cappass);
}

/* Room in the parked list for n more (see the header). */
static bool park_room(struct fc_server *s, size_t n)
{
	if (s->nparked + n > FC_SERVER_PARKED_MAX || !room(&s->parked, s->nparked, &s->capparked, n))
		return false;
	if (!s->nparked)
		fm_warn("store: the connection is lost: reports are held, unanswered, until it is back (at most %d)",
			FC_SERVER_PARKED_MAX);
	return true;
}

/* A report whose store is gone, held unanswered in s->parked. NULL when
 * full (it is then answered 5.03). */
static struct held *park(struct fc_server *s, coap_session_t *session, const coap_pdu_t *request)
{
	return park_room(s, 1) ? hold_in(s, session, request, &s->parked, &s->nparked, &s->capparked) : NULL;
}

/* The parked reports stored, once the store is back: in one transaction;
 * answered 2.04 once it has committed (5.00: a report the store refused
 * for another reason). Parked again when the connection went again. */
static void flush_parked(struct fc_server *s)
{
	if (!s->nparked || fc_store_lost(s->store) || fc_store_batch_open(s->store))
		return;
	size_t n = s->nparked;
	bool *bad = calloc(n, sizeof(*bad));
	if (!bad || fc_store_batch_begin(s->store) < 0) {
		free(bad);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct held *h = s->parked[i];
		bad[i] = fc_store_report(s->store, h->node, &h->r, h->insecure, h->arrived, &h->outcome, &h->gap_from,
					 &h->gap_to) < 0;
	}
	int rc = fc_store_batch_commit(s->store);
	if (rc < 0 && fc_store_lost(s->store)) {
		free(bad); /* all of them again, when it is back */
		return;
	}
	fm_notice("store: back; %zu held report(s) %s", n, rc == 0 ? "stored and answered" : "could not be stored");
	for (size_t i = 0; i < n; i++) {
		struct held *h = s->parked[i];
		bool ok = rc == 0 && !bad[i];
		h->code = ok ? COAP_RESPONSE_CODE_CHANGED : COAP_RESPONSE_CODE_INTERNAL_ERROR;
		if (ok)
			committed(s, h->node, &h->r, h->outcome, h->gap_from, h->gap_to, h->insecure);
		fc_wire_report_free(&h->r);
		coap_async_trigger(h->async);
	}
	s->nparked = 0;
	free(bad);
	fm_coap_process(s->coap);
}

/* The pass's end (fm_coap's pass hook; also before GET /me reads the
 * store): its transaction commits, then every answer held for it is
 * released; libcoap sends them before the loop sleeps. */
static int commit_pass(struct fc_server *s)
{
	int rc = fc_store_batch_commit(s->store);
	if (rc < 0 && s->npass && fc_store_lost(s->store) && park_room(s, s->npass)) {
		/* the connection went with the transaction: nothing of it is
		 * acknowledged; stored again (a duplicate if it had committed
		 * after all) once the store is back */
		for (size_t i = 0; i < s->npass; i++)
			s->parked[s->nparked++] = s->pass[i];
		s->npass = 0;
		return rc;
	}
	if (rc < 0 && s->npass)
		fm_err("store: %zu reports could not be committed: none acknowledged (their nodes "
		       "send them again)",
		       s->npass);
	for (size_t i = 0; i < s->npass; i++) {
		struct held *h = s->pass[i];
		h->code = rc == 0 ? COAP_RESPONSE_CODE_CHANGED : COAP_RESPONSE_CODE_INTERNAL_ERROR;
		if (rc == 0)
			committed(s, h->node, &h->r, h->outcome, h->gap_from, h->gap_to,
				  h->insecure);
		fc_wire_report_free(&h->r);
		coap_async_trigger(h->async);
	}
	s->npass = 0;
	return rc;
}

static void on_pass(struct fm_coap *c, void *arg)
{
	(void)c;
	commit_pass(arg);
	flush_parked(arg);
}

/* libcoap's second call for a held report, after coap_async_trigger: the
 * answer decided at the commit, as the request's piggybacked ACK when it
 * is still in time (see the header), else libcoap's CON. */
static void answer_held(struct fc_server *s, struct held *h, coap_pdu_t *response)
{
	if (h->code == COAP_RESPONSE_CODE_CHANGED)
		coap_pdu_set_code(response, h->code);
	else
		answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot store");
	if (h->con && fm_now_ms() - h->at_ms <= FC_SERVER_PIGGYBACK_MS) {
		coap_pdu_set_type(response, COAP_MESSAGE_ACK);
		coap_pdu_set_mid(response, h->mid);
	}
	coap_async_set_app_data(h->async, NULL);
	unlink_held(s, h);
	free(h);
}

static void on_rp(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
		  const coap_string_t *query, coap_pdu_t *response)
{
	(void)resource;
	struct fc_server *s = server_of(session);
	char node[FC_KEYS_ID_MAX + 1], why[160];
	const uint8_t *data;
	size_t len;
	struct fc_report r;
	/* held, now released: the same request once more, from libcoap */
	coap_async_t *async = coap_find_async(session, coap_pdu_get_token(request));
	struct held *h = async ? coap_async_get_app_data(async) : NULL;
	if (h && h->code) {
		answer_held(s, h, response);
		return;
	}
	if (!node_of(s, session, query, response, node) || !body_of(request, response, &data, &len))
		return;
	if (s->relay)
		fc_relay_seen(s->relay, node, session);
	if (fc_wire_report(data, len, &r, why, sizeof(why)) < 0) {
		fm_notice("report from %s refused: %s", node, why);
		answer_text(response, COAP_RESPONSE_CODE_BAD_REQUEST, why);
		return;
	}
	enum fc_store_outcome outcome;
	uint32_t gap_from, gap_to;
	/* the store's connection lost (or reports held for it already, which
	 * a later one must not pass): held until it is back (see the header) */
	bool lost = s->nparked || fc_store_lost(s->store), batch = false;
	int rc = -EIO;
	if (!lost) {
		batch = fc_store_batch_begin(s->store) == 0;
		rc = fc_store_report(s->store, node, &r, s->insecure, now_s(), &outcome, &gap_from, &gap_to);
		lost = rc < 0 && fc_store_lost(s->store);
	}
	if (lost && (h = park(s, session, request))) {
		snprintf(h->node, sizeof(h->node), "%s", node);
		h->r = r; /* h owns it now */
		h->insecure = s->insecure;
		coap_pdu_set_type(response, COAP_MESSAGE_NON); /* nothing to send now */
		return;
	}
	if (lost) {
		answer_text(response, COAP_RESPONSE_CODE(503), "store unreachable");
		fc_wire_report_free(&r);
		return;
	}
	if (rc < 0) {
		/* not acknowledged: the agent keeps it queued and sends it again */
		answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot store");
		fc_wire_report_free(&r);
		return;
	}
	if (batch && (h = hold(s, session, request))) {
		snprintf(h->node, sizeof(h->node), "%s", node);
		h->r = r; /* h owns it now */
		h->outcome = outcome;
		h->gap_from = gap_from;
		h->gap_to = gap_to;
		h->insecure = s->insecure;
		/* nothing to send now: an empty non-confirmable response is
		 * dropped by libcoap (no_response()), so the request's ACK
		 * waits for the answer */
		coap_pdu_set_type(response, COAP_MESSAGE_NON);
		return;
	}
	/* cannot hold it: the pass's transaction commits now (and the
	 * answers held for it go), then this one is answered */
	if (commit_pass(s) < 0) {
		answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot store");
	} else {
		committed(s, node, &r, outcome, gap_from, gap_to, s->insecure);
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
	}
	fc_wire_report_free(&r);
}

static void on_me(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
		  const coap_string_t *query, coap_pdu_t *response)
{
	(void)resource;
	(void)request;
	struct fc_server *s = server_of(session);
	char node[FC_KEYS_ID_MAX + 1], hash[9], json[64], board[FC_WIRE_BOARD_MAX + 1];
	uint32_t q;
	if (!node_of(s, session, query, response, node))
		return;
	/* "b=BOARD": what the node runs on, once a session (PROTOCOL.md);
	 * FC_WIRE_BOARD_MAX (32) bytes at most */
	int blen = query ? fc_wire_query(query->s, query->length, "b", board, sizeof(board)) : -1;
	if (blen != -1 && !(blen > 0 && fc_wire_board_ok(board))) {
		answer_text(response, COAP_RESPONSE_CODE_BAD_REQUEST,
			    "b: a board id is 1 to 32 of [A-Za-z0-9._-]");
		return;
	}
	if (s->relay)
		fc_relay_seen(s->relay, node, session);
	/* the q said must be committed: the node drops what it holds up to it */
	commit_pass(s);
	if (fc_store_me(s->store, node, blen > 0 ? board : NULL, now_s(), &q, hash) < 0) {
		answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot read the store");
		return;
	}
	snprintf(json, sizeof(json), "{\"q\":%u,\"h\":\"%s\"}", q, hash);
	answer_json(response, COAP_RESPONSE_CODE_CONTENT, json);
}

static void on_silent(const char *node, int64_t silent_s, void *arg)
{
	(void)arg;
	fm_warn("node %s is unreachable: no heartbeat for %llds (%d intervals)", node, (long long)silent_s,
		FC_STORE_MISSED_MAX);
}

static void on_sweep(struct fm_timer *t)
{
	struct fc_server *s = container_of(t, struct fc_server, sweep);
	flush_parked(s);
	serve_alive(s);
	fc_store_sweep(s->store, now_s(), on_silent, s);
	if (s->relay)
		fc_relay_tick(s->relay);
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
				   const coap_pdu_t *received, const coap_mid_t mid)
{
	(void)sent;
	(void)mid;
	struct fc_server *s = server_of(session);
	if (s && s->relay)
		fc_relay_response(s->relay, received);
	return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
		    const coap_mid_t mid)
{
	(void)mid;
	struct fc_server *s = server_of(session);
	if (s && s->relay)
		fc_relay_nack(s->relay, sent, reason);
}

static int add_resource(coap_context_t *ctx, const char *path, coap_request_t method,
			coap_method_handler_t fn)
{
	coap_resource_t *r = coap_resource_init(coap_make_str_const(path), 0);
	if (!r)
		return -ENOMEM;
	coap_register_request_handler(r, method, fn);
	coap_add_resource(ctx, r);
	return 0;
}

/* The answers' classes, counted (GET /metrics). */
static void tally(coap_session_t *session, const coap_pdu_t *response)
{
	struct fc_server *s = server_of(session);
	int cls = COAP_RESPONSE_CLASS(coap_pdu_get_code(response));
	s->c.refused += cls == 4;
	s->c.store_errors += cls == 5;
}

static void on_hb_counted(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
			  const coap_string_t *query, coap_pdu_t *response)
{
	server_of(session)->c.heartbeats++;
	on_hb(resource, session, request, query, response);
	tally(session, response);
}

static void on_rp_counted(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
			  const coap_string_t *query, coap_pdu_t *response)
{
	on_rp(resource, session, request, query, response);
	tally(session, response);
}

static void on_me_counted(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
			  const coap_string_t *query, coap_pdu_t *response)
{
	on_me(resource, session, request, query, response);
	tally(session, response);
}

struct fc_server *fc_server_new(struct fm_loop *loop, const struct fc_server_conf *conf, char *why,
				size_t size)
{
	struct fc_server *s = calloc(1, sizeof(*s));
	if (!s) {
		fc_why(why, size, -1, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->keys = conf->keys;
	s->store = conf->store;
	s->insecure = conf->insecure;
	s->sweep = (struct fm_timer)FM_TIMER_INIT;
	snprintf(s->address, sizeof(s->address), "%s", conf->listen);

	char host[256];
	uint16_t port;
	if (fm_coap_parse_hostport(conf->listen, host, sizeof(host), &port, why, size) < 0) {
		fc_why(why, size, -1, "--listen %s: give HOST:PORT ([ADDR]:PORT for IPv6), the port 1..65535",
		     conf->listen);
		goto fail;
	}
	s->coap = fm_coap_new(loop);
	if (!s->coap) {
		fc_why(why, size, -1, "cannot make a CoAP context: %s", strerror(errno));
		goto fail;
	}
	fm_coap_set_owner(s->coap, s);
	fm_coap_set_pass(s->coap, on_pass, s);
	s->ctx = fm_coap_context(s->coap);
	/* libcoap frees an idle server session after 300 s: two heartbeats
	 * lost in a row (they are non-confirmable) would then cost the node a
	 * new handshake, ~1.2 kB, a third of its hourly budget. */
	coap_context_set_session_timeout(s->ctx, FC_SERVER_SESSION_IDLE_S);
	coap_register_event_handler(s->ctx, on_event);
	coap_register_response_handler(s->ctx, on_response);
	coap_register_nack_handler(s->ctx, on_nack);
	if (!conf->insecure && !coap_dtls_is_supported()) {
		fc_why(why, size, -1, "libcoap was built without DTLS");
		goto fail;
	}
	if (add_resource(s->ctx, "hb", COAP_REQUEST_POST, on_hb_counted) < 0 ||
	    add_resource(s->ctx, "rp", COAP_REQUEST_POST, on_rp_counted) < 0 ||
	    add_resource(s->ctx, "me", COAP_REQUEST_GET, on_me_counted) < 0) {
		fc_why(why, size, -1, "out of memory");
		goto fail;
	}
	char err[300];
	int rc = fm_coap_listen(s->coap, host, port, conf->insecure ? NULL : lookup, s, err, sizeof(err));
	if (rc < 0) {
		fc_why(why, size, -1, "--listen %s: %s", conf->listen, err);
		goto fail;
	}
	coap_dtls_spsk_t psk = {.version = COAP_DTLS_SPSK_SETUP_VERSION,
				.validate_id_call_back = validate_id,
				.id_call_back_arg = s};
	if (!conf->insecure && !coap_context_set_psk2(s->ctx, &psk)) {
		fc_why(why, size, -1, "libcoap refused the PSK set-up");
		goto fail;
	}
	if (conf->control && !(s->relay = fc_relay_new(loop, s->coap, conf->control, why, size)))
		goto fail;
	uint8_t rnd[FC_STORE_SERVE_ID_LEN / 2];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		fc_why(why, size, -1, "getrandom: %s", strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	serve_alive(s);
	unsigned every = conf->sweep_ms ? conf->sweep_ms : 1000;
	if ((rc = fm_timer_init(loop, &s->sweep, on_sweep)) < 0 || (rc = fm_timer_arm(&s->sweep, every, every)) < 0) {
		fc_why(why, size, -1, "cannot make the sweep timer: %s", strerror(-rc));
		goto fail;
	}
	if (conf->insecure)
		fm_warn("serving PLAIN CoAP on %s (--insecure): no authentication, no encryption; nodes "
			"name themselves with ?n=NODE",
			s->address);
	else
		fm_notice("serving CoAP over DTLS-PSK on %s, %zu node keys, Connection ID %s", s->address,
			  fc_keys_count(s->keys), coap_dtls_cid_is_supported() ? "supported" : "not supported");
	return s;
fail:
	fc_server_delete(&s);
	return NULL;
}

void fc_server_counters(const struct fc_server *s, struct fc_server_counters *out)
{
	*out = s->c;
	/* the relay counts the resyncs' requests too: they are not triage */
	out->triage_requests = fc_relay_requests(s->relay) - s->c.resyncs;
}

void fc_server_delete(struct fc_server **ps)
{
	if (!ps || !*ps)
		return;
	struct fc_server *s = *ps;
	for (size_t i = 0; i < s->nsess; i++) {
		free(coap_session_get_app_data(s->sess[i]));
		coap_session_set_app_data(s->sess[i], NULL);
	}
	s->nsess = 0;
	s->closing = true;
	/* what the last pass wrote (heartbeats: every report's answer was
	 * released in its pass); answers still held cannot go any more */
	if (s->store) {
		fc_store_batch_commit(s->store);
		if (s->up && fc_store_serve_down(s->store, s->id, now_s()) < 0)
			fm_warn("cannot remove this serve's row from the store (others take it for dead in %d s)",
				FC_STORE_SERVE_DEAD_S);
	}
	while (s->live) {
		struct held *h = s->live;
		unlink_held(s, h);
		coap_async_set_app_data(h->async, NULL);
		fc_wire_report_free(&h->r);
		free(h);
	}
	fm_timer_close(&s->sweep);
	fc_relay_delete(&s->relay);
	fm_coap_delete(&s->coap);
	free(s->resyncs);
	free(s->pass);
	free(s->parked);
	free(s->sess);
	free(s);
	*ps = NULL;
}

const char *fc_server_address(const struct fc_server *s)
{
	return s->address;
}

const char *fc_server_id(const struct fc_server *s)
{
	return s->id;
}

struct fc_relay *fc_server_relay(struct fc_server *s)
{
	return s ? s->relay : NULL;
}
