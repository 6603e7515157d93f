/* fc_store: what the controller knows about its fleet, in one SQLite file.
 *
 *   nodes      one row per node: board, first/last seen, the last stored
 *              report sequence, the heartbeat interval and what the last
 *              heartbeat said (n, worst, hash), the worst severity and hash
 *              of the stored raised set, state ok|unreachable
 *   diagnoses  the raised set per node: (node, code, key) -> severity,
 *              summary, evidence, remedy, explains (JSON arrays), raised at,
 *              changed at, the report that last touched it
 *   node_keys  the fingerprint of the key each node last handshook with
 *   history    every raise, change, resolve, gap, unreachable and
 *              reachable, with the report's sequence number and time; a
 *              "forgotten" line for a node dropped by fc_store_forget.
 *              A resolved diagnosis is its history lines (the diagnoses
 *              table holds the raised set only), so retention is
 *              fc_store_prune on history.
 *
 * WAL mode, so `nodes` and `show` (other processes) read while `serve`
 * writes. The schema is versioned with PRAGMA user_version; a file of a
 * newer version is refused rather than misread. Times are seconds since the
 * epoch, passed in (the clock is the caller's).
 */
#ifndef FC_STORE_H
#define FC_STORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_hb;
struct fc_report;
struct fc_store;

#define FC_STORE_DEFAULT_DB "/var/lib/fleetmedic-controller/fleet.db"
/* Heartbeat interval assumed for a node that has not sent one yet. */
#define FC_STORE_DEFAULT_INTERVAL 120
/* A node is unreachable after this many missed heartbeat intervals. */
#define FC_STORE_MISSED_MAX 3

/* Opens path. writable: create the file (and its directory, 0700) when
 * missing and bring the schema up to date; otherwise read-only, and a missing
 * file is -ENOENT. 0 with *out set, or -errno with why filled (one line). */
int fc_store_open(const char *path, bool writable, struct fc_store **out, char *why, size_t why_size);

/* `migrate`: brings path's schema to this controller's version (made when
 * there is none; the file is created for SQLite), as serve's open does,
 * but also while other serves run on it (their count, alive within
 * FC_STORE_SERVE_DEAD_S, into *serves: serve refuses to upgrade a store
 * others run on, -EBUSY). *from: the version found (0: none), *to: the
 * version after. 0, or -errno with why filled. */
int fc_store_migrate(const char *path, int *from, int *to, int *serves, char *why, size_t why_size);
void fc_store_delete(struct fc_store **s);

enum fc_store_outcome {
	FC_STORE_STORED,    /* a new report, stored */
	FC_STORE_DUPLICATE, /* q <= the node's last: acknowledged, not stored */
};

/* Group commit: every write from fc_store_batch_begin to
 * fc_store_batch_commit is one transaction (BEGIN IMMEDIATE .. COMMIT), each
 * write a savepoint inside it, so one that fails is undone alone and the
 * others stand. What a write reads in a batch includes the batch's earlier
 * writes. Durability (WAL, synchronous=NORMAL): once the COMMIT returns, the
 * batch survives serve dying in any way (a crash, kill -9) - the next open
 * replays the WAL; it does not survive the machine losing power or the
 * kernel dying before the WAL's next fsync (at a checkpoint): the last
 * transactions may then roll back, never half of one, and the file is never
 * corrupt. fc_store_batch_begin: 0, or -EIO (no batch: writes then run in
 * transactions of their own); a second begin is a no-op. commit: 0 (also
 * with no batch open), or -EIO: the whole batch is rolled back. */
int fc_store_batch_begin(struct fc_store *s);
int fc_store_batch_commit(struct fc_store *s);
bool fc_store_batch_open(const struct fc_store *s);

/* Stores r for node in one transaction (see PROTOCOL.md: a report is a
 * delta). A report whose q is not above the node's last is not stored
 * (*outcome FC_STORE_DUPLICATE). When q skips numbers, a "gap" history row is
 * written and *gap_from..*gap_to get the missing range (both 0 otherwise).
 * insecure: the session is plain CoAP. 0 or -EIO (the transaction is rolled
 * back; nothing of r is stored). Borrows everything. */
int fc_store_report(struct fc_store *s, const char *node, const struct fc_report *r, bool insecure,
		    int64_t now, enum fc_store_outcome *outcome, uint32_t *gap_from, uint32_t *gap_to);

/* Records a heartbeat. *was_unreachable: the node was marked unreachable
 * and is back (a "reachable" history row is written). hash (9 bytes) gets
 * the controller's hash of the node's raised set. 0 or -EIO. */
int fc_store_heartbeat(struct fc_store *s, const char *node, const struct fc_hb *hb, bool insecure,
		       int64_t now, bool *was_unreachable, char hash[9]);

/* What node's last heartbeat with a payload said (a bare one says the
 * same): 0 with hb filled (not bare), -ENOENT (none yet) or -EIO. */
int fc_store_node_said(struct fc_store *s, const char *node, struct fc_hb *hb);

/* A resync (PROTOCOL.md: the heartbeat's hash differs from the store's):
 * d[0..n) is the whole raised set the node answered GET /diag with, as
 * report items. In one transaction, what the store holds and the node does
 * not raise is resolved, and what differs or is missing is raised or
 * changed, each with a history line beginning "resync:". *raised and
 * *resolved count them; hash gets the stored set's hash after. 0, or -EIO
 * (nothing changed; also for a node the store does not know). */
struct fc_diag;
int fc_store_resync(struct fc_store *s, const char *node, const struct fc_diag *d, size_t n, int64_t now,
		    unsigned *raised, unsigned *resolved, char hash[9]);

/* What GET /me answers: the last stored sequence (0: none) and the hash of
 * the stored raised set. board (NULL: not given) is what the node says it
 * runs on, kept for it (the node is stored from then on). 0 or -EIO. */
int fc_store_me(struct fc_store *s, const char *node, const char *board, int64_t now, uint32_t *q,
		char hash[9]);

/* Marks every node that has been silent for more than FC_STORE_MISSED_MAX
 * heartbeat intervals unreachable (an "unreachable" history row each), and
 * calls fn once per node that changed. 0 or -EIO. */
int fc_store_sweep(struct fc_store *s, int64_t now,
		   void (*fn)(const char *node, int64_t silent_s, void *arg), void *arg);

/* Retention (issue 25). Deletes up to limit history lines older than
 * before (at < before), oldest first, in one short transaction, so a
 * caller that calls it a few times a tick never holds up ingest for long.
 * The "raise" line of a diagnosis that still stands is kept whatever its
 * age (as is the diagnosis itself: the raised set is never pruned). The
 * number deleted (fewer than limit: nothing older is left), or -EIO.
 * Freed pages are reused by later writes: the file stops growing once the
 * window is full, without VACUUM. */
int fc_store_prune(struct fc_store *s, int64_t before, int limit);

/* Drops up to limit nodes last heard from before `before`, the longest
 * silent first, each in a transaction of its own: its row and its raised
 * diagnoses go, its history stays (pruned by age as any other) with a
 * "forgotten" line, "forgotten after N days silent". A node that speaks
 * again starts anew. fn (may be NULL) is called once per node dropped.
 * The number dropped, or -EIO / -ENOMEM. */
int fc_store_forget(struct fc_store *s, int64_t now, int64_t before, int limit,
		    void (*fn)(const char *node, int64_t silent_s, void *arg), void *arg);

/* The fleet as JSON (caller owns it): an array of
 * {"node","board","state","worst","codes":[...],"n","first_seen","last_seen",
 * "last_seen_ago_s","last_seq","interval_s","insecure"} ordered by name;
 * worst is "none", "info", "warning" or "critical". NULL on error. */
cJSON *fc_store_nodes(struct fc_store *s, int64_t now);

/* What Alertmanager is told (fc_alert): for each node, its state ("ok",
 * "unreachable") and, for each code raised there at warning or above, the
 * worst severity and that diagnosis's summary and remedy (a JSON array).
 * fn is called once per (node, code), ordered by node then code, and once
 * with code NULL for a node that is unreachable. 0, or -EIO. */
struct fc_store_alert {
	const char *node, *state, *code, *summary, *remedy;
	int severity;
};
int fc_store_each_alert(struct fc_store *s, void (*fn)(const struct fc_store_alert *a, void *arg), void *arg);

/* Calls fn for each (node, code) with a raised diagnosis, with the worst
 * severity (1..3) among that code's keys, ordered by node then code (GET
 * /metrics). 0, or -EIO. */
int fc_store_each_code(struct fc_store *s, void (*fn)(const char *node, const char *code, int severity, void *arg),
		       void *arg);

/* One node as JSON (caller owns it): the fields of fc_store_nodes, plus
 * "diagnoses":[{"code","severity","key","summary","evidence","remedy",
 * "explains","raised_at","changed_at","seq"}] (worst first) and "history":
 * the last history_max rows, oldest first [{"at","seq","event","code",
 * "key","severity","detail"}]. NULL with *rc -ENOENT (no such node) or
 * -EIO. */
cJSON *fc_store_show(struct fc_store *s, const char *node, int history_max, int64_t now, int *rc);

/* The fingerprint (16 hex digits, fc_server's) of the key node last
 * handshook with: 0 with fp filled, -ENOENT (none recorded) or -EIO; and
 * recording one. */
int fc_store_key_seen(struct fc_store *s, const char *node, char fp[17]);
int fc_store_set_key_seen(struct fc_store *s, const char *node, const char *fp, int64_t now);

/* Whether the store's connection is lost (PostgreSQL; a reset is tried
 * first when its back-off has passed, fc_db.h); false for SQLite. */
bool fc_store_lost(struct fc_store *s);

/* Several serves on one store (issue 28). Each serve has an id (16 hex
 * digits, random) and a row in serves while it runs, renewed every
 * FC_STORE_SERVE_RENEW_S (fc_store_serve_alive: -ENOENT when the row is
 * gone, and the caller writes it again); one not renewed for
 * FC_STORE_SERVE_DEAD_S is taken for dead (killed: nobody removed it).
 * Each records the nodes whose sessions it holds (fc_store_hold, when a
 * node speaks on a new session); fc_store_holder says which live serve
 * holds a node's (-ENOENT: none). fc_store_serve_down removes a serve's
 * rows (its clean exit) and those of serves dead for a day. 0 or -EIO. */
#define FC_STORE_SERVE_ID_LEN 16
#define FC_STORE_SERVE_RENEW_S 2
#define FC_STORE_SERVE_DEAD_S 6
int fc_store_serve_up(struct fc_store *s, const char *id, const char *host, const char *listen, int64_t now);
int fc_store_serve_alive(struct fc_store *s, const char *id, int64_t now);
int fc_store_serve_down(struct fc_store *s, const char *id, int64_t now);
int fc_store_hold(struct fc_store *s, const char *node, const char *id, int64_t now);
int fc_store_holder(struct fc_store *s, const char *node, int64_t now, char id[FC_STORE_SERVE_ID_LEN + 1]);

/* "none", "info", "warning", "critical" for 0..3. */
const char *fc_store_severity_name(int severity);

#endif
