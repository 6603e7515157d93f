/* fm_coap: libcoap in our loop, PSK files, client sessions and endpoints.
 * See fm_coap.h. */
#include "fm_coap.h"

#include "fm_conf.h"
#include "fm_log.h"

#include <coap3/coap.h>
#include <mbedtls/ssl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct fm_coap {
	coap_context_t *ctx;
	struct fm_event ev; /* the context's epoll fd */
	struct fm_timer timer;
	void *owner;
	fm_coap_psk_lookup_fn lookup;
	void *lookup_arg;
	uint8_t key[FM_COAP_PSK_MAX]; /* the key the last lookup found */
	coap_bin_const_t key_bin;
	fm_coap_pass_fn pass; /* fm_coap_set_pass */
	void *pass_arg;
	bool in_pass; /* fm_coap_process is running */
};

/* --- log --------------------------------------------------------------------- */

static void log_handler(coap_log_t level, const char *message)
{
	/* DTLS lines come as COAP_LOG_DTLS_BASE + level. */
	int l = (int)level >= (int)COAP_LOG_DTLS_BASE ? (int)level - (int)COAP_LOG_DTLS_BASE : (int)level;
	enum fm_log_level fl = l <= COAP_LOG_ERR ? FM_LOG_ERR
			       : l == COAP_LOG_WARN ? FM_LOG_WARNING
			       : l == COAP_LOG_NOTICE ? FM_LOG_NOTICE
			       : l == COAP_LOG_INFO ? FM_LOG_INFO
						     : FM_LOG_DEBUG;
	size_t n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		n--;
	fm_log(fl, "coap: %.*s", (int)n, message);
}

static void startup(void)
{
	static bool started;
	if (started)
		return;
	started = true;
	coap_startup();
	coap_set_log_handler(log_handler);
	coap_set_log_level(COAP_LOG_WARN);
	coap_dtls_set_log_level(COAP_LOG_WARN);
}

void fm_coap_log_setup(enum fm_log_level level)
{
	startup();
	coap_log_t cl = level <= FM_LOG_ERR ? COAP_LOG_ERR
			: level == FM_LOG_WARNING ? COAP_LOG_WARN
			: level == FM_LOG_NOTICE ? COAP_LOG_NOTICE
			: level == FM_LOG_INFO ? COAP_LOG_INFO
						: COAP_LOG_DEBUG;
	coap_set_log_level(cl);
	coap_dtls_set_log_level(cl);
}

/* --- the context in our loop -------------------------------------------------- */

/* Reads every datagram waiting on libcoap's sockets, up to
 * FM_COAP_PASS_MAX, and lets libcoap handle each (its handlers run here).
 * coap_io_process would do it one datagram per call (libcoap reads one per
 * endpoint event), each call walking every session twice
 * (coap_io_prepare_epoll: 20 % of serve's time with 1000 sessions): this
 * is coap_io(3)'s epoll_wait + coap_io_do_epoll instead, and a readable
 * socket's event is given to coap_io_do_epoll several times over, so one
 * call reads several datagrams (a read past the last one is an EAGAIN
 * libcoap takes quietly). The count doubles while datagrams keep coming,
 * from 16 (each call walks every session: fewer calls), so a lone request
 * costs 15 reads more (an EAGAIN each, ~1 us). libcoap's timerfd (event
 * data NULL) is given once: a second read of it would block. */
static void drain(struct fm_coap *c)
{
	int fd = coap_context_get_coap_fd(c->ctx);
	struct epoll_event got[8], ev[FM_COAP_ROUND_MAX];
	unsigned done = 0, times = 16;
	while (done < FM_COAP_PASS_MAX) {
		int n = epoll_wait(fd, got, 8, 0);
		if (n <= 0)
			break;
		size_t k = 0;
		for (int i = 0; i < n; i++)
			for (unsigned j = 0;
			     j < (got[i].data.ptr ? times : 1) && k < FM_COAP_ROUND_MAX; j++)
				ev[k++] = got[i];
		coap_io_do_epoll(c->ctx, ev, k);
		done += (unsigned)k;
		if (times < FM_COAP_ROUND_MAX / 8)
			times *= 2;
	}
}

void fm_coap_process(struct fm_coap *c)
{
	if (!c->pass || c->in_pass) {
		/* no hook, or a handler's own call (a request sent from it):
		 * the pass is the outer call's */
		coap_io_process(c->ctx, COAP_IO_NO_WAIT);
	} else {
		/* every request waiting is in the pass */
		c->in_pass = true;
		/* libcoap's timers run in coap_io_do_epoll (its timerfd is
		 * one of the events) and in the coap_io_prepare_epoll below */
		drain(c);
		c->pass(c, c->pass_arg);
		c->in_pass = false;
	}
	/* also runs what the pass triggered (coap_async_trigger): libcoap
	 * checks its async list here */
	coap_tick_t now;
	coap_ticks(&now);
	unsigned int ms = coap_io_prepare_epoll(c->ctx, now);
	if (ms > 0)
		fm_timer_arm(&c->timer, ms, 0);
	else
		fm_timer_disarm(&c->timer);
}

static void on_readable(struct fm_event *ev, uint32_t events)
{
	(void)events;
	fm_coap_process(container_of(ev, struct fm_coap, ev));
}

static void on_timer(struct fm_timer *t)
{
	fm_coap_process(container_of(t, struct fm_coap, timer));
}

struct fm_coap *fm_coap_new(struct fm_loop *loop)
{
	startup();
	struct fm_coap *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ev.fd = -1;
	c->timer.ev.fd = -1;
	if (!(c->ctx = coap_new_context(NULL))) {
		errno = ENOMEM;
		goto out_delete;
	}
	coap_context_set_app_data(c->ctx, c);
	/* No pre-emptive Request-Tag: 6 bytes off every request of a link that
	 * counts its bytes (our requests fit one datagram). */
	coap_context_set_block_mode(c->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY |
						    COAP_BLOCK_NO_PREEMPTIVE_RTAG);
	int fd = coap_context_get_coap_fd(c->ctx);
	if (fd < 0) {
		errno = ENOTSUP; /* libcoap built without epoll */
		goto out_delete;
	}
	int rc = fm_loop_add(loop, &c->ev, fd, EPOLLIN, on_readable);
	if (rc == 0)
		rc = fm_timer_init(loop, &c->timer, on_timer);
	if (rc < 0) {
		errno = -rc;
		goto out_delete;
	}
	return c;

out_delete:
	fm_coap_delete(&c);
	return NULL;
}

void fm_coap_delete(struct fm_coap **c)
{
	if (!c || !*c)
		return;
	fm_timer_close(&(*c)->timer);
	fm_loop_del(&(*c)->ev);
	if ((*c)->ctx)
		coap_free_context((*c)->ctx);
	free(*c);
	*c = NULL;
}

coap_context_t *fm_coap_context(struct fm_coap *c)
{
	return c->ctx;
}

struct fm_coap *fm_coap_of(const coap_context_t *ctx)
{
	return coap_context_get_app_data(ctx);
}

void fm_coap_set_owner(struct fm_coap *c, void *owner)
{
	c->owner = owner;
}

void *fm_coap_owner(const coap_context_t *ctx)
{
	struct fm_coap *c = fm_coap_of(ctx);
	return c ? c->owner : NULL;
}

void fm_coap_set_pass(struct fm_coap *c, fm_coap_pass_fn fn, void *arg)
{
	c->pass = fn;
	c->pass_arg = arg;
}

/* --- keys ---------------------------------------------------------------------- */

int fm_coap_read_psk(const char *path, uint8_t *key, size_t size, size_t *len, char *err,
		     size_t err_size)
{
	char text[2 * FM_COAP_PSK_MAX + 64];
	unsigned mode = 0;
	int rc = 0, fd = fm_conf_open_secret(path, &mode);
	if (fd == -EPERM) {
		snprintf(err, err_size, "%s: mode %04o lets group or others at the key; refused (chmod 600 %s)",
			 path, mode, path);
		return fd;
	}
	if (fd < 0) {
		snprintf(err, err_size, "%s: %s", path, fd == -EINVAL ? "not a regular file" : strerror(-fd));
		return fd;
	}
	ssize_t n = read(fd, text, sizeof(text) - 1);
	if (n < 0) {
		rc = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	text[n] = '\0';
	size_t b = 0, e = (size_t)n;
	while (b < e && isspace(text[b]))
		b++;
	while (e > b && isspace(text[e - 1]))
		e--;
	if ((size_t)n == sizeof(text) - 1) {
		rc = -EMSGSIZE;
		snprintf(err, err_size, "%s: longer than a key of at most %zu bytes", path, size);
		goto out_close;
	}
	rc = e > b ? fm_conf_hex(text + b, e - b, key, size, len) : -EINVAL;
	if (rc == -EMSGSIZE)
		snprintf(err, err_size, "%s: the key is longer than %zu bytes", path, size);
	else if (rc < 0)
		snprintf(err, err_size, "%s: give the key as an even number of hex digits", path);
out_close:
	explicit_bzero(text, sizeof(text));
	close(fd);
	return rc;
}

/* --- addresses ----------------------------------------------------------------- */

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v == 0 || v > 65535 || !isdigit(*s))
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int fm_coap_parse_hostport(const char *s, char *host, size_t host_size, uint16_t *port, char *err,
			   size_t err_size)
{
	const char *colon, *h = s;
	size_t hlen;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			snprintf(err, err_size, "%s: give HOST:PORT ([ADDR]:PORT for IPv6)", s);
			return -EINVAL;
		}
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon) {
			snprintf(err, err_size, "%s: give HOST:PORT ([ADDR]:PORT for IPv6)", s);
			return -EINVAL;
		}
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= host_size) {
		snprintf(err, err_size, "%s: no host, or a host name too long", s);
		return -EINVAL;
	}
	if (parse_port(colon + 1, port) < 0) {
		snprintf(err, err_size, "%s: the port must be 1..65535", s);
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

int fm_coap_parse_uri(const char *uri, struct fm_coap_uri *u, char *err, size_t err_size)
{
	const char *rest;
	memset(u, 0, sizeof(*u));
	if (strncmp(uri, "coaps://", 8) == 0) {
		u->secure = true;
		u->port = FM_COAP_PORT_DTLS;
		rest = uri + 8;
	} else if (strncmp(uri, "coap://", 7) == 0) {
		u->port = FM_COAP_PORT;
		rest = uri + 7;
	} else {
		snprintf(err, err_size, "%s: give coaps://HOST[:PORT] (or coap:// with --insecure)", uri);
		return -EINVAL;
	}
	char hp[300];
	size_t n = strlen(rest);
	if (n > 0 && rest[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(hp) || memchr(rest, '/', n) || memchr(rest, '?', n)) {
		snprintf(err, err_size, "%s: give coaps://HOST[:PORT], without a path", uri);
		return -EINVAL;
	}
	memcpy(hp, rest, n);
	hp[n] = '\0';
	bool has_port = hp[0] == '[' ? strstr(hp, "]:") != NULL : strchr(hp, ':') != NULL;
	if (has_port)
		return fm_coap_parse_hostport(hp, u->host, sizeof(u->host), &u->port, err, err_size);
	const char *h = hp;
	if (hp[0] == '[') { /* [::1] without a port */
		char *close = strchr(hp, ']');
		if (!close || close[1]) {
			snprintf(err, err_size, "%s: bad IPv6 address", uri);
			return -EINVAL;
		}
		*close = '\0';
		h = hp + 1;
	}
	if (!*h || strlen(h) >= sizeof(u->host)) {
		snprintf(err, err_size, "%s: no host", uri);
		return -EINVAL;
	}
	snprintf(u->host, sizeof(u->host), "%s", h);
	return 0;
}

int fm_coap_resolve(const char *host, uint16_t port, coap_address_t *addr, char *err,
		    size_t err_size)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG}, *res = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc == EAI_BADFLAGS || (rc != 0 && strcmp(host, "localhost") == 0)) {
		hints.ai_flags = AI_NUMERICSERV; /* no configured address (a bare CI box) */
		rc = getaddrinfo(host, ps, &hints, &res);
	}
	if (rc != 0 || !res || res->ai_addrlen > sizeof(addr->addr)) {
		snprintf(err, err_size, "%s: %s", host, rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return -EHOSTUNREACH;
	}
	coap_address_init(addr);
	addr->size = res->ai_addrlen;
	memcpy(&addr->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* --- sessions and endpoints ------------------------------------------------------ */

coap_session_t *fm_coap_client(struct fm_coap *c, const struct fm_coap_uri *u, const char *identity,
			       const uint8_t *key, size_t key_len, char *err, size_t err_size)
{
	coap_address_t dst;
	if (fm_coap_resolve(u->host, u->port, &dst, err, err_size) < 0)
		return NULL;
	coap_session_t *s;
	if (!u->secure) {
		s = coap_new_client_session(c->ctx, NULL, &dst, COAP_PROTO_UDP);
	} else {
		if (!coap_dtls_is_supported()) {
			snprintf(err, err_size, "libcoap was built without DTLS");
			return NULL;
		}
		char sni[256];
		snprintf(sni, sizeof(sni), "%s", u->host);
		coap_dtls_cpsk_t setup = {
			.version = COAP_DTLS_CPSK_SETUP_VERSION,
			/* RFC 9146: keeps the session over a NAT rebinding. */
			.use_cid = coap_dtls_cid_is_supported() ? 1 : 0,
			.client_sni = sni,
			.psk_info = {.identity = {.s = (const uint8_t *)identity, .length = strlen(identity)},
				     .key = {.s = key, .length = key_len}},
		};
		s = coap_new_client_session_psk2(c->ctx, NULL, &dst, COAP_PROTO_DTLS, &setup);
	}
	if (!s) {
		snprintf(err, err_size, "%s://%s:%u: libcoap cannot open a session (see its log)",
			 u->secure ? "coaps" : "coap", u->host, u->port);
		return NULL;
	}
	fm_coap_process(c);
	return s;
}

static const coap_bin_const_t *psk_for(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
	(void)session;
	struct fm_coap *c = arg;
	if (!identity || identity->length == 0 || identity->length > FM_COAP_IDENTITY_MAX)
		return NULL;
	size_t n = c->lookup(c->lookup_arg, identity->s, identity->length, c->key);
	if (n == 0 || n > sizeof(c->key))
		return NULL;
	c->key_bin.s = c->key;
	c->key_bin.length = n;
	return &c->key_bin; /* libcoap copies it into the session */
}

int fm_coap_listen(struct fm_coap *c, const char *host, uint16_t port, fm_coap_psk_lookup_fn lookup,
		   void *arg, char *err, size_t err_size)
{
	coap_address_t a;
	int rc = fm_coap_resolve(host, port, &a, err, err_size);
	if (rc < 0)
		return rc;
	if (lookup) {
		c->lookup = lookup;
		c->lookup_arg = arg;
		coap_dtls_spsk_t setup = {
			.version = COAP_DTLS_SPSK_SETUP_VERSION,
			.validate_id_call_back = psk_for,
			.id_call_back_arg = c,
			/* A key that no lookup can match: the callback decides. */
			.psk_info = {.hint = {.s = NULL, .length = 0}, .key = {.s = NULL, .length = 0}},
		};
		if (!coap_context_set_psk2(c->ctx, &setup)) {
			snprintf(err, err_size, "libcoap refused the PSK set-up");
			return -EINVAL;
		}
	}
	if (!coap_new_endpoint(c->ctx, &a, lookup ? COAP_PROTO_DTLS : COAP_PROTO_UDP)) {
		snprintf(err, err_size, "cannot listen on %s:%u (in use? see libcoap's log)", host, port);
		return -EADDRINUSE;
	}
	fm_coap_process(c);
	return 0;
}

bool fm_coap_session_identity(const coap_session_t *s, char *buf, size_t size)
{
	const coap_bin_const_t *id = coap_session_get_psk_identity(s);
	if (!id || !id->s || id->length == 0 || id->length >= size || memchr(id->s, '\0', id->length))
		return false;
	memcpy(buf, id->s, id->length);
	buf[id->length] = '\0';
	return true;
}

const char *fm_coap_session_cipher(const struct coap_session_t *s)
{
	coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
	void *tls = s ? coap_session_get_tls(s, &lib) : NULL;
	if (!tls || lib != COAP_TLS_LIBRARY_MBEDTLS)
		return "none";
	const char *name = mbedtls_ssl_get_ciphersuite((const mbedtls_ssl_context *)tls);
	return name ? name : "none";
}

int fm_coap_session_record_max(const struct coap_session_t *s)
{
	coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
	void *tls = s ? coap_session_get_tls(s, &lib) : NULL;
	if (!tls || lib != COAP_TLS_LIBRARY_MBEDTLS)
		return -1;
	return mbedtls_ssl_get_max_in_record_payload((const mbedtls_ssl_context *)tls);
}
