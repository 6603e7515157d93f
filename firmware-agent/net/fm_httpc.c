/* fm_httpc: see fm_httpc.h.
 *
 * The connection is a state machine: CONNECTING (non-blocking connect) ->
 * HANDSHAKE (TLS only) -> SENDING -> RECEIVING -> KEEPALIVE or closed. Each
 * state waits for one epoll event and never loops on the socket beyond
 * EAGAIN, so no request can hold the agent's loop.
 */
#include "fm_httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_MAX_BODY   (1024 * 1024)

const char *fm_httpc_fail_name(enum fm_httpc_fail f)
{
	switch (f) {
	case FM_HTTPC_OK: return "ok";
	case FM_HTTPC_REFUSED: return "refused";
	case FM_HTTPC_TIMEOUT: return "timeout";
	case FM_HTTPC_TLS: return "tls";
	case FM_HTTPC_STATUS: return "http-status";
	case FM_HTTPC_MALFORMED: return "malformed";
	case FM_HTTPC_TOO_LARGE: return "too-large";
	case FM_HTTPC_CONNECT: return "connect";
	case FM_HTTPC_CLOSED: return "closed";
	case FM_HTTPC_CANCELED: return "canceled";
	}
	return "unknown";
}

int fm_httpc_url_parse(const char *url, struct fm_httpc_url *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *p;
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		if (p[0] != '/') {
			snprintf(err, errlen, "%s: a unix socket URL needs an absolute path", url);
			return -EINVAL;
		}
		if (strlen(p) >= sizeof(out->path)) {
			snprintf(err, errlen, "%s: socket path longer than %zu bytes", url,
				 sizeof(out->path) - 1);
			return -EINVAL;
		}
		out->scheme = FM_HTTPC_UNIX;
		strcpy(out->path, p);
		strcpy(out->host, "localhost");
		return 0;
	}
	if (strncmp(url, "https://", 8) == 0) {
		out->scheme = FM_HTTPC_HTTPS;
		out->port = 443;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		out->scheme = FM_HTTPC_HTTP;
		out->port = 80;
		p = url + 7;
	} else {
		snprintf(err, errlen, "%s: not an https://, http:// or unix:// URL", url);
		return -EINVAL;
	}

	const char *host = p, *host_end;
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end) {
			snprintf(err, errlen, "%s: unterminated [IPv6] address", url);
			return -EINVAL;
		}
		p = host_end + 1;
	} else {
		host_end = host + strcspn(host, ":/?#");
		p = host_end;
	}
	size_t hl = (size_t)(host_end - host);
	if (hl == 0 || hl >= sizeof(out->host)) {
		snprintf(err, errlen, "%s: missing or too long host", url);
		return -EINVAL;
	}
	memcpy(out->host, host, hl);
	out->host[hl] = '\0';
	if (*p == ':') {
		char *end = (char *)p + 1;
		long port = p[1] >= '0' && p[1] <= '9' ? strtol(p + 1, &end, 10) : 0;
		if (port < 1 || port > 65535) {
			snprintf(err, errlen, "%s: invalid port", url);
			return -EINVAL;
		}
		out->port = (int)port;
		p = end;
	}
	if (*p && strcmp(p, "/") != 0) {
		snprintf(err, errlen, "%s: give the server only (scheme://host:port)", url);
		return -EINVAL;
	}
	return 0;
}

/* Resolves the host now, at init: numeric addresses never block, names go
 * through getaddrinfo (usually /etc/hosts on a master: "localhost", the node
 * name). */
static int resolve(struct fm_httpc *c, char *err, size_t errlen)
{
	if (c->url.scheme == FM_HTTPC_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&c->addrs[0];
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, c->url.path, strlen(c->url.path) + 1);
		c->addrlens[0] = sizeof(*sun);
		c->naddrs = 1;
		return 0;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%d", c->url.port);
	int rc = getaddrinfo(c->url.host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", c->url.host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	c->naddrs = 0;
	for (struct addrinfo *ai = res; ai && c->naddrs < 4; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->addrs[0]))
			continue;
		memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
		c->addrlens[c->naddrs] = ai->ai_addrlen;
		c->naddrs++;
	}
	freeaddrinfo(res);
	return c->naddrs ? 0 : -EHOSTUNREACH;
}

static void on_deadline(struct fm_timer *t);
static void on_io(struct fm_event *ev, uint32_t events);

int fm_httpc_init(struct fm_httpc *c, struct fm_loop *loop, const char *url,
		  struct fm_tls_config *tls, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->ev.fd = -1;
	c->deadline.ev.fd = -1;
	c->loop = loop;
	c->tls_version = "";
	fm_buf_init(&c->body, DEFAULT_MAX_BODY);
	int rc = fm_httpc_url_parse(url, &c->url, err, errlen);
	if (rc)
		return rc;
	if (c->url.scheme == FM_HTTPC_HTTPS && !tls) {
		snprintf(err, errlen, "%s: https needs a CA file to verify the server", url);
		return -EINVAL;
	}
	c->tls_cfg = tls;
	rc = resolve(c, err, errlen);
	if (rc)
		return rc;
	rc = fm_timer_init(loop, &c->deadline, on_deadline);
	if (rc) {
		snprintf(err, errlen, "timer: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

static void drop_connection(struct fm_httpc *c)
{
	fm_loop_del(&c->ev);
	fm_tls_delete(&c->tls);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = FM_HTTPC_IDLE;
}

void fm_httpc_close(struct fm_httpc *c)
{
	/* init sets loop only after every fd field is -1: a zeroed c (fd 0)
	 * holds no connection and must not close stdin. */
	if (c->loop)
		drop_connection(c);
	fm_timer_close(&c->deadline);
	fm_buf_free(&c->body);
}

static const char *where(const struct fm_httpc *c, char *buf, size_t size)
{
	if (c->url.scheme == FM_HTTPC_UNIX)
		snprintf(buf, size, "unix://%s", c->url.path);
	else if (strchr(c->url.host, ':'))
		snprintf(buf, size, "[%s]:%d", c->url.host, c->url.port);
	else
		snprintf(buf, size, "%s:%d", c->url.host, c->url.port);
	return buf;
}

/* Ends the request. on_done may start the next request or close c, so c is
 * not touched after it. */
static void finish(struct fm_httpc *c, enum fm_httpc_fail fail)
{
	c->fail = fail;
	c->done = true;
	c->elapsed_ms = fm_now_ms() - c->started_ms;
	fm_timer_disarm(&c->deadline);
	if (fail == FM_HTTPC_OK && c->parser.keep_alive && !c->req.stream &&
	    fm_loop_mod(&c->ev, EPOLLIN) == 0) {
		/* Watch the idle connection so a server-side close is noticed. */
		c->state = FM_HTTPC_KEEPALIVE;
	} else {
		drop_connection(c);
	}
	if (c->req.on_done)
		c->req.on_done(c, c->req.done_ctx);
}

static void fail_fmt(struct fm_httpc *c, enum fm_httpc_fail fail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail_fmt(struct fm_httpc *c, enum fm_httpc_fail fail, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	finish(c, fail);
}

static void fail_tls(struct fm_httpc *c)
{
	char w[300];
	c->tls_fail = fm_tls_failure(c->tls);
	c->tls_code = fm_tls_code(c->tls);
	fail_fmt(c, FM_HTTPC_TLS, "TLS to %s failed: %s", where(c, w, sizeof(w)),
		 fm_tls_reason(c->tls));
}

static int want(struct fm_httpc *c, uint32_t events)
{
	if (c->ev.fd < 0)
		return fm_loop_add(c->loop, &c->ev, c->fd, events, on_io);
	if (c->ev.events == events)
		return 0;
	return fm_loop_mod(&c->ev, events);
}

static void step(struct fm_httpc *c);
static int connect_next(struct fm_httpc *c);

static void connect_failed(struct fm_httpc *c, int err)
{
	char w[300];
	where(c, w, sizeof(w));
	drop_connection(c);
	if ((err == ECONNREFUSED || err == ENOENT) && c->cur_addr + 1 < c->naddrs) {
		/* "localhost" may be ::1 and 127.0.0.1: the server may be on either. */
		c->cur_addr++;
		if (connect_next(c) == 0)
			return;
		err = errno;
	}
	if (err == ECONNREFUSED)
		fail_fmt(c, FM_HTTPC_REFUSED, "connection refused: nothing listens on %s", w);
	else if (err == ENOENT && c->url.scheme == FM_HTTPC_UNIX)
		fail_fmt(c, FM_HTTPC_REFUSED, "nothing listens on %s: no such socket file", w);
	else if (err == EAGAIN && c->url.scheme == FM_HTTPC_UNIX)
		fail_fmt(c, FM_HTTPC_CONNECT,
			 "%s does not accept connections: its accept queue is full", w);
	else
		fail_fmt(c, FM_HTTPC_CONNECT, "cannot connect to %s: %s", w, strerror(err));
}

/* Starts a connect to the current address. 0 when under way (or done), else
 * -1 with errno set and nothing left open. */
static int connect_next(struct fm_httpc *c)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->cur_addr];
	c->have_peer_cert = false;
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	/* Every write is a whole message (a request, a TLS record): Nagle's
	 * algorithm would only hold its last segment back for an ACK. */
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	/* EAGAIN is not "in progress" (connect(2)): on a unix socket the
	 * server's accept queue is full, and the socket stays unconnected. */
	if (connect(c->fd, sa, c->addrlens[c->cur_addr]) == 0 || errno == EINPROGRESS) {
		c->state = FM_HTTPC_CONNECTING;
		if (want(c, EPOLLOUT) < 0) {
			int e = errno;
			close(c->fd);
			c->fd = -1;
			errno = e;
			return -1;
		}
		return 0;
	}
	int e = errno;
	close(c->fd);
	c->fd = -1;
	errno = e;
	return -1;
}

static void connected(struct fm_httpc *c)
{
	if (c->url.scheme == FM_HTTPC_HTTPS) {
		c->tls = fm_tls_new(c->tls_cfg, c->fd, c->url.host);
		if (!c->tls) {
			fail_fmt(c, FM_HTTPC_CONNECT, "cannot set up a TLS session: out of memory");
			return;
		}
		c->state = FM_HTTPC_HANDSHAKE;
	} else {
		c->state = FM_HTTPC_SENDING;
	}
	step(c);
}

static ssize_t sock_write(struct fm_httpc *c, const void *buf, size_t len)
{
	if (c->tls)
		return fm_tls_write(c->tls, buf, len);
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static ssize_t sock_read(struct fm_httpc *c, void *buf, size_t len)
{
	if (c->tls)
		return fm_tls_read(c->tls, buf, len);
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static int collect_body(void *ctx, const char *data, size_t len)
{
	struct fm_httpc *c = ctx;
	return fm_buf_append(&c->body, data, len) ? 1 : 0;
}

/* A kept-alive connection the server had already closed fails before any
 * byte of the answer: that is not the server refusing the request, so the
 * request goes once more on a new connection. */
static bool retry_fresh(struct fm_httpc *c)
{
	if (!c->reused || c->got_bytes)
		return false;
	/* RFC 9112 9.3.1: only a request that is safe to repeat goes again. */
	if (!c->req.idempotent && strcmp(c->req.method, "GET") != 0 &&
	    strcmp(c->req.method, "HEAD") != 0)
		return false;
	drop_connection(c);
	c->reused = false;
	c->sent = 0;
	c->cur_addr = 0;
	if (connect_next(c) == 0)
		return true;
	connect_failed(c, errno);
	return true;
}

static void do_send(struct fm_httpc *c)
{
	size_t total = c->head_len + c->tail_len;
	while (c->sent < total) {
		const char *p;
		size_t len;
		if (c->sent < c->head_len) {
			p = c->head + c->sent;
			len = c->head_len - c->sent;
		} else {
			p = c->req.body + (c->sent - c->head_len);
			len = total - c->sent;
		}
		ssize_t n = sock_write(c, p, len);
		if (n == -EAGAIN) {
			want(c, c->tls ? fm_tls_want(c->tls) : EPOLLOUT);
			return;
		}
		if (n < 0) {
			if (retry_fresh(c))
				return;
			if (c->tls && fm_tls_failure(c->tls)) {
				fail_tls(c);
				return;
			}
			/* TLS 1.3: a server that refuses our certificate says so in an
			 * alert that may already wait in the socket. */
			if (c->tls) {
				char scratch[64];
				if (fm_tls_read(c->tls, scratch, sizeof(scratch)) < 0 &&
				    fm_tls_failure(c->tls) != FM_TLS_OK &&
				    fm_tls_failure(c->tls) != FM_TLS_CLOSED) {
					fail_tls(c);
					return;
				}
			}
			char w[300];
			fail_fmt(c, FM_HTTPC_CLOSED, "%s closed the connection while we sent the request (%s)",
				 where(c, w, sizeof(w)), strerror((int)-n));
			return;
		}
		c->sent += (size_t)n;
	}
	c->state = FM_HTTPC_RECEIVING;
	want(c, EPOLLIN);
}

static void do_receive(struct fm_httpc *c)
{
	char buf[16384];
	char w[300];
	for (;;) {
		ssize_t n = sock_read(c, buf, sizeof(buf));
		if (n == -EAGAIN) {
			want(c, c->tls ? fm_tls_want(c->tls) : EPOLLIN);
			return;
		}
		if (n < 0) {
			if (retry_fresh(c))
				return;
			if (c->tls && fm_tls_failure(c->tls) != FM_TLS_OK &&
			    !(c->got_bytes && fm_tls_failure(c->tls) == FM_TLS_CLOSED)) {
				fail_tls(c);
				return;
			}
			fail_fmt(c, c->got_bytes ? FM_HTTPC_MALFORMED : FM_HTTPC_CLOSED,
				 "reading from %s: %s", where(c, w, sizeof(w)),
				 c->tls ? fm_tls_reason(c->tls) : strerror((int)-n));
			return;
		}
		if (n == 0) {
			if (!c->got_bytes && retry_fresh(c))
				return;
			if (!c->got_bytes) {
				fail_fmt(c, FM_HTTPC_CLOSED,
					 "%s closed the connection without answering",
					 where(c, w, sizeof(w)));
				return;
			}
			if (fm_http_parse_eof(&c->parser) < 0) {
				fail_fmt(c, FM_HTTPC_MALFORMED, "answer from %s cut short: %s",
					 where(c, w, sizeof(w)), c->parser.err);
				return;
			}
			c->parser.keep_alive = false;
			finish(c, FM_HTTPC_OK);
			return;
		}
		c->got_bytes = true;
		bool had_headers = c->parser.headers_done;
		ssize_t used = fm_http_parse(&c->parser, buf, (size_t)n);
		if (c->parser.headers_done) {
			c->status = c->parser.status;
			if (!had_headers && c->req.stream)
				fm_timer_disarm(&c->deadline); /* a stream may idle forever */
		}
		if (used == -EMSGSIZE) {
			fail_fmt(c, FM_HTTPC_TOO_LARGE, "answer from %s too large: %s",
				 where(c, w, sizeof(w)), c->parser.err);
			return;
		}
		if (used == -ECANCELED) {
			fail_fmt(c, c->req.on_body ? FM_HTTPC_CANCELED : FM_HTTPC_TOO_LARGE,
				 c->req.on_body ? "the reader of %s's answer stopped it"
						: "answer from %s exceeds the body cap",
				 where(c, w, sizeof(w)));
			return;
		}
		if (used < 0) {
			fail_fmt(c, FM_HTTPC_MALFORMED, "malformed answer from %s: %s",
				 where(c, w, sizeof(w)), c->parser.err);
			return;
		}
		if (c->parser.done) {
			/* Bytes past the answer are a protocol error from the server;
			 * never reuse such a connection. */
			if ((size_t)used < (size_t)n)
				c->parser.keep_alive = false;
			finish(c, FM_HTTPC_OK);
			return;
		}
	}
}

static void step(struct fm_httpc *c)
{
	switch (c->state) {
	case FM_HTTPC_HANDSHAKE: {
		int rc = fm_tls_handshake(c->tls);
		if (rc == -EAGAIN) {
			want(c, fm_tls_want(c->tls));
			return;
		}
		c->have_peer_cert = fm_tls_peer_cert(c->tls, &c->peer_cert) == 0;
		if (rc < 0) {
			fail_tls(c);
			return;
		}
		c->tls_version = fm_tls_version(c->tls);
		c->state = FM_HTTPC_SENDING;
	}
		/* fall through */
	case FM_HTTPC_SENDING:
		do_send(c);
		return;
	case FM_HTTPC_RECEIVING:
		do_receive(c);
		return;
	default:
		return;
	}
}

static void on_io(struct fm_event *ev, uint32_t events)
{
	struct fm_httpc *c = container_of(ev, struct fm_httpc, ev);

	if (c->state == FM_HTTPC_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			connect_failed(c, err);
			return;
		}
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		connected(c);
		return;
	}
	if (c->state == FM_HTTPC_KEEPALIVE) {
		/* An idle connection became readable: the server closed it (or
		 * sent something unasked). Either way it is not reusable. */
		drop_connection(c);
		return;
	}
	step(c);
}

static void on_deadline(struct fm_timer *t)
{
	struct fm_httpc *c = container_of(t, struct fm_httpc, deadline);
	char w[300];
	const char *what;

	if (c->done || c->state == FM_HTTPC_IDLE || c->state == FM_HTTPC_KEEPALIVE)
		return;
	switch (c->state) {
	case FM_HTTPC_CONNECTING: what = "while connecting"; break;
	case FM_HTTPC_HANDSHAKE: what = "during the TLS handshake (the port accepts connections but nobody answers)"; break;
	case FM_HTTPC_SENDING: what = "while sending the request"; break;
	default:
		what = c->got_bytes ? "while receiving the answer"
				    : "waiting for an answer (the server accepted the request but did not answer)";
	}
	fail_fmt(c, FM_HTTPC_TIMEOUT, "timed out after %d ms %s from %s", c->req.timeout_ms, what,
		 where(c, w, sizeof(w)));
}

int fm_httpc_start(struct fm_httpc *c, const struct fm_httpc_req *req)
{
	if (c->state != FM_HTTPC_IDLE && c->state != FM_HTTPC_KEEPALIVE)
		return -EBUSY;
	c->req = *req;
	if (!c->req.max_body)
		c->req.max_body = DEFAULT_MAX_BODY;
	if (c->req.timeout_ms <= 0)
		c->req.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!c->req.body)
		c->req.body_len = 0;
	c->fail = FM_HTTPC_OK;
	c->tls_fail = FM_TLS_OK;
	c->tls_code = 0;
	c->reason[0] = '\0';
	c->status = 0;
	c->elapsed_ms = 0;
	c->done = false;
	c->got_bytes = false;
	c->sent = 0;
	c->body.max = c->req.max_body;
	fm_buf_reset(&c->body);
	fm_http_parser_init(&c->parser, c->req.stream ? UINT64_MAX : c->req.max_body, req->on_body ? req->on_body : collect_body,
			    req->on_body ? req->body_ctx : c);
	c->parser.no_body = strcmp(req->method, "HEAD") == 0;

	char host[300];
	if (c->url.scheme == FM_HTTPC_UNIX)
		snprintf(host, sizeof(host), "localhost");
	else
		where(c, host, sizeof(host));
	ssize_t hl = fm_http_format_request(c->head, sizeof(c->head), req->method, req->path, host,
					    req->content_type, c->req.body_len, req->extra_headers);
	if (hl < 0)
		return (int)hl;
	c->head_len = (size_t)hl;
	/* One write, so one TLS record and one segment: a body sent after the
	 * head waited, without TCP_NODELAY, for the server's delayed ACK of the
	 * head (40 ms a request against etcd). */
	c->tail_len = c->req.body_len;
	if (c->req.body_len && c->req.body_len <= sizeof(c->head) - c->head_len) {
		memcpy(c->head + c->head_len, c->req.body, c->req.body_len);
		c->head_len += c->req.body_len;
		c->tail_len = 0;
	}
	c->started_ms = fm_now_ms();
	int rc = fm_timer_arm(&c->deadline, (uint64_t)c->req.timeout_ms, 0);
	if (rc)
		return rc;

	if (c->state == FM_HTTPC_KEEPALIVE) {
		c->reused = true;
		c->state = FM_HTTPC_SENDING;
		want(c, EPOLLOUT);
		return 0;
	}
	c->reused = false;
	c->cur_addr = 0;
	if (connect_next(c) < 0) {
		/* Reported through on_done like every other failure (before
		 * start returns: loopback refuses at once). */
		int e = errno;
		c->state = FM_HTTPC_CONNECTING;
		c->fd = -1;
		connect_failed(c, e);
	}
	return 0;
}

void fm_httpc_cancel(struct fm_httpc *c)
{
	if (c->done || c->state == FM_HTTPC_IDLE || c->state == FM_HTTPC_KEEPALIVE)
		return;
	c->parser.keep_alive = false;
	fail_fmt(c, FM_HTTPC_CANCELED, "canceled");
}

static void fetch_done(struct fm_httpc *c, void *ctx)
{
	(void)c;
	*(bool *)ctx = true;
}

int fm_httpc_fetch(struct fm_httpc *c, const struct fm_httpc_req *req)
{
	bool done = false;
	struct fm_httpc_req r = *req;
	if (fm_loop_dispatching(c->loop)) {
		/* It would block every other source while it waits. */
		snprintf(c->reason, sizeof(c->reason),
			 "refused: a blocking request from inside a loop callback (a bug: use fm_httpc_start)");
		c->fail = FM_HTTPC_CANCELED;
		return -1;
	}
	r.on_done = fetch_done;
	r.done_ctx = &done;
	int rc = fm_httpc_start(c, &r);
	if (rc < 0) {
		snprintf(c->reason, sizeof(c->reason), "cannot start the request: %s", strerror(-rc));
		c->fail = FM_HTTPC_CONNECT;
		return -1;
	}
	/* A stopped loop (SIGTERM) ends the wait: the agent is going down
	 * within its second, not at the deadline. */
	if (fm_loop_run_until(c->loop, &done) < 0)
		fm_httpc_cancel(c);
	return c->fail == FM_HTTPC_OK ? 0 : -1;
}

int fm_httpc_require_2xx(struct fm_httpc *c)
{
	if (c->fail != FM_HTTPC_OK)
		return -1;
	if (c->status >= 200 && c->status < 300)
		return 0;
	char w[300];
	c->fail = FM_HTTPC_STATUS;
	snprintf(c->reason, sizeof(c->reason), "%s answered HTTP %d %s", where(c, w, sizeof(w)),
		 c->status, c->parser.reason ? c->parser.reason : "");
	return -1;
}
