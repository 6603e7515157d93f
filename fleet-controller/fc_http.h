/* fc_http: the controller's HTTP side (issue 24), libmicrohttpd in the
 * controller's own loop (its epoll descriptor watched by fm_loop: no
 * thread of its own).
 *
 *   GET /api/v1/nodes          every node, as `nodes --json`
 *   GET /api/v1/nodes/NODE     a node, as `show NODE --json` (?history=N)
 *   GET /metrics               Prometheus's text exposition format
 *   GET /, GET /nodes/NODE     the fleet's pages (fc_page.h)
 *   POST /api/v1/nodes/NODE/triage  {"what":"containers","args":[...],
 *                              "timeout_s":30}: the CLI's triage verbs,
 *                              relayed over the node's session (fc_relay);
 *                              always needs the token
 *
 * Plain HTTP: TLS belongs to the reverse proxy in front of it. On a
 * loopback address reads need no token; anywhere else every request needs
 * "Authorization: Bearer TOKEN" (--http-token FILE), compared in constant
 * time. Errors are JSON {"error": "..."}; request bodies and URLs are
 * bounded (FC_HTTP_URL_MAX, FC_HTTP_BODY_MAX).
 */
#ifndef FC_HTTP_H
#define FC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_HTTP_URL_MAX	    512
#define FC_HTTP_BODY_MAX    4096
#define FC_HTTP_TOKEN_MIN   16
#define FC_HTTP_TOKEN_MAX   256
#define FC_HTTP_CONN_MAX    64
#define FC_HTTP_HISTORY_MAX 1000

struct fm_loop;
struct fc_store;
struct fc_server;
struct fc_alerts;
struct fc_http;

struct fc_http_conf {
	const char *listen;	    /* HOST:PORT, [V6]:PORT */
	const char *token_file;	    /* NULL: no token (then loopback only) */
	struct fc_store *store;	    /* borrowed */
	const struct fc_server *server; /* its counters for /metrics; may be NULL */
	const struct fc_alerts *alerts; /* the same; may be NULL */
	struct fc_relay *relay;		/* triage; NULL: not served */
};

/* Binds and registers with loop. NULL with why filled (one line): a bad
 * address, a port in use, a non-loopback address without a token, an
 * unreadable or too short token file. */
struct fc_http *fc_http_new(struct fm_loop *loop, const struct fc_http_conf *conf, char *why, size_t why_size);
void fc_http_delete(struct fc_http **h);

/* What a request is for (the routing, exposed for the fuzz target). */
enum fc_http_route {
	FC_ROUTE_NOT_FOUND,
	FC_ROUTE_NODES,	  /* GET /api/v1/nodes */
	FC_ROUTE_NODE,	  /* GET /api/v1/nodes/NODE */
	FC_ROUTE_METRICS, /* GET /metrics */
	FC_ROUTE_PAGE,	  /* GET / (fc_page) */
	FC_ROUTE_NODE_PAGE, /* GET /nodes/NODE */
	FC_ROUTE_TRIAGE,    /* POST /api/v1/nodes/NODE/triage */
	FC_ROUTE_METHOD,  /* a known path, another method: 405 */
};
/* Routes method and url (the path as the client sent it, before any
 * query); node gets NODE (validated as a node name) for FC_ROUTE_NODE. */
enum fc_http_route fc_http_route(const char *method, const char *url, char *node, size_t node_size);

/* Whether the Authorization header value (NULL: none) carries token, in
 * time independent of where they differ. */
bool fc_http_token_ok(const char *authorization, const char *token);

/* Whether host (as --http gives it, without the port) is a loopback
 * address: 127.0.0.0/8, ::1, localhost. */
bool fc_http_loopback(const char *host);

/* Appends a Prometheus label value to out (escaping \, " and newline);
 * false when it does not fit. */
bool fc_http_label(char *out, size_t size, size_t *len, const char *value);

#endif
