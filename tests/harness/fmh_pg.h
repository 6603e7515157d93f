/* fmh_pg: a real PostgreSQL for the tests (Debian's postgresql-15, the
 * newest /usr/lib/postgresql/N/bin found): a fresh cluster made by initdb in
 * a harness tmpdir, run as the unprivileged `postgres` account (PostgreSQL
 * refuses root; setpriv execs it, so the pid the harness records is the
 * postmaster's) and reached only through a unix socket in that directory:
 * listen_addresses is empty, no TCP port is opened. */
#ifndef FMH_PG_H
#define FMH_PG_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct fmh_pg {
	pid_t pid;		   /* the postmaster; 0 when stopped */
	int port;		   /* names the socket (.s.PGSQL.<port>) */
	char bin[64];		   /* the server's bin directory */
	char dir[PATH_MAX];	   /* the tmpdir: data/, the socket, postgres.log */
	char log[PATH_MAX + 16];   /* dir/postgres.log */
	char conninfo[PATH_MAX + 96]; /* libpq: the cluster's "postgres" database as its superuser */
};

/* Makes the cluster and starts it; waits (30 s) until it accepts
 * connections. 0, or -ENOENT (no PostgreSQL server installed, or no
 * `postgres` account: toolchains/host-packages.sh installs both), or
 * -errno with the log's tail printed. Stopped by cleanup if not before. */
int fmh_pg_start(struct fmh_pg *p);

/* A new empty database named name; conninfo (size bytes) gets the libpq
 * string that reaches it. 0 or -EIO (psql's output printed). */
int fmh_pg_createdb(struct fmh_pg *p, const char *name, char *conninfo, size_t size);

/* Fast shutdown (SIGINT: sessions are ended, what they committed stays),
 * waited for up to 30 s, then SIGKILL. 0 or -ESRCH when not running. */
int fmh_pg_stop(struct fmh_pg *p);

/* Starts the stopped cluster again on the same directory and socket. */
int fmh_pg_restart(struct fmh_pg *p);

#endif
