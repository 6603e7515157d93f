/* fm_queue: the uplink's offline queue, in the state dir (PROTOCOL.md,
 * "Offline queue").
 *
 * Reports the controller has not acknowledged are kept in order as runs of
 * items (fm_report.h), bounded in bytes: past the bound the oldest reports
 * not yet on the wire are merged (per diagnosis the later change wins; a
 * raise followed by its resolve keeps both) instead of dropping anything. A
 * report gets its sequence number when it first goes on the wire, split to
 * one datagram then; it keeps that number until acknowledged, also across a
 * restart. The next sequence number and the last reported set (what
 * fm_diag_track had raised) are kept with the queue.
 *
 * Everything is one JSON file, uplink.json, written atomically (fm_state)
 * on every change, so after a crash the queue is the last state written
 * whole: a restarted agent neither resends what was acknowledged nor forgets
 * what was not.
 */
#ifndef FM_QUEUE_H
#define FM_QUEUE_H

#include "fm_report.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FM_QUEUE_DEFAULT_MAX (64 * 1024)

struct fm_queue;

/* Opens the queue of state_dir (NULL: kept in memory only), reading what
 * an earlier run left. max_bytes: the bound (0: FM_QUEUE_DEFAULT_MAX). A
 * file there that is not ours (not JSON, wrong shape, another owner's,
 * unreadable) is put aside (fm_state_quarantine: kept whole, state-corrupt)
 * and the queue starts empty: the agent runs on rather than restarting in
 * a loop. NULL with err set only when out of memory. */
struct fm_queue *fm_queue_open(const char *state_dir, size_t max_bytes, char *err, size_t err_size);
/* Frees and NULLs *q (every change is already on disk); accepts NULL. */
void fm_queue_delete(struct fm_queue **q);

/* Appends a report of items (a JSON array of fm_report items; takes
 * ownership, also on failure) made at t (seconds since the epoch), merging
 * the oldest reports not yet sent while the queue is over its bound, and
 * writes the queue. An empty array is ignored. 0, -ENOMEM, or the -errno of
 * the write (the queue in memory is still right). */
int fm_queue_push(struct fm_queue *q, cJSON *items, int64_t t);

/* The report to send now: the oldest, given its sequence number if it has
 * none yet (and cut to what one datagram holds, the rest becoming the next
 * report; both written before this returns). NULL when the queue is empty
 * (or on allocation failure). The payload is valid until the next call on
 * q; *seq gets its q. now: seconds since the epoch (a report made within
 * FM_REPORT_FRESH_S of it goes without its time). */
const char *fm_queue_head(struct fm_queue *q, bool insecure, int64_t now, uint32_t *seq);
/* The controller acknowledged seq: the head is dropped if it is seq (a late
 * or repeated answer changes nothing). 0, -ENOENT (not the head), or the
 * write's -errno. */
int fm_queue_ack(struct fm_queue *q, uint32_t seq);

/* The last sequence number given (0: none yet): the heartbeat's q. */
uint32_t fm_queue_last_seq(const struct fm_queue *q);
/* The controller holds reports up to ctl_q (GET /me): later numbers are
 * given above it. A head already numbered at or below ctl_q was stored by
 * the controller (the answer was lost): it is dropped. 0 or -errno. */
int fm_queue_floor(struct fm_queue *q, uint32_t ctl_q);

size_t fm_queue_count(const struct fm_queue *q); /* reports waiting */
size_t fm_queue_bytes(const struct fm_queue *q); /* their items, encoded */
/* How many times the bound made the queue merge reports. */
uint64_t fm_queue_merges(const struct fm_queue *q);

/* The last reported set (fm_diag_track_active's long form; only code, key,
 * severity, summary, remedy, explains and component are kept), written with
 * the queue.
 * Borrows active. 0 or -errno. */
int fm_queue_set_reported(struct fm_queue *q, const cJSON *active);
/* The set saved by the last run (borrowed; an empty array when none). */
const cJSON *fm_queue_reported(const struct fm_queue *q);

/* Merges the items of the newer report b into a (both arrays of items):
 * per (c, k) a later raise/change replaces an earlier one and drops an
 * earlier resolve; a resolve after a raise is kept beside it. Borrows b. 0
 * or -ENOMEM. Exposed for the tests. */
int fm_queue_merge_items(cJSON *a, const cJSON *b);

#endif
