#include "fm_docker.h"

#include "fm_containers.h"
#include "fm_docker_json.h"
#include "fm_httpc.h"
#include "fm_log.h"

#include <hal/hal_path.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CTRS      256     /* control-plane containers tracked */
#define MAX_DIES      128     /* die history for crashloops */
#define TOUCHED_MAX   32      /* containers with events since the last list */
#define LIST_MAX_BODY (8u << 20)
#define INSPECT_MAX   (1u << 20)
#define LOGS_MAX_BODY (1u << 20)

int fm_docker_host(char *out, size_t size, const char *opt, const char *root)
{
	const char *h = opt && opt[0] ? opt : getenv("DOCKER_HOST");
	int n;
	if (h && h[0]) {
		if (strncmp(h, "tcp://", 6) == 0)
			n = snprintf(out, size, "http://%s", h + 6);
		else if (strncmp(h, "unix://", 7) == 0 || strncmp(h, "http://", 7) == 0)
			n = snprintf(out, size, "%s", h);
		else {
			snprintf(out, size, "Docker host %s: give unix:///PATH or tcp://HOST:PORT", h);
			return -EINVAL;
		}
	} else {
		char p[sizeof(((struct fm_httpc_url *)0)->path) + 1];
		if (hal_path(p, sizeof(p), root ? root : "/", FM_DOCKER_DEFAULT_SOCKET) < 0) {
			snprintf(out, size, "the Docker socket path under %s is too long", root);
			return -EINVAL;
		}
		n = snprintf(out, size, "unix://%s", p);
	}
	if (n < 0 || (size_t)n >= size) {
		snprintf(out, size, "Docker host URL too long");
		return -EINVAL;
	}
	return 0;
}

bool fm_docker_absent(const char *opt, const char *root)
{
	const char *h = opt && opt[0] ? opt : getenv("DOCKER_HOST");
	char sock[PATH_MAX], lib[PATH_MAX];
	if (h && h[0])
		return false;
	if (hal_path(sock, sizeof(sock), root ? root : "/", FM_DOCKER_DEFAULT_SOCKET) < 0 ||
	    hal_path(lib, sizeof(lib), root ? root : "/", "/var/lib/docker") < 0)
		return false;
	return access(sock, F_OK) != 0 && access(lib, F_OK) != 0;
}

static long long wall_now(void)
{
	return (long long)time(NULL);
}

/* --- the model: what the watcher knows, and the facts it makes ------------ */

struct die {
	char key[400]; /* namespace/pod/container */
	char id[65];
	long long t;
	int code;
	unsigned long seq; /* order seen: the last exit is the newest seq */
};

enum wstate { W_BACKOFF, W_VERSION, W_SYNC, W_LIVE };

struct fm_docker_watch {
	struct fm_loop *loop;
	struct fm_facts *facts;
	struct fm_docker_opts o;
	char host[512];
	struct fm_httpc req; /* version, list, inspect */
	struct fm_httpc ev;  /* the /events stream */
	struct fm_timer retry;
	struct fm_timer kick; /* re-list after events, outside the stream's callback */
	enum wstate state;
	bool events_on;
	bool dirty;      /* an event came while a list ran: list again */
	bool synced;
	bool failed;
	bool fail_logged;
	uint64_t backoff_ms;
	char path[512];
	char prefix[16]; /* "/v1.41" or "" */
	struct fm_docker_version ver;
	/* daemon fact */
	char dstate[24];
	char dreason[400];
	struct fm_docker_counts counts;
	size_t dropped;
	struct fm_docker_lines lines;
	char events_error[200];
	long long last_event_s;
	/* containers */
	struct fm_docker_ctr *ctrs;
	size_t n;
	bool *tried; /* inspect asked for ctrs[i] in this sync */
	size_t inspecting; /* the one asked now */
	struct fm_docker_ctr *scratch;
	struct die dies[MAX_DIES];
	size_t ndies, die_next;
	unsigned long die_seq;
	/* Containers an event spoke of since the list that will be answered
	 * next: inspected then whatever the list says of them (see touch). */
	char touched[TOUCHED_MAX][65];
	size_t ntouched;
};

static void short_id(char out[13], const char *id)
{
	snprintf(out, 13, "%.12s", id);
}

static void die_key(char *out, size_t size, const struct fm_docker_name *kn)
{
	snprintf(out, size, "%s/%s/%s", kn->ns, kn->pod, kn->container);
}

/* Records one exit; the same container exiting at (nearly) the same time is
 * the same exit seen twice (its die event and its FinishedAt). */
static void add_die(struct fm_docker_watch *w, const struct fm_docker_name *kn, const char *id,
		    long long t, int code)
{
	if (t <= 0)
		return;
	for (size_t i = 0; i < w->ndies; i++) {
		struct die *d = &w->dies[i];
		if (strcmp(d->id, id) == 0 && llabs(d->t - t) <= 2)
			return;
	}
	struct die *d = &w->dies[w->die_next];
	w->die_next = (w->die_next + 1) % MAX_DIES;
	if (w->ndies < MAX_DIES)
		w->ndies++;
	die_key(d->key, sizeof(d->key), kn);
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->t = t;
	d->code = code;
	d->seq = ++w->die_seq;
}

static void put_crashloops(struct fm_docker_watch *w, struct fm_facts *set)
{
	long long now = w->o.now_s();
	for (size_t i = 0; i < w->ndies; i++) {
		const struct die *d = &w->dies[i];
		if (now - d->t > w->o.crashloop_window_s || fm_facts_get(set, "docker.crashloop", d->key))
			continue;
		int exits = 0;
		const struct die *last = d;
		for (size_t j = 0; j < w->ndies; j++) {
			const struct die *e = &w->dies[j];
			if (strcmp(e->key, d->key) != 0 || now - e->t > w->o.crashloop_window_s)
				continue;
			exits++;
			if (e->seq > last->seq)
				last = e;
		}
		if (exits < w->o.crashloop_exits)
			continue;
		char ns[64], pod[256], ctr[64];
		if (sscanf(d->key, "%63[^/]/%255[^/]/%63s", ns, pod, ctr) != 3)
			continue;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "container", ctr);
		cJSON_AddStringToObject(f, "pod", pod);
		cJSON_AddStringToObject(f, "namespace", ns);
		cJSON_AddNumberToObject(f, "exits", exits);
		cJSON_AddNumberToObject(f, "window_s", w->o.crashloop_window_s);
		cJSON_AddNumberToObject(f, "last_exit_code", last->code);
		cJSON_AddNumberToObject(f, "last_exit_at", (double)last->t);
		fm_facts_put(set, "docker.crashloop", d->key, f);
	}
}

static cJSON *daemon_fact(const struct fm_docker_watch *w)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "state", w->dstate);
	if (strcmp(w->dstate, "ok") != 0) {
		cJSON_AddStringToObject(f, "reason", w->dreason);
		return f;
	}
	cJSON_AddStringToObject(f, "version", w->ver.version);
	cJSON_AddStringToObject(f, "api_version", w->ver.api);
	cJSON_AddStringToObject(f, "api_used", w->prefix[0] ? w->prefix + 2 : "");
	if (!w->prefix[0])
		cJSON_AddStringToObject(f, "api_note",
					"the daemon's API is older than 1.40 (Docker 19.03): asked unversioned");
	if (w->synced) {
		cJSON_AddNumberToObject(f, "running", (double)w->counts.running);
		cJSON_AddNumberToObject(f, "exited", (double)w->counts.exited);
		cJSON_AddNumberToObject(f, "total", (double)w->counts.total);
	}
	if (w->dropped)
		cJSON_AddNumberToObject(f, "control_plane_not_tracked", (double)w->dropped);
	if (w->lines.refused || w->events_error[0]) {
		cJSON_AddNumberToObject(f, "events_refused", (double)w->lines.refused);
		if (w->events_error[0])
			cJSON_AddStringToObject(f, "events_error", w->events_error);
	}
	return f;
}

static const char *const own_kinds[] = {"docker.daemon", "docker.container", "docker.stale_attempt",
					"docker.crashloop", "docker.exited"};

static bool own_kind(const char *k)
{
	for (size_t i = 0; i < sizeof(own_kinds) / sizeof(own_kinds[0]); i++)
		if (strcmp(k, own_kinds[i]) == 0)
			return true;
	return false;
}

/* Restates every fact the watcher knows: puts that change nothing are not
 * changes, and facts that no longer hold (a removed container) are removed,
 * so observers see exactly what changed. */
static void sync_facts(struct fm_docker_watch *w)
{
	struct fm_facts *now = fm_facts_new();
	if (!now)
		return;
	fm_facts_put(now, "docker.daemon", w->host, daemon_fact(w));
	if (w->synced) {
		for (size_t i = 0; i < w->n; i++) {
			char sid[13];
			short_id(sid, w->ctrs[i].id);
			fm_facts_put(now, "docker.container", sid, fm_containers_fact(&w->ctrs[i]));
		}
		fm_containers_put_stale(now, "docker.stale_attempt", w->ctrs, w->n);
		cJSON *e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "exited", (double)w->counts.exited);
		cJSON_AddNumberToObject(e, "running", (double)w->counts.running);
		cJSON_AddNumberToObject(e, "total", (double)w->counts.total);
		fm_facts_put(now, "docker.exited", w->host, e);
	}
	put_crashloops(w, now);

	/* Retract first (a fact gone is told before the ones that replace it),
	 * but keep the container facts while the daemon is down: the last
	 * known state is still evidence. */
	bool keep_ctrs = !w->synced;
	for (size_t i = fm_facts_count(w->facts); i-- > 0;) {
		const cJSON *f = fm_facts_at(w->facts, i);
		const char *k = cJSON_GetObjectItem(f, "kind")->valuestring;
		const char *id = cJSON_GetObjectItem(f, "id")->valuestring;
		if (!own_kind(k) || fm_facts_get(now, k, id))
			continue;
		if (keep_ctrs && strcmp(k, "docker.crashloop") != 0)
			continue;
		char kk[32], ii[512];
		snprintf(kk, sizeof(kk), "%s", k);
		snprintf(ii, sizeof(ii), "%s", id);
		fm_facts_remove(w->facts, kk, ii);
	}
	for (size_t i = 0; i < fm_facts_count(now); i++) {
		const cJSON *f = fm_facts_at(now, i);
		fm_facts_put(w->facts, cJSON_GetObjectItem(f, "kind")->valuestring,
			     cJSON_GetObjectItem(f, "id")->valuestring, cJSON_Duplicate(f, 1));
	}
	fm_facts_delete(&now);
}

/* --- the watcher's requests ------------------------------------------------ */

static void start_version(struct fm_docker_watch *w);
static void start_list(struct fm_docker_watch *w);

static void go_down(struct fm_docker_watch *w, const struct fm_httpc *c, const char *state,
		    const char *reason)
{
	if (w->state == W_BACKOFF)
		return;
	w->state = W_BACKOFF;
	w->synced = false;
	w->failed = true;
	snprintf(w->dstate, sizeof(w->dstate), "%s", c ? fm_httpc_fail_name(c->fail) : state);
	snprintf(w->dreason, sizeof(w->dreason), "%s", c ? c->reason : reason);
	if (!w->fail_logged) {
		fm_warn("docker: %s does not answer: %s (retrying, backing off up to %llu ms)",
			w->host, w->dreason, (unsigned long long)w->o.backoff_max_ms);
		w->fail_logged = true;
	}
	/* Cancelling runs the requests' on_done, which see W_BACKOFF and
	 * return. */
	fm_httpc_cancel(&w->ev);
	fm_httpc_cancel(&w->req);
	w->events_on = false;
	sync_facts(w);
	fm_timer_arm(&w->retry, w->backoff_ms, 0);
	w->backoff_ms = w->backoff_ms * 2 > w->o.backoff_max_ms ? w->o.backoff_max_ms : w->backoff_ms * 2;
}

/* A request on req that failed at the HTTP level: a status other than 2xx
 * from the daemon (it answers, but not this), or no answer at all. */
static bool req_failed(struct fm_docker_watch *w, struct fm_httpc *c, bool accept_any_status)
{
	if (w->state == W_BACKOFF)
		return true;
	if (c->fail != FM_HTTPC_OK) {
		go_down(w, c, NULL, NULL);
		return true;
	}
	if (!accept_any_status && fm_httpc_require_2xx(c) < 0) {
		char msg[300];
		fm_docker_error_text(c->body.data, c->body.len, msg, sizeof(msg));
		char why[400];
		snprintf(why, sizeof(why), "HTTP %d: %s", c->status, msg);
		go_down(w, NULL, "http-status", why);
		return true;
	}
	return false;
}

static void on_retry(struct fm_timer *t)
{
	struct fm_docker_watch *w = container_of(t, struct fm_docker_watch, retry);
	if (w->state == W_BACKOFF)
		start_version(w);
}

/* A container an event spoke of. The Engine's list is a view that lags
 * its events: a container that exited a moment ago can still be listed
 * "running", and an inspection kept from before would then stay for good
 * (test_fault_flood: an exit that never became a finding). Inspect reads
 * the container itself, so a touched container is inspected again. When
 * the ring is full the oldest is forgotten: it was inspected since. */
static void touch(struct fm_docker_watch *w, const char *id)
{
	for (size_t i = 0; i < w->ntouched; i++)
		if (strcmp(w->touched[i], id) == 0)
			return;
	if (w->ntouched == TOUCHED_MAX) {
		memmove(w->touched[0], w->touched[1], (TOUCHED_MAX - 1) * sizeof(w->touched[0]));
		w->ntouched--;
	}
	snprintf(w->touched[w->ntouched++], sizeof(w->touched[0]), "%s", id);
}

/* Whether id was touched; forgets it (its inspection is asked now). */
static bool take_touched(struct fm_docker_watch *w, const char *id)
{
	for (size_t i = 0; i < w->ntouched; i++) {
		if (strcmp(w->touched[i], id) != 0)
			continue;
		memmove(w->touched[i], w->touched[i + 1], (w->ntouched - i - 1) * sizeof(w->touched[0]));
		w->ntouched--;
		return true;
	}
	return false;
}

static void handle_event(struct fm_docker_watch *w, const struct fm_docker_event *e)
{
	if (e->time_s > w->last_event_s)
		w->last_event_s = e->time_s;
	if (strcmp(e->type, "container") != 0)
		return;
	struct fm_docker_name kn;
	bool cp = fm_docker_name_parse(e->name, &kn) == 0 && fm_docker_name_control_plane(&kn);
	struct fm_docker_ctr *c = NULL;
	for (size_t i = 0; i < w->n && cp; i++)
		if (strcmp(w->ctrs[i].id, e->id) == 0)
			c = &w->ctrs[i];
	if (cp)
		touch(w, e->id);
	if (strcmp(e->action, "die") == 0 && cp) {
		/* The fact changes now, from the event; the re-list fills in
		 * the rest (FinishedAt, OOMKilled). */
		add_die(w, &kn, e->id, e->time_s, e->exit_code);
		if (c) {
			snprintf(c->state, sizeof(c->state), "exited");
			c->exit_code = e->exit_code;
			c->inspected = false;
		}
		sync_facts(w);
	} else if (strcmp(e->action, "oom") == 0 && c) {
		c->oom_killed = true;
	}
	/* Not from here: this runs inside the /events stream's body callback,
	 * and a request that fails at once would cancel that stream under it. */
	w->dirty = true;
	if (w->state == W_LIVE)
		fm_timer_arm(&w->kick, 1, 0);
}

static void on_kick(struct fm_timer *t)
{
	struct fm_docker_watch *w = container_of(t, struct fm_docker_watch, kick);
	if (w->state == W_LIVE && w->dirty) {
		w->dirty = false;
		start_list(w);
	}
}

static void on_event_line(void *ctx, const char *line, size_t len)
{
	struct fm_docker_watch *w = ctx;
	struct fm_docker_event e;
	char err[160];
	if (fm_docker_event_parse(line, len, &e, err, sizeof(err)) < 0) {
		w->lines.refused++;
		snprintf(w->events_error, sizeof(w->events_error), "%s", err);
		if (w->lines.refused == 1)
			fm_warn("docker: %s sent an event that is not one: %s", w->host, err);
		sync_facts(w);
		return;
	}
	handle_event(w, &e);
}

static int on_events_body(void *ctx, const char *data, size_t len)
{
	struct fm_docker_watch *w = ctx;
	unsigned long refused = w->lines.refused;
	fm_docker_lines_feed(&w->lines, data, len, on_event_line, w);
	if (w->lines.refused != refused && !w->events_error[0]) {
		snprintf(w->events_error, sizeof(w->events_error),
			 "an event line longer than %zu bytes was refused", w->lines.cap);
		sync_facts(w);
	}
	return 0;
}

static void on_events_done(struct fm_httpc *c, void *ctx)
{
	struct fm_docker_watch *w = ctx;
	if (w->state == W_BACKOFF)
		return;
	w->events_on = false;
	if (c->fail == FM_HTTPC_OK && c->status / 100 != 2) {
		char msg[300], why[400];
		fm_docker_error_text(c->body.data, c->body.len, msg, sizeof(msg));
		snprintf(why, sizeof(why), "/events: HTTP %d: %s", c->status, msg);
		go_down(w, NULL, "http-status", why);
		return;
	}
	/* The stream never ends while the daemon lives: however it ended (cut
	 * inside a chunk when dockerd is killed), the daemon went away. */
	char why[450];
	snprintf(why, sizeof(why), "the /events stream ended: %s",
		 c->fail == FM_HTTPC_OK ? "the daemon closed it" : c->reason);
	bool gone = c->fail == FM_HTTPC_OK || c->fail == FM_HTTPC_MALFORMED || c->fail == FM_HTTPC_CLOSED;
	go_down(w, NULL, gone ? "closed" : fm_httpc_fail_name(c->fail), why);
}

static void start_events(struct fm_docker_watch *w)
{
	/* filters={"type":["container"]} */
	long long since = w->last_event_s ? w->last_event_s
					  : w->o.now_s() - w->o.crashloop_window_s;
	snprintf(w->path, sizeof(w->path),
		 "%s/events?since=%lld&filters=%%7B%%22type%%22%%3A%%5B%%22container%%22%%5D%%7D",
		 w->prefix, since);
	fm_docker_lines_reset(&w->lines);
	struct fm_httpc_req r = {
		.method = "GET", .path = w->path, .timeout_ms = w->o.timeout_ms, .stream = true,
		.on_body = on_events_body, .body_ctx = w, .on_done = on_events_done, .done_ctx = w,
	};
	w->events_on = true;
	if (fm_httpc_start(&w->ev, &r) < 0)
		go_down(w, NULL, "connect", "cannot start the /events request");
}

static void next_inspect(struct fm_docker_watch *w);

static void on_inspect_done(struct fm_httpc *c, void *ctx)
{
	struct fm_docker_watch *w = ctx;
	if (req_failed(w, c, true))
		return;
	size_t i = w->inspecting;
	if (i < w->n) {
		struct fm_docker_ctr *ct = &w->ctrs[i];
		char err[200];
		if (c->status / 100 == 2) {
			if (fm_docker_inspect_parse(c->body.data, c->body.len, ct, err, sizeof(err)) < 0) {
				go_down(w, NULL, "malformed", err);
				return;
			}
			bool ended = !strcmp(ct->state, "exited") || !strcmp(ct->state, "dead");
			if (ended && ct->kubelet)
				add_die(w, &ct->kn, ct->id, ct->finished_s, ct->exit_code);
		} else if (c->status == 404) {
			w->dirty = true; /* gone meanwhile: the next list says so */
			snprintf(ct->inspect_error, sizeof(ct->inspect_error), "no such container");
		} else {
			/* The daemon lists it but cannot say more: incident 2's
			 * "stat .../overlay2/...: no such file or directory". */
			fm_docker_error_text(c->body.data, c->body.len, ct->inspect_error,
					     sizeof(ct->inspect_error));
		}
	}
	next_inspect(w);
}

static void next_inspect(struct fm_docker_watch *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->tried[i] || w->ctrs[i].inspected)
			continue;
		w->tried[i] = true;
		w->inspecting = i;
		w->ctrs[i].inspect_error[0] = '\0';
		snprintf(w->path, sizeof(w->path), "%s/containers/%s/json", w->prefix, w->ctrs[i].id);
		struct fm_httpc_req r = {
			.method = "GET", .path = w->path, .timeout_ms = w->o.timeout_ms,
			.max_body = INSPECT_MAX, .idempotent = true,
			.on_done = on_inspect_done, .done_ctx = w,
		};
		if (fm_httpc_start(&w->req, &r) < 0)
			go_down(w, NULL, "connect", "cannot start an inspect request");
		return;
	}
	/* Everything known: the facts, then another round if events came. */
	bool first = !w->synced;
	w->synced = true;
	w->state = W_LIVE;
	if (first && w->fail_logged && w->failed)
		fm_notice("docker: %s answers again", w->host);
	sync_facts(w);
	if (w->dirty) {
		w->dirty = false;
		start_list(w);
	}
}

static void on_list_done(struct fm_httpc *c, void *ctx)
{
	struct fm_docker_watch *w = ctx;
	if (req_failed(w, c, false))
		return;
	size_t n = 0;
	char err[200];
	if (fm_docker_list_parse(c->body.data, c->body.len, w->scratch, MAX_CTRS, &n, &w->dropped,
				 &w->counts, err, sizeof(err)) < 0) {
		go_down(w, NULL, "malformed", err);
		return;
	}
	/* What is already known of a container in the same state stays; a
	 * container that changed is inspected again. */
	for (size_t i = 0; i < n; i++) {
		struct fm_docker_ctr *s = &w->scratch[i];
		w->tried[i] = false;
		if (take_touched(w, s->id))
			continue;
		for (size_t j = 0; j < w->n; j++) {
			const struct fm_docker_ctr *old = &w->ctrs[j];
			if (strcmp(old->id, s->id) == 0 && strcmp(old->state, s->state) == 0 &&
			    old->inspected) {
				*s = *old;
				break;
			}
		}
	}
	memcpy(w->ctrs, w->scratch, n * sizeof(*w->ctrs));
	w->n = n;
	next_inspect(w);
}

static void start_list(struct fm_docker_watch *w)
{
	w->state = W_SYNC;
	snprintf(w->path, sizeof(w->path), "%s/containers/json?all=1", w->prefix);
	struct fm_httpc_req r = {
		.method = "GET", .path = w->path, .timeout_ms = w->o.timeout_ms,
		.max_body = LIST_MAX_BODY, .idempotent = true,
		.on_done = on_list_done, .done_ctx = w,
	};
	if (fm_httpc_start(&w->req, &r) < 0)
		go_down(w, NULL, "connect", "cannot start the container list request");
}

/* The API version to ask for: min(the daemon's, the newest we know); a
 * daemon older than 1.40 is asked unversioned (it then answers in its own
 * version) and the daemon fact says so. */
static void api_prefix(int daemon_minor, char *prefix, size_t size)
{
	int v = daemon_minor < FM_DOCKER_API_NEWEST ? daemon_minor : FM_DOCKER_API_NEWEST;
	if (v < FM_DOCKER_API_OLDEST)
		prefix[0] = '\0';
	else
		snprintf(prefix, size, "/v1.%d", v);
}

static void on_version_done(struct fm_httpc *c, void *ctx)
{
	struct fm_docker_watch *w = ctx;
	if (req_failed(w, c, false))
		return;
	char err[200];
	if (fm_docker_version_parse(c->body.data, c->body.len, &w->ver, err, sizeof(err)) < 0) {
		go_down(w, NULL, "malformed", err);
		return;
	}
	api_prefix(w->ver.api_minor, w->prefix, sizeof(w->prefix));
	snprintf(w->dstate, sizeof(w->dstate), "ok");
	w->dreason[0] = '\0';
	w->backoff_ms = w->o.backoff_min_ms;
	if (w->fail_logged)
		w->fail_logged = false;
	/* Subscribe before listing: whatever changes during the list is an
	 * event that triggers another list. */
	if (!w->o.once)
		start_events(w);
	if (w->state != W_BACKOFF)
		start_list(w);
}

static void start_version(struct fm_docker_watch *w)
{
	w->state = W_VERSION;
	struct fm_httpc_req r = {
		.method = "GET", .path = "/version", .timeout_ms = w->o.timeout_ms,
		.max_body = 64 * 1024, .idempotent = true,
		.on_done = on_version_done, .done_ctx = w,
	};
	if (fm_httpc_start(&w->req, &r) < 0)
		go_down(w, NULL, "connect", "cannot start the /version request");
}

struct fm_docker_watch *fm_docker_watch_new(struct fm_loop *loop, const struct fm_docker_opts *o,
					    struct fm_facts *facts, char *err, size_t errlen)
{
	struct fm_docker_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->facts = facts;
	w->o = *o;
	w->o.host = w->host;
	w->retry = (struct fm_timer)FM_TIMER_INIT;
	w->kick = (struct fm_timer)FM_TIMER_INIT;
	w->req.fd = w->ev.fd = -1;
	if (!w->o.timeout_ms)
		w->o.timeout_ms = 2000;
	if (!w->o.backoff_min_ms)
		w->o.backoff_min_ms = 250;
	if (!w->o.backoff_max_ms)
		w->o.backoff_max_ms = 30000;
	if (w->o.backoff_max_ms < w->o.backoff_min_ms)
		w->o.backoff_max_ms = w->o.backoff_min_ms;
	if (!w->o.crashloop_exits)
		w->o.crashloop_exits = 3;
	if (!w->o.crashloop_window_s)
		w->o.crashloop_window_s = 600;
	if (!w->o.now_s)
		w->o.now_s = wall_now;
	w->backoff_ms = w->o.backoff_min_ms;
	snprintf(w->host, sizeof(w->host), "%s", o->host ? o->host : "");
	snprintf(w->dstate, sizeof(w->dstate), "connecting");
	w->ctrs = calloc(MAX_CTRS, sizeof(*w->ctrs));
	w->scratch = calloc(MAX_CTRS, sizeof(*w->scratch));
	w->tried = calloc(MAX_CTRS, sizeof(*w->tried));
	if (!w->ctrs || !w->scratch || !w->tried || fm_docker_lines_init(&w->lines, 0) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (fm_httpc_init(&w->req, loop, w->host, NULL, err, errlen) < 0 ||
	    fm_httpc_init(&w->ev, loop, w->host, NULL, err, errlen) < 0)
		goto fail;
	if (fm_timer_init(loop, &w->retry, on_retry) < 0 || fm_timer_init(loop, &w->kick, on_kick) < 0) {
		snprintf(err, errlen, "cannot make a timer: %s", strerror(errno));
		goto fail;
	}
	start_version(w);
	return w;
fail:
	fm_docker_watch_delete(&w);
	return NULL;
}

void fm_docker_watch_delete(struct fm_docker_watch **wp)
{
	struct fm_docker_watch *w = wp ? *wp : NULL;
	if (!w)
		return;
	w->state = W_BACKOFF; /* on_done of the cancelled requests do nothing */
	fm_httpc_cancel(&w->ev);
	fm_httpc_cancel(&w->req);
	fm_httpc_close(&w->ev);
	fm_httpc_close(&w->req);
	fm_timer_close(&w->retry);
	fm_timer_close(&w->kick);
	fm_docker_lines_free(&w->lines);
	free(w->ctrs);
	free(w->scratch);
	free(w->tried);
	free(w);
	*wp = NULL;
}

bool fm_docker_watch_synced(const struct fm_docker_watch *w)
{
	return w->synced;
}

bool fm_docker_watch_failed(const struct fm_docker_watch *w)
{
	return w->failed;
}

/* --- one-shot requests: collect, logs, remove --------------------------------- */

/* Opens c on host and asks /version: the API prefix for the next requests.
 * 0, or -1 with reason set. */
static int oneshot_open(struct fm_probe_run *r, struct fm_httpc *c, struct fm_loop *loop,
			const char *host, const struct fm_collect_opts *co, char *prefix,
			size_t psize, char *reason, size_t rsize)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->co = co;
	r->url = host;
	if (fm_httpc_init(c, loop, host, NULL, reason, rsize) < 0)
		return -1;
	enum fm_probe_asked a = fm_probe_ask(r, "GET", "/version", NULL, 64 * 1024, NULL);
	struct fm_docker_version v;
	char err[200];
	if (a != FM_PROBE_OK) {
		snprintf(reason, rsize, "%s", c->reason);
		return -1;
	}
	if (fm_docker_version_parse(c->body.data, c->body.len, &v, err, sizeof(err)) < 0) {
		snprintf(reason, rsize, "%s", err);
		return -1;
	}
	api_prefix(v.api_minor, prefix, psize);
	return 0;
}

static bool hex_id(const char *id)
{
	size_t n = strlen(id);
	if (n < 12 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

/* A container reference in a URL path: an id or a container name
 * ([a-zA-Z0-9][a-zA-Z0-9_.-]*), nothing that needs escaping. */
static bool safe_ref(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

int fm_docker_logs(struct fm_loop *loop, const char *host, const char *id, int tail,
		   const struct fm_collect_opts *co, struct fm_facts *facts)
{
	struct fm_httpc c = {.fd = -1};
	struct fm_probe_run r;
	char prefix[16], reason[400] = "", path[600], err[200];
	struct fm_docker_ctr ct = {0};
	char fact_id[256];
	int rc = -1;
	cJSON *f = cJSON_CreateObject();

	if (hex_id(id))
		snprintf(fact_id, sizeof(fact_id), "%.12s", id);
	else
		snprintf(fact_id, sizeof(fact_id), "%s", id);
	if (!safe_ref(id)) {
		cJSON_AddStringToObject(f, "state", "config");
		cJSON_AddStringToObject(f, "reason", "not a container id or name");
		goto out;
	}
	if (oneshot_open(&r, &c, loop, host, co, prefix, sizeof(prefix), reason, sizeof(reason)) < 0) {
		fm_probe_outcome(f, &c);
		goto out;
	}
	/* As `docker logs` does: inspect first (it says whether the container
	 * has a TTY, i.e. no frame headers). A daemon that cannot inspect the
	 * container cannot give its logs either, and its message is the
	 * evidence (incident 2). */
	snprintf(path, sizeof(path), "%s/containers/%s/json", prefix, id);
	enum fm_probe_asked a = fm_probe_ask_any(&r, "GET", path, NULL, INSPECT_MAX);
	if (a == FM_PROBE_OK && c.status / 100 == 2 &&
	    fm_docker_inspect_parse(c.body.data, c.body.len, &ct, err, sizeof(err)) < 0) {
		cJSON_AddStringToObject(f, "state", "malformed");
		cJSON_AddStringToObject(f, "reason", err);
		goto out;
	}
	if (a == FM_PROBE_OK && c.status / 100 == 2) {
		snprintf(path, sizeof(path), "%s/containers/%s/logs?stdout=1&stderr=1&tail=%d", prefix,
			 id, tail > 0 ? tail : 20);
		a = fm_probe_ask_any(&r, "GET", path, NULL, LOGS_MAX_BODY);
	}
	if (a != FM_PROBE_OK) {
		fm_probe_outcome(f, &c);
		goto out;
	}
	if (c.status / 100 != 2) {
		char msg[384];
		fm_docker_error_text(c.body.data, c.body.len, msg, sizeof(msg));
		cJSON_AddStringToObject(f, "state", "http-status");
		cJSON_AddNumberToObject(f, "http_status", c.status);
		cJSON_AddStringToObject(f, "error", msg);
		snprintf(reason, sizeof(reason), "docker logs %s: Error response from daemon: %s",
			 fact_id, msg);
		cJSON_AddStringToObject(f, "reason", reason);
		goto out;
	}
	/* API 1.42+ names the framing in Content-Type; older ones do not, and
	 * the container's Tty decides. */
	const char *ctype = fm_http_header_get(&c.parser, "Content-Type");
	bool raw = ct.tty || (ctype && strstr(ctype, "raw-stream"));
	cJSON *lines = cJSON_AddArrayToObject(f, "lines");
	if (fm_docker_logs_demux(c.body.data, c.body.len, raw, lines, (size_t)(tail > 0 ? tail : 20),
				 err, sizeof(err)) < 0) {
		cJSON_AddStringToObject(f, "state", "malformed");
		cJSON_AddStringToObject(f, "reason", err);
		goto out;
	}
	cJSON_AddStringToObject(f, "state", "ok");
	rc = 0;
out:
	if (ct.name[0])
		cJSON_AddStringToObject(f, "name", ct.name);
	fm_facts_put(facts, "docker.logs", fact_id, f);
	fm_httpc_close(&c);
	return rc;
}

static void fill_ids(struct fm_docker_watch *w, char ids[][65], size_t *n, size_t max)
{
	*n = 0;
	for (size_t i = 0; i < w->n && *n < max; i++) {
		const struct fm_docker_ctr *c = &w->ctrs[i];
		if (c->kn.sandbox || (strcmp(c->state, "exited") && strcmp(c->state, "dead")))
			continue;
		snprintf(ids[(*n)++], 65, "%s", c->id);
	}
}

int fm_docker_collect(struct fm_loop *loop, const char *host, const struct fm_collect_opts *co,
		      struct fm_facts *facts)
{
	struct fm_docker_opts o = {.host = host, .timeout_ms = co->timeout_ms, .once = true};
	char err[400];
	struct fm_docker_watch *w = fm_docker_watch_new(loop, &o, facts, err, sizeof(err));
	if (!w) {
		fm_facts_put(facts, "docker.daemon", host, fm_probe_config_error(err));
		return -1;
	}
	while (!w->synced && !w->failed)
		if (fm_loop_run_once(loop, -1) < 0)
			break;
	bool ok = w->synced;
	char ids[8][65];
	size_t n = 0;
	fill_ids(w, ids, &n, 8);
	fm_docker_watch_delete(&w);
	for (size_t i = 0; ok && i < n; i++)
		fm_docker_logs(loop, host, ids[i], 20, co, facts);
	return ok ? 0 : -1;
}

int fm_docker_remove(struct fm_loop *loop, const char *host, const char *id,
		     const struct fm_docker_policy *policy, const struct fm_collect_opts *co,
		     char *reason, size_t reason_size)
{
	struct fm_httpc c = {.fd = -1};
	struct fm_probe_run r;
	char prefix[16], path[300], err[200];
	struct fm_docker_ctr ct = {0};
	int rc;

	if (!policy || !policy->allow_remove) {
		snprintf(reason, reason_size,
			 "removing containers is not enabled in the agent's configuration");
		rc = -EPERM;
		goto audit;
	}
	if (!hex_id(id)) {
		snprintf(reason, reason_size, "'%.80s' is not a container id (12 to 64 hex digits)", id);
		rc = -EINVAL;
		goto audit;
	}
	if (oneshot_open(&r, &c, loop, host, co, prefix, sizeof(prefix), reason, reason_size) < 0) {
		rc = -EIO;
		goto audit;
	}
	snprintf(path, sizeof(path), "%s/containers/%s/json", prefix, id);
	if (fm_probe_ask_any(&r, "GET", path, NULL, INSPECT_MAX) != FM_PROBE_OK) {
		snprintf(reason, reason_size, "%s", c.reason);
		rc = -EIO;
		goto audit;
	}
	if (c.status / 100 != 2) {
		/* 404 also for a prefix that names several containers. */
		fm_docker_error_text(c.body.data, c.body.len, err, sizeof(err));
		snprintf(reason, reason_size, "no single container %s: %s", id, err);
		rc = c.status == 404 ? -ENOENT : -EIO;
		goto audit;
	}
	if (fm_docker_inspect_parse(c.body.data, c.body.len, &ct, err, sizeof(err)) < 0) {
		snprintf(reason, reason_size, "inspecting %s: %s", id, err);
		rc = -EIO;
		goto audit;
	}
	if (!ct.inspected || strncmp(ct.id, id, strlen(id)) != 0) {
		snprintf(reason, reason_size, "the daemon's answer for %s does not name that container",
			 id);
		rc = -ENOENT;
		goto audit;
	}
	if (strcmp(ct.state, "exited") != 0 && strcmp(ct.state, "dead") != 0 &&
	    strcmp(ct.state, "created") != 0) {
		snprintf(reason, reason_size, "container %.12s (%s) is %s: only stopped containers are removed",
			 ct.id, ct.name, ct.state);
		rc = -EBUSY;
		goto audit;
	}
	snprintf(path, sizeof(path), "%s/containers/%s", prefix, ct.id);
	if (fm_probe_ask_any(&r, "DELETE", path, NULL, 64 * 1024) != FM_PROBE_OK) {
		snprintf(reason, reason_size, "%s", c.reason);
		rc = -EIO;
		goto audit;
	}
	if (c.status / 100 != 2) {
		fm_docker_error_text(c.body.data, c.body.len, err, sizeof(err));
		snprintf(reason, reason_size, "the daemon refused to remove %.12s: %s", ct.id, err);
		rc = -EIO;
		goto audit;
	}
	snprintf(reason, reason_size, "removed container %.12s (%s, exit code %d)", ct.id, ct.name,
		 ct.exit_code);
	rc = 0;
audit:
	fm_notice("docker: audit: remove container %.64s on %s: %s: %s", id, host,
		  rc == 0 ? "done" : "refused", reason);
	fm_httpc_close(&c);
	return rc;
}
