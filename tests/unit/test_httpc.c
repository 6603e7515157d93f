/* Unit tests for fm_httpc over unix sockets (and plain http:// on 127.0.0.1)
 * against scripted servers that run in the same fm_loop as the client.
 *
 * A server is a listening socket registered as an fm_event. It accepts, reads
 * each request head up to the blank line (and a body by its Content-Length),
 * then follows a script: answer at once, answer in pieces on a timer, never
 * answer, close, or stream chunks on a periodic timer forever. It counts the
 * connections it accepted and keeps the last request for the test to check.
 *
 * Nothing here sleeps to wait for something: a test waits for on_done (or
 * another condition) with a deadline, and where something must NOT happen it
 * runs the loop until a later sentinel timer has fired.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_httpc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEADLINE_MS 3000 /* the longest any test waits for anything */
#define MAX_CONNS   4

enum act {
	ACT_ALL,    /* send pieces[0] at once */
	ACT_PIECES, /* send pieces[0] now, each next one gap_ms later */
	ACT_SILENT, /* read the request, never answer */
	ACT_CLOSE,  /* close right after reading the request */
	ACT_STREAM, /* send pieces[0] (the head), then pieces[1] every gap_ms, forever */
};

struct script {
	enum act act;
	const char *pieces[4]; /* NULL-terminated when shorter */
	int gap_ms;
	bool close_after; /* close once the whole answer is sent */
};

struct srv;

/* One accepted connection. */
struct sconn {
	struct fm_event ev;
	struct fm_timer timer;
	struct srv *srv;
	bool used;
	char buf[8192]; /* request bytes not yet served */
	size_t len;
	const struct script *sc;
	int next_piece;
	bool read_any;
};

struct srv {
	struct fm_loop *loop;
	struct fm_event lev;
	int lfd;
	const struct script *scripts; /* one per request served; the last repeats */
	size_t nscripts;
	int accepts;
	int requests;
	char req[8192]; /* the last request, head and body */
	size_t req_len;
	size_t first_read; /* bytes the last connection's first recv returned */
	struct sconn conns[MAX_CONNS];
};

/* Server ------------------------------------------------------------------- */

static void sconn_close(struct sconn *k)
{
	if (!k->used)
		return;
	int fd = k->ev.fd;
	fm_loop_del(&k->ev);
	fm_timer_close(&k->timer);
	if (fd >= 0)
		close(fd);
	k->used = false;
}

/* Sends s whole; answers are small, so a non-blocking socket takes them in
 * one go. false (and the connection closed) when the client has gone. */
static bool sconn_send(struct sconn *k, const char *s)
{
	size_t len = strlen(s);
	ssize_t n = send(k->ev.fd, s, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		sconn_close(k);
		return false;
	}
	return true;
}

static void sconn_after_answer(struct sconn *k)
{
	if (k->sc->close_after)
		sconn_close(k);
}

static void on_sconn_timer(struct fm_timer *t)
{
	struct sconn *k = container_of(t, struct sconn, timer);

	if (k->sc->act == ACT_STREAM) {
		sconn_send(k, k->sc->pieces[1]);
		return;
	}
	if (!sconn_send(k, k->sc->pieces[k->next_piece]))
		return;
	k->next_piece++;
	if (k->next_piece < 4 && k->sc->pieces[k->next_piece])
		return;
	fm_timer_disarm(&k->timer);
	sconn_after_answer(k);
}

/* The length of the first complete request in k->buf, 0 if none yet. */
static size_t request_len(const struct sconn *k)
{
	const char *end = memmem(k->buf, k->len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t head = (size_t)(end - k->buf) + 4;
	size_t body = 0;
	for (const char *p = k->buf; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		if (*p == '\n')
			p++;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			body = strtoul(p + 15, NULL, 10);
	}
	return k->len >= head + body ? head + body : 0;
}

/* Serves every complete request in the buffer. false when k was closed. */
static bool sconn_serve(struct sconn *k)
{
	struct srv *s = k->srv;
	size_t n;

	while ((n = request_len(k)) > 0) {
		memcpy(s->req, k->buf, n);
		s->req[n] = '\0';
		s->req_len = n;
		memmove(k->buf, k->buf + n, k->len - n);
		k->len -= n;
		size_t i =
		    (size_t)s->requests < s->nscripts ? (size_t)s->requests : s->nscripts - 1;
		s->requests++;
		k->sc = &s->scripts[i];
		switch (k->sc->act) {
		case ACT_ALL:
			if (!sconn_send(k, k->sc->pieces[0]))
				return false;
			sconn_after_answer(k);
			break;
		case ACT_PIECES:
		case ACT_STREAM:
			if (!sconn_send(k, k->sc->pieces[0]))
				return false;
			k->next_piece = 1;
			assert_int_equal(fm_timer_arm(&k->timer, (uint64_t)k->sc->gap_ms,
						      (uint64_t)k->sc->gap_ms),
					 0);
			break;
		case ACT_SILENT:
			break;
		case ACT_CLOSE:
			sconn_close(k);
			break;
		}
		if (!k->used)
			return false;
	}
	return true;
}

static void on_sconn_io(struct fm_event *ev, uint32_t events)
{
	struct sconn *k = container_of(ev, struct sconn, ev);
	(void)events;

	for (;;) {
		assert_true(k->len < sizeof(k->buf) - 1);
		ssize_t n = recv(ev->fd, k->buf + k->len, sizeof(k->buf) - 1 - k->len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			sconn_close(k);
			return;
		}
		k->len += (size_t)n;
		if (!k->read_any)
			k->srv->first_read = (size_t)n;
		k->read_any = true;
		if (!sconn_serve(k))
			return;
	}
}

static void on_accept(struct fm_event *ev, uint32_t events)
{
	struct srv *s = container_of(ev, struct srv, lev);
	(void)events;

	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			assert_true(errno == EAGAIN || errno == EINTR);
			return;
		}
		s->accepts++;
		struct sconn *k = NULL;
		for (int i = 0; i < MAX_CONNS && !k; i++)
			if (!s->conns[i].used)
				k = &s->conns[i];
		assert_non_null(k);
		*k = (struct sconn){.ev = FM_EVENT_INIT, .timer = FM_TIMER_INIT, .srv = s};
		assert_int_equal(fm_timer_init(s->loop, &k->timer, on_sconn_timer), 0);
		assert_int_equal(fm_loop_add(s->loop, &k->ev, fd, EPOLLIN, on_sconn_io), 0);
		k->used = true;
	}
}

static void srv_start(struct srv *s, int fd, const struct script *scripts, size_t nscripts)
{
	assert_int_equal(listen(fd, 8), 0);
	s->lfd = fd;
	s->scripts = scripts;
	s->nscripts = nscripts;
	assert_int_equal(fm_loop_add(s->loop, &s->lev, fd, EPOLLIN, on_accept), 0);
}

/* A unix socket bound at path, not listening yet. */
static int unix_bound(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void srv_unix(struct srv *s, const char *path, const struct script *scripts, size_t nscripts)
{
	srv_start(s, unix_bound(path), scripts, nscripts);
}

/* Listens on 127.0.0.1 on a free port; returns the port. */
static int srv_tcp(struct srv *s, const struct script *scripts, size_t nscripts)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	srv_start(s, fd, scripts, nscripts);
	return ntohs(sa.sin_port);
}

/* Closes every accepted connection, as a server dropping idle ones does. */
static void srv_drop_conns(struct srv *s)
{
	for (int i = 0; i < MAX_CONNS; i++)
		sconn_close(&s->conns[i]);
}

static void srv_close(struct srv *s)
{
	srv_drop_conns(s);
	fm_loop_del(&s->lev);
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
}

/* Fixture ------------------------------------------------------------------ */

struct fx {
	struct fm_loop *loop;
	char dir[64];
	char sock[128]; /* dir/s.sock: where the server listens */
	char url[160];	/* unix://dir/s.sock */
	struct srv srv;
	struct fm_httpc c;
	bool c_init;
	int done; /* on_done calls */
	int fds;  /* open at setup */
};

/* Open descriptors, to check that a test closed every one it opened. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->fds = count_fds();
	f->loop = fm_loop_new();
	assert_non_null(f->loop);
	strcpy(f->dir, "/tmp/fm-httpc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/s.sock", f->dir);
	snprintf(f->url, sizeof(f->url), "unix://%s", f->sock);
	f->srv.loop = f->loop;
	f->srv.lev = (struct fm_event)FM_EVENT_INIT;
	f->srv.lfd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->c_init)
		fm_httpc_close(&f->c);
	srv_close(&f->srv);
	fm_loop_delete(&f->loop);
	DIR *d = opendir(f->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	int rc = rmdir(f->dir);
	bool fds_closed = count_fds() == f->fds;
	free(f);
	if (rc < 0 || !fds_closed) {
		print_error("teardown: %s\n",
			    rc < 0 ? "temp dir left behind" : "a descriptor leaked");
		return -1;
	}
	return 0;
}

static void client_init(struct fx *f, const char *url)
{
	char err[256] = "";
	int rc = fm_httpc_init(&f->c, f->loop, url, NULL, err, sizeof(err));
	f->c_init = true;
	if (rc)
		fail_msg("fm_httpc_init(%s): %s", url, err);
}

static struct fm_httpc_req get(const char *path)
{
	return (struct fm_httpc_req){.method = "GET", .path = path, .timeout_ms = 2000};
}

static void count_done(struct fm_httpc *c, void *ctx)
{
	(void)c;
	(*(int *)ctx)++;
}

/* Runs the loop until *v reaches target; fails the test at the deadline. */
static void run_until(struct fm_loop *loop, const int *v, int target)
{
	uint64_t end = fm_now_ms() + DEADLINE_MS;
	while (*v < target) {
		uint64_t now = fm_now_ms();
		assert_true(now < end);
		assert_true(fm_loop_run_once(loop, (int)(end - now)) >= 0);
	}
}

/* A timer that counts its expiries and may cancel a request. */
struct ttimer {
	struct fm_timer t;
	int fired;
	struct fm_httpc *cancel;
};

static void on_ttimer(struct fm_timer *t)
{
	struct ttimer *tt = container_of(t, struct ttimer, t);
	tt->fired++;
	if (tt->cancel)
		fm_httpc_cancel(tt->cancel);
}

static void ttimer_start(struct fx *f, struct ttimer *tt, uint64_t ms, struct fm_httpc *cancel)
{
	*tt = (struct ttimer){.t = FM_TIMER_INIT, .cancel = cancel};
	assert_int_equal(fm_timer_init(f->loop, &tt->t, on_ttimer), 0);
	assert_int_equal(fm_timer_arm(&tt->t, ms, 0), 0);
}

#define ONE(...) (const struct script[]){__VA_ARGS__}, 1

static const char OK_HELLO[] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world";

/* Body, pieces, deadlines ----------------------------------------------------- */

static void test_chunked_unix(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock,
		 ONE({.act = ACT_ALL,
		      .pieces = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				 "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"}}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/info");

	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.fail, FM_HTTPC_OK);
	assert_int_equal(f->c.status, 200);
	assert_int_equal(f->c.body.len, 11);
	assert_string_equal(f->c.body.data, "hello world");
	assert_int_equal(f->srv.accepts, 1);
	/* Over a unix socket the Host is "localhost". */
	assert_non_null(strstr(f->srv.req, "GET /info HTTP/1.1\r\n"));
	assert_non_null(strstr(f->srv.req, "\r\nHost: localhost\r\n"));
}

static void test_length_in_pieces(void **state)
{
	struct fx *f = *state;
	srv_unix(
	    &f->srv, f->sock,
	    ONE({.act = ACT_PIECES,
		 .pieces = {"HTTP/1.1 200 OK\r\nContent-Le", "ngth: 11\r\n\r\nhel", "lo world"},
		 .gap_ms = 30}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/");

	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.fail, FM_HTTPC_OK);
	assert_int_equal(f->c.status, 200);
	assert_string_equal(f->c.body.data, "hello world");
	/* Two timer gaps passed: the answer really came in pieces. */
	assert_true(f->c.elapsed_ms >= 60);
}

static void test_no_socket_file(void **state)
{
	struct fx *f = *state;
	char url[200];
	snprintf(url, sizeof(url), "unix://%s/nope.sock", f->dir);
	client_init(f, url);
	struct fm_httpc_req r = get("/");

	assert_int_equal(fm_httpc_fetch(&f->c, &r), -1);
	assert_int_equal(f->c.fail, FM_HTTPC_REFUSED);
	assert_non_null(strstr(f->c.reason, "no such socket file"));
	assert_non_null(strstr(f->c.reason, "nope.sock"));
	assert_int_equal(f->c.status, 0);
}

/* A socket file nobody listens on: bound only, or listened on and closed. */
static void stale_socket(struct fx *f, bool listened)
{
	char path[200];
	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	int fd = unix_bound(path);
	if (listened)
		assert_int_equal(listen(fd, 1), 0);
	close(fd);
	char url[220];
	snprintf(url, sizeof(url), "unix://%s", path);
	client_init(f, url);
	struct fm_httpc_req r = get("/");

	assert_int_equal(fm_httpc_fetch(&f->c, &r), -1);
	assert_int_equal(f->c.fail, FM_HTTPC_REFUSED);
	assert_non_null(strstr(f->c.reason, "refused"));
	assert_non_null(strstr(f->c.reason, "stale.sock"));
}

static void test_stale_socket_bound(void **state)
{
	stale_socket(*state, false);
}

static void test_stale_socket_listened(void **state)
{
	stale_socket(*state, true);
}

static void too_large(struct fx *f, const char *answer)
{
	const struct script sc[] = {{.act = ACT_ALL, .pieces = {answer}}};
	srv_unix(&f->srv, f->sock, sc, 1);
	client_init(f, f->url);
	struct fm_httpc_req r = get("/");
	r.max_body = 16;

	assert_int_equal(fm_httpc_fetch(&f->c, &r), -1);
	assert_int_equal(f->c.fail, FM_HTTPC_TOO_LARGE);
	assert_non_null(strstr(f->c.reason, "too large"));
	assert_true(f->c.body.len <= 16);
}

static void test_too_large_length(void **state)
{
	too_large(*state, "HTTP/1.1 200 OK\r\nContent-Length: 32\r\n\r\n"
			  "0123456789abcdef0123456789abcdef");
}

static void test_too_large_chunk(void **state)
{
	/* One chunk bigger than the cap. */
	too_large(*state, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "14\r\n0123456789abcdefghij\r\n0\r\n\r\n");
}

static void test_too_large_chunks(void **state)
{
	/* Chunks each under the cap, together over it. */
	too_large(*state, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
}

/* Streams and cancelling -------------------------------------------------------- */

static const char STREAM_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n";
static const char STREAM_CHUNK[] = "b\r\n{\"ev\":\"x\"}\n\r\n";

struct pieces {
	int n;
	int stop_at;
};

static int count_pieces(void *ctx, const char *data, size_t len)
{
	struct pieces *p = ctx;
	assert_int_equal(len, 11);
	assert_memory_equal(data, "{\"ev\":\"x\"}\n", 11);
	p->n++;
	return p->stop_at && p->n >= p->stop_at;
}

static void test_stream_outlives_deadline(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock,
		 ONE({.act = ACT_STREAM, .pieces = {STREAM_HEAD, STREAM_CHUNK}, .gap_ms = 50}));
	client_init(f, f->url);
	struct pieces p = {.stop_at = 4};
	struct fm_httpc_req r = get("/events");
	r.timeout_ms = 100;
	r.stream = true;
	r.on_body = count_pieces;
	r.body_ctx = &p;
	r.on_done = count_done;
	r.done_ctx = &f->done;

	assert_int_equal(fm_httpc_start(&f->c, &r), 0);
	run_until(f->loop, &f->done, 1);
	assert_int_equal(f->c.fail, FM_HTTPC_CANCELED);
	assert_int_equal(f->c.status, 200);
	assert_int_equal(p.n, 4);
	/* The fourth chunk left the server 200 ms after the head. */
	assert_true(f->c.elapsed_ms >= 150);
	assert_non_null(strstr(f->c.reason, "stopped"));
	assert_int_equal(f->c.state, FM_HTTPC_IDLE); /* a stream is never reused */
}

/* fm_httpc_cancel from a timer: on_done once, and nothing after it (the
 * sentinel fires after the request's own deadline would have). */
static void cancel_from_timer(struct fx *f, const struct script *sc, int timeout_ms,
			      uint64_t cancel_ms, uint64_t sentinel_ms)
{
	srv_unix(&f->srv, f->sock, sc, 1);
	client_init(f, f->url);
	struct pieces p = {0};
	struct fm_httpc_req r = get("/events");
	r.timeout_ms = timeout_ms;
	r.stream = sc->act == ACT_STREAM;
	r.on_body = r.stream ? count_pieces : NULL;
	r.body_ctx = &p;
	r.on_done = count_done;
	r.done_ctx = &f->done;
	struct ttimer canceller, sentinel;
	ttimer_start(f, &canceller, cancel_ms, &f->c);
	ttimer_start(f, &sentinel, sentinel_ms, NULL);

	assert_int_equal(fm_httpc_start(&f->c, &r), 0);
	run_until(f->loop, &f->done, 1);
	assert_int_equal(canceller.fired, 1);
	assert_int_equal(f->c.fail, FM_HTTPC_CANCELED);
	assert_string_equal(f->c.reason, "canceled");
	run_until(f->loop, &sentinel.fired, 1);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->c.fail, FM_HTTPC_CANCELED);
	assert_int_equal(f->c.state, FM_HTTPC_IDLE);
	/* Cancelling again, with nothing running, does nothing. */
	fm_httpc_cancel(&f->c);
	assert_int_equal(f->done, 1);
	fm_timer_close(&canceller.t);
	fm_timer_close(&sentinel.t);
}

static void test_cancel_stream_from_timer(void **state)
{
	static const struct script sc = {
	    .act = ACT_STREAM, .pieces = {STREAM_HEAD, STREAM_CHUNK}, .gap_ms = 50};
	struct fx *f = *state;
	cancel_from_timer(f, &sc, 100, 180, 300);
	assert_int_equal(f->c.status, 200);
}

static void test_cancel_before_deadline(void **state)
{
	static const struct script sc = {.act = ACT_SILENT};
	cancel_from_timer(*state, &sc, 150, 50, 250);
}

/* The blocking fetch from inside a loop callback (issue 21: the daemon never
 * waits): refused at once, nothing sent; the request then goes through
 * fm_httpc_start, and the same callback's answer arrives from the loop. */
struct nested_fetch {
	struct fm_timer t;
	struct fm_httpc *c;
	int rc;
	enum fm_httpc_fail fail;
	char reason[384];
	bool fired;
};

static void on_nested_fetch(struct fm_timer *t)
{
	struct nested_fetch *n = container_of(t, struct nested_fetch, t);
	struct fm_httpc_req r = get("/");
	n->fired = true;
	n->rc = fm_httpc_fetch(n->c, &r);
	n->fail = n->c->fail;
	snprintf(n->reason, sizeof(n->reason), "%s", n->c->reason);
}

static void test_fetch_refused_in_callback(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_ALL, .pieces = {OK_HELLO}}));
	client_init(f, f->url);
	struct nested_fetch n = {.t = FM_TIMER_INIT, .c = &f->c};
	assert_int_equal(fm_timer_init(f->loop, &n.t, on_nested_fetch), 0);
	assert_int_equal(fm_timer_arm(&n.t, 1, 0), 0);
	struct ttimer sentinel;
	ttimer_start(f, &sentinel, 100, NULL);
	run_until(f->loop, &sentinel.fired, 1);
	assert_true(n.fired);
	assert_int_equal(n.rc, -1);
	assert_int_equal(n.fail, FM_HTTPC_CANCELED);
	if (!strstr(n.reason, "inside a loop callback"))
		fail_msg("reason: %s", n.reason);
	assert_int_equal(f->srv.accepts, 0);
	/* Outside any callback the same client works. */
	struct fm_httpc_req r = get("/");
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.status, 200);
	assert_int_equal(f->srv.accepts, 1);
	fm_timer_close(&n.t);
	fm_timer_close(&sentinel.t);
}

/* Failures ----------------------------------------------------------------------- */

static void test_silent_server_times_out(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_SILENT}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/");
	r.timeout_ms = 200;

	assert_int_equal(fm_httpc_fetch(&f->c, &r), -1);
	assert_int_equal(f->c.fail, FM_HTTPC_TIMEOUT);
	assert_non_null(strstr(f->c.reason, "did not answer"));
	assert_non_null(strstr(f->c.reason, "200 ms"));
	assert_true(f->c.elapsed_ms >= 200);
	assert_int_equal(f->srv.requests, 1);
}

/* A server that stopped accepting (a hung dockerd): its accept queue is full,
 * and a non-blocking connect to a unix socket then fails with EAGAIN at once
 * (it is not "in progress" as for TCP). */
static void test_accept_queue_full(void **state)
{
	struct fx *f = *state;
	int lfd = unix_bound(f->sock);
	int fill[8];
	int nfill = 0;
	assert_int_equal(listen(lfd, 0), 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, f->sock);
	for (;;) {
		assert_true(nfill < 8);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		fill[nfill++] = fd;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
	}
	client_init(f, f->url);
	struct fm_httpc_req r = get("/_ping");
	r.timeout_ms = 300;

	int rc = fm_httpc_fetch(&f->c, &r);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	close(lfd);
	assert_int_equal(rc, -1);
	if (f->c.fail != FM_HTTPC_CONNECT || !strstr(f->c.reason, "accept"))
		fail_msg("%s: %s", fm_httpc_fail_name(f->c.fail), f->c.reason);
}

static void malformed(struct fx *f, const char *answer, const char *why)
{
	const struct script sc[] = {{.act = ACT_ALL, .pieces = {answer}, .close_after = true}};
	srv_unix(&f->srv, f->sock, sc, 1);
	client_init(f, f->url);
	struct fm_httpc_req r = get("/");

	assert_int_equal(fm_httpc_fetch(&f->c, &r), -1);
	assert_int_equal(f->c.fail, FM_HTTPC_MALFORMED);
	if (!strstr(f->c.reason, why))
		fail_msg("reason \"%s\" does not say \"%s\"", f->c.reason, why);
}

static void test_malformed_status_line(void **state)
{
	malformed(*state, "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", "malformed");
}

static void test_not_http(void **state)
{
	malformed(*state, "SSH-2.0-OpenSSH_9.2p1\r\n", "malformed");
}

static void test_cut_short(void **state)
{
	malformed(*state, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhello", "cut short");
}

static void test_closed_after_request(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_CLOSE}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/");

	assert_int_equal(fm_httpc_fetch(&f->c, &r), -1);
	assert_int_equal(f->c.fail, FM_HTTPC_CLOSED);
	assert_non_null(strstr(f->c.reason, "without answering"));
	assert_int_equal(f->c.status, 0);
	assert_int_equal(f->srv.requests, 1);
}

/* Keep-alive ----------------------------------------------------------------------- */

static void two_requests(struct fx *f, const char *url)
{
	client_init(f, url);
	struct fm_httpc_req r = get("/one");
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.status, 200);
	assert_string_equal(f->c.body.data, "hello world");

	r = get("/two");
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.fail, FM_HTTPC_OK);
	assert_int_equal(f->c.status, 200);
	assert_string_equal(f->c.body.data, "hello world");
	assert_int_equal(f->srv.requests, 2);
	assert_non_null(strstr(f->srv.req, "GET /two HTTP/1.1\r\n"));
}

static void test_keepalive_one_connection(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_ALL, .pieces = {OK_HELLO}}));
	two_requests(f, f->url);
	assert_int_equal(f->srv.accepts, 1);
	assert_true(f->c.reused);
	assert_int_equal(f->c.state, FM_HTTPC_KEEPALIVE);
}

static void test_connection_close_reconnects(void **state)
{
	static const struct script sc[] = {
	    {.act = ACT_ALL,
	     .pieces = {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n"
			"hello world"},
	     .close_after = true},
	    {.act = ACT_ALL, .pieces = {OK_HELLO}},
	};
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, sc, 2);
	two_requests(f, f->url);
	assert_int_equal(f->srv.accepts, 2);
	assert_false(f->c.reused);
}

/* The server drops the idle connection and the next request goes out before
 * the client's loop has seen it: sent into a dead connection, retried once on
 * a new one. */
static void idle_close_then_request(struct fx *f, const char *url)
{
	client_init(f, url);
	struct fm_httpc_req r = get("/one");
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.state, FM_HTTPC_KEEPALIVE);
	srv_drop_conns(&f->srv);

	r = get("/two");
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.fail, FM_HTTPC_OK);
	assert_string_equal(f->c.body.data, "hello world");
	assert_int_equal(f->srv.accepts, 2);
	assert_int_equal(f->srv.requests, 2);
	assert_non_null(strstr(f->srv.req, "GET /two HTTP/1.1\r\n"));
}

static void test_idle_close_retried_unix(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_ALL, .pieces = {OK_HELLO}}));
	idle_close_then_request(f, f->url);
}

static void test_idle_close_retried_tcp(void **state)
{
	struct fx *f = *state;
	int port = srv_tcp(&f->srv, ONE({.act = ACT_ALL, .pieces = {OK_HELLO}}));
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	idle_close_then_request(f, url);
}

/* The server drops the idle connection and the client's loop notices before
 * the next request: that one connects afresh. */
static void test_idle_close_noticed(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_ALL, .pieces = {OK_HELLO}}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/one");
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	srv_drop_conns(&f->srv);

	uint64_t end = fm_now_ms() + DEADLINE_MS;
	while (f->c.state != FM_HTTPC_IDLE) {
		uint64_t now = fm_now_ms();
		assert_true(now < end);
		assert_true(fm_loop_run_once(f->loop, (int)(end - now)) >= 0);
	}
	r = get("/two");
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_string_equal(f->c.body.data, "hello world");
	assert_false(f->c.reused);
	assert_int_equal(f->srv.accepts, 2);
}

/* Requests ------------------------------------------------------------------------- */

static void test_post_body_tcp(void **state)
{
	static const char body[] = "{\"key\":\"L2hlYWx0aA==\"}";
	struct fx *f = *state;
	int port = srv_tcp(
	    &f->srv,
	    ONE({.act = ACT_ALL, .pieces = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"}}));
	char url[64], host[64], want[300];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	client_init(f, url);
	struct fm_httpc_req r = {.method = "POST",
				 .path = "/v3/kv/range",
				 .content_type = "application/json",
				 .body = body,
				 .body_len = sizeof(body) - 1,
				 .timeout_ms = 2000};

	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.status, 200);
	assert_string_equal(f->c.body.data, "{}");

	const char *q = f->srv.req;
	const char *end = strstr(q, "\r\n\r\n");
	assert_non_null(end);
	assert_true(strncmp(q, "POST /v3/kv/range HTTP/1.1\r\n", 28) == 0);
	snprintf(want, sizeof(want), "\r\nHost: %s\r\n", host);
	assert_non_null(strstr(q, want));
	assert_non_null(strstr(q, "\r\nContent-Type: application/json\r\n"));
	snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", sizeof(body) - 1);
	assert_non_null(strstr(q, want));
	assert_true(strstr(q, want) < end);
	assert_int_equal(f->srv.req_len, (size_t)(end + 4 - q) + sizeof(body) - 1);
	assert_memory_equal(end + 4, body, sizeof(body) - 1);
	/* Head and body in one write: the whole request is the connection's
	 * first read (two writes, the body waited for the head's ACK). */
	assert_int_equal(f->srv.first_read, f->srv.req_len);
	/* and no Nagle on the kept-alive connection */
	int nodelay = 0;
	socklen_t nl = sizeof(nodelay);
	assert_true(f->c.fd >= 0);
	assert_int_equal(getsockopt(f->c.fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl), 0);
	assert_int_equal(nodelay, 1);
}

static void test_require_2xx_503(void **state)
{
	struct fx *f = *state;
	srv_unix(
	    &f->srv, f->sock,
	    ONE({.act = ACT_ALL,
		 .pieces = {"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"}}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/health");

	/* An answer arrived: fetch succeeds whatever the status. */
	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(f->c.status, 503);
	assert_string_equal(f->c.body.data, "busy");
	assert_int_equal(fm_httpc_require_2xx(&f->c), -1);
	assert_int_equal(f->c.fail, FM_HTTPC_STATUS);
	assert_non_null(strstr(f->c.reason, "503"));
	assert_non_null(strstr(f->c.reason, "Service Unavailable"));
	assert_string_equal(fm_httpc_fail_name(f->c.fail), "http-status");
}

static void test_require_2xx_200(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_ALL, .pieces = {OK_HELLO}}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/health");

	assert_int_equal(fm_httpc_fetch(&f->c, &r), 0);
	assert_int_equal(fm_httpc_require_2xx(&f->c), 0);
	assert_int_equal(f->c.fail, FM_HTTPC_OK);
}

/* URLs and lifecycle ----------------------------------------------------------------- */

static void test_url_parse(void **state)
{
	static const struct {
		const char *url;
		enum fm_httpc_scheme scheme;
		const char *host;
		int port;
		const char *path;
	} good[] = {
	    {"https://127.0.0.1:2379", FM_HTTPC_HTTPS, "127.0.0.1", 2379, ""},
	    {"https://[::1]:6443", FM_HTTPC_HTTPS, "::1", 6443, ""},
	    {"https://master-1/", FM_HTTPC_HTTPS, "master-1", 443, ""},
	    {"http://localhost", FM_HTTPC_HTTP, "localhost", 80, ""},
	    {"http://127.0.0.1:2381/", FM_HTTPC_HTTP, "127.0.0.1", 2381, ""},
	    {"unix:///var/run/docker.sock", FM_HTTPC_UNIX, "localhost", 0, "/var/run/docker.sock"},
	};
	static const char *const bad[] = {
	    "ftp://x",	       "https://",     "https://h:0", "https://h:70000", "https://h/path",
	    "unix://relative", "https://[::1", "https://h:",  "https://h:80x",	 "",
	};
	struct fm_httpc_url u;
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err[0] = '\0';
		int rc = fm_httpc_url_parse(good[i].url, &u, err, sizeof(err));
		if (rc)
			fail_msg("%s: %s", good[i].url, err);
		assert_int_equal(u.scheme, good[i].scheme);
		assert_string_equal(u.host, good[i].host);
		assert_int_equal(u.port, good[i].port);
		assert_string_equal(u.path, good[i].path);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = fm_httpc_url_parse(bad[i], &u, err, sizeof(err));
		if (rc != -EINVAL)
			fail_msg("%s: accepted (rc %d)", bad[i], rc);
		assert_true(err[0] != '\0');
	}

	/* The longest path sun_path holds, and one byte more. */
	char url[8 + sizeof(u.path) + 1];
	strcpy(url, "unix://");
	memset(url + 7, 'a', sizeof(u.path));
	url[7] = '/';
	url[7 + sizeof(u.path) - 1] = '\0';
	assert_int_equal(fm_httpc_url_parse(url, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.path), sizeof(u.path) - 1);
	url[7 + sizeof(u.path) - 1] = 'a';
	url[7 + sizeof(u.path)] = '\0';
	err[0] = '\0';
	assert_int_equal(fm_httpc_url_parse(url, &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
}

static void test_init_refuses(void **state)
{
	struct fx *f = *state;
	char err[256] = "";

	/* https without a CA to verify with. */
	assert_int_equal(
	    fm_httpc_init(&f->c, f->loop, "https://127.0.0.1:2379", NULL, err, sizeof(err)),
	    -EINVAL);
	f->c_init = true;
	assert_true(err[0] != '\0');
	fm_httpc_close(&f->c);
	err[0] = '\0';
	assert_int_equal(fm_httpc_init(&f->c, f->loop, "ftp://x", NULL, err, sizeof(err)), -EINVAL);
	assert_true(err[0] != '\0');
}

/* fm_httpc_close accepts a zeroed c: its fd fields are 0, which must not
 * close stdin. */
static void test_close_zeroed(void **state)
{
	struct fm_httpc *c = calloc(1, sizeof(*c));
	int fd = -1;
	(void)state;
	assert_non_null(c);
	if (fcntl(0, F_GETFD) < 0) {
		fd = open("/dev/null", O_RDONLY);
		assert_int_equal(fd, 0);
	}
	fm_httpc_close(c);
	bool open_after = fcntl(0, F_GETFD) >= 0;
	free(c);
	if (fd == 0 && open_after)
		close(fd);
	assert_true(open_after);
}

static void test_busy(void **state)
{
	struct fx *f = *state;
	srv_unix(&f->srv, f->sock, ONE({.act = ACT_SILENT}));
	client_init(f, f->url);
	struct fm_httpc_req r = get("/");
	r.on_done = count_done;
	r.done_ctx = &f->done;

	assert_int_equal(fm_httpc_start(&f->c, &r), 0);
	assert_int_equal(fm_httpc_start(&f->c, &r), -EBUSY);
	fm_httpc_cancel(&f->c);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->c.fail, FM_HTTPC_CANCELED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_chunked_unix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_length_in_pieces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_socket_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket_listened, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_large_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_large_chunk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_large_chunks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_outlives_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_stream_from_timer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_before_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_refused_in_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_silent_server_times_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept_queue_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_status_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_http, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cut_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed_after_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keepalive_one_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_close_reconnects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_close_retried_unix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_close_retried_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_close_noticed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_post_body_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_require_2xx_503, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_require_2xx_200, setup, teardown),
	    cmocka_unit_test(test_url_parse),
	    cmocka_unit_test_setup_teardown(test_init_refuses, setup, teardown),
	    cmocka_unit_test(test_close_zeroed),
	    cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
