/* fm_sources: the agent's sources as the commands and the daemon use them
 * (etcd, the apiserver, Docker, the journal and the kernel log, the board):
 * how each is collected once, and how the live ones are followed; and the
 * session every command works in (the node as discovered, the fact set,
 * the loop). */
#ifndef FM_SOURCES_H
#define FM_SOURCES_H

#include "fm_discover.h"
#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_options.h"
#include "fm_probe.h"

#include <stdbool.h>
#include <stddef.h>

/* Collects once, waiting on loop (the one-shot commands). */
typedef int (*fm_collect_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			  const struct fm_collect_opts *co, struct fm_facts *facts);
/* Collects once as a state machine on loop (the daemon's: it never waits):
 * done(ctx, rc) is called once, when the last answer is in, perhaps before
 * begin returns. Returns the state for end (which cancels what still runs
 * and frees it; never from inside done), NULL when there is none. */
typedef void *(*fm_begin_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			  const struct fm_collect_opts *co, struct fm_facts *facts, fm_collected_fn done,
			  void *ctx);
typedef void (*fm_end_fn)(void *state);
/* A live source (probe --follow, run): started on the loop, it keeps its
 * facts in the set up to date from its own events until stopped. start
 * returns its state, or NULL after writing why into err (a configuration
 * error). stop frees the state and accepts NULL. */
typedef void *(*fm_start_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			  struct fm_facts *facts, char *err, size_t err_size);
typedef void (*fm_stop_fn)(void *state);

/* A source: collected either by collect (work that needs no round trip
 * on the loop: files, the journal; or Docker, which run follows live) or
 * by begin/end (the servers etcd and the apiserver, asked over several
 * round trips). */
struct fm_source {
	const char *name;
	fm_collect_fn collect; /* NULL: begin and end */
	fm_begin_fn begin;
	fm_end_fn end;
	fm_start_fn start; /* NULL: the source cannot be followed (yet) */
	fm_stop_fn stop;
};

/* etcd, apiserver, docker, cri, journal, hal: the order collections ask
 * them. */
#define FM_NSOURCES 6
extern const struct fm_source fm_sources[FM_NSOURCES];
/* The source of that name, or NULL. */
const struct fm_source *fm_source_named(const char *name);
/* src collected once, waiting on loop: collect, or begin and a wait (the
 * one-shot commands only: refused inside a loop callback). Returns the
 * source's result. */
int fm_source_collect(const struct fm_source *src, struct fm_loop *loop, const struct fm_discovery *d,
		      const struct fm_opts *o, const struct fm_collect_opts *co, struct fm_facts *facts);

/* The board (at start). */
int fm_collect_hal(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
		   const struct fm_collect_opts *co, struct fm_facts *facts);

struct fm_session {
	struct fm_discovery d;
	struct fm_facts *facts;
	struct fm_loop *loop;
};

/* 0, or -1 after saying why (a configuration error: exit status 2). */
int fm_session_open(struct fm_session *ss, const struct fm_opts *o);
void fm_session_close(struct fm_session *ss);

#endif
