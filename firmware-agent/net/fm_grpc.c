/* gRPC over HTTP/2 on the loop (fm_grpc.h). nghttp2 keeps the HTTP/2 state
 * (frames, HPACK, flow control, stream ids); it reads from and writes to
 * the socket only through the two callbacks here, which never block. */
#include "fm_grpc.h"

#include "fm_log.h"

#include <nghttp2/nghttp2.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_MAX_MSG (4u * 1024 * 1024)
#define MAX_MSG_CAP	(64u * 1024 * 1024)
#define READ_CHUNK	16384
#define MAX_CALLS	32 /* streams at once on one connection */
#define GRPC_MESSAGE_LEN 256
#define GRPC_DEADLINE_EXCEEDED 4

struct fm_grpc_call {
	struct fm_grpc *g;
	struct fm_grpc_call *next;
	int32_t stream_id;	      /* 0 until submitted */
	char path[160];
	uint8_t *req;		      /* the framed request */
	size_t req_len, req_sent;
	struct fm_grpc_deframer df;
	fm_grpc_msg_fn on_msg;
	fm_grpc_done_fn on_done;
	void *ctx;
	struct fm_timer deadline;
	int timeout_ms;
	uint64_t started_ms;
	struct fm_grpc_result res;
	int http_status;
	bool grpc_content, have_status, done;
	char grpc_message[GRPC_MESSAGE_LEN];
};

struct fm_grpc {
	struct fm_loop *loop;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	struct fm_event ev;
	nghttp2_session *session;
	struct fm_grpc_call *calls; /* running, newest first */
	int ncalls;
	bool dispatching; /* inside nghttp2: a call's end waits for the pass */
};

const char *fm_grpc_fail_name(enum fm_grpc_fail f)
{
	static const char *const names[] = {"ok", "refused", "timeout", "grpc-status", "protocol",
					    "too-large", "connect", "closed", "canceled"};
	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

/* --- framing (pure) -------------------------------------------------------- */

void fm_grpc_deframer_init(struct fm_grpc_deframer *d, size_t max_msg)
{
	d->max_msg = max_msg;
	fm_buf_init(&d->buf, max_msg + 5);
}

void fm_grpc_deframer_free(struct fm_grpc_deframer *d)
{
	fm_buf_free(&d->buf);
}

bool fm_grpc_deframer_partial(const struct fm_grpc_deframer *d)
{
	return d->buf.len > 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Whether the 5-byte prefix at p is acceptable; the reason in err if not. */
static int check_prefix(const struct fm_grpc_deframer *d, const uint8_t *p, char *err, size_t errlen)
{
	if (p[0] & 1) {
		snprintf(err, errlen, "the server sent a compressed message, which was not asked for");
		return -EPROTONOSUPPORT;
	}
	if (be32(p + 1) > d->max_msg) {
		snprintf(err, errlen, "a message of %u bytes, over the %zu-byte cap", be32(p + 1), d->max_msg);
		return -EMSGSIZE;
	}
	return 0;
}

int fm_grpc_deframe(struct fm_grpc_deframer *d, const uint8_t *p, size_t n,
		    bool (*fn)(void *arg, const uint8_t *msg, size_t len), void *arg, char *err, size_t errlen)
{
	while (n > 0) {
		/* Whole messages straight from p when nothing is pending. */
		if (d->buf.len == 0 && n >= 5) {
			int rc = check_prefix(d, p, err, errlen);
			if (rc)
				return rc;
			size_t len = be32(p + 1);
			if (n >= 5 + len) {
				if (!fn(arg, p + 5, len)) {
					snprintf(err, errlen, "stopped by the reader");
					return -ECANCELED;
				}
				p += 5 + len;
				n -= 5 + len;
				continue;
			}
		}
		/* Otherwise collect: the prefix first, then what it announced. */
		size_t want = d->buf.len < 5 ? 5 - d->buf.len : 5 + be32((const uint8_t *)d->buf.data + 1) - d->buf.len;
		size_t take = n < want ? n : want;
		if (fm_buf_append(&d->buf, p, take) < 0) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		p += take;
		n -= take;
		const uint8_t *b = (const uint8_t *)d->buf.data;
		if (d->buf.len == 5) {
			int rc = check_prefix(d, b, err, errlen);
			if (rc)
				return rc;
		}
		if (d->buf.len >= 5 && d->buf.len == 5 + be32(b + 1)) {
			bool go = fn(arg, b + 5, d->buf.len - 5);
			fm_buf_reset(&d->buf);
			if (!go) {
				snprintf(err, errlen, "stopped by the reader");
				return -ECANCELED;
			}
		}
	}
	return 0;
}

/* --- calls ------------------------------------------------------------------ */

static void call_fail(struct fm_grpc_call *call, enum fm_grpc_fail fail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void call_fail(struct fm_grpc_call *call, enum fm_grpc_fail fail, const char *fmt, ...)
{
	if (call->res.fail != FM_GRPC_OK)
		return; /* the first failure is the one */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->res.reason, sizeof(call->res.reason), fmt, ap);
	va_end(ap);
	call->res.fail = fail;
}

static void unlink_call(struct fm_grpc_call *call)
{
	struct fm_grpc *g = call->g;
	for (struct fm_grpc_call **pp = &g->calls; *pp; pp = &(*pp)->next)
		if (*pp == call) {
			*pp = call->next;
			g->ncalls--;
			break;
		}
}

/* The call's end: its outcome decided, on_done, freed. */
static void call_end(struct fm_grpc_call *call)
{
	if (call->done)
		return;
	call->done = true;
	struct fm_grpc *g = call->g;
	unlink_call(call);
	if (call->stream_id > 0 && g->session)
		nghttp2_session_set_stream_user_data(g->session, call->stream_id, NULL);
	fm_timer_close(&call->deadline);
	fm_grpc_deframer_free(&call->df);
	free(call->req);
	call->res.elapsed_ms = fm_now_ms() - call->started_ms;
	call->on_done(&call->res, call->ctx);
	free(call);
}

/* What the stream's close says when nothing failed on the way: the HTTP
 * status, then gRPC's. */
static void conclude(struct fm_grpc_call *call, uint32_t error_code)
{
	if (call->res.fail != FM_GRPC_OK)
		return;
	if (error_code != NGHTTP2_NO_ERROR) {
		call_fail(call, error_code == NGHTTP2_REFUSED_STREAM ? FM_GRPC_CLOSED : FM_GRPC_PROTOCOL,
			  "%s: the server reset the stream (%s)", call->path, nghttp2_http2_strerror(error_code));
	} else if (call->http_status != 200) {
		call_fail(call, call->http_status ? FM_GRPC_PROTOCOL : FM_GRPC_CLOSED,
			  call->http_status ? "%s: HTTP status %d: not a gRPC server?" : "%s: no answer (%d)",
			  call->path, call->http_status);
	} else if (!call->grpc_content && !call->have_status) {
		call_fail(call, FM_GRPC_PROTOCOL, "%s: the answer is not application/grpc: not a gRPC server?",
			  call->path);
	} else if (!call->have_status) {
		call_fail(call, FM_GRPC_CLOSED, "%s: the stream ended without a gRPC status", call->path);
	} else if (fm_grpc_deframer_partial(&call->df)) {
		call_fail(call, FM_GRPC_PROTOCOL, "%s: the stream ended inside a message", call->path);
	} else if (call->res.grpc_status == GRPC_DEADLINE_EXCEEDED && call->timeout_ms > 0) {
		/* The deadline we sent (grpc-timeout), kept by the server a
		 * moment before ours fired: the same timeout. */
		call_fail(call, FM_GRPC_TIMEOUT, "%s: no answer within %d ms from unix://%s (the server gave up: %s)",
			  call->path, call->timeout_ms, call->g->path, call->grpc_message);
	} else if (call->res.grpc_status != 0) {
		call_fail(call, FM_GRPC_STATUS, "%s: gRPC status %d: %s", call->path, call->res.grpc_status,
			  call->grpc_message[0] ? call->grpc_message : "(no message)");
	}
}

static void want(struct fm_grpc *g);

/* A call given up (deadline, cancel): its stream reset, its end told; the
 * reset goes out now unless nghttp2 is running (it then sends it itself
 * at the end of the pass). */
static void abandon(struct fm_grpc_call *call)
{
	struct fm_grpc *g = call->g;
	bool reset = call->stream_id > 0 && g->session;
	if (reset)
		nghttp2_submit_rst_stream(g->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
	call_end(call);
	if (reset && !g->dispatching && g->session && nghttp2_session_send(g->session) == 0)
		want(g);
}

static void on_deadline(struct fm_timer *t)
{
	struct fm_grpc_call *call = container_of(t, struct fm_grpc_call, deadline);
	call_fail(call, FM_GRPC_TIMEOUT, "%s: no answer within %d ms from unix://%s", call->path,
		  call->timeout_ms, call->g->path);
	abandon(call);
}

void fm_grpc_cancel(struct fm_grpc_call *call)
{
	if (!call || call->done)
		return;
	call_fail(call, FM_GRPC_CANCELED, "%s: canceled", call->path);
	abandon(call);
}

/* --- the connection ----------------------------------------------------------- */

static void drop_connection(struct fm_grpc *g, enum fm_grpc_fail fail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every call on the connection fails with the same reason; the next call
 * connects again. */
static void drop_connection(struct fm_grpc *g, enum fm_grpc_fail fail, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (g->session) {
		nghttp2_session_del(g->session);
		g->session = NULL;
	}
	fm_loop_del(&g->ev);
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	while (g->calls) {
		struct fm_grpc_call *call = g->calls;
		call->stream_id = 0;
		call_fail(call, fail, "%s: %s", call->path, why);
		call_end(call);
	}
}

static void want(struct fm_grpc *g)
{
	if (!g->session || g->fd < 0)
		return;
	uint32_t ev = 0;
	if (nghttp2_session_want_read(g->session))
		ev |= EPOLLIN;
	if (nghttp2_session_want_write(g->session))
		ev |= EPOLLOUT;
	if (!ev) {
		drop_connection(g, FM_GRPC_CLOSED, "the connection was closed (GOAWAY)");
		return;
	}
	fm_loop_mod(&g->ev, ev);
}

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user)
{
	(void)s;
	(void)flags;
	struct fm_grpc *g = user;
	ssize_t n = send(g->fd, data, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return NGHTTP2_ERR_WOULDBLOCK;
	return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	(void)flags;
	(void)user;
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct fm_grpc_call *call = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (!call)
		return 0;
	char v[GRPC_MESSAGE_LEN];
	snprintf(v, sizeof(v), "%.*s", (int)(valuelen < sizeof(v) ? valuelen : sizeof(v) - 1), (const char *)value);
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		call->http_status = atoi(v);
	} else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
		call->grpc_content = strncmp(v, "application/grpc", 16) == 0;
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		char *end;
		long st = strtol(v, &end, 10);
		call->have_status = *v && !*end && st >= 0 && st <= 99;
		call->res.grpc_status = call->have_status ? (int)st : -1;
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		/* Percent-encoded (gRPC over HTTP/2): decoded, and anything
		 * not printable ASCII replaced, for the report. */
		size_t o = 0;
		for (size_t i = 0; v[i] && o + 1 < sizeof(call->grpc_message); i++) {
			unsigned c = (unsigned char)v[i];
			if (c == '%' && v[i + 1] && v[i + 2]) {
				char hex[3] = {v[i + 1], v[i + 2], 0};
				c = (unsigned)strtoul(hex, NULL, 16);
				i += 2;
			}
			call->grpc_message[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		call->grpc_message[o] = '\0';
	}
	return 0;
}

static bool deliver(void *arg, const uint8_t *msg, size_t len)
{
	struct fm_grpc_call *call = arg;
	call->res.messages++;
	return call->on_msg ? call->on_msg(call, msg, len, call->ctx) : true;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
		   void *user)
{
	(void)flags;
	(void)user;
	struct fm_grpc_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
	if (!call || call->res.fail != FM_GRPC_OK)
		return 0;
	char err[200];
	int rc = fm_grpc_deframe(&call->df, data, len, deliver, call, err, sizeof(err));
	if (rc < 0) {
		call_fail(call,
			  rc == -EMSGSIZE	  ? FM_GRPC_TOO_LARGE
			  : rc == -ECANCELED ? FM_GRPC_CANCELED
					     : FM_GRPC_PROTOCOL,
			  "%s: %s", call->path, err);
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user)
{
	(void)user;
	struct fm_grpc_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
	if (!call)
		return 0;
	conclude(call, error_code);
	call_end(call);
	return 0;
}

/* The request message, framed, as the stream's body. */
static ssize_t read_req(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *flags,
			nghttp2_data_source *src, void *user)
{
	(void)s;
	(void)stream_id;
	(void)user;
	struct fm_grpc_call *call = src->ptr;
	size_t left = call->req_len - call->req_sent, n = left < length ? left : length;
	memcpy(buf, call->req + call->req_sent, n);
	call->req_sent += n;
	if (call->req_sent == call->req_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Reads what the socket has, feeds nghttp2, writes what it wants sent. */
static void on_io(struct fm_event *ev, uint32_t events)
{
	struct fm_grpc *g = container_of(ev, struct fm_grpc, ev);
	uint8_t buf[READ_CHUNK];
	g->dispatching = true;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			ssize_t n = recv(g->fd, buf, sizeof(buf), 0);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				g->dispatching = false;
				drop_connection(g, FM_GRPC_CLOSED, n == 0 ? "the runtime closed the connection"
								   : "reading from the runtime: %s",
						strerror(errno));
				return;
			}
			ssize_t used = nghttp2_session_mem_recv(g->session, buf, (size_t)n);
			if (used < 0) {
				g->dispatching = false;
				drop_connection(g, FM_GRPC_PROTOCOL, "not HTTP/2 from unix://%s: %s", g->path,
						nghttp2_strerror((int)used));
				return;
			}
		}
	}
	int rc = nghttp2_session_send(g->session);
	g->dispatching = false;
	if (rc != 0) {
		drop_connection(g, FM_GRPC_CLOSED, "writing to unix://%s: %s", g->path, nghttp2_strerror(rc));
		return;
	}
	want(g);
}

/* A new connection and its HTTP/2 session (the client preface and our
 * SETTINGS are queued). 0, or the failure for every waiting call. */
static int connect_session(struct fm_grpc *g, enum fm_grpc_fail *fail, char *why, size_t whylen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, g->path, strlen(g->path) + 1);
	g->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g->fd < 0 || connect(g->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		*fail = e == ENOENT || e == ECONNREFUSED ? FM_GRPC_REFUSED : FM_GRPC_CONNECT;
		snprintf(why, whylen, "connect to unix://%s: %s%s", g->path, strerror(e),
			 e == ENOENT ? " (no socket: is the runtime running?)"
			 : e == EAGAIN ? " (its accept queue is full: the runtime is hung?)"
				       : "");
		if (g->fd >= 0)
			close(g->fd);
		g->fd = -1;
		return -1;
	}
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb) != 0)
		goto out_nomem;
	nghttp2_session_callbacks_set_send_callback(cb, send_cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	int rc = nghttp2_session_client_new(&g->session, cb, g);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0)
		goto out_nomem;
	/* No server push; a window as large as one message may be. */
	const nghttp2_settings_entry settings[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
	};
	if (nghttp2_submit_settings(g->session, NGHTTP2_FLAG_NONE, settings, 2) != 0 ||
	    fm_loop_add(g->loop, &g->ev, g->fd, EPOLLIN | EPOLLOUT, on_io) < 0)
		goto out_nomem;
	return 0;
out_nomem:
	*fail = FM_GRPC_CONNECT;
	snprintf(why, whylen, "cannot set up the HTTP/2 session: out of memory");
	if (g->session)
		nghttp2_session_del(g->session);
	g->session = NULL;
	close(g->fd);
	g->fd = -1;
	return -1;
}

/* The call's HEADERS and body, queued on the session. */
static int submit(struct fm_grpc *g, struct fm_grpc_call *call)
{
	char timeout[24];
	snprintf(timeout, sizeof(timeout), "%dm", call->timeout_ms);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
	const nghttp2_nv hdrs[] = {
		NV(":method", "POST"),	       NV(":scheme", "http"),		   NV(":path", call->path),
		NV(":authority", "localhost"), NV("content-type", "application/grpc"), NV("te", "trailers"),
		NV("user-agent", "fleetmedic-agent"), NV("grpc-timeout", timeout),
	};
#undef NV
	nghttp2_data_provider body = {.source.ptr = call, .read_callback = read_req};
	int32_t id = nghttp2_submit_request(g->session, NULL, hdrs, call->timeout_ms > 0 ? 8 : 7, &body, call);
	if (id < 0)
		return -ENOMEM;
	call->stream_id = id;
	return 0;
}

struct fm_grpc *fm_grpc_new(struct fm_loop *loop, const char *endpoint, char *err, size_t errlen)
{
	const char *path = strncmp(endpoint, "unix://", 7) == 0 ? endpoint + 7 : endpoint;
	struct fm_grpc *g;
	if (path[0] != '/') {
		snprintf(err, errlen, "%s: not a unix socket endpoint (unix:///PATH)", endpoint);
		return NULL;
	}
	if (strlen(path) >= sizeof(g->path)) {
		snprintf(err, errlen, "%s: the socket path is longer than a unix socket's %zu bytes", endpoint,
			 sizeof(g->path) - 1);
		return NULL;
	}
	if (!(g = calloc(1, sizeof(*g)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->loop = loop;
	g->fd = -1;
	g->ev = (struct fm_event)FM_EVENT_INIT;
	snprintf(g->path, sizeof(g->path), "%s", path);
	return g;
}

void fm_grpc_delete(struct fm_grpc **gp)
{
	struct fm_grpc *g = *gp;
	if (!g)
		return;
	drop_connection(g, FM_GRPC_CANCELED, "canceled: the client is going away");
	free(g);
	*gp = NULL;
}

const char *fm_grpc_path(const struct fm_grpc *g)
{
	return g->path;
}

/* A call set up, not yet on the wire: its framed request and deadline. */
static struct fm_grpc_call *call_new(struct fm_grpc *g, const struct fm_grpc_req *req)
{
	struct fm_grpc_call *call = calloc(1, sizeof(*call));
	if (!call)
		return NULL;
	call->g = g;
	call->deadline = (struct fm_timer)FM_TIMER_INIT;
	call->on_msg = req->on_msg;
	call->on_done = req->on_done;
	call->ctx = req->ctx;
	call->timeout_ms = req->timeout_ms;
	call->started_ms = fm_now_ms();
	call->res.grpc_status = -1;
	snprintf(call->path, sizeof(call->path), "%s", req->path);
	size_t max = req->max_msg ? req->max_msg : DEFAULT_MAX_MSG;
	fm_grpc_deframer_init(&call->df, max < MAX_MSG_CAP ? max : MAX_MSG_CAP);
	call->req_len = 5 + req->len;
	if (!(call->req = malloc(call->req_len)) ||
	    (req->timeout_ms > 0 && (fm_timer_init(g->loop, &call->deadline, on_deadline) < 0 ||
				     fm_timer_arm(&call->deadline, (uint64_t)req->timeout_ms, 0) < 0))) {
		fm_timer_close(&call->deadline);
		fm_grpc_deframer_free(&call->df);
		free(call->req);
		free(call);
		return NULL;
	}
	call->req[0] = 0; /* not compressed */
	call->req[1] = (uint8_t)(req->len >> 24);
	call->req[2] = (uint8_t)(req->len >> 16);
	call->req[3] = (uint8_t)(req->len >> 8);
	call->req[4] = (uint8_t)req->len;
	if (req->len)
		memcpy(call->req + 5, req->msg, req->len);
	return call;
}

int fm_grpc_call(struct fm_grpc *g, const struct fm_grpc_req *req, struct fm_grpc_call **out)
{
	if (out)
		*out = NULL;
	if (!req->path || strlen(req->path) >= sizeof(((struct fm_grpc_call *)0)->path) || !req->on_done ||
	    req->len > MAX_MSG_CAP)
		return -EINVAL;
	if (g->ncalls >= MAX_CALLS)
		return -EBUSY;
	struct fm_grpc_call *call = call_new(g, req);
	if (!call)
		return -ENOMEM;
	call->next = g->calls;
	g->calls = call;
	g->ncalls++;
	if (out)
		*out = call;

	enum fm_grpc_fail fail;
	char why[300];
	if (!g->session && connect_session(g, &fail, why, sizeof(why)) < 0) {
		/* Known at once (no socket, refused): through on_done, like
		 * every other failure. */
		call_fail(call, fail, "%s: %s", call->path, why);
		call_end(call);
		return 0;
	}
	if (submit(g, call) < 0) {
		call_fail(call, FM_GRPC_CONNECT, "%s: cannot submit the request: out of memory", call->path);
		call_end(call);
		return 0;
	}
	if (!g->dispatching)
		want(g);
	return 0;
}
