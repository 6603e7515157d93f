#include "fc_peers.h"

#include "fc_db.h"
#include "fc_relay.h"
#include "fc_store.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The holder's relay must answer before the asker's deadline: it gets the
 * time left less this. */
#define MARGIN_MS 250
/* Rows taken at a time (the relay holds FC_RELAY_PENDING_MAX). */
#define TAKE_MAX 16
#define XSTR(x) STR(x)
#define STR(x) #x

enum pst { P_INSERT, P_NOTIFY, P_TAKE, P_ANSWER, P_COLLECT, P_EXPIRE, P_COUNT };

static const char *const psql[P_COUNT] = {
	[P_INSERT] = "INSERT INTO relay (node, asker, holder, request, created) VALUES (?1, ?2, ?3, ?4, ?5)"
		     " RETURNING id",
	[P_NOTIFY] = "SELECT pg_notify('" FC_PEERS_CHANNEL "', ?1)",
	[P_TAKE] = "UPDATE relay SET taken = 1 WHERE id IN (SELECT id FROM relay WHERE holder = ?1 AND taken = 0"
		   " ORDER BY id LIMIT " XSTR(TAKE_MAX) " FOR UPDATE SKIP LOCKED) RETURNING id, asker, request, created",
	[P_ANSWER] = "UPDATE relay SET done = 1, code = ?2, answer = ?3, error = ?4 WHERE id = ?1",
	[P_COLLECT] = "DELETE FROM relay WHERE asker = ?1 AND done = 1 RETURNING id, code, answer, error",
	[P_EXPIRE] = "DELETE FROM relay WHERE created < ?1",
};

/* A request handed away: the relay's id for it, and its row. */
struct away {
	uint64_t local;
	int64_t row;
};

/* A request taken from another serve, relayed to the node here. */
struct taken {
	struct fc_peers *p;
	int64_t row;
	char asker[FC_STORE_SERVE_ID_LEN + 1];
	struct taken *next;
};

struct fc_peers {
	struct fm_loop *loop;
	struct fc_db *db;
	struct fc_db_stmt *st[P_COUNT];
	struct fc_store *store;
	struct fc_relay *relay;
	char id[FC_STORE_SERVE_ID_LEN + 1];
	struct fm_event ev; /* a dup of the connection's socket: ours to close */
	unsigned gen;	    /* the connection ev is of */
	struct fm_timer tick;
	struct away away[2 * FC_RELAY_PENDING_MAX];
	size_t naway;
	struct taken *taken;
	uint64_t expired_at_ms;
	bool due; /* a notification for this serve came: read the tables */
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void notify(struct fc_peers *p, const char *serve)
{
	struct fc_db_stmt *st = p->st[P_NOTIFY];
	fc_db_bind_text(st, 1, serve);
	if (fc_db_run(st) < 0)
		fm_warn("triage: cannot notify serve %s (it reads the table within a second)", serve);
}

/* fc_relay's offer: a request for a node whose session this serve lacks. */
static bool hand_away(void *arg, const struct fc_relay_request *req, uint64_t local)
{
	struct fc_peers *p = arg;
	char holder[FC_STORE_SERVE_ID_LEN + 1];
	if (p->naway == sizeof(p->away) / sizeof(p->away[0]) ||
	    fc_store_holder(p->store, req->node, (int64_t)time(NULL), holder) < 0 || strcmp(holder, p->id) == 0)
		return false;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "node", req->node);
	cJSON_AddStringToObject(j, "m", req->post ? "post" : "get");
	cJSON_AddStringToObject(j, "p", req->path);
	cJSON_AddStringToObject(j, "q", req->query);
	cJSON_AddNumberToObject(j, "timeout_ms", (double)req->timeout_ms);
	char *line = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!line)
		return false;
	struct fc_db_stmt *st = p->st[P_INSERT];
	fc_db_bind_text(st, 1, req->node);
	fc_db_bind_text(st, 2, p->id);
	fc_db_bind_text(st, 3, holder);
	fc_db_bind_text(st, 4, line);
	fc_db_bind_int(st, 5, wall_ms());
	cJSON_free(line);
	int step = fc_db_step(st);
	int64_t row = step == 1 ? fc_db_col_int(st, 0) : 0;
	fc_db_reset(st);
	if (step != 1) {
		fm_warn("triage: %s: cannot hand the request to serve %s through the store; held here", req->node,
			holder);
		return false;
	}
	p->away[p->naway++] = (struct away){.local = local, .row = row};
	notify(p, holder);
	fm_info("triage: %s's session is held by serve %s: the request went to it through the store", req->node,
		holder);
	return true;
}

/* The node's answer to a request another serve asked for: into its row. */
static void taken_done(void *ctx, const char *code, const char *payload, size_t len, const char *error)
{
	struct taken *t = ctx;
	struct fc_peers *p = t->p;
	char *text = error ? NULL : strndup(payload ? payload : "", len);
	struct fc_db_stmt *st = p->st[P_ANSWER];
	fc_db_bind_int(st, 1, t->row);
	fc_db_bind_text(st, 2, error ? NULL : code);
	fc_db_bind_text(st, 3, text);
	fc_db_bind_text(st, 4, error ? error : text ? NULL : "out of memory");
	if (fc_db_run(st) < 0) {
		/* not text PostgreSQL takes (a NUL, not UTF-8): say so instead */
		fc_db_bind_int(st, 1, t->row);
		fc_db_bind_text(st, 4, "the node's answer cannot be stored as text to go to the asking serve");
		fc_db_run(st);
	}
	free(text);
	notify(p, t->asker);
	for (struct taken **pp = &p->taken; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	free(t);
}

/* The rows other serves left for this one: relayed to their nodes here. */
static void take(struct fc_peers *p)
{
	struct fc_db_stmt *st = p->st[P_TAKE];
	fc_db_bind_text(st, 1, p->id);
	struct row {
		int64_t id, created;
		char asker[FC_STORE_SERVE_ID_LEN + 1];
		struct fc_relay_request req;
		bool ok;
	} rows[TAKE_MAX];
	size_t n = 0;
	/* every row the UPDATE returns is this serve's now: all are read */
	while (n < TAKE_MAX && fc_db_step(st) == 1) {
		struct row *r = &rows[n++];
		r->id = fc_db_col_int(st, 0);
		r->created = fc_db_col_int(st, 3);
		snprintf(r->asker, sizeof(r->asker), "%s", fc_db_col_text(st, 1) ? fc_db_col_text(st, 1) : "");
		const char *line = fc_db_col_text(st, 2);
		r->ok = line && fc_relay_parse_request(line, strlen(line), &r->req) == 0;
	}
	fc_db_reset(st);
	for (size_t i = 0; i < n; i++) {
		struct taken *t = calloc(1, sizeof(*t));
		if (!t)
			continue; /* the asker's deadline answers it */
		*t = (struct taken){.p = p, .row = rows[i].id, .next = p->taken};
		snprintf(t->asker, sizeof(t->asker), "%s", rows[i].asker);
		p->taken = t;
		if (!rows[i].ok) {
			taken_done(t, NULL, NULL, 0, "malformed relayed request");
			continue;
		}
		int64_t left = (int64_t)rows[i].req.timeout_ms - (wall_ms() - rows[i].created) - MARGIN_MS;
		if (left <= 0) {
			taken_done(t, NULL, NULL, 0, "no answer from the node in time");
			continue;
		}
		rows[i].req.timeout_ms = (uint64_t)left;
		int rc = fc_relay_submit(p->relay, &rows[i].req, taken_done, t);
		if (rc < 0)
			taken_done(t, NULL, NULL, 0,
				   rc == -EBUSY ? "too many triage requests waiting" : "out of memory");
	}
}

/* Answers to this serve's requests, from the serves that hold the nodes. */
static void collect(struct fc_peers *p)
{
	struct fc_db_stmt *st = p->st[P_COLLECT];
	fc_db_bind_text(st, 1, p->id);
	int step;
	while ((step = fc_db_step(st)) == 1) {
		int64_t row = fc_db_col_int(st, 0);
		for (size_t i = 0; i < p->naway; i++) {
			if (p->away[i].row != row)
				continue;
			const char *code = fc_db_col_text(st, 1), *answer = fc_db_col_text(st, 2),
				   *error = fc_db_col_text(st, 3);
			uint64_t local = p->away[i].local;
			p->away[i] = p->away[--p->naway];
			if (!error && !code)
				error = "the serve holding the node's session gave no answer";
			fc_relay_away_done(p->relay, local, code, answer, answer ? strlen(answer) : 0, error);
			break;
		}
	}
	fc_db_reset(st);
	/* requests the relay gave up on (their deadline): their rows, if they
	 * are ever answered, are removed by the expiry */
	for (size_t i = 0; i < p->naway;)
		if (!fc_relay_away_waits(p->relay, p->away[i].local))
			p->away[i] = p->away[--p->naway];
		else
			i++;
}

/* Every serve LISTENs on the one channel; a notification names the serve
 * it is for: only that one reads the tables for it. */
static void on_notify(const char *channel, const char *payload, void *arg)
{
	(void)channel;
	struct fc_peers *p = arg;
	if (payload && strcmp(payload, p->id) == 0)
		p->due = true;
}

static void watch(struct fc_peers *p);

/* What the notifications for this serve say is in the tables: read them
 * until no more come meanwhile. */
static void work(struct fc_peers *p)
{
	for (int round = 0; round < 8 && p->due; round++) {
		p->due = false;
		take(p);
		collect(p);
		if (fc_db_notifies(p->db, on_notify, p) < 0)
			break;
	}
	watch(p);
}

static void on_readable(struct fm_event *ev, uint32_t events)
{
	(void)events;
	struct fc_peers *p = container_of(ev, struct fc_peers, ev);
	if (fc_db_notifies(p->db, on_notify, p) < 0) {
		watch(p); /* lost: the socket is dead until a reset */
		return;
	}
	work(p);
}

/* The connection's socket watched (a dup, so a reset's new socket on the
 * same number is never mistaken for the old one's registration). */
static void watch(struct fc_peers *p)
{
	int fd = fc_db_socket(p->db);
	unsigned gen = fc_db_generation(p->db);
	if (p->ev.fd >= 0 && (fd < 0 || gen != p->gen)) {
		int old = p->ev.fd;
		fm_loop_del(&p->ev);
		close(old);
	}
	if (p->ev.fd < 0 && fd >= 0) {
		int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (d >= 0 && fm_loop_add(p->loop, &p->ev, d, EPOLLIN, on_readable) < 0)
			close(d);
		p->gen = gen;
	}
}

static void on_tick(struct fm_timer *t)
{
	struct fc_peers *p = container_of(t, struct fc_peers, tick);
	if (fc_db_lost(p->db)) {
		watch(p);
		return;
	}
	uint64_t now = fm_now_ms();
	if (now - p->expired_at_ms >= 60000) {
		struct fc_db_stmt *st = p->st[P_EXPIRE];
		fc_db_bind_int(st, 1, wall_ms() - (int64_t)FC_PEERS_ROW_MAX_S * 1000);
		fc_db_run(st);
		p->expired_at_ms = now;
	}
	p->due = true; /* once a second whatever came: a notification lost with a connection */
	work(p);
}

struct fc_peers *fc_peers_new(struct fm_loop *loop, const char *db, struct fc_store *store, struct fc_relay *relay,
			      const char *id, char *why, size_t size)
{
	if (!fc_db_is_postgresql(db)) {
		snprintf(why, size, "several serves need a PostgreSQL store");
		errno = ENOTSUP;
		return NULL;
	}
	struct fc_peers *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	p->loop = loop;
	p->store = store;
	p->relay = relay;
	p->ev.fd = -1;
	p->tick = (struct fm_timer)FM_TIMER_INIT;
	snprintf(p->id, sizeof(p->id), "%s", id);
	if (fc_db_open(db, true, &p->db, why, size) < 0)
		goto fail;
	for (int i = 0; i < P_COUNT; i++)
		if (!(p->st[i] = fc_db_prepare(p->db, psql[i], true))) {
			snprintf(why, size, "%s: cannot prepare the relay's statements (see the log)", fc_db_name(p->db));
			goto fail;
		}
	if (fc_db_listen(p->db, FC_PEERS_CHANNEL) < 0) {
		snprintf(why, size, "%s: cannot LISTEN (see the log)", fc_db_name(p->db));
		goto fail;
	}
	int rc;
	if ((rc = fm_timer_init(loop, &p->tick, on_tick)) < 0 || (rc = fm_timer_arm(&p->tick, 1000, 1000)) < 0) {
		snprintf(why, size, "cannot make the relay's timer: %s", strerror(-rc));
		goto fail;
	}
	watch(p);
	fc_relay_set_away(relay, hand_away, p);
	return p;
fail:
	fc_peers_delete(&p);
	return NULL;
}

void fc_peers_delete(struct fc_peers **pp)
{
	if (!pp || !*pp)
		return;
	struct fc_peers *p = *pp;
	if (p->relay) {
		fc_relay_set_away(p->relay, NULL, NULL);
		while (p->taken) {
			struct taken *t = p->taken;
			p->taken = t->next;
			fc_relay_cancel(p->relay, t);
			free(t);
		}
	}
	if (p->ev.fd >= 0) {
		int fd = p->ev.fd;
		fm_loop_del(&p->ev);
		close(fd);
	}
	fm_timer_close(&p->tick);
	for (int i = 0; i < P_COUNT; i++)
		fc_db_finalize(p->st[i]);
	fc_db_close(&p->db);
	free(p);
	*pp = NULL;
}
