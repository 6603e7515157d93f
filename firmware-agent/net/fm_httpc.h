/* fm_httpc: a non-blocking HTTP/1.1 client for the agent's loop.
 *
 * One struct fm_httpc is one connection to one server, carrying one request
 * at a time (kept alive between requests when the server allows). It speaks
 * over TLS (https://HOST:PORT, verified with fm_tls), plain TCP
 * (http://HOST:PORT: etcd's metrics listener) or a unix socket
 * (unix:///var/run/docker.sock). Every request has a deadline and a cap on
 * its response; a body that never ends (Docker's /events) is streamed.
 *
 * Every failure is one named kind with a reason for the person reading the
 * report: the connection was refused, timed out, failed TLS (and why), or the
 * answer was malformed or too large.
 */
#ifndef FM_HTTPC_H
#define FM_HTTPC_H

#include "fm_buf.h"
#include "fm_http.h"
#include "fm_loop.h"
#include "fm_tls.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

enum fm_httpc_fail {
	FM_HTTPC_OK = 0,
	FM_HTTPC_REFUSED,   /* nothing listens (ECONNREFUSED; unix: no socket file) */
	FM_HTTPC_TIMEOUT,   /* the deadline passed (connect, TLS or response) */
	FM_HTTPC_TLS,       /* TLS failed: fm_tls_fail kind in tls_fail */
	FM_HTTPC_STATUS,    /* the server answered with a status the caller does not accept */
	FM_HTTPC_MALFORMED, /* the answer is not HTTP, or was cut short */
	FM_HTTPC_TOO_LARGE, /* the answer exceeds the cap */
	FM_HTTPC_CONNECT,   /* another connect error (unreachable, permission, resolve) */
	FM_HTTPC_CLOSED,    /* the server closed the connection before answering */
	FM_HTTPC_CANCELED,  /* the caller cancelled, or its body callback said stop */
};

/* Stable short name: "refused", "timeout", "tls", "http-status", "malformed",
 * "too-large", "connect", "closed", "canceled", "ok". */
const char *fm_httpc_fail_name(enum fm_httpc_fail f);

enum fm_httpc_scheme { FM_HTTPC_HTTPS, FM_HTTPC_HTTP, FM_HTTPC_UNIX };

struct fm_httpc_url {
	enum fm_httpc_scheme scheme;
	char host[256]; /* name or IP literal (IPv6 without brackets); "localhost" for unix */
	int port;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix socket path */
};

/* Parses "https://HOST[:PORT][/]", "http://HOST[:PORT][/]" (IPv6 as [::1]) or
 * "unix:///PATH". Default ports 443/80. 0 or -EINVAL (reason in err). */
int fm_httpc_url_parse(const char *url, struct fm_httpc_url *out, char *err, size_t errlen);

struct fm_httpc;
typedef void (*fm_httpc_done_fn)(struct fm_httpc *c, void *ctx);

struct fm_httpc_req {
	const char *method;       /* "GET", "POST" ... */
	const char *path;         /* "/health" */
	const char *content_type; /* with a body, or NULL */
	const char *extra_headers; /* "Name: value\r\n" lines (Authorization ...), or NULL */
	const char *body;         /* borrowed until done; NULL: none */
	size_t body_len;
	uint64_t max_body;        /* cap on the response body; 0: 1 MiB */
	int timeout_ms;           /* whole request; 0: 2000. For a stream: until its headers */
	bool stream;              /* body is delivered through on_body and may never end;
				   * max_body does not apply: the reader caps each event */
	bool idempotent;          /* may be sent again on a fresh connection if a kept-alive
				   * one was closed under it (GET and HEAD always are) */
	fm_http_body_fn on_body;  /* NULL: the body is collected into c->body */
	void *body_ctx;
	fm_httpc_done_fn on_done; /* called once per request, from the loop */
	void *done_ctx;
};

enum fm_httpc_state {
	FM_HTTPC_IDLE = 0, FM_HTTPC_CONNECTING, FM_HTTPC_HANDSHAKE, FM_HTTPC_SENDING,
	FM_HTTPC_RECEIVING, FM_HTTPC_KEEPALIVE,
};

struct fm_httpc {
	/* Results of the last request (valid in on_done and after). */
	enum fm_httpc_fail fail;
	enum fm_tls_fail tls_fail;
	int tls_code;	 /* with FM_HTTPC_TLS: the Mbed TLS code (fm_tls_code) */
	char reason[384];
	int status;           /* HTTP status, 0 if none arrived */
	struct fm_buf body;   /* the collected body (when on_body is NULL) */
	uint64_t elapsed_ms;  /* from start to done */
	const char *tls_version;
	struct fm_http_parser parser; /* headers of the answer: fm_http_header_get */
	/* The server's certificate as presented in this connection's TLS
	 * handshake, kept after the session is gone (also when the handshake
	 * failed on it: an expired server certificate is still described).
	 * Cleared when a new connection starts. */
	struct fm_cert_info peer_cert;
	bool have_peer_cert;

	/* Internal. */
	struct fm_loop *loop;
	struct fm_event ev;
	struct fm_timer deadline;
	struct fm_httpc_url url;
	struct fm_tls_config *tls_cfg;
	struct fm_tls *tls;
	int fd;
	struct sockaddr_storage addrs[4]; /* what the host resolved to, tried in order */
	socklen_t addrlens[4];
	int naddrs, cur_addr;
	enum fm_httpc_state state;
	struct fm_httpc_req req;
	char head[2048]; /* the request's head, and its body when both fit */
	size_t head_len, sent;
	size_t tail_len; /* the body's bytes sent from req.body after head (0: in head) */
	uint64_t started_ms;
	bool reused;    /* this request went out on a kept-alive connection */
	bool got_bytes; /* any byte of the answer arrived */
	bool done;
};

/* Prepares c for url. https needs tls (borrowed; must outlive c), the others
 * ignore it. 0 or -EINVAL with a reason in err. Connects nothing yet. */
int fm_httpc_init(struct fm_httpc *c, struct fm_loop *loop, const char *url,
		  struct fm_tls_config *tls, char *err, size_t errlen);
/* Closes the connection, frees the body; c can be re-initialised. Accepts a
 * zeroed or half-initialised c. */
void fm_httpc_close(struct fm_httpc *c);

/* Starts a request (borrows req's strings until on_done). 0, -EBUSY (one is
 * running) or -errno when it cannot start at all; failures after that arrive
 * through on_done with c->fail set -- a refusal known at once (loopback) even
 * before fm_httpc_start returns. */
int fm_httpc_start(struct fm_httpc *c, const struct fm_httpc_req *req);
/* Aborts the running request: on_done runs with FM_HTTPC_CANCELED. */
void fm_httpc_cancel(struct fm_httpc *c);

/* For one-shot commands (check, probe): runs the request on the loop until it
 * is done. Returns 0 when an answer arrived (any status), else -1 with c->fail
 * and c->reason set. A stopped loop (fm_loop_stop: SIGTERM) cancels the
 * request at once (FM_HTTPC_CANCELED) instead of waiting for its deadline.
 * Refused from inside a loop callback (FM_HTTPC_CANCELED, nothing sent): the
 * daemon's sources never wait (fm_httpc_start). */
int fm_httpc_fetch(struct fm_httpc *c, const struct fm_httpc_req *req);

/* Marks a finished request failed with FM_HTTPC_STATUS unless its status is
 * 2xx. Returns 0 if 2xx, -1 otherwise. */
int fm_httpc_require_2xx(struct fm_httpc *c);

#endif
