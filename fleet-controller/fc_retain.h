/* fc_retain: serve's retention (issue 25), a timer of its own on serve's
 * loop. Each tick (four a second) drops the nodes silent for longer than
 * --forget (fc_store_forget, logged once each), then prunes one batch of
 * history lines older than --retain, its own short transaction
 * (fc_store_prune). One batch a tick, not a loop of them, so the loop
 * serves the agents between any two: a backlog (a year-old store given
 * --retain 90d) drains at 2,000 lines a second, and a report waits at most
 * one batch. Once a tick finds less than a batch (and fewer nodes to
 * forget than it may drop), it looks again FC_RETAIN_IDLE_S later. The
 * raised set is never pruned.
 */
#ifndef FC_RETAIN_H
#define FC_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#define FC_RETAIN_DEFAULT_S (90 * 86400) /* --retain's default */
#define FC_RETAIN_BATCH 500		 /* history rows per transaction, one a tick */
#define FC_RETAIN_TICK_MS 250
#define FC_RETAIN_IDLE_S 60		 /* caught up: looked at again after this */
#define FC_RETAIN_FORGET_MAX 16		 /* nodes dropped per tick at most */

struct fm_loop;
struct fc_store;
struct fc_retain;

struct fc_retain_conf {
	struct fc_store *store;
	int64_t retain_s; /* history older than this goes; 0: kept forever */
	int64_t forget_s; /* a node silent longer than this goes; 0: never */
	unsigned tick_ms; /* 0: FC_RETAIN_TICK_MS */
	int batch;	  /* 0: FC_RETAIN_BATCH */
};

/* Arms the timer on loop. Borrows loop and store until fc_retain_delete.
 * NULL with why filled. */
struct fc_retain *fc_retain_new(struct fm_loop *loop, const struct fc_retain_conf *conf, char *why,
				size_t why_size);
void fc_retain_delete(struct fc_retain **r);

#endif
