/* fmh_events: a runtime's own event client run beside the agent (Debian's
 * `docker events`, containerd's `ctr events`), for measuring the agent's
 * latency against it from the same fault. The client is started with
 * fmh_spawn (so fmh_cleanup stops it by pid, whatever happens), its stdout
 * a pipe; a thread of its own stamps every line with CLOCK_MONOTONIC the
 * moment it arrives, so the test's loop being busy adds nothing.
 */
#ifndef FMH_EVENTS_H
#define FMH_EVENTS_H

#include <stdint.h>

struct fmh_events;

/* Runs argv (argv[0] a path) with its stdout read by the stamping thread.
 * The client, or NULL with errno set. */
struct fmh_events *fmh_events_start(const char *const argv[]);
/* The stamp of the first line holding both a and b (b may be NULL); 0 when
 * none came within timeout_ms. */
uint64_t fmh_events_seen(struct fmh_events *e, const char *a, const char *b, int timeout_ms);
/* Stops the client, joins the thread, frees; accepts NULL. */
void fmh_events_stop(struct fmh_events **e);

#endif
