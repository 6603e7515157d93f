#include "fc_store.h"

#include "fc_db.h"
#include "fc_wire.h"
#include "fm_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 4
#define STR(x) #x
#define XSTR(x) STR(x)

static const char schema_v1[] =
	"CREATE TABLE nodes ("
	" name TEXT PRIMARY KEY,"
	" board TEXT,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"     /* any message */
	" last_seq INTEGER NOT NULL DEFAULT 0,"
	" hb_interval INTEGER,"            /* s, from the last heartbeat */
	" hb_n INTEGER, hb_worst INTEGER, hb_hash TEXT," /* what it said */
	" worst INTEGER NOT NULL DEFAULT 0," /* over the stored raised set */
	" hash TEXT NOT NULL DEFAULT '811c9dc5',"
	" state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'unreachable')),"
	" insecure INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE diagnoses ("
	" node TEXT NOT NULL REFERENCES nodes(name),"
	" code TEXT NOT NULL, key TEXT NOT NULL,"
	" severity INTEGER NOT NULL, summary TEXT NOT NULL,"
	" evidence TEXT NOT NULL, remedy TEXT NOT NULL, explains TEXT NOT NULL,"
	" raised_at INTEGER NOT NULL, changed_at INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY (node, code, key));"
	"CREATE TABLE history ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" node TEXT NOT NULL, at INTEGER NOT NULL, seq INTEGER, agent_time INTEGER,"
	" event TEXT NOT NULL CHECK (event IN ('raise', 'change', 'resolve', 'gap', 'unreachable', 'reachable')),"
	" code TEXT, key TEXT, severity INTEGER, detail TEXT);"
	"CREATE INDEX history_node ON history (node, id);";

/* Version 2 (issue 20): what each diagnosis is about, and the component of
 * each symptom it explains ([{"code","component"}]). */
static const char schema_v2[] =
	"ALTER TABLE diagnoses ADD COLUMN component TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE diagnoses ADD COLUMN links TEXT NOT NULL DEFAULT '[]';";

/* Version 3 (issue 25): retention. history_at finds the lines older than
 * --retain, oldest first; a node dropped by --forget leaves a "forgotten"
 * line. SQLite cannot alter a CHECK: the table is rebuilt the documented
 * way (new table, copy, drop, rename), its ids kept, so the AUTOINCREMENT
 * sequence goes on from the largest. And keys: the fingerprint (fc_server:
 * 8 bytes of SHA-256, never the key) of the key each node last handshook
 * with, which retires a rotated node's previous key for good; the q and u
 * of the last heartbeat with a payload, which a bare one repeats (resync
 * compares the store with what the node says). */
static const char schema_v3[] =
	"CREATE TABLE history_v3 ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" node TEXT NOT NULL, at INTEGER NOT NULL, seq INTEGER, agent_time INTEGER,"
	" event TEXT NOT NULL CHECK (event IN ('raise', 'change', 'resolve', 'gap', 'unreachable', 'reachable',"
	" 'forgotten')),"
	" code TEXT, key TEXT, severity INTEGER, detail TEXT);"
	"INSERT INTO history_v3 SELECT id, node, at, seq, agent_time, event, code, key, severity, detail FROM history;"
	"DROP TABLE history;"
	"ALTER TABLE history_v3 RENAME TO history;"
	"CREATE INDEX history_node ON history (node, id);"
	"CREATE INDEX history_at ON history (at);"
	"CREATE TABLE node_keys (node TEXT PRIMARY KEY, fp TEXT NOT NULL, at INTEGER NOT NULL);"
	"ALTER TABLE nodes ADD COLUMN hb_q INTEGER;"
	"ALTER TABLE nodes ADD COLUMN hb_u INTEGER;";

/* Version 4 (issue 28): several serves on one store. serves: each serve
 * that runs (a random id, its host, pid and --listen), alive_at renewed
 * every FC_STORE_SERVE_RENEW_S; sessions: which serve holds each node's
 * session (the last one the node spoke to); relay: triage requests one
 * serve hands another (fc_peers) and their answers. The same tables in
 * both engines; relay is used with PostgreSQL only (one SQLite file has one
 * serve). */
#define SCHEMA_V4_TABLES(ID, TEXT, INT, C)                                                                         \
	"CREATE TABLE serves (id " TEXT " PRIMARY KEY, host " TEXT " NOT NULL, pid " INT " NOT NULL,"              \
	" listen " TEXT " NOT NULL, started " INT " NOT NULL, alive_at " INT " NOT NULL);"                          \
	"CREATE TABLE sessions (node " TEXT C " PRIMARY KEY, serve " TEXT " NOT NULL, since " INT " NOT NULL);"    \
	"CREATE TABLE relay (id " ID ", node " TEXT C " NOT NULL, asker " TEXT " NOT NULL,"                         \
	" holder " TEXT " NOT NULL, request " TEXT " NOT NULL, created " INT " NOT NULL,"                          \
	" taken " INT " NOT NULL DEFAULT 0, done " INT " NOT NULL DEFAULT 0, code " TEXT ", answer " TEXT ","       \
	" error " TEXT ");"                                                                                         \
	"CREATE INDEX relay_holder ON relay (holder, taken);"                                                      \
	"CREATE INDEX relay_asker ON relay (asker, done);"
static const char schema_v4[] = SCHEMA_V4_TABLES("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "INTEGER", "");
static const char pg_schema_v4[] =
	SCHEMA_V4_TABLES("bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "text", "bigint", " COLLATE \"C\"");

enum stmt {
	ST_NODE_ENSURE,
	ST_NODE_SEQ,
	ST_DIAG_GET,
	ST_DIAG_INSERT,
	ST_DIAG_UPDATE,
	ST_DIAG_DELETE,
	ST_DIAG_DELETE_CODE,
	ST_HISTORY,
	ST_SET_HASH,
	ST_NODE_AFTER_REPORT,
	ST_NODE_HB,
	ST_NODE_ME,
	ST_NODE_BOARD,
	ST_SWEEP,
	ST_MARK_UNREACHABLE,
	ST_SERVE_UP,
	ST_SERVE_ALIVE,
	ST_SERVE_SESSIONS_DOWN,
	ST_SERVE_DOWN,
	ST_HOLD,
	ST_HOLDER,
	ST_KEY_SEEN,
	ST_DIAG_KEYS,
	ST_NODE_SAID,
	ST_NODE_SET_HASH,
	ST_SET_KEY_SEEN,
	ST_PRUNE,
	ST_FORGET_FIND,
	ST_FORGET_DIAGS,
	ST_FORGET_NODE,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_NODE_ENSURE] = "INSERT INTO nodes (name, first_seen, last_seen) VALUES (?1, ?2, ?2)"
			   " ON CONFLICT (name) DO NOTHING",
	[ST_NODE_SEQ] = "SELECT last_seq, state FROM nodes WHERE name = ?1",
	[ST_DIAG_GET] = "SELECT severity, summary, remedy FROM diagnoses WHERE node = ?1 AND code = ?2 AND key = ?3",
	[ST_DIAG_INSERT] = "INSERT INTO diagnoses (node, code, key, severity, summary, evidence, remedy,"
			   " explains, raised_at, changed_at, seq, component, links)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?12, ?13)",
	[ST_DIAG_UPDATE] = "UPDATE diagnoses SET severity = ?4, summary = ?5, evidence = ?6, remedy = ?7,"
			   " explains = ?8, changed_at = CASE WHEN ?11 THEN ?9 ELSE changed_at END, seq = ?10,"
			   " component = ?12, links = ?13"
			   " WHERE node = ?1 AND code = ?2 AND key = ?3",
	[ST_DIAG_DELETE] = "DELETE FROM diagnoses WHERE node = ?1 AND code = ?2 AND key = ?3",
	[ST_DIAG_DELETE_CODE] = "DELETE FROM diagnoses WHERE node = ?1 AND code = ?2 RETURNING key",
	[ST_HISTORY] = "INSERT INTO history (node, at, seq, agent_time, event, code, key, severity, detail)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_SET_HASH] = "SELECT code, key, severity FROM diagnoses WHERE node = ?1 ORDER BY code, key",
	[ST_NODE_AFTER_REPORT] = "UPDATE nodes SET last_seq = ?2, last_seen = ?3, board = coalesce(?4, board),"
				 " insecure = ?5, hash = ?6,"
				 " worst = coalesce((SELECT max(severity) FROM diagnoses WHERE node = ?1), 0)"
				 " WHERE name = ?1",
	[ST_NODE_HB] = "UPDATE nodes SET last_seen = ?2, hb_interval = coalesce(?3, hb_interval), hb_n = coalesce(?4, hb_n),"
		       " hb_worst = coalesce(?5, hb_worst), hb_hash = coalesce(?6, hb_hash), hb_q = coalesce(?8, hb_q),"
		       " hb_u = coalesce(?9, hb_u),"
		       " insecure = ?7, state = 'ok' WHERE name = ?1 RETURNING name",
	[ST_NODE_ME] = "SELECT last_seq, hash FROM nodes WHERE name = ?1",
	[ST_NODE_BOARD] = "UPDATE nodes SET board = ?2 WHERE name = ?1",
	[ST_SWEEP] = "SELECT name, ?1 - last_seen FROM nodes WHERE state = 'ok' AND"
		     " ?1 - last_seen > " XSTR(FC_STORE_MISSED_MAX) " * coalesce(hb_interval, "
		     XSTR(FC_STORE_DEFAULT_INTERVAL) ")",
	/* the sweep's condition again: of several serves sweeping one store,
	 * the one whose UPDATE changes the row writes the history line (a
	 * second waits for the first's row lock, then finds state changed) */
	[ST_MARK_UNREACHABLE] = "UPDATE nodes SET state = 'unreachable' WHERE name = ?1 AND state = 'ok' AND"
				" ?2 - last_seen > " XSTR(FC_STORE_MISSED_MAX) " * coalesce(hb_interval, "
				XSTR(FC_STORE_DEFAULT_INTERVAL) ") RETURNING name",
	[ST_SERVE_UP] = "INSERT INTO serves (id, host, pid, listen, started, alive_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	[ST_SERVE_ALIVE] = "UPDATE serves SET alive_at = ?2 WHERE id = ?1",
	[ST_SERVE_SESSIONS_DOWN] = "DELETE FROM sessions WHERE serve = ?1",
	[ST_SERVE_DOWN] = "DELETE FROM serves WHERE id = ?1 OR alive_at < ?2",
	[ST_HOLD] = "INSERT INTO sessions (node, serve, since) VALUES (?1, ?2, ?3)"
		    " ON CONFLICT (node) DO UPDATE SET serve = ?2, since = ?3",
	[ST_HOLDER] = "SELECT s.serve FROM sessions s JOIN serves v ON v.id = s.serve WHERE s.node = ?1"
		      " AND v.alive_at >= ?2",
	[ST_KEY_SEEN] = "SELECT fp FROM node_keys WHERE node = ?1",
	[ST_DIAG_KEYS] = "SELECT code, key FROM diagnoses WHERE node = ?1",
	[ST_NODE_SAID] = "SELECT hb_q, hb_n, hb_worst, hb_hash, hb_interval, hb_u FROM nodes WHERE name = ?1"
			 " AND hb_hash IS NOT NULL AND hb_q IS NOT NULL",
	[ST_NODE_SET_HASH] = "UPDATE nodes SET hash = ?2,"
			     " worst = coalesce((SELECT max(severity) FROM diagnoses WHERE node = ?1), 0)"
			     " WHERE name = ?1",
	[ST_SET_KEY_SEEN] = "INSERT INTO node_keys (node, fp, at) VALUES (?1, ?2, ?3)"
			    " ON CONFLICT (node) DO UPDATE SET fp = ?2, at = ?3",
	/* oldest first through history_at; the raise line of a diagnosis
	 * that still stands (its node, code, key and raised_at) is kept */
	[ST_PRUNE] = "DELETE FROM history WHERE id IN (SELECT h.id FROM history h WHERE h.at < ?1 AND NOT EXISTS"
		     " (SELECT 1 FROM diagnoses d WHERE h.event = 'raise' AND d.node = h.node AND d.code = h.code"
		     " AND d.key = h.key AND d.raised_at = h.at) ORDER BY h.at LIMIT ?2)",
	[ST_FORGET_FIND] = "SELECT name, ?1 - last_seen FROM nodes WHERE last_seen < ?2 ORDER BY last_seen LIMIT ?3",
	[ST_FORGET_DIAGS] = "DELETE FROM diagnoses WHERE node = ?1",
	[ST_FORGET_NODE] = "DELETE FROM nodes WHERE name = ?1 AND last_seen < ?2",
	/* transactions: prepared once, several a pass (SQLite's exec parses
	 * its text every time: 3 % of serve's time under load) */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT w",
	[ST_RELEASE] = "RELEASE w",
	[ST_ROLLBACK_TO] = "ROLLBACK TO w",
};

/* Where PostgreSQL's text differs. The node's row is locked by the first
 * write that reads its sequence (a report, a heartbeat, a resync), so two
 * controllers on one database take a node's writes one after the other:
 * a report delivered to both is stored once (the second finds q <= last).
 * SQLite's BEGIN IMMEDIATE already takes the one writer's lock. */
static const char *const stmt_pg[ST_COUNT] = {
	[ST_NODE_SEQ] = "SELECT last_seq, state FROM nodes WHERE name = ?1 FOR UPDATE",
	[ST_BEGIN] = "BEGIN",
};

struct fc_store {
	struct fc_db *db;
	struct fc_db_stmt *st[ST_COUNT];
	bool batch; /* a batch's transaction is open */
};

/* PostgreSQL's schema, version 3 at once (no PostgreSQL store is older),
 * then version 4 as SQLite's:
 * the same tables, columns and checks as SQLite's after its three steps.
 * Times and sequence numbers are bigint (SQLite's INTEGER is 64 bits);
 * names, codes and keys compare and sort bytewise (COLLATE "C"), as in
 * SQLite, whatever the database's locale: a set's hash walks it in that
 * order. */
static const char pg_schema_v3[] =
	"CREATE TABLE nodes ("
	" name text COLLATE \"C\" PRIMARY KEY,"
	" board text,"
	" first_seen bigint NOT NULL,"
	" last_seen bigint NOT NULL,"
	" last_seq bigint NOT NULL DEFAULT 0,"
	" hb_interval bigint, hb_n bigint, hb_worst integer, hb_hash text, hb_q bigint, hb_u bigint,"
	" worst integer NOT NULL DEFAULT 0,"
	" hash text NOT NULL DEFAULT '811c9dc5',"
	" state text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'unreachable')),"
	" insecure integer NOT NULL DEFAULT 0);"
	"CREATE TABLE diagnoses ("
	" node text COLLATE \"C\" NOT NULL REFERENCES nodes(name),"
	" code text COLLATE \"C\" NOT NULL, key text COLLATE \"C\" NOT NULL,"
	" severity integer NOT NULL, summary text NOT NULL,"
	" evidence text NOT NULL, remedy text NOT NULL, explains text NOT NULL,"
	" raised_at bigint NOT NULL, changed_at bigint NOT NULL, seq bigint NOT NULL,"
	" component text NOT NULL DEFAULT '', links text NOT NULL DEFAULT '[]',"
	" PRIMARY KEY (node, code, key));"
	"CREATE TABLE history ("
	" id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" node text COLLATE \"C\" NOT NULL, at bigint NOT NULL, seq bigint, agent_time bigint,"
	" event text NOT NULL CHECK (event IN ('raise', 'change', 'resolve', 'gap', 'unreachable', 'reachable',"
	" 'forgotten')),"
	" code text COLLATE \"C\", key text COLLATE \"C\", severity integer, detail text);"
	"CREATE INDEX history_node ON history (node, id);"
	"CREATE INDEX history_at ON history (at);"
	"CREATE TABLE node_keys (node text COLLATE \"C\" PRIMARY KEY, fp text NOT NULL, at bigint NOT NULL);";

/* Brings the schema from v to SCHEMA_VERSION in one transaction. Two
 * controllers starting at once on one PostgreSQL database: the second waits
 * for the first's lock and then finds the work done. */
static int migrate(struct fc_store *s, int v)
{
	bool pg = fc_db_engine(s->db) == FC_DB_POSTGRESQL;
	if (fc_db_exec(s->db, pg ? "BEGIN; SELECT pg_advisory_xact_lock(4242020028)" : "BEGIN IMMEDIATE") < 0)
		return -EIO;
	if (pg && (v = fc_db_version(s->db)) < 0)
		goto fail;
	if (v < SCHEMA_VERSION) {
		if (pg ? (v < 3 && fc_db_exec(s->db, pg_schema_v3) < 0) || (v < 4 && fc_db_exec(s->db, pg_schema_v4) < 0)
		       : (v < 1 && fc_db_exec(s->db, schema_v1) < 0) || (v < 2 && fc_db_exec(s->db, schema_v2) < 0) ||
			     (v < 3 && fc_db_exec(s->db, schema_v3) < 0) || (v < 4 && fc_db_exec(s->db, schema_v4) < 0))
			goto fail;
		if (fc_db_set_version(s->db, SCHEMA_VERSION) < 0)
			goto fail;
	}
	if (fc_db_exec(s->db, "COMMIT") == 0)
		return 0;
fail:
	fc_db_exec(s->db, "ROLLBACK");
	return -EIO;
}

/* Live serves other than none in a store of version >= 4 (-EIO). */
static int live_serves(struct fc_db *db)
{
	struct fc_db_stmt *st = fc_db_prepare(db, "SELECT count(*) FROM serves WHERE alive_at >= ?1", false);
	if (!st)
		return -EIO;
	fc_db_bind_int(st, 1, (int64_t)time(NULL) - FC_STORE_SERVE_DEAD_S);
	int n = fc_db_step(st) == 1 ? (int)fc_db_col_int(st, 0) : -EIO;
	fc_db_finalize(st);
	return n;
}

int fc_store_migrate(const char *path, int *from, int *to, int *serves, char *why, size_t size)
{
	struct fc_db *db = NULL;
	*from = *to = -1;
	*serves = 0;
	int rc = fc_db_open(path, true, &db, why, size);
	if (rc < 0)
		return rc;
	struct fc_store s = {.db = db};
	const char *name = fc_db_name(db);
	int v = fc_db_version(db);
	*from = v;
	if (v < 0)
		rc = fc_why(why, size, -EIO, "%s: cannot read its schema version", name);
	else if (v > SCHEMA_VERSION)
		rc = fc_why(why, size, -EPROTO, "%s: schema version %d is newer than this controller's %d", name, v,
			    SCHEMA_VERSION);
	else if (v >= 4 && (*serves = live_serves(db)) < 0)
		rc = fc_why(why, size, -EIO, "%s: cannot read its serves", name);
	else if (v < SCHEMA_VERSION && migrate(&s, v) < 0)
		rc = fc_why(why, size, -EIO, "%s: cannot %s the schema (see the log)", name, v ? "upgrade" : "create");
	else
		*to = SCHEMA_VERSION;
	fc_db_close(&db);
	return rc;
}

int fc_store_open(const char *path, bool writable, struct fc_store **out, char *why, size_t size)
{
	struct fc_store *s = calloc(1, sizeof(*s));
	if (!s)
		return fc_why(why, size, -ENOMEM, "out of memory");
	int rc = fc_db_open(path, writable, &s->db, why, size);
	if (rc < 0)
		goto out_free;
	const char *name = fc_db_name(s->db);
	int v = fc_db_version(s->db);
	if (v < 0) {
		rc = fc_why(why, size, -EIO, "%s: cannot read its schema version", name);
		goto out_free;
	}
	if (v > SCHEMA_VERSION) {
		rc = fc_why(why, size, -EPROTO, "%s: schema version %d is newer than this controller's %d", name,
			    v, SCHEMA_VERSION);
		goto out_free;
	}
	if (writable) {
		/* serve upgrades at its start only when no other serve runs on
		 * the store: one of an older version would go on with a schema
		 * it does not know (`migrate` is the operator's explicit step) */
		int others = v >= 4 && v < SCHEMA_VERSION ? live_serves(s->db) : 0;
		if (others != 0) {
			rc = fc_why(why, size, -EBUSY,
				    "%s: schema version %d, and %d serve(s) run on it: stop them, or run "
				    "'fleetmedic-controller migrate' first",
				    name, v, others < 0 ? 0 : others);
			goto out_free;
		}
		if (v < SCHEMA_VERSION && migrate(s, v) < 0) {
			rc = fc_why(why, size, -EIO, "%s: cannot %s the schema (see the log)", name,
				    v ? "upgrade" : "create");
			goto out_free;
		}
		for (int i = 0; i < ST_COUNT; i++) {
			s->st[i] = fc_db_prepare(s->db, fc_db_pick(s->db, stmt_sql[i], stmt_pg[i]), true);
			if (!s->st[i]) {
				rc = fc_why(why, size, -EIO, "%s: cannot prepare the store's statements (see the log)",
					    name);
				goto out_free;
			}
		}
	} else if (v == 0) {
		rc = fc_why(why, size, -ENOENT, "%s: holds no fleet yet (has 'serve' run with this --db?)", name);
		goto out_free;
	} else if (v < SCHEMA_VERSION) {
		rc = fc_why(why, size, -EPROTO, "%s: schema version %d: run 'serve' with this --db once to upgrade it",
			    name, v);
		goto out_free;
	}
	*out = s;
	return 0;
out_free:
	fc_store_delete(&s);
	return rc;
}

void fc_store_delete(struct fc_store **ps)
{
	if (!ps || !*ps)
		return;
	struct fc_store *s = *ps;
	for (int i = 0; i < ST_COUNT; i++)
		fc_db_finalize(s->st[i]);
	fc_db_close(&s->db);
	free(s);
	*ps = NULL;
}

static int history(struct fc_store *s, const char *node, int64_t at, int64_t seq, int64_t agent_time,
		   const char *event, const char *code, const char *key, int severity, const char *detail)
{
	struct fc_db_stmt *st = s->st[ST_HISTORY];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_int(st, 2, at);
	if (seq)
		fc_db_bind_int(st, 3, seq);
	if (agent_time)
		fc_db_bind_int(st, 4, agent_time);
	fc_db_bind_text(st, 5, event);
	fc_db_bind_text(st, 6, code);
	fc_db_bind_text(st, 7, key);
	if (severity)
		fc_db_bind_int(st, 8, severity);
	fc_db_bind_text(st, 9, detail);
	return fc_db_run(st);
}

static int ensure_node(struct fc_store *s, const char *node, int64_t now)
{
	struct fc_db_stmt *st = s->st[ST_NODE_ENSURE];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_int(st, 2, now);
	return fc_db_run(st);
}

/* The hash of node's stored raised set, as "%08x". */
static int set_hash(struct fc_store *s, const char *node, char hash[9])
{
	struct fc_db_stmt *st = s->st[ST_SET_HASH];
	uint32_t h = FC_WIRE_HASH_INIT;
	int rc;
	fc_db_bind_text(st, 1, node);
	while ((rc = fc_db_step(st)) == 1)
		h = fc_wire_hash_line(h, fc_db_col_text(st, 0),
				      fc_db_col_text(st, 1), (int)fc_db_col_int(st, 2));
	fc_db_reset(st);
	if (rc != 0)
		return -EIO;
	snprintf(hash, 9, "%08x", h);
	return 0;
}

/* JSON text of a string array (NULL: "[]"); caller frees with cJSON_free. */
static char *list_text(const cJSON *a)
{
	return a ? cJSON_PrintUnformatted(a) : NULL;
}

/* [{"code","component"}] of what d explains, from x and y (y absent: each
 * symptom is about d's own component p; "" from an agent that says
 * neither); caller frees with cJSON_free. */
static char *links_text(const struct fc_diag *d)
{
	cJSON *a = cJSON_CreateArray();
	const cJSON *x;
	int i = 0;
	cJSON_ArrayForEach(x, d->explains)
	{
		const cJSON *y = cJSON_GetArrayItem(d->explains_components, i++);
		cJSON *l = cJSON_CreateObject();
		if (!l || !cJSON_AddStringToObject(l, "code", x->valuestring) ||
		    !cJSON_AddStringToObject(l, "component", cJSON_IsString(y) ? y->valuestring
									   : d->component ? d->component : "") ||
		    !a || !cJSON_AddItemToArray(a, l)) {
			cJSON_Delete(l);
			break;
		}
	}
	char *t = a ? cJSON_PrintUnformatted(a) : NULL;
	cJSON_Delete(a);
	return t;
}

/* Stores one raised or changed diagnosis (resync: its history line says
 * so). 1 when it was a raise or a change (a history line), 0 when only its
 * evidence or nothing changed, -EIO. */
static int store_diag(struct fc_store *s, const char *node, const struct fc_report *r,
		      const struct fc_diag *d, int64_t now, bool resync)
{
	struct fc_db_stmt *get = s->st[ST_DIAG_GET];
	fc_db_bind_text(get, 1, node);
	fc_db_bind_text(get, 2, d->code);
	fc_db_bind_text(get, 3, d->key);
	int step = fc_db_step(get);
	bool exists = step == 1;
	bool changed = !exists;
	char *ev = list_text(d->evidence), *rem = list_text(d->remedy), *ex = list_text(d->explains);
	char *links = links_text(d);
	const char *evt = ev ? ev : "[]", *remt = rem ? rem : "[]", *ext = ex ? ex : "[]";
	if (exists) {
		changed = (int)fc_db_col_int(get, 0) != d->severity ||
			  strcmp(fc_db_col_text(get, 1), d->summary) != 0 ||
			  strcmp(fc_db_col_text(get, 2), remt) != 0;
	}
	fc_db_reset(get);
	int rc = -EIO;
	if (step != 1 && step != 0)
		goto out;
	struct fc_db_stmt *st = s->st[exists ? ST_DIAG_UPDATE : ST_DIAG_INSERT];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_text(st, 2, d->code);
	fc_db_bind_text(st, 3, d->key);
	fc_db_bind_int(st, 4, d->severity);
	fc_db_bind_text(st, 5, d->summary);
	fc_db_bind_text(st, 6, evt);
	fc_db_bind_text(st, 7, remt);
	fc_db_bind_text(st, 8, ext);
	fc_db_bind_int(st, 9, now);
	fc_db_bind_int(st, 10, r->q);
	if (exists)
		fc_db_bind_int(st, 11, changed);
	fc_db_bind_text(st, 12, d->component ? d->component : "");
	fc_db_bind_text(st, 13, links ? links : "[]");
	if ((rc = fc_db_run(st)) < 0)
		goto out;
	/* the evidence alone changing is not a change of the diagnosis */
	if (changed) {
		char *detail = NULL;
		if (resync && asprintf(&detail, "resync: %s", d->summary) < 0)
			detail = NULL;
		rc = history(s, node, now, r->q, r->t, exists ? "change" : "raise", d->code, d->key,
			     d->severity, detail ? detail : d->summary);
		free(detail);
		if (rc == 0)
			rc = 1;
	}
out:
	cJSON_free(ev);
	cJSON_free(rem);
	cJSON_free(ex);
	cJSON_free(links);
	return rc;
}

/* A diagnosis with z (PROTOCOL.md): the node's diagnoses of the codes it
 * explains are resolved here, each with a history line naming it. */
static int store_absorbed(struct fc_store *s, const char *node, const struct fc_report *r,
			  const struct fc_diag *d, int64_t now)
{
	const cJSON *x;
	char detail[FC_WIRE_KEY_MAX + 80];
	snprintf(detail, sizeof(detail), "explained by %s %s", d->code, d->key);
	cJSON_ArrayForEach(x, d->explains)
	{
		struct fc_db_stmt *st = s->st[ST_DIAG_DELETE_CODE];
		fc_db_bind_text(st, 1, node);
		fc_db_bind_text(st, 2, x->valuestring);
		/* the keys first, then their history lines: one statement
		 * runs at a time on the connection */
		cJSON *keys = cJSON_CreateArray();
		int step;
		while ((step = fc_db_step(st)) == 1)
			cJSON_AddItemToArray(
			    keys, cJSON_CreateString(fc_db_col_text(st, 0)));
		fc_db_reset(st);
		if (step != 0 || !keys) {
			cJSON_Delete(keys);
			return -EIO;
		}
		const cJSON *k;
		cJSON_ArrayForEach(k, keys)
		{
			if (!cJSON_IsString(k) ||
			    history(s, node, now, r->q, r->t, "resolve", x->valuestring,
				    k->valuestring, 0, detail) < 0) {
				cJSON_Delete(keys);
				return -EIO;
			}
		}
		cJSON_Delete(keys);
	}
	return 0;
}

static int store_resolved(struct fc_store *s, const char *node, const struct fc_report *r,
			  const struct fc_resolved *x, int64_t now)
{
	struct fc_db_stmt *st = s->st[ST_DIAG_DELETE];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_text(st, 2, x->code);
	fc_db_bind_text(st, 3, x->key);
	if (fc_db_run(st) < 0)
		return -EIO;
	/* A resolve of something never stored here (its raise was in a lost
	 * report) is history all the same. */
	return history(s, node, now, r->q, r->t, "resolve", x->code, x->key, 0,
		       fc_db_changes(s->db) ? NULL : "was not raised here");
}

/* A write's transaction: its own (BEGIN IMMEDIATE .. COMMIT), or, inside
 * a batch (fc_store_batch_begin), a savepoint of the batch's transaction,
 * so that one write failing undoes that write alone. */
static int tx_begin(struct fc_store *s)
{
	return fc_db_run(s->st[s->batch ? ST_SAVEPOINT : ST_BEGIN]);
}

static int tx_commit(struct fc_store *s)
{
	return fc_db_run(s->st[s->batch ? ST_RELEASE : ST_COMMIT]);
}

/* Undoes the write; 0 or -EIO. */
static int tx_rollback(struct fc_store *s)
{
	if (!s->batch)
		return fc_db_run(s->st[ST_ROLLBACK]);
	int rc = fc_db_run(s->st[ST_ROLLBACK_TO]);
	return fc_db_run(s->st[ST_RELEASE]) < 0 ? -EIO : rc;
}

int fc_store_batch_begin(struct fc_store *s)
{
	if (s->batch)
		return 0;
	if (fc_db_run(s->st[ST_BEGIN]) < 0)
		return -EIO;
	s->batch = true;
	return 0;
}

bool fc_store_batch_open(const struct fc_store *s)
{
	return s->batch;
}

int fc_store_batch_commit(struct fc_store *s)
{
	if (!s->batch)
		return 0;
	s->batch = false;
	if (fc_db_run(s->st[ST_COMMIT]) == 0)
		return 0;
	fc_db_run(s->st[ST_ROLLBACK]);
	return -EIO;
}

int fc_store_report(struct fc_store *s, const char *node, const struct fc_report *r, bool insecure,
		    int64_t now, enum fc_store_outcome *outcome, uint32_t *gap_from, uint32_t *gap_to)
{
	*gap_from = *gap_to = 0;
	*outcome = FC_STORE_DUPLICATE;
	if (tx_begin(s) < 0)
		return -EIO;
	if (ensure_node(s, node, now) < 0)
		goto rollback;
	struct fc_db_stmt *st = s->st[ST_NODE_SEQ];
	fc_db_bind_text(st, 1, node);
	if (fc_db_step(st) != 1) {
		fc_db_reset(st);
		goto rollback;
	}
	int64_t last = fc_db_col_int(st, 0);
	fc_db_reset(st);
	if ((int64_t)r->q <= last) {
		/* a retransmission, or a replay after the agent restarted */
		return tx_rollback(s);
	}
	if ((int64_t)r->q > last + 1) {
		char detail[96];
		*gap_from = (uint32_t)(last + 1);
		*gap_to = r->q - 1;
		snprintf(detail, sizeof(detail), "reports %u..%u never arrived", *gap_from, *gap_to);
		if (history(s, node, now, r->q, r->t, "gap", NULL, NULL, 0, detail) < 0)
			goto rollback;
	}
	for (size_t i = 0; i < r->nd; i++)
		if (store_diag(s, node, r, &r->d[i], now, false) < 0 ||
		    (r->d[i].absorbs && store_absorbed(s, node, r, &r->d[i], now) < 0))
			goto rollback;
	for (size_t i = 0; i < r->nr; i++)
		if (store_resolved(s, node, r, &r->r[i], now) < 0)
			goto rollback;
	char hash[9];
	if (set_hash(s, node, hash) < 0)
		goto rollback;
	st = s->st[ST_NODE_AFTER_REPORT];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_int(st, 2, r->q);
	fc_db_bind_int(st, 3, now);
	fc_db_bind_text(st, 4, r->board);
	fc_db_bind_int(st, 5, insecure || r->insecure);
	fc_db_bind_text(st, 6, hash);
	if (fc_db_run(st) < 0 || tx_commit(s) < 0)
		goto rollback;
	*outcome = FC_STORE_STORED;
	return 0;
rollback:
	tx_rollback(s);
	*gap_from = *gap_to = 0;
	return -EIO;
}

int fc_store_resync(struct fc_store *s, const char *node, const struct fc_diag *d, size_t n, int64_t now,
		    unsigned *raised, unsigned *resolved, char hash[9])
{
	*raised = *resolved = 0;
	if (tx_begin(s) < 0)
		return -EIO;
	struct fc_db_stmt *st = s->st[ST_NODE_SEQ];
	fc_db_bind_text(st, 1, node);
	int step = fc_db_step(st);
	/* the history's seq: the last report stored (what the set is after) */
	struct fc_report at = {.q = step == 1 ? (uint32_t)fc_db_col_int(st, 0) : 0};
	fc_db_reset(st);
	if (step != 1)
		goto rollback; /* a node the store does not know: nothing to mend */
	/* what the store holds that the node does not raise: resolved */
	st = s->st[ST_DIAG_KEYS];
	fc_db_bind_text(st, 1, node);
	cJSON *gone = cJSON_CreateArray();
	while (gone && (step = fc_db_step(st)) == 1) {
		const char *c = fc_db_col_text(st, 0), *k = fc_db_col_text(st, 1);
		bool held = false;
		for (size_t i = 0; i < n && !held; i++)
			held = strcmp(d[i].code, c) == 0 && strcmp(d[i].key, k) == 0;
		cJSON *pair = held ? NULL : cJSON_CreateStringArray((const char *const[]){c, k}, 2);
		if (!held && (!pair || !cJSON_AddItemToArray(gone, pair))) {
			cJSON_Delete(pair);
			step = -ENOMEM;
			break;
		}
	}
	fc_db_reset(st);
	if (!gone || step != 0) {
		cJSON_Delete(gone);
		goto rollback;
	}
	const cJSON *pair;
	cJSON_ArrayForEach(pair, gone)
	{
		const char *c = cJSON_GetArrayItem(pair, 0)->valuestring, *k = cJSON_GetArrayItem(pair, 1)->valuestring;
		st = s->st[ST_DIAG_DELETE];
		fc_db_bind_text(st, 1, node);
		fc_db_bind_text(st, 2, c);
		fc_db_bind_text(st, 3, k);
		if (fc_db_run(st) < 0 ||
		    history(s, node, now, at.q, 0, "resolve", c, k, 0, "resync: the node does not raise it") < 0) {
			cJSON_Delete(gone);
			goto rollback;
		}
		(*resolved)++;
	}
	cJSON_Delete(gone);
	for (size_t i = 0; i < n; i++) {
		int rc = store_diag(s, node, &at, &d[i], now, true);
		if (rc < 0)
			goto rollback;
		*raised += rc == 1;
	}
	if (set_hash(s, node, hash) < 0)
		goto rollback;
	st = s->st[ST_NODE_SET_HASH];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_text(st, 2, hash);
	if (fc_db_run(st) < 0 || tx_commit(s) < 0)
		goto rollback;
	return 0;
rollback:
	tx_rollback(s);
	*raised = *resolved = 0;
	return -EIO;
}

int fc_store_heartbeat(struct fc_store *s, const char *node, const struct fc_hb *hb, bool insecure,
		       int64_t now, bool *was_unreachable, char hash[9])
{
	*was_unreachable = false;
	if (tx_begin(s) < 0)
		return -EIO;
	if (ensure_node(s, node, now) < 0)
		goto rollback;
	struct fc_db_stmt *st = s->st[ST_NODE_SEQ];
	fc_db_bind_text(st, 1, node);
	if (fc_db_step(st) == 1)
		*was_unreachable = strcmp(fc_db_col_text(st, 1), "unreachable") == 0;
	fc_db_reset(st);
	st = s->st[ST_NODE_HB];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_int(st, 2, now);
	if (!hb->bare) { /* a bare one leaves what the node said last (NULL) */
		fc_db_bind_int(st, 3, hb->i);
		fc_db_bind_int(st, 4, hb->n);
		fc_db_bind_int(st, 5, hb->w);
		fc_db_bind_text(st, 6, hb->h);
		fc_db_bind_int(st, 8, hb->q);
		fc_db_bind_int(st, 9, hb->waiting);
	}
	fc_db_bind_int(st, 7, insecure);
	if (fc_db_step(st) != 1) {
		fc_db_reset(st);
		goto rollback;
	}
	fc_db_reset(st);
	/* the set as the rows hold it, not the hash kept beside them: rows
	 * lost behind serve's back show as a difference (resync) */
	if (set_hash(s, node, hash) < 0)
		goto rollback;
	if (*was_unreachable && history(s, node, now, 0, 0, "reachable", NULL, NULL, 0, NULL) < 0)
		goto rollback;
	if (tx_commit(s) < 0)
		goto rollback;
	return 0;
rollback:
	tx_rollback(s);
	*was_unreachable = false;
	return -EIO;
}

int fc_store_me(struct fc_store *s, const char *node, const char *board, int64_t now, uint32_t *q,
		char hash[9])
{
	if (board) {
		if (ensure_node(s, node, now) < 0)
			return -EIO;
		struct fc_db_stmt *b = s->st[ST_NODE_BOARD];
		fc_db_bind_text(b, 1, node);
		fc_db_bind_text(b, 2, board);
		if (fc_db_run(b) < 0)
			return -EIO;
	}
	struct fc_db_stmt *st = s->st[ST_NODE_ME];
	fc_db_bind_text(st, 1, node);
	int rc = fc_db_step(st);
	*q = 0;
	snprintf(hash, 9, "%08x", FC_WIRE_HASH_INIT);
	if (rc == 1) {
		*q = (uint32_t)fc_db_col_int(st, 0);
		snprintf(hash, 9, "%s", fc_db_col_text(st, 1));
	}
	fc_db_reset(st);
	return rc == 1 || rc == 0 ? 0 : -EIO;
}

int fc_store_sweep(struct fc_store *s, int64_t now,
		   void (*fn)(const char *node, int64_t silent_s, void *arg), void *arg)
{
	/* Collect first: the UPDATE must not run under the open SELECT. */
	struct gone {
		char name[FC_WIRE_KEY_MAX + 1];
		int64_t silent;
	} *g = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, step;
	struct fc_db_stmt *st = s->st[ST_SWEEP];
	fc_db_bind_int(st, 1, now);
	while ((step = fc_db_step(st)) == 1) {
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct gone *ng = realloc(g, nc * sizeof(*g));
			if (!ng) {
				rc = -ENOMEM;
				break;
			}
			g = ng;
			cap = nc;
		}
		snprintf(g[n].name, sizeof(g[n].name), "%s", fc_db_col_text(st, 0));
		g[n++].silent = fc_db_col_int(st, 1);
	}
	if (step != 0 && step != 1)
		rc = -EIO;
	fc_db_reset(st);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char detail[64];
		snprintf(detail, sizeof(detail), "silent for %llds", (long long)g[i].silent);
		if (tx_begin(s) < 0) {
			rc = -EIO;
			break;
		}
		st = s->st[ST_MARK_UNREACHABLE];
		fc_db_bind_text(st, 1, g[i].name);
		fc_db_bind_int(st, 2, now);
		int marked = fc_db_step(st);
		fc_db_reset(st);
		if (marked < 0 ||
		    (marked == 1 && history(s, g[i].name, now, 0, 0, "unreachable", NULL, NULL, 0, detail) < 0) ||
		    tx_commit(s) < 0) {
			tx_rollback(s);
			rc = -EIO;
			break;
		}
		if (fn && marked == 1)
			fn(g[i].name, g[i].silent, arg);
	}
	free(g);
	return rc;
}

int fc_store_node_said(struct fc_store *s, const char *node, struct fc_hb *hb)
{
	struct fc_db_stmt *st = s->st[ST_NODE_SAID];
	fc_db_bind_text(st, 1, node);
	int step = fc_db_step(st);
	int rc = step == 1 ? 0 : step == 0 ? -ENOENT : -EIO;
	if (rc == 0) {
		*hb = (struct fc_hb){.q = (uint32_t)fc_db_col_int(st, 0),
				     .n = (uint32_t)fc_db_col_int(st, 1),
				     .w = (int)fc_db_col_int(st, 2),
				     .i = (uint32_t)fc_db_col_int(st, 4),
				     .waiting = (int)fc_db_col_int(st, 5) == 1};
		snprintf(hb->h, sizeof(hb->h), "%s", fc_db_col_text(st, 3));
	}
	fc_db_reset(st);
	return rc;
}

int fc_store_key_seen(struct fc_store *s, const char *node, char fp[17])
{
	struct fc_db_stmt *st = s->st[ST_KEY_SEEN];
	fc_db_bind_text(st, 1, node);
	int step = fc_db_step(st);
	int rc = step == 1 ? 0 : step == 0 ? -ENOENT : -EIO;
	if (rc == 0)
		snprintf(fp, 17, "%s", fc_db_col_text(st, 0));
	fc_db_reset(st);
	return rc;
}

int fc_store_set_key_seen(struct fc_store *s, const char *node, const char *fp, int64_t now)
{
	struct fc_db_stmt *st = s->st[ST_SET_KEY_SEEN];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_text(st, 2, fp);
	fc_db_bind_int(st, 3, now);
	return fc_db_run(st);
}

int fc_store_prune(struct fc_store *s, int64_t before, int limit)
{
	if (tx_begin(s) < 0)
		return -EIO;
	struct fc_db_stmt *st = s->st[ST_PRUNE];
	fc_db_bind_int(st, 1, before);
	fc_db_bind_int(st, 2, limit);
	int n = 0;
	if (fc_db_run(st) < 0 || ((n = fc_db_changes(s->db)), tx_commit(s) < 0)) {
		tx_rollback(s);
		return -EIO;
	}
	return n;
}

int fc_store_forget(struct fc_store *s, int64_t now, int64_t before, int limit,
		    void (*fn)(const char *node, int64_t silent_s, void *arg), void *arg)
{
	/* as fc_store_sweep: collect, then one transaction per node */
	struct gone {
		char name[FC_WIRE_KEY_MAX + 1];
		int64_t silent;
	} *g = limit > 0 ? calloc((size_t)limit, sizeof(*g)) : NULL;
	if (limit <= 0)
		return 0;
	if (!g)
		return -ENOMEM;
	int n = 0, rc = 0, step = 0;
	struct fc_db_stmt *st = s->st[ST_FORGET_FIND];
	fc_db_bind_int(st, 1, now);
	fc_db_bind_int(st, 2, before);
	fc_db_bind_int(st, 3, limit);
	while (n < limit && (step = fc_db_step(st)) == 1) {
		snprintf(g[n].name, sizeof(g[n].name), "%s", fc_db_col_text(st, 0));
		g[n++].silent = fc_db_col_int(st, 1);
	}
	if (n < limit && step != 0)
		rc = -EIO;
	fc_db_reset(st);
	int done = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		char detail[64];
		if (g[i].silent >= 86400)
			snprintf(detail, sizeof(detail), "forgotten after %lld days silent",
				 (long long)(g[i].silent / 86400));
		else
			snprintf(detail, sizeof(detail), "forgotten after %lld h silent",
				 (long long)(g[i].silent / 3600));
		if (tx_begin(s) < 0) {
			rc = -EIO;
			break;
		}
		struct fc_db_stmt *d = s->st[ST_FORGET_DIAGS], *x = s->st[ST_FORGET_NODE];
		fc_db_bind_text(d, 1, g[i].name);
		fc_db_bind_text(x, 1, g[i].name);
		fc_db_bind_int(x, 2, before);
		if (fc_db_run(d) < 0 || fc_db_run(x) < 0 ||
		    (fc_db_changes(s->db) &&
		     history(s, g[i].name, now, 0, 0, "forgotten", NULL, NULL, 0, detail) < 0) ||
		    tx_commit(s) < 0) {
			tx_rollback(s);
			rc = -EIO;
			break;
		}
		done++;
		if (fn)
			fn(g[i].name, g[i].silent, arg);
	}
	free(g);
	return rc < 0 ? rc : done;
}

bool fc_store_lost(struct fc_store *s)
{
	return fc_db_lost(s->db);
}

int fc_store_serve_up(struct fc_store *s, const char *id, const char *host, const char *listen, int64_t now)
{
	struct fc_db_stmt *st = s->st[ST_SERVE_UP];
	fc_db_bind_text(st, 1, id);
	fc_db_bind_text(st, 2, host);
	fc_db_bind_int(st, 3, (int64_t)getpid());
	fc_db_bind_text(st, 4, listen);
	fc_db_bind_int(st, 5, now);
	return fc_db_run(st);
}

int fc_store_serve_alive(struct fc_store *s, const char *id, int64_t now)
{
	struct fc_db_stmt *st = s->st[ST_SERVE_ALIVE];
	fc_db_bind_text(st, 1, id);
	fc_db_bind_int(st, 2, now);
	if (fc_db_run(st) < 0)
		return -EIO;
	return fc_db_changes(s->db) ? 0 : -ENOENT;
}

int fc_store_serve_down(struct fc_store *s, const char *id, int64_t now)
{
	if (tx_begin(s) < 0)
		return -EIO;
	struct fc_db_stmt *a = s->st[ST_SERVE_SESSIONS_DOWN], *b = s->st[ST_SERVE_DOWN];
	fc_db_bind_text(a, 1, id);
	fc_db_bind_text(b, 1, id);
	/* and the rows of serves long dead (killed: nobody removed them) */
	fc_db_bind_int(b, 2, now - 86400);
	if (fc_db_run(a) < 0 || fc_db_run(b) < 0 || tx_commit(s) < 0) {
		tx_rollback(s);
		return -EIO;
	}
	return 0;
}

int fc_store_hold(struct fc_store *s, const char *node, const char *id, int64_t now)
{
	/* in a batch, a savepoint of its own: a failure here (PostgreSQL
	 * aborts a transaction at its first error) must not undo the reports */
	if (tx_begin(s) < 0)
		return -EIO;
	struct fc_db_stmt *st = s->st[ST_HOLD];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_text(st, 2, id);
	fc_db_bind_int(st, 3, now);
	if (fc_db_run(st) < 0 || tx_commit(s) < 0) {
		tx_rollback(s);
		return -EIO;
	}
	return 0;
}

int fc_store_holder(struct fc_store *s, const char *node, int64_t now, char id[FC_STORE_SERVE_ID_LEN + 1])
{
	struct fc_db_stmt *st = s->st[ST_HOLDER];
	fc_db_bind_text(st, 1, node);
	fc_db_bind_int(st, 2, now - FC_STORE_SERVE_DEAD_S);
	int step = fc_db_step(st);
	if (step == 1)
		snprintf(id, FC_STORE_SERVE_ID_LEN + 1, "%s", fc_db_col_text(st, 0));
	fc_db_reset(st);
	return step == 1 ? 0 : step == 0 ? -ENOENT : -EIO;
}

const char *fc_store_severity_name(int severity)
{
	static const char *const names[] = {"none", "info", "warning", "critical"};
	return severity >= 0 && severity <= 3 ? names[severity] : "?";
}

/* Reading (nodes, show): statements prepared for the call, finalised at once. */

static const char node_cols[] =
	"SELECT name, board, state, worst, first_seen, last_seen, last_seq,"
	" coalesce(hb_interval, " XSTR(FC_STORE_DEFAULT_INTERVAL) "),"
	" insecure, (SELECT count(*) FROM diagnoses d WHERE d.node = n.name),"
	" (SELECT json_group_array(code) FROM (SELECT DISTINCT code FROM diagnoses d"
	"  WHERE d.node = n.name ORDER BY code))"
	" FROM nodes n";
static const char node_cols_pg[] =
	"SELECT name, board, state, worst, first_seen, last_seen, last_seq,"
	" coalesce(hb_interval, " XSTR(FC_STORE_DEFAULT_INTERVAL) "),"
	" insecure, (SELECT count(*) FROM diagnoses d WHERE d.node = n.name),"
	" (SELECT coalesce(json_agg(code ORDER BY code), '[]') FROM (SELECT DISTINCT code FROM diagnoses d"
	"  WHERE d.node = n.name) c)"
	" FROM nodes n";

static cJSON *node_json(struct fc_db_stmt *st, int64_t now)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", fc_db_col_text(st, 0));
	if (fc_db_col_type(st, 1) == FC_DB_NULL)
		cJSON_AddNullToObject(o, "board");
	else
		cJSON_AddStringToObject(o, "board", fc_db_col_text(st, 1));
	cJSON_AddStringToObject(o, "state", fc_db_col_text(st, 2));
	cJSON_AddStringToObject(o, "worst", fc_store_severity_name((int)fc_db_col_int(st, 3)));
	const char *codes_text = fc_db_col_text(st, 10);
	cJSON *codes = codes_text ? cJSON_Parse(codes_text) : NULL;
	cJSON_AddItemToObject(o, "codes", codes ? codes : cJSON_CreateArray());
	cJSON_AddNumberToObject(o, "n", (double)fc_db_col_int(st, 9));
	cJSON_AddNumberToObject(o, "first_seen", (double)fc_db_col_int(st, 4));
	cJSON_AddNumberToObject(o, "last_seen", (double)fc_db_col_int(st, 5));
	cJSON_AddNumberToObject(o, "last_seen_ago_s", (double)(now - fc_db_col_int(st, 5)));
	cJSON_AddNumberToObject(o, "last_seq", (double)fc_db_col_int(st, 6));
	cJSON_AddNumberToObject(o, "interval_s", (double)fc_db_col_int(st, 7));
	cJSON_AddBoolToObject(o, "insecure", fc_db_col_int(st, 8) != 0);
	return o;
}

/* node_cols for s's engine, then tail ("" or a WHERE / ORDER BY). */
static struct fc_db_stmt *prepare_nodes(struct fc_store *s, const char *tail)
{
	char sql[sizeof(node_cols_pg) + 64];
	snprintf(sql, sizeof(sql), "%s %s", fc_db_pick(s->db, node_cols, node_cols_pg), tail);
	return fc_db_prepare(s->db, sql, false);
}

cJSON *fc_store_nodes(struct fc_store *s, int64_t now)
{
	struct fc_db_stmt *st = prepare_nodes(s, "ORDER BY name");
	if (!st)
		return NULL;
	cJSON *a = cJSON_CreateArray();
	int rc;
	while ((rc = fc_db_step(st)) == 1)
		cJSON_AddItemToArray(a, node_json(st, now));
	if (rc != 0) {
		cJSON_Delete(a);
		a = NULL;
	}
	fc_db_finalize(st);
	return a;
}

int fc_store_each_alert(struct fc_store *s, void (*fn)(const struct fc_store_alert *a, void *arg), void *arg)
{
	/* the worst severity of each (node, code) first; unreachable nodes
	 * once, with no code */
	static const char sql[] =
		"SELECT n.name, n.state, d.code, d.severity, d.summary, d.remedy FROM nodes n"
		" JOIN diagnoses d ON d.node = n.name WHERE d.severity >= 2 AND n.state = 'ok'"
		" UNION ALL SELECT name, state, NULL, 0, NULL, NULL FROM nodes WHERE state = 'unreachable'"
		" ORDER BY 1, 3, 4 DESC";
	struct fc_db_stmt *st = fc_db_prepare(s->db, sql, false);
	if (!st)
		return -EIO;
	int rc;
	char last[2 * FC_WIRE_KEY_MAX + 2] = "";
	while ((rc = fc_db_step(st)) == 1) {
		struct fc_store_alert a = {
			.node = fc_db_col_text(st, 0),
			.state = fc_db_col_text(st, 1),
			.code = fc_db_col_text(st, 2),
			.severity = (int)fc_db_col_int(st, 3),
			.summary = fc_db_col_text(st, 4),
			.remedy = fc_db_col_text(st, 5),
		};
		char id[sizeof(last)];
		snprintf(id, sizeof(id), "%s\x1f%s", a.node, a.code ? a.code : "");
		if (a.code && strcmp(id, last) == 0)
			continue; /* a less severe key of the same code */
		memcpy(last, id, sizeof(last));
		fn(&a, arg);
	}
	fc_db_finalize(st);
	return rc == 0 ? 0 : -EIO;
}

int fc_store_each_code(struct fc_store *s, void (*fn)(const char *node, const char *code, int severity, void *arg),
		       void *arg)
{
	struct fc_db_stmt *st = fc_db_prepare(
	    s->db, "SELECT node, code, max(severity) FROM diagnoses GROUP BY node, code ORDER BY node, code", false);
	if (!st)
		return -EIO;
	int rc;
	while ((rc = fc_db_step(st)) == 1)
		fn(fc_db_col_text(st, 0), fc_db_col_text(st, 1), (int)fc_db_col_int(st, 2), arg);
	fc_db_finalize(st);
	return rc == 0 ? 0 : -EIO;
}

static void add_col(cJSON *o, const char *name, struct fc_db_stmt *st, int i)
{
	switch (fc_db_col_type(st, i)) {
	case FC_DB_NULL: cJSON_AddNullToObject(o, name); break;
	case FC_DB_INT: cJSON_AddNumberToObject(o, name, (double)fc_db_col_int(st, i)); break;
	default: cJSON_AddStringToObject(o, name, fc_db_col_text(st, i)); break;
	}
}

static void add_json_col(cJSON *o, const char *name, struct fc_db_stmt *st, int i)
{
	const char *t = fc_db_col_text(st, i);
	cJSON *v = t ? cJSON_Parse(t) : NULL;
	cJSON_AddItemToObject(o, name, v ? v : cJSON_CreateArray());
}

cJSON *fc_store_show(struct fc_store *s, const char *node, int history_max, int64_t now, int *rc)
{
	static const char diag_sql[] =
		"SELECT code, severity, key, summary, evidence, remedy, explains, raised_at, changed_at, seq,"
		" component, links FROM diagnoses WHERE node = ?1 ORDER BY severity DESC, code, key";
	static const char hist_sql[] =
		"SELECT at, seq, event, code, key, severity, detail FROM"
		" (SELECT * FROM history WHERE node = ?1 ORDER BY id DESC LIMIT ?2) h ORDER BY id";
	struct fc_db_stmt *st = prepare_nodes(s, "WHERE name = ?1");
	struct fc_db_stmt *d = fc_db_prepare(s->db, diag_sql, false), *h = fc_db_prepare(s->db, hist_sql, false);
	cJSON *o = NULL;
	*rc = -EIO;
	if (!st || !d || !h)
		goto out;
	fc_db_bind_text(st, 1, node);
	int step = fc_db_step(st);
	if (step == 0) {
		*rc = -ENOENT;
		goto out;
	}
	if (step != 1)
		goto out;
	o = node_json(st, now);
	cJSON *diags = cJSON_AddArrayToObject(o, "diagnoses");
	fc_db_bind_text(d, 1, node);
	while ((step = fc_db_step(d)) == 1) {
		cJSON *x = cJSON_CreateObject();
		add_col(x, "code", d, 0);
		cJSON_AddStringToObject(x, "severity", fc_store_severity_name((int)fc_db_col_int(d, 1)));
		add_col(x, "key", d, 2);
		add_col(x, "summary", d, 3);
		add_json_col(x, "evidence", d, 4);
		add_json_col(x, "remedy", d, 5);
		add_json_col(x, "explains", d, 6);
		add_col(x, "raised_at", d, 7);
		add_col(x, "changed_at", d, 8);
		add_col(x, "seq", d, 9);
		add_col(x, "component", d, 10);
		add_json_col(x, "links", d, 11);
		cJSON_AddItemToArray(diags, x);
	}
	if (step != 0)
		goto fail;
	cJSON *hist = cJSON_AddArrayToObject(o, "history");
	fc_db_bind_text(h, 1, node);
	fc_db_bind_int(h, 2, history_max);
	while ((step = fc_db_step(h)) == 1) {
		cJSON *x = cJSON_CreateObject();
		static const char *const cols[] = {"at", "seq", "event", "code", "key", "severity", "detail"};
		for (int i = 0; i < 7; i++)
			add_col(x, cols[i], h, i);
		cJSON_AddItemToArray(hist, x);
	}
	if (step != 0)
		goto fail;
	*rc = 0;
	goto out;
fail:
	cJSON_Delete(o);
	o = NULL;
out:
	fc_db_finalize(st);
	fc_db_finalize(d);
	fc_db_finalize(h);
	return o;
}
