/* fm_gather: runs sources side by side for `check`.
 *
 * A source's collection is a run of requests, each with its own deadline;
 * run one source after another and a node where every server is silent costs
 * the sum of the deadlines. fm_gather runs each job in a child process of
 * its own (its own loop, its own fact set), so they wait in parallel, and
 * merges what each found into the caller's facts. A job not done by the
 * overall deadline is killed; a fact "check.incomplete" (id = the job's name)
 * says so, so a cut-short source is never mistaken for a healthy one.
 *
 * For the one-shot `check` only: `run` keeps one process and one loop.
 */
#ifndef FM_GATHER_H
#define FM_GATHER_H

#include "fm_buf.h"
#include "fm_facts.h"
#include "fm_loop.h"

#include <stddef.h>
#include <sys/types.h>

/* Collects into facts over loop (both the child's own); arg is the job's.
 * The return value is ignored: what went wrong is in the facts. */
typedef int (*fm_gather_fn)(struct fm_loop *loop, struct fm_facts *facts, void *arg);

struct fm_gather_job {
	const char *name; /* for the "check.incomplete" fact and messages */
	fm_gather_fn fn;
	void *arg;
	/* private */
	pid_t pid;
	int fd;
	struct fm_buf out;
};

/* Forks one child per job; each runs fn and sends its facts to the parent.
 * A job that cannot be forked runs here, at once (slower, not wrong).
 * Returns 0 or -errno (nothing started then). */
int fm_gather_start(struct fm_gather_job *jobs, size_t n);

/* Waits for the jobs until deadline_ms from now, kills what is left (by its
 * pid), reaps every child and puts what each found into facts. 0, or the
 * number of jobs cut short or lost (each with its "check.incomplete"). */
int fm_gather_finish(struct fm_gather_job *jobs, size_t n, int deadline_ms, struct fm_facts *facts);

#endif
