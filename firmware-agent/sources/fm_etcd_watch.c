#include "fm_etcd_watch.h"

#include "fm_httpc.h"
#include "fm_log.h"
#include "fm_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A watch on "/fleetmedic/watch" (base64, as the gateway wants keys): a key
 * the agent never writes and the cluster does not use, so the stream stays
 * silent after etcd's "created" answer. */
static const char watch_body[] = "{\"create_request\":{\"key\":\"L2ZsZWV0bWVkaWMvd2F0Y2g=\"}}";

struct fm_etcd_watch {
	struct fm_etcd_watch_opts o;
	struct fm_loop *loop;
	struct fm_tls_config *tls;
	struct fm_httpc c;
	struct fm_timer retry;	/* the next connection */
	struct fm_timer notify; /* on_change, outside the request's callbacks */
	uint64_t backoff_ms;
	bool up;      /* the stream is established (etcd answered on it) */
	bool down;    /* the stream failed and none is up since */
	bool pending; /* what to tell on_change: the last transition */
	bool stopping;
	/* A collection saw etcd answer (fm_etcd_watch_now) while no stream
	 * was up: the attempt that follows failing is etcd going away again
	 * (etcd killed while its watch was still being set up), told as a
	 * stream ending is; once a prod. */
	bool seen_answer;
};

static void start(struct fm_etcd_watch *w);

/* A transition, told from a timer: the request callbacks must not run a
 * collection (it would nest the loop inside fm_httpc's own callback). */
static void tell(struct fm_etcd_watch *w, bool up)
{
	w->pending = up;
	fm_timer_arm(&w->notify, 1, 0);
}

static void on_notify(struct fm_timer *t)
{
	struct fm_etcd_watch *w = container_of(t, struct fm_etcd_watch, notify);
	if (w->o.on_change)
		w->o.on_change(w->o.arg, w->pending);
}

static void on_retry(struct fm_timer *t)
{
	start(container_of(t, struct fm_etcd_watch, retry));
}

static int on_body(void *ctx, const char *data, size_t len)
{
	struct fm_etcd_watch *w = ctx;
	(void)data;
	(void)len;
	/* Whatever etcd streams is not read: any byte says the watch stands. */
	if (!w->up) {
		w->up = true;
		w->seen_answer = false;
		w->backoff_ms = w->o.backoff_min_ms;
		if (w->down) {
			w->down = false;
			fm_info("etcd watch: %s answers again", w->o.ep->url);
			tell(w, true);
		}
	}
	return 0;
}

static void on_done(struct fm_httpc *c, void *ctx)
{
	struct fm_etcd_watch *w = ctx;
	uint64_t wait = w->backoff_ms;
	if (w->stopping)
		return;
	if (c->fail == FM_HTTPC_OK && c->status && (c->status < 200 || c->status > 299)) {
		/* etcd answers but has no watch for us: not a failure of etcd. */
		fm_info("etcd watch: %s answered HTTP %d; retried in %llu ms", w->o.ep->url, c->status,
			(unsigned long long)w->o.backoff_max_ms);
		wait = w->o.backoff_max_ms;
	} else if (w->up || w->seen_answer) {
		fm_info(w->up ? "etcd watch: the stream to %s ended (%s)"
			      : "etcd watch: %s answered a collection a moment ago, the stream to it fails (%s)",
			w->o.ep->url, c->fail ? fm_httpc_fail_name(c->fail) : "closed");
		w->seen_answer = false;
		w->down = true;
		tell(w, false);
	} else {
		/* Never set up (etcd down since the agent started, or since its
		 * death was told): nothing to tell now, but its coming up is
		 * news. */
		w->down = true;
	}
	w->up = false;
	fm_httpc_close(c);
	fm_timer_arm(&w->retry, wait ? wait : 1, 0);
	w->backoff_ms = w->backoff_ms * 2 > w->o.backoff_max_ms ? w->o.backoff_max_ms : w->backoff_ms * 2;
}

static void start(struct fm_etcd_watch *w)
{
	char err[320];
	if (fm_httpc_init(&w->c, w->loop, w->o.ep->url, w->tls, err, sizeof(err)) < 0) {
		fm_timer_arm(&w->retry, w->o.backoff_max_ms, 0);
		return;
	}
	struct fm_httpc_req req = {
		.method = "POST", .path = "/v3/watch", .content_type = "application/json",
		.body = watch_body, .body_len = sizeof(watch_body) - 1,
		.timeout_ms = w->o.co.timeout_ms ? w->o.co.timeout_ms : 2000, .stream = true,
		.on_body = on_body, .body_ctx = w, .on_done = on_done, .done_ctx = w,
	};
	if (fm_httpc_start(&w->c, &req) < 0 && !fm_timer_armed(&w->retry)) {
		fm_httpc_close(&w->c);
		fm_timer_arm(&w->retry, w->o.backoff_max_ms, 0);
	}
}

struct fm_etcd_watch *fm_etcd_watch_new(struct fm_loop *loop, const struct fm_etcd_watch_opts *o, char *err,
					size_t err_size)
{
	struct fm_etcd_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	w->o = *o;
	w->loop = loop;
	w->retry = (struct fm_timer)FM_TIMER_INIT;
	w->notify = (struct fm_timer)FM_TIMER_INIT;
	w->c.fd = -1; /* nothing to close until the first fm_httpc_init */
	w->c.ev.fd = -1;
	w->c.deadline.ev.fd = -1;
	if (!w->o.backoff_min_ms)
		w->o.backoff_min_ms = 100;
	if (!w->o.backoff_max_ms)
		w->o.backoff_max_ms = 5000;
	if (w->o.backoff_max_ms < w->o.backoff_min_ms)
		w->o.backoff_max_ms = w->o.backoff_min_ms;
	w->backoff_ms = w->o.backoff_min_ms;
	struct fm_tls_options to = fm_probe_tls_options(o->ep, o->co.tls_max);
	if (strncmp(o->ep->url, "https://", 8) == 0 && fm_tls_config_new(&w->tls, &to, err, err_size) < 0)
		goto out_fail;
	if (fm_timer_init(loop, &w->retry, on_retry) < 0 || fm_timer_init(loop, &w->notify, on_notify) < 0) {
		snprintf(err, err_size, "cannot make a timer: %s", strerror(errno));
		goto out_fail;
	}
	start(w);
	return w;

out_fail:
	fm_etcd_watch_delete(&w);
	return NULL;
}

void fm_etcd_watch_delete(struct fm_etcd_watch **wp)
{
	struct fm_etcd_watch *w = wp ? *wp : NULL;
	if (!w)
		return;
	w->stopping = true; /* the cancelled stream's on_done does nothing */
	fm_httpc_cancel(&w->c);
	fm_httpc_close(&w->c);
	fm_timer_close(&w->retry);
	fm_timer_close(&w->notify);
	fm_tls_config_delete(&w->tls);
	free(w);
	*wp = NULL;
}

void fm_etcd_watch_now(struct fm_etcd_watch *w)
{
	if (!w || w->up || w->stopping)
		return;
	w->seen_answer = true;
	/* a retry armed means no request is in flight (one in flight is the
	 * attempt whose failure is now news) */
	if (!fm_timer_armed(&w->retry))
		return;
	fm_timer_disarm(&w->retry);
	w->backoff_ms = w->o.backoff_min_ms;
	start(w);
}

bool fm_etcd_watch_up(const struct fm_etcd_watch *w)
{
	return w && w->up;
}
