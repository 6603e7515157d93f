/* fm_etcd_watch: etcd's death noticed by event, not at the next collection.
 *
 * The etcd source is collected on a timer (--collect-interval, 10 s): a
 * killed etcd would stand unnoticed for up to that long, and DESIGN.md wants
 * a diagnosis within a second of its evidence. So the agent keeps one
 * long-lived request open to etcd: a v3 watch over the grpc-gateway (POST
 * /v3/watch, a stream that never ends while etcd lives) on one key nobody
 * writes, so the stream carries nothing after its "created" answer and costs
 * no wake-up. When etcd dies, its sockets close and the stream ends at once:
 * the watcher says so (on_change), and the agent collects etcd right then.
 * It reconnects with exponential back-off, and says so again when the
 * stream is set up after having failed (etcd is back, or up for the first
 * time since the agent started: collect again).
 *
 * A hung etcd keeps its socket open: that is the periodic collection's to
 * find (its deadline), not this watcher's. A watch answered with an HTTP
 * error (a gateway without /v3/watch) is not "down": it is retried at the
 * longest back-off and never reported.
 */
#ifndef FM_ETCD_WATCH_H
#define FM_ETCD_WATCH_H

#include "fm_discover.h"
#include "fm_loop.h"
#include "fm_probe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fm_etcd_watch_opts {
	const struct fm_endpoint *ep; /* borrowed: must outlive the watcher */
	struct fm_collect_opts co;    /* timeout_ms: until the stream's headers */
	uint64_t backoff_min_ms;      /* first retry after the stream ended; 0: 100 */
	uint64_t backoff_max_ms;      /* cap of the doubling; 0: 5000 */
	/* Called from the loop (never from inside a request's callback): up is
	 * false when an established stream ended, true when one is established
	 * after a stream ended or failed to start. */
	void (*on_change)(void *arg, bool up);
	void *arg;
};

struct fm_etcd_watch;

/* Starts watching on loop (the first connection at once). NULL with the
 * reason in err when ep's URL or its TLS files are not usable (the
 * collection says the same in its facts) or memory runs out. */
struct fm_etcd_watch *fm_etcd_watch_new(struct fm_loop *loop, const struct fm_etcd_watch_opts *o, char *err,
					size_t err_size);
/* Stops, frees and NULLs *w; accepts NULL. */
void fm_etcd_watch_delete(struct fm_etcd_watch **w);

/* etcd was seen answering (a collection): when the stream is down and
 * waiting out its back-off, it is tried again now, so etcd's next death is
 * told by the stream rather than found by the next collection. The attempt
 * then under way (this one, or one already connecting) failing is told as
 * a death too (on_change false): etcd went away before its stream stood. */
void fm_etcd_watch_now(struct fm_etcd_watch *w);

/* Whether the stream is established now. */
bool fm_etcd_watch_up(const struct fm_etcd_watch *w);

#endif
