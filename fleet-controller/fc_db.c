#include "fc_db.h"

#include "fc_wire.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef FC_WITH_POSTGRESQL
#include <libpq-fe.h>
#endif

struct fc_db {
	enum fc_db_engine engine;
	char name[PATH_MAX + 64];
	sqlite3 *lite;
#ifdef FC_WITH_POSTGRESQL
	PGconn *pg;
	unsigned prepared; /* persistent statements named so far */
	int64_t changes;
	bool writable;
	/* The connection was lost (the server restarted, the network): each
	 * statement fails at once until a reset, tried with back-off, brings
	 * it back. gen counts the connections: a prepared statement of an
	 * earlier one is prepared again before it runs. */
	bool lost;
	unsigned gen;
	uint64_t retry_at_ms, backoff_ms;
	char listen[64]; /* the channel LISTENed to, again after a reset */
#endif
};

#define MAX_PARAMS 32

struct fc_db_stmt {
	struct fc_db *db;
	sqlite3_stmt *lite;
#ifdef FC_WITH_POSTGRESQL
	char *sql;           /* with $N */
	char name[16];       /* a prepared statement's ("": run with its text) */
	unsigned gen;        /* the connection it was prepared on */
	int nparams;
	Oid types[MAX_PARAMS]; /* 0: PostgreSQL infers it; text for a number not used */
	char *values[MAX_PARAMS];
	PGresult *res;
	int row, nrows; /* the current row, and how many the result has */
#endif
};

bool fc_db_is_postgresql(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0 ||
	       strchr(target, '=') != NULL;
}

enum fc_db_engine fc_db_engine(const struct fc_db *db)
{
	return db->engine;
}

const char *fc_db_name(const struct fc_db *db)
{
	return db->name;
}

const char *fc_db_versions(void)
{
	static char v[96];
#ifdef FC_WITH_POSTGRESQL
	int pq = PQlibVersion();
	snprintf(v, sizeof(v), "SQLite %s, libpq %d.%d", sqlite3_libversion(), pq / 10000, pq % 10000);
#else
	snprintf(v, sizeof(v), "SQLite %s, no PostgreSQL in this build", sqlite3_libversion());
#endif
	return v;
}

/* SQLite ----------------------------------------------------------------------------- */

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *d = dirname(dir);
	struct stat st;
	if (stat(d, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	/* only the last component: a missing /var/lib is not ours to make */
	return mkdir(d, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

static int lite_exec(struct fc_db *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db->lite, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fm_err("store %s: %s: %s", db->name, sql, msg ? msg : sqlite3_errmsg(db->lite));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int lite_open(struct fc_db *db, const char *path, bool writable, char *why, size_t size)
{
	snprintf(db->name, sizeof(db->name), "%s", path);
	int rc;
	if (writable && (rc = mkdir_parent(path)) < 0)
		return fc_why(why, size, rc, "%s: cannot make its directory: %s", path, strerror(-rc));
	if (!writable) {
		struct stat st;
		if (stat(path, &st) < 0)
			return fc_why(why, size, -errno, "%s: %s (has 'serve' run with this --db?)", path,
				      strerror(errno));
	}
	int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &db->lite, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return fc_why(why, size, -EIO, "%s: %s", path, db->lite ? sqlite3_errmsg(db->lite) : "cannot open");
	sqlite3_busy_timeout(db->lite, 2000);
	sqlite3_extended_result_codes(db->lite, 1);
	/* is it a database at all: asked quietly, the reason is why's one line */
	sqlite3_stmt *probe = NULL;
	int step = sqlite3_prepare_v2(db->lite, "PRAGMA user_version", -1, &probe, NULL) == SQLITE_OK
			   ? sqlite3_step(probe)
			   : SQLITE_ERROR;
	sqlite3_finalize(probe);
	if (step != SQLITE_ROW)
		return fc_why(why, size, -EIO, "%s: not an SQLite database (%s)", path, sqlite3_errmsg(db->lite));
	/* WAL: readers (nodes, show) never block the writer. NORMAL: a COMMIT
	 * writes the WAL (the OS's page cache) without an fsync; the WAL is
	 * synced at checkpoints. So a committed transaction survives the
	 * process dying (a crash, kill -9: the next open replays the WAL), but
	 * a power cut or a kernel crash may roll back the last transactions
	 * (never corrupts). An unacknowledged report is resent by its agent;
	 * an acknowledged one lost that way shows as the node's q past the
	 * store's, which asks it for its set (fc_server's resync). */
	if (writable && (lite_exec(db, "PRAGMA journal_mode = WAL") < 0 ||
			 lite_exec(db, "PRAGMA synchronous = NORMAL") < 0 ||
			 lite_exec(db, "PRAGMA foreign_keys = ON") < 0))
		return fc_why(why, size, -EIO, "%s: %s", path, sqlite3_errmsg(db->lite));
	return 0;
}

/* PostgreSQL ------------------------------------------------------------------------- */

#ifdef FC_WITH_POSTGRESQL
static void pg_notice(void *arg, const char *msg)
{
	struct fc_db *db = arg;
	size_t n = strlen(msg);
	fm_debug("store %s: %.*s", db->name, (int)(n && msg[n - 1] == '\n' ? n - 1 : n), msg);
}

/* libpq's message, on one line (it ends in a newline, may hold several). */
static const char *pg_error(const struct fc_db *db, const PGresult *res, char *buf, size_t size)
{
	snprintf(buf, size, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(db->pg));
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : '\0';
	return buf;
}

static bool pg_ok(const PGresult *res)
{
	ExecStatusType t = PQresultStatus(res);
	return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

static bool pg_alive(struct fc_db *db);

/* After a statement failed: whether it failed because the connection is
 * gone (then lost is set, and the failure is said once, here). */
static bool pg_check_lost(struct fc_db *db)
{
	if (db->lost || PQstatus(db->pg) != CONNECTION_BAD)
		return db->lost;
	db->lost = true;
	db->backoff_ms = FC_DB_RETRY_MIN_MS;
	db->retry_at_ms = fm_now_ms() + db->backoff_ms;
	char e[512];
	fm_err("store %s: the connection is lost (%s); every write fails until it is back, tried from %u ms to "
	       "every %u s", db->name, pg_error(db, NULL, e, sizeof(e)), FC_DB_RETRY_MIN_MS, FC_DB_RETRY_MAX_MS / 1000);
	return true;
}

static int pg_exec_quiet(struct fc_db *db, const char *sql, bool quiet)
{
	if (!pg_alive(db))
		return -EIO;
	PGresult *res = PQexec(db->pg, sql);
	int rc = 0;
	if (!res || !pg_ok(res)) {
		char e[512];
		if (!pg_check_lost(db) && !quiet)
			fm_err("store %s: %s: %s", db->name, sql, pg_error(db, res, e, sizeof(e)));
		rc = -EIO;
	}
	PQclear(res);
	return rc;
}

static int pg_exec(struct fc_db *db, const char *sql)
{
	return pg_exec_quiet(db, sql, false);
}

/* What every connection is set to: */
static int pg_setup(struct fc_db *db)
{
	/* every statement's own commit waits for the WAL's flush (the
	 * server's default, said here in case a role or database changed it):
	 * an acknowledged report is on the server's disk */
	if (pg_exec(db, "SET synchronous_commit = on") < 0 || pg_exec(db, "SET client_min_messages = warning") < 0 ||
	    (!db->writable && pg_exec(db, "SET default_transaction_read_only = on") < 0))
		return -EIO;
	if (db->listen[0]) {
		char sql[96];
		snprintf(sql, sizeof(sql), "LISTEN %s", db->listen);
		if (pg_exec(db, sql) < 0)
			return -EIO;
	}
	return 0;
}

/* Whether the connection is there to use: when it was lost, a reset is
 * tried once its back-off has passed (blocking, as every statement is:
 * on a unix socket or loopback a server that is down refuses at once). */
static bool pg_alive(struct fc_db *db)
{
	if (!db->lost)
		return true;
	uint64_t now = fm_now_ms();
	if (now < db->retry_at_ms)
		return false;
	PQreset(db->pg);
	if (PQstatus(db->pg) == CONNECTION_OK) {
		db->lost = false;
		db->gen++;
		if (pg_setup(db) == 0) {
			fm_notice("store %s: the connection is back", db->name);
			return true;
		}
		db->lost = true;
	}
	db->backoff_ms = db->backoff_ms * 2 > FC_DB_RETRY_MAX_MS ? FC_DB_RETRY_MAX_MS : db->backoff_ms * 2;
	db->retry_at_ms = fm_now_ms() + db->backoff_ms;
	return false;
}

static int pg_open(struct fc_db *db, const char *target, bool writable, char *why, size_t size)
{
	/* ours first: what the connection string says overrides them */
	const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *const vals[] = {"10", "fleetmedic-controller", target, NULL};
	snprintf(db->name, sizeof(db->name), "postgresql");
	db->pg = PQconnectdbParams(keys, vals, 1);
	if (!db->pg)
		return fc_why(why, size, -ENOMEM, "postgresql: out of memory");
	if (PQstatus(db->pg) != CONNECTION_OK) {
		char e[512];
		return fc_why(why, size, -EIO, "postgresql: cannot connect: %s", pg_error(db, NULL, e, sizeof(e)));
	}
	const char *host = PQhost(db->pg), *port = PQport(db->pg);
	if (host && *host == '/')
		snprintf(db->name, sizeof(db->name), "postgresql: %s on the socket in %s", PQdb(db->pg), host);
	else
		snprintf(db->name, sizeof(db->name), "postgresql: %s on %s:%s", PQdb(db->pg), host ? host : "?",
			 port ? port : "5432");
	PQsetNoticeProcessor(db->pg, pg_notice, db);
	if (PQserverVersion(db->pg) < 100000)
		return fc_why(why, size, -EPROTO, "%s: server version %d; PostgreSQL 10 or later is needed",
			      db->name, PQserverVersion(db->pg));
	db->writable = writable;
	if (pg_setup(db) < 0)
		return fc_why(why, size, -EIO, "%s: cannot set the session up", db->name);
	if (fc_db_version(db) < 0)
		return fc_why(why, size, -EIO, "%s: cannot read the schema version", db->name);
	return 0;
}

/* ?N -> $N outside quoted text; the numbers used are noted in st. -EINVAL
 * for a bare ? or a number past MAX_PARAMS. */
static int pg_text(struct fc_db_stmt *st, const char *sql)
{
	size_t n = strlen(sql);
	st->sql = malloc(n + 1);
	if (!st->sql)
		return -ENOMEM;
	bool used[MAX_PARAMS + 1] = {false};
	char quote = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = sql[i];
		if (quote) {
			if (c == quote)
				quote = 0;
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '?') {
			int v = 0;
			size_t j = i + 1;
			while (j < n && sql[j] >= '0' && sql[j] <= '9' && v <= MAX_PARAMS)
				v = v * 10 + (sql[j++] - '0');
			if (j == i + 1 || v < 1 || v > MAX_PARAMS)
				return -EINVAL;
			used[v] = true;
			if (v > st->nparams)
				st->nparams = v;
			c = '$';
		}
		st->sql[o++] = c;
	}
	st->sql[o] = '\0';
	for (int i = 1; i <= st->nparams; i++)
		st->types[i - 1] = used[i] ? 0 : 25; /* TEXTOID: a number the text skips */
	return 0;
}

/* Prepares st under its name on the connection there is now. */
static int pg_prepare_named(struct fc_db *db, struct fc_db_stmt *st)
{
	if (!pg_alive(db))
		return -EIO;
	PGresult *res = PQprepare(db->pg, st->name, st->sql, st->nparams, st->types);
	int rc = 0;
	if (!res || !pg_ok(res)) {
		char e[512];
		if (!pg_check_lost(db))
			fm_err("store %s: %s: %s", db->name, st->sql, pg_error(db, res, e, sizeof(e)));
		rc = -EIO;
	}
	PQclear(res);
	st->gen = db->gen;
	return rc;
}

static struct fc_db_stmt *pg_prepare(struct fc_db *db, struct fc_db_stmt *st, const char *sql, bool persistent)
{
	int rc = pg_text(st, sql);
	if (rc < 0) {
		fm_err("store %s: %s: %s", db->name, sql,
		       rc == -ENOMEM ? "out of memory" : "parameters are ?1..?" "32");
		fc_db_finalize(st);
		return NULL;
	}
	/* without parameters (BEGIN, COMMIT, ...): run by its text */
	if (!persistent || st->nparams == 0)
		return st;
	snprintf(st->name, sizeof(st->name), "fc%u", db->prepared++);
	if (pg_prepare_named(db, st) < 0) {
		st->name[0] = '\0';
		fc_db_finalize(st);
		return NULL;
	}
	return st;
}

static int pg_step(struct fc_db_stmt *st)
{
	struct fc_db *db = st->db;
	if (!st->res) {
		if (!pg_alive(db) || (st->name[0] && st->gen != db->gen && pg_prepare_named(db, st) < 0))
			return -EIO;
		const char *const *v = (const char *const *)st->values;
		st->res = st->name[0]	     ? PQexecPrepared(db->pg, st->name, st->nparams, v, NULL, NULL, 0)
			  : st->nparams == 0 ? PQexec(db->pg, st->sql)
					     : PQexecParams(db->pg, st->sql, st->nparams, st->types, v, NULL, NULL, 0);
		if (!st->res || !pg_ok(st->res)) {
			char e[512];
			if (!pg_check_lost(db))
				fm_err("store %s: %s: %s", db->name, st->sql, pg_error(db, st->res, e, sizeof(e)));
			PQclear(st->res);
			st->res = NULL;
			return -EIO;
		}
		const char *cmd = PQcmdStatus(st->res);
		if (strncmp(cmd, "INSERT", 6) == 0 || strncmp(cmd, "UPDATE", 6) == 0 ||
		    strncmp(cmd, "DELETE", 6) == 0)
			db->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
		st->nrows = PQntuples(st->res);
		st->row = -1;
	}
	if (st->row + 1 >= st->nrows) {
		st->row = st->nrows;
		return 0;
	}
	st->row++;
	return 1;
}

static bool pg_has(const struct fc_db_stmt *st, int i)
{
	return st->res && st->row >= 0 && st->row < st->nrows && i >= 0 && i < PQnfields(st->res);
}
#endif

/* Both ------------------------------------------------------------------------------- */

int fc_db_open(const char *target, bool writable, struct fc_db **out, char *why, size_t size)
{
	struct fc_db *db = calloc(1, sizeof(*db));
	if (!db)
		return fc_why(why, size, -ENOMEM, "out of memory");
	int rc;
	if (fc_db_is_postgresql(target)) {
		db->engine = FC_DB_POSTGRESQL;
#ifdef FC_WITH_POSTGRESQL
		rc = pg_open(db, target, writable, why, size);
#else
		rc = fc_why(why, size, -ENOTSUP, "--db names a PostgreSQL database, and this build has no "
						 "PostgreSQL (built without libpq: FC_WITH_POSTGRESQL off)");
#endif
	} else {
		db->engine = FC_DB_SQLITE;
		rc = lite_open(db, target, writable, why, size);
	}
	if (rc < 0) {
		fc_db_close(&db);
		return rc;
	}
	*out = db;
	return 0;
}

void fc_db_close(struct fc_db **pdb)
{
	if (!pdb || !*pdb)
		return;
	struct fc_db *db = *pdb;
	if (db->lite)
		sqlite3_close(db->lite);
#ifdef FC_WITH_POSTGRESQL
	if (db->pg)
		PQfinish(db->pg);
#endif
	free(db);
	*pdb = NULL;
}

int fc_db_exec(struct fc_db *db, const char *sql)
{
#ifdef FC_WITH_POSTGRESQL
	if (db->engine == FC_DB_POSTGRESQL)
		return pg_exec(db, sql);
#endif
	return lite_exec(db, sql);
}

struct fc_db_stmt *fc_db_prepare(struct fc_db *db, const char *sql, bool persistent)
{
	struct fc_db_stmt *st = calloc(1, sizeof(*st));
	if (!st) {
		fm_err("store %s: out of memory", db->name);
		return NULL;
	}
	st->db = db;
#ifdef FC_WITH_POSTGRESQL
	if (db->engine == FC_DB_POSTGRESQL)
		return pg_prepare(db, st, sql, persistent);
#endif
	if (sqlite3_prepare_v3(db->lite, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st->lite, NULL) !=
	    SQLITE_OK) {
		fm_err("store %s: %s: %s", db->name, sql, sqlite3_errmsg(db->lite));
		free(st);
		return NULL;
	}
	return st;
}

void fc_db_finalize(struct fc_db_stmt *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->lite);
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL)
		fc_db_reset(st);
	if (st->name[0] && st->db->pg && PQstatus(st->db->pg) == CONNECTION_OK && st->gen == st->db->gen) {
		char sql[48];
		snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
		PQclear(PQexec(st->db->pg, sql));
	}
	free(st->sql);
#endif
	free(st);
}

void fc_db_bind_text(struct fc_db_stmt *st, int i, const char *v)
{
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL) {
		if (i < 1 || i > st->nparams)
			return;
		free(st->values[i - 1]);
		st->values[i - 1] = v ? strdup(v) : NULL; /* out of memory: NULL */
		return;
	}
#endif
	if (v)
		sqlite3_bind_text(st->lite, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st->lite, i);
}

void fc_db_bind_int(struct fc_db_stmt *st, int i, int64_t v)
{
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL) {
		char t[24];
		snprintf(t, sizeof(t), "%lld", (long long)v);
		fc_db_bind_text(st, i, t);
		return;
	}
#endif
	sqlite3_bind_int64(st->lite, i, v);
}

int fc_db_step(struct fc_db_stmt *st)
{
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL)
		return pg_step(st);
#endif
	int rc = sqlite3_step(st->lite);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	fm_err("store %s: %s: %s", st->db->name, sqlite3_sql(st->lite), sqlite3_errmsg(st->db->lite));
	return -EIO;
}

enum fc_db_type fc_db_col_type(struct fc_db_stmt *st, int i)
{
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL) {
		if (!pg_has(st, i) || PQgetisnull(st->res, st->row, i))
			return FC_DB_NULL;
		Oid t = PQftype(st->res, i);
		return t == 20 || t == 21 || t == 23 ? FC_DB_INT : FC_DB_TEXT; /* int8, int2, int4 */
	}
#endif
	switch (sqlite3_column_type(st->lite, i)) {
	case SQLITE_NULL: return FC_DB_NULL;
	case SQLITE_INTEGER: return FC_DB_INT;
	default: return FC_DB_TEXT;
	}
}

int64_t fc_db_col_int(struct fc_db_stmt *st, int i)
{
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL)
		return pg_has(st, i) && !PQgetisnull(st->res, st->row, i)
			   ? strtoll(PQgetvalue(st->res, st->row, i), NULL, 10)
			   : 0;
#endif
	return sqlite3_column_int64(st->lite, i);
}

const char *fc_db_col_text(struct fc_db_stmt *st, int i)
{
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL)
		return pg_has(st, i) && !PQgetisnull(st->res, st->row, i) ? PQgetvalue(st->res, st->row, i) : NULL;
#endif
	return (const char *)sqlite3_column_text(st->lite, i);
}

void fc_db_reset(struct fc_db_stmt *st)
{
#ifdef FC_WITH_POSTGRESQL
	if (st->db->engine == FC_DB_POSTGRESQL) {
		PQclear(st->res);
		st->res = NULL;
		st->row = st->nrows = 0;
		for (int i = 0; i < st->nparams; i++) {
			free(st->values[i]);
			st->values[i] = NULL;
		}
		return;
	}
#endif
	sqlite3_reset(st->lite);
	sqlite3_clear_bindings(st->lite);
}

int fc_db_run(struct fc_db_stmt *st)
{
	int rc = fc_db_step(st);
	fc_db_reset(st);
	return rc < 0 ? -EIO : 0;
}

int64_t fc_db_changes(struct fc_db *db)
{
#ifdef FC_WITH_POSTGRESQL
	if (db->engine == FC_DB_POSTGRESQL)
		return db->changes;
#endif
	return sqlite3_changes(db->lite);
}

/* One integer from a statement of no parameters; -EIO. */
static int one_int(struct fc_db *db, const char *sql)
{
	struct fc_db_stmt *st = fc_db_prepare(db, sql, false);
	if (!st)
		return -EIO;
	int v = fc_db_step(st) == 1 ? (int)fc_db_col_int(st, 0) : -EIO;
	fc_db_finalize(st);
	return v;
}

int fc_db_version(struct fc_db *db)
{
	if (db->engine == FC_DB_SQLITE)
		return one_int(db, "PRAGMA user_version");
	/* the table is named in a statement only once it exists: PostgreSQL
	 * resolves names before it runs anything */
	int has = one_int(db, "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'fleetmedic_schema'"
			      " AND schemaname = current_schema()");
	if (has <= 0)
		return has;
	return one_int(db, "SELECT coalesce(max(version), 0) FROM fleetmedic_schema");
}

int fc_db_set_version(struct fc_db *db, int version)
{
	char sql[160];
	if (db->engine == FC_DB_SQLITE)
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	else
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE IF NOT EXISTS fleetmedic_schema (version integer NOT NULL);"
			 " DELETE FROM fleetmedic_schema; INSERT INTO fleetmedic_schema VALUES (%d)",
			 version);
	return fc_db_exec(db, sql);
}

int fc_db_socket(struct fc_db *db)
{
#ifdef FC_WITH_POSTGRESQL
	if (db->engine == FC_DB_POSTGRESQL)
		return db->lost ? -1 : PQsocket(db->pg);
#endif
	(void)db;
	return -1;
}

unsigned fc_db_generation(const struct fc_db *db)
{
#ifdef FC_WITH_POSTGRESQL
	return db->gen;
#else
	(void)db;
	return 0;
#endif
}

bool fc_db_lost(struct fc_db *db)
{
#ifdef FC_WITH_POSTGRESQL
	if (db->engine == FC_DB_POSTGRESQL)
		return !pg_alive(db);
#endif
	(void)db;
	return false;
}

int fc_db_listen(struct fc_db *db, const char *channel)
{
#ifdef FC_WITH_POSTGRESQL
	if (db->engine == FC_DB_POSTGRESQL) {
		if (strlen(channel) >= sizeof(db->listen) || strspn(channel, "abcdefghijklmnopqrstuvwxyz_") != strlen(channel))
			return -EINVAL;
		snprintf(db->listen, sizeof(db->listen), "%s", channel);
		char sql[96];
		snprintf(sql, sizeof(sql), "LISTEN %s", channel);
		return pg_exec(db, sql);
	}
#endif
	(void)db;
	(void)channel;
	return -ENOTSUP;
}

int fc_db_notifies(struct fc_db *db, void (*fn)(const char *channel, const char *payload, void *arg), void *arg)
{
#ifdef FC_WITH_POSTGRESQL
	if (db->engine == FC_DB_POSTGRESQL) {
		if (!pg_alive(db))
			return -EIO;
		if (!PQconsumeInput(db->pg)) {
			pg_check_lost(db);
			return -EIO;
		}
		PGnotify *n;
		int count = 0;
		while ((n = PQnotifies(db->pg))) {
			fn(n->relname, n->extra, arg);
			PQfreemem(n);
			count++;
		}
		return count;
	}
#endif
	(void)db;
	(void)fn;
	(void)arg;
	return 0;
}
