#include "fc_relay.h"

#include "fc_keys.h"
#include "fm_coap.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <coap3/coap.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_MAX 2048
/* Nodes whose session is kept: more than a keys file can hold
 * (FC_KEYS_FILE_MAX, ~100 bytes a node). */
#define NODES_MAX (1u << 18)

struct pending {
	struct fc_relay *relay;
	struct fm_event ev; /* the triage client's connection */
	char in[REQUEST_MAX + 1];
	size_t in_len;
	bool parsed, sent;
	struct fc_relay_request req; /* once parsed */
	uint64_t deadline_ms;
	uint8_t token[8];
	size_t token_len;
	fc_relay_done_fn done; /* an in-process asker (fc_relay_submit), or NULL */
	void *done_ctx;
	uint64_t away; /* handed to another serve (fc_relay_set_away): its id */
	struct pending *next;
};

struct node_session {
	char node[FC_KEYS_ID_MAX + 1];
	coap_session_t *session; /* referenced */
	int64_t seen;
};

struct fc_relay {
	struct fm_loop *loop;
	struct fm_coap *coap;
	struct fm_event listen;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct pending *pending;
	size_t npending;
	struct node_session *nodes; /* in the order first seen; never removed */
	size_t nnodes, cap;
	/* open addressing over nodes by name: index + 1, 0 empty; a power of
	 * two, at least twice nnodes (every request of every node looks its
	 * node up: fc_relay_seen) */
	uint32_t *slot;
	size_t nslots;
	uint64_t requests; /* triage requests taken (parsed) */
	fc_relay_away_fn away;
	void *away_arg;
	uint64_t away_next; /* the last away id given */
};

static void finish(struct pending *p, const char *code, const char *payload, size_t len, const char *error)
{
	struct fc_relay *r = p->relay;
	if (p->done)
		p->done(p->done_ctx, error ? NULL : code, payload, error ? 0 : len, error);
	if (p->ev.fd >= 0) {
		cJSON *a = cJSON_CreateObject();
		if (error) {
			cJSON_AddStringToObject(a, "error", error);
		} else {
			cJSON_AddStringToObject(a, "code", code);
			char *text = strndup(payload ? payload : "", len);
			cJSON_AddStringToObject(a, "payload", text ? text : "");
			free(text);
		}
		char *line = cJSON_PrintUnformatted(a);
		cJSON_Delete(a);
		if (line) {
			/* blocking for this one write: the client waits for it, and
			 * 16 KiB fits a unix socket's buffer */
			int fl = fcntl(p->ev.fd, F_GETFL);
			fcntl(p->ev.fd, F_SETFL, fl & ~O_NONBLOCK);
			size_t n = strlen(line);
			line[n] = '\n';
			/* MSG_NOSIGNAL: a client gone before its answer (killed at
			 * its own deadline) must not take serve down with SIGPIPE
			 * (test_fault_cursor under load) */
			(void)!send(p->ev.fd, line, n + 1, MSG_NOSIGNAL);
			cJSON_free(line);
		}
		int fd = p->ev.fd;
		fm_loop_del(&p->ev);
		close(fd);
	}
	for (struct pending **pp = &r->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	r->npending--;
	free(p);
}

/* FNV-1a */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Where node is in the index, or the empty slot it would take. */
static uint32_t *slot_of(struct fc_relay *r, const char *node)
{
	size_t mask = r->nslots - 1;
	for (size_t i = name_hash(node) & mask;; i = (i + 1) & mask)
		if (!r->slot[i] || strcmp(r->nodes[r->slot[i] - 1].node, node) == 0)
			return &r->slot[i];
}

static struct node_session *find_node(struct fc_relay *r, const char *node)
{
	if (!r->nslots)
		return NULL;
	uint32_t i = *slot_of(r, node);
	return i ? &r->nodes[i - 1] : NULL;
}

/* Room for one more node: the array and the index grown as needed. */
static bool make_room(struct fc_relay *r)
{
	if (r->nnodes >= NODES_MAX)
		return false;
	if (r->nnodes == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct node_session *nn = realloc(r->nodes, cap * sizeof(*nn));
		if (!nn)
			return false;
		r->nodes = nn;
		r->cap = cap;
	}
	if (2 * (r->nnodes + 1) > r->nslots) {
		size_t nslots = r->nslots ? 2 * r->nslots : 32;
		uint32_t *slot = calloc(nslots, sizeof(*slot)), *old = r->slot;
		if (!slot)
			return false;
		r->slot = slot;
		r->nslots = nslots;
		for (size_t i = 0; i < r->nnodes; i++)
			*slot_of(r, r->nodes[i].node) = (uint32_t)i + 1;
		free(old);
	}
	return true;
}

static int send_request(struct fc_relay *r, struct pending *p, coap_session_t *session)
{
	(void)r;
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, p->req.post ? COAP_REQUEST_CODE_POST : COAP_REQUEST_CODE_GET,
				       session);
	if (!pdu)
		return -ENOMEM;
	coap_session_new_token(session, &p->token_len, p->token);
	coap_add_token(pdu, p->token_len, p->token);
	coap_optlist_t *opts = NULL;
	if (!coap_path_into_optlist((const uint8_t *)p->req.path, strlen(p->req.path), COAP_OPTION_URI_PATH, &opts) ||
	    (*p->req.query &&
	     !coap_query_into_optlist((const uint8_t *)p->req.query, strlen(p->req.query), COAP_OPTION_URI_QUERY, &opts)) ||
	    (opts && !coap_add_optlist_pdu(pdu, &opts))) {
		coap_delete_optlist(opts);
		coap_delete_pdu(pdu);
		return -EINVAL;
	}
	coap_delete_optlist(opts);
	if (coap_send(session, pdu) == COAP_INVALID_MID)
		return -EIO;
	p->sent = true;
	fm_info("triage: %s %s/%s%s%s sent to %s", p->req.post ? "POST" : "GET", "", p->req.path, *p->req.query ? "?" : "",
		p->req.query, p->req.node);
	return 0;
}

void fc_relay_forget(struct fc_relay *r, const char *node, coap_session_t *session)
{
	struct node_session *n = r ? find_node(r, node) : NULL;
	if (n && n->session == session) {
		coap_session_release(n->session);
		n->session = NULL;
	}
}

unsigned fc_relay_seen(struct fc_relay *r, const char *node, coap_session_t *session)
{
	struct node_session *n = find_node(r, node);
	if (!n && make_room(r)) {
		n = &r->nodes[r->nnodes++];
		memset(n, 0, sizeof(*n));
		snprintf(n->node, sizeof(n->node), "%s", node);
		*slot_of(r, n->node) = (uint32_t)r->nnodes;
	}
	if (n) {
		if (n->session != session) {
			if (n->session)
				coap_session_release(n->session);
			n->session = coap_session_reference(session);
		}
		n->seen = (int64_t)time(NULL);
	}
	unsigned waiting = 0;
	for (struct pending *p = r->pending, *next; p; p = next) {
		next = p->next;
		if (!p->parsed || p->sent || strcmp(p->req.node, node) != 0)
			continue;
		waiting++;
		if (send_request(r, p, session) < 0)
			finish(p, NULL, NULL, 0, "cannot send the request over the node's session");
	}
	if (waiting)
		fm_coap_process(r->coap);
	return waiting;
}

void fc_relay_set_away(struct fc_relay *r, fc_relay_away_fn fn, void *arg)
{
	r->away = fn;
	r->away_arg = arg;
}

void fc_relay_away_done(struct fc_relay *r, uint64_t id, const char *code, const char *payload, size_t len,
			const char *error)
{
	for (struct pending *p = r->pending; p; p = p->next)
		if (p->away == id) {
			if (!error && len > FC_RELAY_ANSWER_MAX)
				error = "the node's answer is larger than 16 KiB";
			finish(p, code, payload, len, error);
			return;
		}
}

bool fc_relay_away_waits(const struct fc_relay *r, uint64_t id)
{
	for (const struct pending *p = r->pending; p; p = p->next)
		if (p->away == id)
			return true;
	return false;
}

static struct pending *by_token(struct fc_relay *r, coap_bin_const_t tok)
{
	for (struct pending *p = r->pending; p; p = p->next)
		if (p->sent && !p->away && p->token_len == tok.length && memcmp(p->token, tok.s, tok.length) == 0)
			return p;
	return NULL;
}

void fc_relay_response(struct fc_relay *r, const coap_pdu_t *received)
{
	struct pending *p = by_token(r, coap_pdu_get_token(received));
	if (!p)
		return;
	coap_pdu_code_t code = coap_pdu_get_code(received);
	char c[8];
	snprintf(c, sizeof(c), "%d.%02d", ((int)code >> 5) & 7, (int)code & 31);
	const uint8_t *data = NULL;
	size_t len = 0, offset = 0, total = 0;
	if (!coap_get_data_large(received, &len, &data, &offset, &total))
		len = 0;
	if (len > FC_RELAY_ANSWER_MAX)
		finish(p, NULL, NULL, 0, "the node's answer is larger than 16 KiB");
	else
		finish(p, c, (const char *)data, len, NULL);
}

void fc_relay_nack(struct fc_relay *r, const coap_pdu_t *sent, coap_nack_reason_t reason)
{
	struct pending *p = sent ? by_token(r, coap_pdu_get_token(sent)) : NULL;
	if (p)
		finish(p, NULL, NULL, 0,
		       reason == COAP_NACK_TOO_MANY_RETRIES ? "the node did not answer" : "the node's session failed");
}

int fc_relay_parse_request(const char *line, size_t len, struct fc_relay_request *r)
{
	cJSON *j = cJSON_ParseWithLength(line, len);
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(j, "node");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "m");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "p");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "q");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "timeout_ms");
	if (!cJSON_IsString(node) || strlen(node->valuestring) > FC_KEYS_ID_MAX || !cJSON_IsString(m) ||
	    (strcmp(m->valuestring, "get") && strcmp(m->valuestring, "post")) || !cJSON_IsString(path) ||
	    strlen(path->valuestring) >= sizeof(r->path) ||
	    (q && (!cJSON_IsString(q) || strlen(q->valuestring) >= sizeof(r->query))) || !cJSON_IsNumber(t) ||
	    !(t->valuedouble >= 1 && t->valuedouble <= 3600000)) {
		cJSON_Delete(j);
		return -EINVAL;
	}
	snprintf(r->node, sizeof(r->node), "%s", node->valuestring);
	r->post = strcmp(m->valuestring, "post") == 0;
	snprintf(r->path, sizeof(r->path), "%s", path->valuestring);
	snprintf(r->query, sizeof(r->query), "%s", q ? q->valuestring : "");
	r->timeout_ms = (uint64_t)t->valuedouble;
	cJSON_Delete(j);
	return 0;
}

/* A request taken: sent over the node's fresh session, or held for it. */
static void dispatch(struct pending *p)
{
	struct fc_relay *r = p->relay;
	p->deadline_ms = fm_now_ms() + p->req.timeout_ms;
	p->parsed = true;
	r->requests++;
	struct node_session *n = find_node(r, p->req.node);
	if (n && n->session && (int64_t)time(NULL) - n->seen <= FC_RELAY_FRESH_S) {
		if (send_request(r, p, n->session) < 0)
			finish(p, NULL, NULL, 0, "cannot send the request over the node's session");
		else
			fm_coap_process(r->coap);
	} else if (r->away && (p->away = ++r->away_next, r->away(r->away_arg, &p->req, p->away))) {
		p->sent = true; /* the other serve sends it; not this one at a heartbeat */
	} else {
		p->away = 0;
		fm_info("triage: %s has no fresh session; held for its next heartbeat", p->req.node);
	}
}

static void parse_request(struct pending *p)
{
	if (fc_relay_parse_request(p->in, p->in_len, &p->req) < 0) {
		finish(p, NULL, NULL, 0, "malformed control request");
		return;
	}
	dispatch(p);
}

int fc_relay_submit(struct fc_relay *r, const struct fc_relay_request *req, fc_relay_done_fn done, void *ctx)
{
	if (r->npending >= FC_RELAY_PENDING_MAX)
		return -EBUSY;
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->relay = r;
	p->ev.fd = -1;
	p->req = *req;
	p->done = done;
	p->done_ctx = ctx;
	p->next = r->pending;
	r->pending = p;
	r->npending++;
	dispatch(p);
	return 0;
}

void fc_relay_cancel(struct fc_relay *r, void *ctx)
{
	for (struct pending *p = r->pending, *next; p; p = next) {
		next = p->next;
		if (p->done && p->done_ctx == ctx) {
			p->done = NULL; /* the asker is gone: nobody to tell */
			finish(p, NULL, NULL, 0, "canceled");
		}
	}
}

static void on_client(struct fm_event *ev, uint32_t events)
{
	struct pending *p = container_of(ev, struct pending, ev);
	if (p->parsed) {
		/* the client went away: drop the request (an answer goes nowhere) */
		char c;
		if ((events & (EPOLLHUP | EPOLLERR)) || read(ev->fd, &c, 1) <= 0)
			finish(p, NULL, NULL, 0, "client gone");
		return;
	}
	ssize_t n = read(ev->fd, p->in + p->in_len, REQUEST_MAX - p->in_len);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		finish(p, NULL, NULL, 0, "client gone");
		return;
	}
	p->in_len += (size_t)n;
	char *nl = memchr(p->in, '\n', p->in_len);
	if (!nl && p->in_len == REQUEST_MAX) {
		finish(p, NULL, NULL, 0, "control request longer than 2 KiB");
		return;
	}
	if (nl) {
		p->in_len = (size_t)(nl - p->in);
		parse_request(p);
	}
}

static void on_accept(struct fm_event *ev, uint32_t events)
{
	(void)events;
	struct fc_relay *r = container_of(ev, struct fc_relay, listen);
	int fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (r->npending >= FC_RELAY_PENDING_MAX) {
		static const char busy[] = "{\"error\":\"too many triage requests waiting\"}\n";
		(void)!write(fd, busy, sizeof(busy) - 1);
		close(fd);
		return;
	}
	struct pending *p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return;
	}
	p->relay = r;
	p->ev.fd = -1;
	p->deadline_ms = fm_now_ms() + 5000; /* to say what it wants */
	if (fm_loop_add(r->loop, &p->ev, fd, EPOLLIN, on_client) < 0) {
		close(fd);
		free(p);
		return;
	}
	p->next = r->pending;
	r->pending = p;
	r->npending++;
}

void fc_relay_tick(struct fc_relay *r)
{
	uint64_t now = fm_now_ms();
	for (struct pending *p = r->pending, *next; p; p = next) {
		next = p->next;
		if (now >= p->deadline_ms)
			finish(p, NULL, NULL, 0,
			       p->sent ? "no answer from the node in time"
				       : "the node did not come back within the timeout (it is asked at its next heartbeat)");
	}
}

struct fc_relay *fc_relay_new(struct fm_loop *loop, struct fm_coap *coap, const char *control_path, char *why,
			      size_t size)
{
	struct fc_relay *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->coap = coap;
	r->listen.fd = -1;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(control_path) >= sizeof(a.sun_path)) {
		snprintf(why, size, "--control %s: longer than a unix socket path may be", control_path);
		goto fail;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", control_path);
	snprintf(r->path, sizeof(r->path), "%s", control_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, size, "control socket: %s", strerror(errno));
		goto fail;
	}
	struct stat st;
	if (lstat(control_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(control_path); /* a stale socket of an earlier serve */
	mode_t old = umask(0177); /* 0600 from the start: no window */
	int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0 || fm_loop_add(loop, &r->listen, fd, EPOLLIN, on_accept) < 0) {
		snprintf(why, size, "--control %s: %s", control_path, strerror(errno));
		close(fd);
		r->path[0] = '\0';
		goto fail;
	}
	return r;
fail:
	fc_relay_delete(&r);
	return NULL;
}

void fc_relay_delete(struct fc_relay **pr)
{
	if (!pr || !*pr)
		return;
	struct fc_relay *r = *pr;
	while (r->pending)
		finish(r->pending, NULL, NULL, 0, "the controller is stopping");
	for (size_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i].session)
			coap_session_release(r->nodes[i].session);
	free(r->nodes);
	free(r->slot);
	if (r->listen.fd >= 0) {
		int fd = r->listen.fd;
		fm_loop_del(&r->listen);
		close(fd);
	}
	if (r->path[0])
		unlink(r->path);
	free(r);
	*pr = NULL;
}

cJSON *fc_relay_ask(const char *control_path, const char *node, const char *method, const char *path,
		    const char *query, uint64_t timeout_ms, char *why, size_t size)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(control_path) >= sizeof(a.sun_path)) {
		snprintf(why, size, "%s: path too long", control_path);
		return NULL;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", control_path);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "node", node);
	cJSON_AddStringToObject(req, "m", method);
	cJSON_AddStringToObject(req, "p", path);
	cJSON_AddStringToObject(req, "q", query ? query : "");
	cJSON_AddNumberToObject(req, "timeout_ms", (double)timeout_ms);
	char *line = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!line) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	cJSON *answer = NULL;
	char *buf = malloc(4 * FC_RELAY_ANSWER_MAX + 1024); /* JSON escapes may grow it */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(why, size, "cannot reach serve's control socket %s: %s", control_path, strerror(errno));
		goto out;
	}
	size_t n = strlen(line);
	line[n] = '\n';
	if (write(fd, line, n + 1) != (ssize_t)(n + 1)) {
		snprintf(why, size, "writing to %s: %s", control_path, strerror(errno));
		goto out;
	}
	size_t have = 0, cap = 4 * FC_RELAY_ANSWER_MAX + 1023;
	uint64_t deadline = fm_now_ms() + timeout_ms + 1000;
	for (;;) {
		uint64_t now = fm_now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) == 0) {
			snprintf(why, size, "no answer from serve within the timeout");
			goto out;
		}
		ssize_t r = read(fd, buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		if (memchr(buf + have - (size_t)r, '\n', (size_t)r) || have == cap)
			break;
	}
	buf[have] = '\0';
	answer = cJSON_Parse(buf);
	if (!cJSON_IsObject(answer)) {
		cJSON_Delete(answer);
		answer = NULL;
		snprintf(why, size, "serve closed the control connection without an answer");
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	cJSON_free(line);
	return answer;
}

uint64_t fc_relay_requests(const struct fc_relay *r)
{
	return r ? r->requests : 0;
}

/* Appends key=value to q, percent-encoding the value (RFC 3986
 * unreserved characters stay). false when it does not fit. */
static bool add_query(char *q, size_t size, const char *key, const char *value)
{
	size_t n = strlen(q);
	int w = snprintf(q + n, size - n, "%s%s=", n ? "&" : "", key);
	if (w < 0 || (size_t)w >= size - n)
		return false;
	n += (size_t)w;
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		bool plain = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
			     *v == '-' || *v == '.' || *v == '_' || *v == '~';
		if (n + 4 >= size)
			return false;
		n += (size_t)snprintf(q + n, size - n, plain ? "%c" : "%%%02X", *v);
	}
	return true;
}

int fc_relay_verb(const char *what, const char *const *args, size_t nargs, struct fc_relay_request *r)
{
	static const char *const simple[] = {"status", "diag", "containers", "etcd", "hal"};
	memset(r, 0, sizeof(*r));
	char *q = r->query;
	size_t qs = sizeof(r->query);
	const char *path = what;
	bool ok = false;
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		ok |= strcmp(what, simple[i]) == 0 && nargs == 0;
	if (strcmp(what, "facts") == 0 && nargs <= 1)
		ok = nargs == 0 || add_query(q, qs, "k", args[0]);
	if (strcmp(what, "journal") == 0 && nargs >= 1 && nargs <= 3)
		ok = add_query(q, qs, "u", args[0]) && (nargs < 2 || add_query(q, qs, "n", args[1])) &&
		     (nargs < 3 || add_query(q, qs, "g", args[2]));
	if (strcmp(what, "rm") == 0 && nargs == 1) {
		r->post = true;
		path = "act/rm";
		ok = add_query(q, qs, "id", args[0]);
	}
	if (!ok || strlen(path) >= sizeof(r->path))
		return -EINVAL;
	snprintf(r->path, sizeof(r->path), "%s", path);
	return 0;
}
