#include "fc_retain.h"

#include "fc_store.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fc_retain {
	struct fm_timer tick;
	struct fc_store *store;
	int64_t retain_s, forget_s;
	int batch;
	uint64_t run;	/* lines pruned since the backlog began */
	int64_t next;	/* nothing left to do: look again from then */
	bool failing;	/* complain once, and once when it works again */
};

static void on_forgotten(const char *node, int64_t silent_s, void *arg)
{
	(void)arg;
	fm_notice("node %s forgotten: silent for %lld h (--forget); its history stays until --retain", node,
		  (long long)(silent_s / 3600));
}

static void failed(struct fc_retain *r, const char *what)
{
	if (!r->failing)
		fm_warn("retention: cannot %s (the store said why); trying again in %d s", what,
			FC_RETAIN_IDLE_S);
	r->failing = true;
}

static void on_tick(struct fm_timer *t)
{
	struct fc_retain *r = container_of(t, struct fc_retain, tick);
	int64_t now = (int64_t)time(NULL);
	if (now < r->next)
		return;
	bool ok = true;
	int f = 0;
	if (r->forget_s &&
	    (f = fc_store_forget(r->store, now, now - r->forget_s, FC_RETAIN_FORGET_MAX, on_forgotten, NULL)) < 0) {
		failed(r, "drop silent nodes");
		ok = false;
	}
	bool more = f == FC_RETAIN_FORGET_MAX;
	if (!r->retain_s)
		goto out;
	int n = fc_store_prune(r->store, now - r->retain_s, r->batch);
	more = more || n == r->batch;
	if (n < 0) {
		failed(r, "prune history");
		ok = false;
	} else {
		r->run += (uint64_t)n;
	}
	/* a backlog drained (or the lines of one tick) */
	if (n >= 0 && n < r->batch && r->run) {
		fm_info("retention: %llu history lines older than %lld days pruned", (unsigned long long)r->run,
			(long long)(r->retain_s / 86400));
		r->run = 0;
	}
out:
	/* caught up: what crosses the limit next is a few lines a minute, and
	 * each look walks past the standing raise lines kept */
	r->next = more ? 0 : now + FC_RETAIN_IDLE_S;
	if (ok && r->failing) {
		fm_notice("retention: works again");
		r->failing = false;
	}
}

struct fc_retain *fc_retain_new(struct fm_loop *loop, const struct fc_retain_conf *conf, char *why,
				size_t why_size)
{
	struct fc_retain *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	r->tick = (struct fm_timer)FM_TIMER_INIT;
	r->store = conf->store;
	r->retain_s = conf->retain_s;
	r->forget_s = conf->forget_s;
	r->batch = conf->batch > 0 ? conf->batch : FC_RETAIN_BATCH;
	unsigned every = conf->tick_ms ? conf->tick_ms : FC_RETAIN_TICK_MS;
	int rc;
	if ((rc = fm_timer_init(loop, &r->tick, on_tick)) < 0 || (rc = fm_timer_arm(&r->tick, every, every)) < 0) {
		snprintf(why, why_size, "retention: cannot arm its timer: %s", strerror(-rc));
		fc_retain_delete(&r);
		return NULL;
	}
	return r;
}

void fc_retain_delete(struct fc_retain **pr)
{
	if (!pr || !*pr)
		return;
	fm_timer_close(&(*pr)->tick);
	free(*pr);
	*pr = NULL;
}
