/* fm_core: what `fleetmedic-agent run` decides, without any I/O of its own
 * (issue 21): when the collected sources are asked, when the facts are
 * evaluated, when a diagnosis absent for its hold resolves. Every call
 * takes the time from its caller, so the tests drive it with a fake clock
 * and fake sources (tests/unit/test_core.c); the daemon (fm_daemon, `run`)
 * drives it from its loop: fm_core_fact_changed from the facts' observer,
 * fm_core_before_sleep once per loop pass (fm_loop_before_sleep), and
 * fm_core_tick from one timer armed at fm_core_next_ms.
 *
 * Its rules:
 *   - a change of the facts marks them dirty; they are evaluated once,
 *     before the loop next sleeps, however many changed in the pass;
 *   - a collection writes into a staging set of its own and its facts
 *     replace the collected kinds at once when it ends (fm_facts_commit):
 *     no evaluation sees a source half restated, however long the
 *     collection runs;
 *   - the hold's expiry has its own instant: a raise never waits for
 *     another diagnosis's hold;
 *   - the wait between collections doubles after a quiet one up to the idle
 *     interval, and falls back to the interval when a live source changes
 *     a fact or something is critical or pending.
 */
#ifndef FM_CORE_H
#define FM_CORE_H

#include "fm_facts.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct fm_core_opts {
	uint64_t collect_ms;	  /* between collections (--collect-interval) */
	uint64_t collect_idle_ms; /* at most, once quiet (--collect-idle) */
	uint64_t hold_ms;	  /* before an absent diagnosis resolves (--hold) */
};

struct fm_core_hooks {
	void *arg;
	/* A collection is due: the host asks the collected sources, writing
	 * into staging (borrowed), and calls fm_core_collected with it once
	 * they are done, from inside this call or later. */
	void (*collect)(void *arg, struct fm_facts *staging);
	/* What changed in the diagnoses (fm_diag_track_update's array,
	 * borrowed), to queue and report. */
	void (*changes)(void *arg, const cJSON *changes);
	/* Called just before each evaluation (the agent's own state fact);
	 * may be NULL. */
	void (*prepare)(void *arg, struct fm_facts *facts);
	/* Seconds since the epoch for the rules (certificate days, log
	 * windows); NULL: time(NULL). */
	int64_t (*wall_s)(void *arg);
};

struct fm_core;

/* facts (borrowed) is the daemon's set; the first collection is due at
 * now_ms + 1. NULL on allocation failure. */
struct fm_core *fm_core_new(struct fm_facts *facts, const struct fm_core_opts *o, const struct fm_core_hooks *h,
			    uint64_t now_ms);
/* Frees and NULLs *c; accepts NULL. A collection still in flight is the
 * host's to end (its staging is freed here). */
void fm_core_delete(struct fm_core **c);

/* Starts from what an earlier run reported (fm_diag_track_seed). 0 or
 * -ENOMEM. */
int fm_core_seed(struct fm_core *c, const cJSON *reported, uint64_t now_ms);
/* New options (SIGHUP), also during a collection (it is not lost: its
 * facts are committed when it ends). The next collection is due at
 * now_ms + collect_ms when the interval changed. */
void fm_core_set_opts(struct fm_core *c, const struct fm_core_opts *o, uint64_t now_ms);

/* The facts' observer calls this for each change (a live source's put or
 * removal): the facts are dirty, and a stretched wait for the next
 * collection is cut back to the interval. Changes made by a commit are
 * not counted (the collection's end evaluates them). */
void fm_core_fact_changed(struct fm_core *c, uint64_t now_ms);
/* Once per loop pass, before it sleeps: the dirty facts evaluated. */
void fm_core_before_sleep(struct fm_core *c, uint64_t now_ms);
/* What is due at now_ms: a hold's end (evaluated), a collection (the
 * collect hook). */
void fm_core_tick(struct fm_core *c, uint64_t now_ms);
/* The next instant fm_core_tick has something to do; 0 when nothing is
 * scheduled (a collection is in flight and no hold runs). */
uint64_t fm_core_next_ms(const struct fm_core *c);

/* The end of the collection the collect hook was given staging for: its
 * facts replace the kinds listed (NULL-terminated prefixes) at once,
 * they are evaluated, and the next collection is scheduled. */
void fm_core_collected(struct fm_core *c, struct fm_facts *staging, const char *const *kinds, uint64_t now_ms);
/* Facts gathered outside the schedule (etcd asked again when its watch
 * ended), committed at once and evaluated. staging stays the caller's. */
void fm_core_commit(struct fm_core *c, struct fm_facts *staging, const char *const *kinds, uint64_t now_ms);

bool fm_core_collecting(const struct fm_core *c);
/* The diagnoses raised now (fm_diag_track_active); caller frees. */
cJSON *fm_core_active(const struct fm_core *c);
/* The current wait between collections (for the log and the tests). */
uint64_t fm_core_collect_every(const struct fm_core *c);

#endif
