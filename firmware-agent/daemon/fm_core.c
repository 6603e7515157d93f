/* The daemon's decisions (fm_core.h): the time is always the caller's. */
#include "fm_core.h"

#include "fm_diagnose.h"
#include "fm_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fm_core {
	struct fm_facts *facts;
	struct fm_core_opts o;
	struct fm_core_hooks h;
	struct fm_diag_track *track;
	struct fm_facts *staging; /* the collection in flight's, or NULL */
	bool dirty;		  /* a fact changed since the last evaluation */
	bool committing;	  /* fm_core_fact_changed: the change is a commit's */
	bool live_change;	  /* a live source changed a fact since the last collection */
	uint64_t collect_at;	  /* when the next collection is due; 0 while one runs */
	uint64_t collect_every;	  /* the wait after the last one */
	uint64_t hold_at;	  /* the earliest hold's end, 0: none */
};

struct fm_core *fm_core_new(struct fm_facts *facts, const struct fm_core_opts *o, const struct fm_core_hooks *h,
			    uint64_t now_ms)
{
	struct fm_core *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->facts = facts;
	c->o = *o;
	c->h = *h;
	if (!(c->track = fm_diag_track_new(o->hold_ms ? o->hold_ms : 30000))) {
		free(c);
		return NULL;
	}
	c->collect_every = o->collect_ms;
	c->collect_at = now_ms + 1;
	return c;
}

void fm_core_delete(struct fm_core **c)
{
	if (!c || !*c)
		return;
	fm_diag_track_delete(&(*c)->track);
	fm_facts_delete(&(*c)->staging);
	free(*c);
	*c = NULL;
}

int fm_core_seed(struct fm_core *c, const cJSON *reported, uint64_t now_ms)
{
	return fm_diag_track_seed(c->track, reported, now_ms);
}

void fm_core_set_opts(struct fm_core *c, const struct fm_core_opts *o, uint64_t now_ms)
{
	bool interval = o->collect_ms != c->o.collect_ms || o->collect_idle_ms != c->o.collect_idle_ms;
	if (o->hold_ms != c->o.hold_ms)
		fm_diag_track_set_hold(c->track, o->hold_ms ? o->hold_ms : 30000);
	c->o = *o;
	if (interval) {
		c->collect_every = o->collect_ms;
		if (!c->staging)
			c->collect_at = now_ms + o->collect_ms;
	}
}

static int64_t wall_s(const struct fm_core *c)
{
	return c->h.wall_s ? c->h.wall_s(c->h.arg) : (int64_t)time(NULL);
}

/* The diagnosis now; what changed goes to the changes hook. true when
 * something changed (or could not be evaluated). */
static bool evaluate(struct fm_core *c, uint64_t now_ms)
{
	c->dirty = false;
	if (c->h.prepare) {
		c->committing = true; /* the agent's own fact is not a live change */
		c->h.prepare(c->h.arg, c->facts);
		c->committing = false;
	}
	cJSON *diagnoses = fm_diagnose(c->facts, wall_s(c));
	cJSON *changes = diagnoses ? fm_diag_track_update(c->track, diagnoses, now_ms) : NULL;
	cJSON_Delete(diagnoses);
	if (!changes) {
		fm_err("run: out of memory evaluating the diagnoses");
		return true;
	}
	/* A diagnosis gone from the facts resolves when its hold ends, whether
	 * or not a fact changes by then: an instant of its own. */
	c->hold_at = fm_diag_track_due_ms(c->track);
	bool any = cJSON_GetArraySize(changes) > 0;
	if (any && c->h.changes)
		c->h.changes(c->h.arg, changes);
	cJSON_Delete(changes);
	return any;
}

/* Whether a raised diagnosis is critical: then etcd and the apiserver are
 * asked at the full rate, to see them recover. */
static bool any_critical(const struct fm_core *c)
{
	cJSON *act = fm_diag_track_active(c->track);
	bool crit = !act;
	const cJSON *d;
	cJSON_ArrayForEach(d, act)
	{
		const char *sev = cJSON_GetStringValue(cJSON_GetObjectItem(d, "severity"));
		if (sev && strcmp(sev, "critical") == 0)
			crit = true;
	}
	cJSON_Delete(act);
	return crit;
}

/* After a quiet collection (nothing changed, nothing pending or critical,
 * the live sources quiet) the wait doubles up to collect_idle_ms; otherwise
 * it is collect_ms again. An idle node is then woken by a collection once a
 * minute, not every 10 s; its live sources still tell of a change at once. */
static void next_collect(struct fm_core *c, bool quiet, uint64_t now_ms)
{
	uint64_t was = c->collect_every;
	if (!quiet || !c->collect_every)
		c->collect_every = c->o.collect_ms;
	else if (c->collect_every < c->o.collect_idle_ms)
		c->collect_every = c->collect_every * 2 < c->o.collect_idle_ms ? c->collect_every * 2 : c->o.collect_idle_ms;
	if (c->collect_every != was)
		fm_info("run: next collection in %llu ms (%s)", (unsigned long long)c->collect_every,
			quiet ? "quiet" : "something changed or is critical");
	c->live_change = false;
	c->collect_at = now_ms + c->collect_every;
}

void fm_core_fact_changed(struct fm_core *c, uint64_t now_ms)
{
	if (c->committing)
		return;
	c->dirty = true;
	/* the collected sources are asked within the interval again (a
	 * stretched wait is cut short) */
	c->live_change = true;
	if (c->collect_every > c->o.collect_ms) {
		c->collect_every = c->o.collect_ms;
		if (!c->staging)
			c->collect_at = now_ms + c->o.collect_ms;
		fm_info("run: next collection in %llu ms (a live source changed)", (unsigned long long)c->collect_every);
	}
}

void fm_core_before_sleep(struct fm_core *c, uint64_t now_ms)
{
	if (c->dirty)
		(void)evaluate(c, now_ms);
}

void fm_core_tick(struct fm_core *c, uint64_t now_ms)
{
	if (c->hold_at && now_ms >= c->hold_at)
		(void)evaluate(c, now_ms);
	if (c->staging || !c->collect_at || now_ms < c->collect_at || !c->h.collect)
		return;
	if (!(c->staging = fm_facts_new())) {
		fm_err("run: out of memory for a collection");
		next_collect(c, false, now_ms);
		return;
	}
	c->collect_at = 0;
	c->h.collect(c->h.arg, c->staging);
}

uint64_t fm_core_next_ms(const struct fm_core *c)
{
	uint64_t at = c->staging ? 0 : c->collect_at;
	if (c->hold_at && (!at || c->hold_at < at))
		at = c->hold_at;
	return at;
}

/* staging's facts into the daemon's at once; the changes are the commit's,
 * not a live source's (fm_core_fact_changed ignores them). */
static void commit(struct fm_core *c, struct fm_facts *staging, const char *const *kinds)
{
	c->committing = true;
	if (fm_facts_commit(c->facts, staging, kinds) < 0)
		fm_err("run: out of memory storing a collection's facts");
	c->committing = false;
}

void fm_core_commit(struct fm_core *c, struct fm_facts *staging, const char *const *kinds, uint64_t now_ms)
{
	commit(c, staging, kinds);
	(void)evaluate(c, now_ms);
}

void fm_core_collected(struct fm_core *c, struct fm_facts *staging, const char *const *kinds, uint64_t now_ms)
{
	if (!c->staging || staging != c->staging)
		return;
	commit(c, staging, kinds);
	fm_facts_delete(&c->staging);
	/* Also when nothing changed: a diagnosis absent for the hold resolves. */
	bool changed = evaluate(c, now_ms);
	next_collect(c, !changed && !c->live_change && !c->hold_at && !any_critical(c), now_ms);
}

bool fm_core_collecting(const struct fm_core *c)
{
	return c->staging != NULL;
}

cJSON *fm_core_active(const struct fm_core *c)
{
	return fm_diag_track_active(c->track);
}

uint64_t fm_core_collect_every(const struct fm_core *c)
{
	return c->collect_every;
}
