/* fc_http: the controller's HTTP side (see fc_http.h). */
#include "fc_http.h"

#include "fc_alert.h"
#include "fc_keys.h"
#include "fc_page.h"
#include "fc_relay.h"
#include "fc_server.h"
#include "fc_store.h"
#include "fc_wire.h"
#include "fm_buf.h"
#include "fm_coap.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fc_http {
	struct fm_loop *loop;
	struct MHD_Daemon *d;
	struct fm_event ev;   /* MHD's epoll descriptor */
	struct fm_timer tick; /* MHD's timeouts */
	struct fm_timer kick; /* MHD_run soon: a resumed connection waits for it */
	struct fc_relay *relay;
	struct request *suspended; /* triage requests waiting for their node */
	struct fc_store *store;
	const struct fc_server *server;
	const struct fc_alerts *alerts;
	bool loopback;
	char token[FC_HTTP_TOKEN_MAX + 1]; /* "" none */
	uint64_t requests, unauthorized;
};

/* --- answers ------------------------------------------------------------------- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type, char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(body ? strlen(body) : 0, body ? body : (char *)"", MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"fleetmedic\"");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result answer_json(struct MHD_Connection *c, unsigned status, cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!s)
		return MHD_NO;
	/* cJSON's allocator is malloc: MHD frees it with free() */
	size_t n = strlen(s);
	char *body = malloc(n + 2);
	if (!body) {
		cJSON_free(s);
		return MHD_NO;
	}
	memcpy(body, s, n);
	memcpy(body + n, "\n", 2);
	cJSON_free(s);
	return answer(c, status, "application/json", body);
}

static enum MHD_Result answer_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", msg);
	return answer_json(c, status, j);
}

/* --- /metrics ---------------------------------------------------------------- */

/* /metrics and the pages are bounded: 1,000 nodes take ~200 kB */
#define TEXT_MAX (16u << 20)

/* a refused append marks the buffer failed (fm_buf), checked at the end */
#define put fm_buf_printf

/* A label value as the format wants it; node names and codes are shaped
 * already ([a-z0-9.-]), escaped all the same. */
static const char *label(const char *v, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	if (!fc_http_label(buf, size, &len, v))
		snprintf(buf, size, "?");
	return buf;
}

static void put_code(const char *node, const char *code, int severity, void *arg)
{
	static const char *const sev[] = {"info", "info", "warning", "critical"};
	char n[2 * FC_KEYS_ID_MAX + 1], c[2 * FC_WIRE_CODE_MAX + 1];
	struct fm_buf *b = arg;
	put(b, "fleetmedic_diagnosis{node=\"%s\",code=\"%s\",severity=\"%s\"} 1\n", label(node, n, sizeof(n)),
	    label(code, c, sizeof(c)), sev[severity >= 1 && severity <= 3 ? severity : 0]);
}

static char *metrics(struct fc_http *h)
{
	struct fm_buf t;
	fm_buf_init(&t, TEXT_MAX);
	cJSON *nodes = fc_store_nodes(h->store, (int64_t)time(NULL));
	if (!nodes)
		return NULL;
	const cJSON *n;
	char l[2 * FC_KEYS_ID_MAX + 1];
	put(&t, "# HELP fleetmedic_node_up 1 while the node's heartbeats arrive, 0 once it missed %d intervals.\n"
		"# TYPE fleetmedic_node_up gauge\n",
	    FC_STORE_MISSED_MAX);
	cJSON_ArrayForEach(n, nodes)
	{
		put(&t, "fleetmedic_node_up{node=\"%s\"} %d\n",
		    label(cJSON_GetStringValue(cJSON_GetObjectItem(n, "node")), l, sizeof(l)),
		    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(n, "state")), "ok") == 0);
	}
	put(&t, "# HELP fleetmedic_node_last_seen_timestamp_seconds When the node was last heard from.\n"
		"# TYPE fleetmedic_node_last_seen_timestamp_seconds gauge\n");
	cJSON_ArrayForEach(n, nodes)
	{
		put(&t, "fleetmedic_node_last_seen_timestamp_seconds{node=\"%s\"} %.0f\n",
		    label(cJSON_GetStringValue(cJSON_GetObjectItem(n, "node")), l, sizeof(l)),
		    cJSON_GetNumberValue(cJSON_GetObjectItem(n, "last_seen")));
	}
	cJSON_Delete(nodes);
	put(&t, "# HELP fleetmedic_diagnosis 1 while a diagnosis of the code is raised on the node (its worst severity).\n"
		"# TYPE fleetmedic_diagnosis gauge\n");
	if (fc_store_each_code(h->store, put_code, &t) < 0)
		t.failed = true;
	struct fc_server_counters c = {0};
	if (h->server)
		fc_server_counters(h->server, &c);
	struct fc_alerts_counters ac;
	fc_alerts_counters(h->alerts, &ac);
	const struct {
		const char *name, *help;
		uint64_t v;
	} counters[] = {
		{"reports", "Reports stored.", c.reports},
		{"reports_duplicate", "Reports answered as stored before (retransmissions, replays).", c.reports_duplicate},
		{"heartbeats", "Heartbeats received.", c.heartbeats},
		{"requests_refused", "Agent requests answered 4.xx (malformed, unknown node).", c.refused},
		{"dtls_handshakes", "DTLS sessions that made a request.", c.handshakes},
		{"dtls_handshake_failures", "DTLS handshakes refused (unknown identity, wrong key).", c.handshake_failures},
		{"triage_requests", "Triage requests taken.", c.triage_requests},
		{"resyncs", "Nodes asked for their whole raised set (their heartbeat's hash differed).", c.resyncs},
		{"sessions_closed", "DTLS sessions closed for a revoked or replaced key.", c.sessions_closed},
		{"store_errors", "Agent requests the store could not take (answered 5.00).", c.store_errors},
		{"http_requests", "HTTP requests served.", h->requests},
		{"http_unauthorized", "HTTP requests refused for their token.", h->unauthorized},
		{"alert_posts", "POSTs to Alertmanager.", ac.posts},
		{"alert_post_failures", "POSTs to Alertmanager that failed (kept, tried again).", ac.post_failures},
		{"alerts_sent", "Alerts (firing and resolved) Alertmanager took.", ac.alerts_sent},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		put(&t, "# HELP fleetmedic_controller_%s_total %s\n# TYPE fleetmedic_controller_%s_total counter\n"
			"fleetmedic_controller_%s_total %llu\n",
		    counters[i].name, counters[i].help, counters[i].name, counters[i].name,
		    (unsigned long long)counters[i].v);
	if (t.failed || !t.data) {
		fm_buf_free(&t);
		return NULL;
	}
	return t.data; /* malloc'd: MHD frees it */
}

/* --- requests ------------------------------------------------------------------ */

/* One request's own state, from its headers to its completion. */
struct request {
	struct fc_http *h;
	struct MHD_Connection *c;
	char body[FC_HTTP_BODY_MAX + 1];
	size_t len;
	bool too_large;
	/* a triage request: suspended until its node answers */
	bool waiting, answered;
	unsigned status;
	cJSON *answer;
	struct request *next; /* in h->suspended */
};

static void unlink_suspended(struct request *r)
{
	for (struct request **pp = &r->h->suspended; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
}

/* The node's answer (or why there is none): the connection resumes and
 * the answer goes out from the handler, on the next MHD_run. */
static void triage_done(void *ctx, const char *code, const char *payload, size_t len, const char *error)
{
	struct request *r = ctx;
	cJSON *a = cJSON_CreateObject();
	if (error) {
		cJSON_AddStringToObject(a, "error", error);
		r->status = strstr(error, "did not") || strstr(error, "no answer") || strstr(error, "in time")
				    ? MHD_HTTP_GATEWAY_TIMEOUT
				    : MHD_HTTP_BAD_GATEWAY;
	} else {
		char *text = strndup(payload ? payload : "", len);
		cJSON *j = text ? cJSON_Parse(text) : NULL;
		cJSON_AddStringToObject(a, "code", code);
		if (j)
			cJSON_AddItemToObject(a, "answer", j);
		else
			cJSON_AddStringToObject(a, "answer", text ? text : "");
		free(text);
		r->status = code[0] == '2' ? MHD_HTTP_OK : MHD_HTTP_BAD_GATEWAY;
		if (code[0] != '2')
			cJSON_AddStringToObject(a, "error", "the node refused (see code and answer)");
	}
	r->answer = a;
	r->answered = true;
	unlink_suspended(r);
	MHD_resume_connection(r->c);
	fm_timer_arm(&r->h->kick, 1, 0);
}

static enum MHD_Result triage(struct fc_http *h, struct request *r, const char *node)
{
	if (!h->relay)
		return answer_error(r->c, MHD_HTTP_SERVICE_UNAVAILABLE, "serve has no triage relay");
	if (!h->token[0])
		return answer_error(r->c, MHD_HTTP_FORBIDDEN,
				    "triage over HTTP needs a token: start serve with --http-token FILE");
	if (!fc_http_token_ok(MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
			      h->token)) {
		h->unauthorized++;
		return answer_error(r->c, MHD_HTTP_UNAUTHORIZED, "a bearer token is needed (Authorization: Bearer TOKEN)");
	}
	int rc;
	cJSON *known = fc_store_show(h->store, node, 0, (int64_t)time(NULL), &rc);
	cJSON_Delete(known);
	if (!known)
		return rc == -ENOENT ? answer_error(r->c, MHD_HTTP_NOT_FOUND, "no node %s", node)
				     : answer_error(r->c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the store");
	cJSON *j = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *what = cJSON_GetObjectItem(j, "what"), *args = cJSON_GetObjectItem(j, "args"),
		    *t = cJSON_GetObjectItem(j, "timeout_s");
	const char *argv[4];
	size_t n = 0;
	bool ok = cJSON_IsObject(j) && cJSON_IsString(what) && (!args || cJSON_IsArray(args)) &&
		  cJSON_GetArraySize(args) <= 3 && (!t || (cJSON_IsNumber(t) && t->valuedouble >= 1 && t->valuedouble <= 150));
	const cJSON *a;
	cJSON_ArrayForEach(a, args)
	{
		ok = ok && cJSON_IsString(a);
		if (ok)
			argv[n++] = a->valuestring;
	}
	struct fc_relay_request req;
	if (!ok || fc_relay_verb(what->valuestring, argv, n, &req) < 0) {
		cJSON_Delete(j);
		return answer_error(r->c, MHD_HTTP_BAD_REQUEST,
				    "give {\"what\": WHAT, \"args\": [...], \"timeout_s\": 1..150}, WHAT one of " FC_RELAY_VERBS);
	}
	snprintf(req.node, sizeof(req.node), "%s", node);
	req.timeout_ms = (uint64_t)(t ? t->valuedouble : 30) * 1000;
	cJSON_Delete(j);
	/* suspended first: the answer may come inside fc_relay_submit */
	r->waiting = true;
	r->next = h->suspended;
	h->suspended = r;
	MHD_suspend_connection(r->c);
	if ((rc = fc_relay_submit(h->relay, &req, triage_done, r)) < 0) {
		triage_done(r, NULL, NULL, 0, rc == -EBUSY ? "too many triage requests waiting" : "out of memory");
		r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
	(void)c;
	(void)why;
	struct fc_http *h = cls;
	struct request *r = *state;
	if (!r)
		return;
	if (r->waiting && !r->answered) {
		fc_relay_cancel(h->relay, r);
		unlink_suspended(r);
	}
	cJSON_Delete(r->answer);
	free(r);
	*state = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **state)
{
	(void)version;
	struct fc_http *h = cls;
	struct request *r = *state;
	if (!r) {
		/* headers in: refuse a body over the bound before it comes */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > FC_HTTP_BODY_MAX)
			return answer_error(c, 413, "request body over %d bytes", FC_HTTP_BODY_MAX);
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		r->h = h;
		r->c = c;
		*state = r;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (r->len + *upload_data_size > FC_HTTP_BODY_MAX)
			r->too_large = true; /* chunked, no Content-Length */
		else
			memcpy(r->body + r->len, upload_data, *upload_data_size), r->len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->answered) /* a triage request, resumed */
		return answer_json(c, r->status, cJSON_Duplicate(r->answer, 1));
	if (r->waiting)
		return MHD_YES;
	if (r->too_large)
		return answer_error(c, 413, "request body over %d bytes", FC_HTTP_BODY_MAX);
	h->requests++;
	if (h->token[0] && !h->loopback &&
	    !fc_http_token_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
			      h->token)) {
		h->unauthorized++;
		return answer_error(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is needed (Authorization: Bearer TOKEN)");
	}
	char node[FC_KEYS_ID_MAX + 1];
	int rc;
	switch (fc_http_route(method, url, node, sizeof(node))) {
	case FC_ROUTE_NODES: {
		cJSON *j = fc_store_nodes(h->store, (int64_t)time(NULL));
		return j ? answer_json(c, MHD_HTTP_OK, j) : answer_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the store");
	}
	case FC_ROUTE_NODE: {
		long history = 20;
		const char *hq = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "history");
		if (hq) {
			char *end;
			history = strtol(hq, &end, 10);
			if (!*hq || *end || history < 0 || history > FC_HTTP_HISTORY_MAX)
				return answer_error(c, MHD_HTTP_BAD_REQUEST, "history: give 0..%d", FC_HTTP_HISTORY_MAX);
		}
		cJSON *j = fc_store_show(h->store, node, (int)history, (int64_t)time(NULL), &rc);
		if (j)
			return answer_json(c, MHD_HTTP_OK, j);
		if (rc == -ENOENT)
			return answer_error(c, MHD_HTTP_NOT_FOUND, "no node %s", node);
		return answer_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the store");
	}
	case FC_ROUTE_METRICS: {
		char *m = metrics(h);
		return m ? answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m)
			 : answer_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the store");
	}
	case FC_ROUTE_PAGE: {
		cJSON *j = fc_store_nodes(h->store, (int64_t)time(NULL));
		struct fc_page_filter f = {
		    .code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code"),
		    .severity = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "severity")};
		char *page = j ? fc_page_fleet(j, &f, (int64_t)time(NULL)) : NULL;
		cJSON_Delete(j);
		return page ? answer(c, MHD_HTTP_OK, "text/html; charset=utf-8", page)
			    : answer_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the store");
	}
	case FC_ROUTE_NODE_PAGE: {
		cJSON *j = fc_store_show(h->store, node, 50, (int64_t)time(NULL), &rc);
		if (!j && rc == -ENOENT) {
			char *e = fc_page_esc(node), *page = NULL;
			if (e && asprintf(&page, "<!DOCTYPE html><title>no node</title><p>No node %s here. <a href=\"/\">The fleet</a></p>\n",
					  e) < 0)
				page = NULL;
			free(e);
			return page ? answer(c, MHD_HTTP_NOT_FOUND, "text/html; charset=utf-8", page) : MHD_NO;
		}
		char *page = j ? fc_page_node(j, (int64_t)time(NULL)) : NULL;
		cJSON_Delete(j);
		return page ? answer(c, MHD_HTTP_OK, "text/html; charset=utf-8", page)
			    : answer_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the store");
	}
	case FC_ROUTE_TRIAGE: return triage(h, r, node);
	case FC_ROUTE_METHOD: return answer_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not served here", method);
	case FC_ROUTE_NOT_FOUND: break;
	}
	return answer_error(c, MHD_HTTP_NOT_FOUND, "nothing at this path");
}

/* --- the daemon in the loop -------------------------------------------------- */

static void run(struct fc_http *h)
{
	if (MHD_run(h->d) != MHD_YES)
		fm_debug("http: MHD_run failed");
}

static void on_ready(struct fm_event *ev, uint32_t events)
{
	(void)events;
	run(container_of(ev, struct fc_http, ev));
}

static void on_tick(struct fm_timer *t)
{
	run(container_of(t, struct fc_http, tick));
}

static void on_kick(struct fm_timer *t)
{
	run(container_of(t, struct fc_http, kick));
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[300];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	fm_info("http: %s", line);
}

static int read_token(const char *path, char *out, size_t size, char *why, size_t why_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, why_size, "--http-token %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char buf[FC_HTTP_TOKEN_MAX + 2];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (st.st_mode & 077) {
		snprintf(why, why_size, "--http-token %s: readable by group or others (chmod 600 it)", path);
		return -1;
	}
	if (n < 0) {
		snprintf(why, why_size, "--http-token %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	size_t len = strlen(buf);
	if (len < FC_HTTP_TOKEN_MIN || len > FC_HTTP_TOKEN_MAX ||
	    strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") != len) {
		snprintf(why, why_size,
			 "--http-token %s: its first line must be a token of %d to %d characters [A-Za-z0-9-._~+/=]",
			 path, FC_HTTP_TOKEN_MIN, FC_HTTP_TOKEN_MAX);
		return -1;
	}
	snprintf(out, size, "%s", buf);
	return 0;
}

struct fc_http *fc_http_new(struct fm_loop *loop, const struct fc_http_conf *conf, char *why, size_t why_size)
{
	char host[256];
	uint16_t port;
	char err[160];
	if (fm_coap_parse_hostport(conf->listen, host, sizeof(host), &port, err, sizeof(err)) < 0) {
		snprintf(why, why_size, "--http %s: give HOST:PORT ([ADDR]:PORT for IPv6), the port 1..65535", conf->listen);
		return NULL;
	}
	struct fc_http *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	h->loop = loop;
	h->store = conf->store;
	h->server = conf->server;
	h->alerts = conf->alerts;
	h->relay = conf->relay;
	h->kick = (struct fm_timer)FM_TIMER_INIT;
	h->tick = (struct fm_timer)FM_TIMER_INIT;
	h->ev = (struct fm_event)FM_EVENT_INIT;
	h->loopback = fc_http_loopback(host);
	if (conf->token_file && read_token(conf->token_file, h->token, sizeof(h->token), why, why_size) < 0)
		goto fail;
	if (!h->loopback && !h->token[0]) {
		snprintf(why, why_size,
			 "--http %s is not a loopback address: give --http-token FILE (and put TLS in a reverse proxy in front)",
			 conf->listen);
		goto fail;
	}
	struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	char ports[8];
	snprintf(ports, sizeof(ports), "%u", port);
	int gai = getaddrinfo(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, ports, &hints, &ai);
	if (gai != 0) {
		snprintf(why, why_size, "--http %s: %s", conf->listen, gai_strerror(gai));
		goto fail;
	}
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
			 (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	h->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)FC_HTTP_CONN_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)10, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		snprintf(why, why_size, "--http %s: cannot listen there (in use, or not an address of this host)",
			 conf->listen);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || fm_loop_add(loop, &h->ev, info->epoll_fd, EPOLLIN, on_ready) < 0 ||
	    fm_timer_init(loop, &h->tick, on_tick) < 0 || fm_timer_arm(&h->tick, 1000, 1000) < 0 ||
	    fm_timer_init(loop, &h->kick, on_kick) < 0) {
		snprintf(why, why_size, "--http %s: cannot watch it from the event loop", conf->listen);
		goto fail;
	}
	fm_notice("http: serving on http://%s%s", conf->listen,
		  h->loopback ? (h->token[0] ? " (loopback; the token guards triage)" : " (loopback, no token)")
			      : " (every request needs the bearer token)");
	return h;
fail:
	fc_http_delete(&h);
	return NULL;
}

void fc_http_delete(struct fc_http **ph)
{
	struct fc_http *h = *ph;
	if (!h)
		return;
	/* waiting triage requests: forgotten by the relay, their connections
	 * resumed so MHD can close them */
	while (h->suspended) {
		struct request *r = h->suspended;
		fc_relay_cancel(h->relay, r);
		triage_done(r, NULL, NULL, 0, "the controller is stopping");
	}
	if (h->d)
		MHD_run(h->d);
	fm_loop_del(&h->ev);
	fm_timer_close(&h->tick);
	fm_timer_close(&h->kick);
	if (h->d)
		MHD_stop_daemon(h->d);
	explicit_bzero(h->token, sizeof(h->token));
	free(h);
	*ph = NULL;
}
