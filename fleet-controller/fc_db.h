/* fc_db: the SQL fc_store speaks, over SQLite (a file) or PostgreSQL
 * (libpq), so the store's logic is written once for both.
 *
 * Statements are written once: parameters as ?1..?N (PostgreSQL gets $1..$N
 * made from them, outside quoted text), and SQL both engines run (upserts
 * as INSERT .. ON CONFLICT, RETURNING, savepoints). Where the engines must
 * differ (BEGIN IMMEDIATE, a row lock, a JSON aggregate), the caller gives
 * each its text: fc_db_pick.
 *
 * A statement runs when first stepped, with the values bound since the last
 * reset; an unbound parameter is NULL. fc_db_step gives one row at a time
 * (PostgreSQL's result is fetched whole on the first step). Text of a
 * column is valid until the next step or reset of that statement. One
 * connection, used from one thread.
 */
#ifndef FC_DB_H
#define FC_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_db;
struct fc_db_stmt;

enum fc_db_engine { FC_DB_SQLITE, FC_DB_POSTGRESQL };
enum fc_db_type { FC_DB_NULL, FC_DB_INT, FC_DB_TEXT };

/* Whether target names a PostgreSQL database rather than an SQLite file: a
 * postgresql:// or postgres:// URI, or a libpq key=value connection string
 * (it has a '='; a file name given to --db never needs one). */
bool fc_db_is_postgresql(const char *target);

/* Opens target (fc_db_is_postgresql decides the engine). SQLite: writable
 * creates the file and its directory (0700) when missing, read-only needs
 * the file. PostgreSQL: the database must exist; the password comes the ways
 * libpq takes one (PGPASSWORD, a password file, the string itself). 0 with
 * *out set, or -errno with why filled (one line, never the password). */
int fc_db_open(const char *target, bool writable, struct fc_db **out, char *why, size_t why_size);
void fc_db_close(struct fc_db **db);

enum fc_db_engine fc_db_engine(const struct fc_db *db);
/* What messages call the store: the file's path, or "postgresql:
 * DBNAME on HOST" (from the connection, so no password). */
const char *fc_db_name(const struct fc_db *db);
/* The text of a statement for db's engine: sqlite's or postgresql's. */
static inline const char *fc_db_pick(const struct fc_db *db, const char *sqlite, const char *postgresql)
{
	return fc_db_engine(db) == FC_DB_POSTGRESQL && postgresql ? postgresql : sqlite;
}

/* Runs sql (no parameters; several statements separated by ';'). 0 or
 * -EIO (logged). */
int fc_db_exec(struct fc_db *db, const char *sql);

/* A statement, prepared once (persistent: kept for the connection's life;
 * otherwise used once or a few times and finalised). NULL with the reason
 * logged. */
struct fc_db_stmt *fc_db_prepare(struct fc_db *db, const char *sql, bool persistent);
void fc_db_finalize(struct fc_db_stmt *st);

/* Parameter i (1-based). NULL text binds NULL. Text is copied. */
void fc_db_bind_text(struct fc_db_stmt *st, int i, const char *v);
void fc_db_bind_int(struct fc_db_stmt *st, int i, int64_t v);

/* 1: a row is there to read; 0: no more rows (the statement is done);
 * -EIO: it failed (logged with the statement). */
int fc_db_step(struct fc_db_stmt *st);
/* Column i (0-based) of the current row. Text of NULL is NULL; an integer
 * of NULL is 0. */
enum fc_db_type fc_db_col_type(struct fc_db_stmt *st, int i);
int64_t fc_db_col_int(struct fc_db_stmt *st, int i);
const char *fc_db_col_text(struct fc_db_stmt *st, int i);
/* Ends the run: rows not read are dropped, every parameter is NULL again. */
void fc_db_reset(struct fc_db_stmt *st);
/* Steps st once, ignoring any row, and resets it: 0 or -EIO. */
int fc_db_run(struct fc_db_stmt *st);

/* Rows the last INSERT, UPDATE or DELETE run on db changed. */
int64_t fc_db_changes(struct fc_db *db);

/* The schema version the database holds (0: none yet), or -EIO: SQLite's
 * user_version; PostgreSQL's table fleetmedic_schema (one row). Setting it
 * is part of the caller's transaction. */
int fc_db_version(struct fc_db *db);
int fc_db_set_version(struct fc_db *db, int version);

/* PostgreSQL: a connection lost (the server restarted) makes every
 * statement fail at once (-EIO, said once in the log) until it is back: a
 * reset is tried when a statement is to run, first FC_DB_RETRY_MIN_MS after
 * the loss, the wait doubling to FC_DB_RETRY_MAX_MS. The statements
 * prepared on the old connection are prepared again, the channel listened
 * to is listened to again. What the lost connection had not committed is
 * gone: its writer is told -EIO and has acknowledged nothing. */
#define FC_DB_RETRY_MIN_MS 100
#define FC_DB_RETRY_MAX_MS 5000
/* Whether the connection is lost now (a reset is tried first when due);
 * false for SQLite. */
bool fc_db_lost(struct fc_db *db);

/* Notifications (PostgreSQL's LISTEN/NOTIFY; -ENOTSUP for SQLite). Listens
 * to channel (lower-case letters and '_'; again after a reset). The
 * connection's socket (-1: none, or lost) to wait on for them; then
 * fc_db_notifies reads what arrived and calls fn for each (those that came
 * in while other statements ran are among them): how many, or -EIO. */
int fc_db_listen(struct fc_db *db, const char *channel);
int fc_db_socket(struct fc_db *db);
/* Counts the connections: it changes when a lost one is back (its socket
 * is a new one). */
unsigned fc_db_generation(const struct fc_db *db);
int fc_db_notifies(struct fc_db *db, void (*fn)(const char *channel, const char *payload, void *arg), void *arg);

/* The libraries behind it, for --version: "SQLite 3.40.1, libpq 15.8". */
const char *fc_db_versions(void);

#endif
