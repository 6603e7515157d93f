#include "fc_server.h"

#include "fc_keys.h"
#include "fc_store.h"
#include "fc_wire.h"
#include "fm_coap.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <coap3/coap.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fc_server {
	struct fm_loop *loop;
	const struct fc_keys *keys;
	struct fc_store *store;
	bool insecure;
	coap_context_t *ctx;
	struct fm_coap_io io;
	struct fm_timer sweep;
	coap_bin_const_t key; /* what validate_id hands libcoap (copied at once) */
	char address[80];
};

static int fail(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

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

static const coap_bin_const_t *validate_id(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
	struct fc_server *s = arg;
	size_t len = 0;
	const uint8_t *key = fc_keys_find(s->keys, identity->s, identity->length, &len);
	if (!key) {
		char who[80], id[FC_KEYS_ID_MAX * 4 + 8];
		fm_warn("DTLS from %s refused: unknown PSK identity '%s'", peer(session, who, sizeof(who)),
			printable(identity->s, identity->length > 80 ? 80 : identity->length, id, sizeof(id)));
		return NULL;
	}
	s->key.s = key;
	s->key.length = len;
	return &s->key;
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
	char who[80], id[FC_KEYS_ID_MAX * 4 + 8] = "";
	const coap_bin_const_t *ident;
	switch (event) {
	case COAP_EVENT_DTLS_ERROR:
		ident = coap_session_get_psk_identity(session);
		if (ident)
			printable(ident->s, ident->length > 80 ? 80 : ident->length, id, sizeof(id));
		/* an unknown identity was logged by validate_id already */
		fm_warn("DTLS handshake with %s (PSK identity '%s') failed: wrong key, or not our protocol",
			peer(session, who, sizeof(who)), id);
		break;
	case COAP_EVENT_DTLS_CONNECTED:
		ident = coap_session_get_psk_identity(session);
		if (ident)
			printable(ident->s, ident->length, id, sizeof(id));
		fm_info("DTLS session with %s as '%s'", peer(session, who, sizeof(who)), id);
		break;
	default:
		break;
	}
	return 0;
}

/* The node a request is about (see the header). false: answered already. */
static bool node_of(struct fc_server *s, coap_session_t *session, const coap_string_t *query,
		    coap_pdu_t *response, char node[FC_KEYS_ID_MAX + 1])
{
	if (coap_session_get_proto(session) == COAP_PROTO_DTLS) {
		const coap_bin_const_t *id = coap_session_get_psk_identity(session);
		size_t len = 0;
		/* the handshake only succeeds for a keystore identity, so this
		 * holds; checked all the same, as the name goes into SQL */
		if (id && id->length <= FC_KEYS_ID_MAX && fc_keys_find(s->keys, id->s, id->length, &len)) {
			memcpy(node, id->s, id->length);
			node[id->length] = '\0';
			return true;
		}
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_UNAUTHORIZED);
		return false;
	}
	/* insecure: "n=NODE", the only query key */
	char who[80];
	size_t len = 0;
	if (query && query->length > 2 && query->length - 2 <= FC_KEYS_ID_MAX &&
	    memcmp(query->s, "n=", 2) == 0 && fc_keys_find(s->keys, query->s + 2, query->length - 2, &len)) {
		memcpy(node, query->s + 2, query->length - 2);
		node[query->length - 2] = '\0';
		fm_warn("insecure request from %s for node %s (plain CoAP: anyone could have sent it)",
			peer(session, who, sizeof(who)), node);
		return true;
	}
	fm_warn("insecure request from %s refused: no known node in its query (n=NODE)",
		peer(session, who, sizeof(who)));
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_UNAUTHORIZED);
	return false;
}

static struct fc_server *server_of(coap_session_t *session)
{
	return coap_context_get_app_data(coap_session_get_context(session));
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
	if (fc_store_heartbeat(s->store, node, &hb, s->insecure, now_s(), &back, hash) < 0) {
		answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot store");
		return;
	}
	if (back)
		fm_notice("node %s is reachable again", node);
	if (strcmp(hash, hb.h) != 0)
		fm_info("node %s: its raised set (%s) differs from the stored one (%s)", node, hb.h, hash);
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
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
	if (!node_of(s, session, query, response, node) || !body_of(request, response, &data, &len))
		return;
	if (fc_wire_report(data, len, &r, why, sizeof(why)) < 0) {
		fm_notice("report from %s refused: %s", node, why);
		answer_text(response, COAP_RESPONSE_CODE_BAD_REQUEST, why);
		return;
	}
	enum fc_store_outcome outcome;
	uint32_t gap_from, gap_to;
	int rc = fc_store_report(s->store, node, &r, s->insecure, now_s(), &outcome, &gap_from, &gap_to);
	if (rc < 0) {
		/* not acknowledged: the agent keeps it queued and sends it again */
		answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot store");
	} else {
		if (gap_from)
			fm_warn("node %s: reports %u..%u never arrived (got %u)", node, gap_from, gap_to, r.q);
		if (outcome == FC_STORE_DUPLICATE)
			fm_info("node %s: report %u stored before, not again", node, r.q);
		else
			fm_info("node %s: report %u stored (%zu raised or changed, %zu resolved)", node, r.q,
				r.nd, r.nr);
		if (r.insecure || s->insecure)
			fm_warn("node %s: report %u came over an insecure session", node, r.q);
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
	char node[FC_KEYS_ID_MAX + 1], hash[9], json[64];
	uint32_t q;
	if (!node_of(s, session, query, response, node))
		return;
	if (fc_store_me(s->store, node, &q, hash) < 0) {
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
	fc_store_sweep(s->store, now_s(), on_silent, s);
}

/* HOST:PORT, [V6]:PORT or HOST. 0, or -1 with why filled. */
static int resolve(const char *listen, uint16_t default_port, coap_address_t *addr, char *why, size_t size)
{
	char host[256];
	const char *port = NULL;
	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || (size_t)(end - listen - 1) >= sizeof(host) || (end[1] && end[1] != ':'))
			return fail(why, size, "--listen %s: give HOST:PORT or [IPV6]:PORT", listen);
		memcpy(host, listen + 1, (size_t)(end - listen - 1));
		host[end - listen - 1] = '\0';
		port = end[1] ? end + 2 : NULL;
	} else {
		const char *colon = strrchr(listen, ':');
		if (colon && strchr(listen, ':') != colon)
			return fail(why, size, "--listen %s: write an IPv6 address as [ADDR]:PORT", listen);
		size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
		if (n >= sizeof(host))
			return fail(why, size, "--listen %s: host name too long", listen);
		memcpy(host, listen, n);
		host[n] = '\0';
		port = colon ? colon + 1 : NULL;
	}
	unsigned long p = default_port;
	if (port) {
		char *end;
		errno = 0;
		p = strtoul(port, &end, 10);
		if (!*port || *end || errno || p > 65535)
			return fail(why, size, "--listen %s: the port must be 0..65535", listen);
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host[0] ? host : NULL, NULL, &hints, &res);
	if (rc != 0)
		return fail(why, size, "--listen %s: %s", listen, gai_strerror(rc));
	coap_address_init(addr);
	addr->size = res->ai_addrlen;
	memcpy(&addr->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	coap_address_set_port(addr, (uint16_t)p);
	return 0;
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

struct fc_server *fc_server_new(struct fm_loop *loop, const struct fc_server_conf *conf, char *why,
				size_t size)
{
	struct fc_server *s = calloc(1, sizeof(*s));
	if (!s) {
		fail(why, size, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->keys = conf->keys;
	s->store = conf->store;
	s->insecure = conf->insecure;
	s->io = (struct fm_coap_io)FM_COAP_IO_INIT;
	s->sweep = (struct fm_timer)FM_TIMER_INIT;
	fm_coap_startup();

	coap_address_t addr;
	if (resolve(conf->listen, conf->insecure ? COAP_DEFAULT_PORT : COAPS_DEFAULT_PORT, &addr, why, size) < 0)
		goto fail;
	s->ctx = coap_new_context(NULL);
	if (!s->ctx) {
		fail(why, size, "cannot make a CoAP context");
		goto fail;
	}
	coap_context_set_app_data(s->ctx, s);
	coap_context_set_block_mode(s->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	coap_register_event_handler(s->ctx, on_event);
	if (!conf->insecure) {
		if (!coap_dtls_is_supported()) {
			fail(why, size, "libcoap was built without DTLS");
			goto fail;
		}
		coap_dtls_spsk_t psk = {.version = COAP_DTLS_SPSK_SETUP_VERSION,
					.validate_id_call_back = validate_id,
					.id_call_back_arg = s};
		if (!coap_context_set_psk2(s->ctx, &psk)) {
			fail(why, size, "cannot set up DTLS-PSK");
			goto fail;
		}
	}
	coap_endpoint_t *ep = coap_new_endpoint(s->ctx, &addr, conf->insecure ? COAP_PROTO_UDP : COAP_PROTO_DTLS);
	if (!ep) {
		fail(why, size, "--listen %s: cannot bind (%s)", conf->listen, strerror(errno));
		goto fail;
	}
	/* "ADDR:PORT PROTO", with the port the kernel chose for port 0 */
	snprintf(s->address, sizeof(s->address), "%s", coap_endpoint_str(ep));
	s->address[strcspn(s->address, " ")] = '\0';
	if (add_resource(s->ctx, "hb", COAP_REQUEST_POST, on_hb) < 0 ||
	    add_resource(s->ctx, "rp", COAP_REQUEST_POST, on_rp) < 0 ||
	    add_resource(s->ctx, "me", COAP_REQUEST_GET, on_me) < 0) {
		fail(why, size, "out of memory");
		goto fail;
	}
	int rc = fm_coap_io_attach(&s->io, loop, s->ctx);
	if (rc < 0) {
		fail(why, size, "cannot watch libcoap's fd: %s", strerror(-rc));
		goto fail;
	}
	unsigned every = conf->sweep_ms ? conf->sweep_ms : 1000;
	if ((rc = fm_timer_init(loop, &s->sweep, on_sweep)) < 0 || (rc = fm_timer_arm(&s->sweep, every, every)) < 0) {
		fail(why, size, "cannot make the sweep timer: %s", strerror(-rc));
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

void fc_server_delete(struct fc_server **ps)
{
	if (!ps || !*ps)
		return;
	struct fc_server *s = *ps;
	fm_timer_close(&s->sweep);
	fm_coap_io_detach(&s->io);
	if (s->ctx)
		coap_free_context(s->ctx);
	free(s);
	*ps = NULL;
}

const char *fc_server_address(const struct fc_server *s)
{
	return s->address;
}
