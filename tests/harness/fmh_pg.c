#include "fmh_pg.h"

#include "fm_harness.h"

#include <errno.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The newest server's bin directory; -ENOENT when none is installed. */
static int bindir(char *out, size_t size)
{
	glob_t g;
	int best = -1;
	if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) != 0)
		return -ENOENT;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		int v = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));
		if (v > best) {
			best = v;
			snprintf(out, size, "/usr/lib/postgresql/%d/bin", v);
		}
	}
	globfree(&g);
	return best < 0 ? -ENOENT : 0;
}

static int spawn(struct fmh_pg *p)
{
	char postgres[96], data[PATH_MAX + 8], port[16];
	snprintf(postgres, sizeof(postgres), "%s/postgres", p->bin);
	snprintf(data, sizeof(data), "%s/data", p->dir);
	snprintf(port, sizeof(port), "%d", p->port);
	const char *argv[] = {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
			      postgres, "-D", data, "-k", p->dir, "-p", port, "-c", "listen_addresses=",
			      NULL};
	/* a fresh log a start, so the wait below sees this start's line */
	unlink(p->log);
	p->pid = fmh_spawn(argv, p->log);
	if (p->pid < 0) {
		int rc = (int)p->pid;
		p->pid = 0;
		return rc;
	}
	int rc = fmh_wait_log_pid(p->log, "database system is ready to accept connections", p->pid, 30000);
	if (rc < 0) {
		fmh_print_log_tail("PostgreSQL did not start", p->log, rc);
		fmh_stop(p->pid);
		p->pid = 0;
	}
	return rc;
}

int fmh_pg_start(struct fmh_pg *p)
{
	memset(p, 0, sizeof(*p));
	struct passwd *pw = getpwnam("postgres");
	if (bindir(p->bin, sizeof(p->bin)) < 0 || !pw) {
		fprintf(stderr, "fmh_pg: no PostgreSQL server (/usr/lib/postgresql/*/bin/postgres) or no "
				"`postgres` account: toolchains/host-packages.sh installs postgresql-15\n");
		return -ENOENT;
	}
	int rc = fmh_tmpdir(p->dir, sizeof(p->dir));
	if (rc < 0)
		return rc;
	if (chown(p->dir, pw->pw_uid, pw->pw_gid) < 0)
		return -errno;
	snprintf(p->log, sizeof(p->log), "%s/postgres.log", p->dir);
	p->port = fmh_free_port();
	if (p->port < 0)
		return p->port;
	char initdb[96], data[PATH_MAX + 8], out[4096];
	snprintf(initdb, sizeof(initdb), "%s/initdb", p->bin);
	snprintf(data, sizeof(data), "%s/data", p->dir);
	/* --no-sync: a test's cluster need not survive the machine; the
	 * server itself still fsyncs as in production (fsync stays on) */
	const char *argv[] = {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
			      initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
			      "--no-sync", "--no-instructions", NULL};
	int status = -1;
	rc = fmh_run(argv, out, sizeof(out), &status, 120000);
	if (rc < 0 || status != 0) {
		fprintf(stderr, "fmh_pg: initdb failed (%d, exit %d):\n%s\n", rc, status, out);
		return rc < 0 ? rc : -EIO;
	}
	snprintf(p->conninfo, sizeof(p->conninfo), "host=%s port=%d user=postgres dbname=postgres", p->dir,
		 p->port);
	return spawn(p);
}

int fmh_pg_createdb(struct fmh_pg *p, const char *name, char *conninfo, size_t size)
{
	char sql[160], out[2048];
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
	const char *argv[] = {"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", p->conninfo, "-c", sql, NULL};
	int status = -1;
	int rc = fmh_run(argv, out, sizeof(out), &status, 30000);
	if (rc < 0 || status != 0) {
		fprintf(stderr, "fmh_pg: %s failed (%d, exit %d):\n%s\n", sql, rc, status, out);
		return -EIO;
	}
	snprintf(conninfo, size, "host=%s port=%d user=postgres dbname=%s", p->dir, p->port, name);
	return 0;
}

int fmh_pg_stop(struct fmh_pg *p)
{
	if (p->pid <= 0)
		return -ESRCH;
	kill(p->pid, SIGINT);
	fmh_wait_exit(p->pid, 30000);
	fmh_stop(p->pid); /* reaps it, or kills what is left */
	p->pid = 0;
	return 0;
}

int fmh_pg_restart(struct fmh_pg *p)
{
	if (p->pid > 0)
		return -EBUSY;
	return spawn(p);
}
