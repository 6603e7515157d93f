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

typedef int (*fm_collect_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			  const struct fm_collect_opts *co, struct fm_facts *facts);
typedef void *(*fm_start_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			  struct fm_facts *facts, char *err, size_t err_size);
typedef void (*fm_stop_fn)(void *state);

struct fm_source {
	const char *name;
	fm_collect_fn collect;
	fm_start_fn start;     /* NULL: the source cannot be followed (yet) */
	fm_stop_fn stop;
};

/* etcd, apiserver, docker, journal, hal: the order collections ask them. */
#define FM_NSOURCES 5
extern const struct fm_source fm_sources[FM_NSOURCES];
/* The source of that name, or NULL. */
const struct fm_source *fm_source_named(const char *name);

/* Collected alone: etcd when its watch ends, the board at start. */
int fm_collect_etcd(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
		    const struct fm_collect_opts *co, struct fm_facts *facts);
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
