/* Incident 1's node from real parts: see fmh_incident1.h. */
#include "fmh_incident1.h"

#include "fmh_journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fmh_incident1_start(struct fmh_incident1 *s)
{
	memset(s, 0, sizeof(*s));
	int rc;
	if ((rc = fmh_init()) < 0 || (rc = fmh_tmpdir(s->root, sizeof(s->root))) < 0 || (rc = fmh_pki(s->root)) < 0) {
		fprintf(stderr, "incident 1: cannot make the node's root: %s\n", strerror(-rc));
		return rc;
	}
	if ((rc = fmh_etcd_start(&s->etcd, s->root, NULL)) < 0) {
		fprintf(stderr, "incident 1: cannot start etcd: %s\n", strerror(-rc));
		return rc;
	}
	if ((rc = fmh_docker_start(&s->dk)) < 0) {
		fprintf(stderr, "incident 1: cannot start dockerd: %s\n", strerror(-rc));
		return rc;
	}
	/* The pod as it runs after the restart: attempt 24 and sandbox 17. */
	if ((rc = fmh_docker_run(&s->dk, FMH_I1_APISERVER(24), s->id24, "sleep", "100000", NULL)) < 0 ||
	    (rc = fmh_docker_run(&s->dk, FMH_I1_SANDBOX(17), s->id17, "sleep", "100000", NULL)) < 0)
		return rc;
	return 0;
}

int fmh_incident1_break(struct fmh_incident1 *s)
{
	int rc;
	if ((rc = fmh_docker_run_exited(&s->dk, FMH_I1_APISERVER(23), s->id23, "echo apiserver 23; exit 0")) < 0 ||
	    (rc = fmh_docker_run_exited(&s->dk, FMH_I1_SANDBOX(15), s->id15, "exit 0")) < 0)
		return rc;

	char file[PATH_MAX + 32];
	if ((rc = fmh_tmpdir(s->jdir, sizeof(s->jdir))) < 0)
		return rc;
	snprintf(file, sizeof(file), "%s/remote.journal", s->jdir);
	char *text = fmh_journal_kubelet_text(30, 3, s->id24);
	if (!text)
		return -ENOMEM;
	rc = fmh_journal_append(file, text);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "incident 1: cannot write the journal: %s\n", strerror(-rc));
		return rc;
	}

	int port = fmh_free_port();
	if (port < 0)
		return port;
	snprintf(s->refusing, sizeof(s->refusing), "https://127.0.0.1:%d", port);
	return 0;
}

int fmh_incident1_fix(struct fmh_incident1 *s)
{
	const char *ids[] = {s->id23, s->id15};
	char path[128], out[1024];
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/containers/%s", ids[i]);
		int rc = fmh_docker_api_want(&s->dk, "DELETE", path, 204, out, sizeof(out));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int fmh_incident1_stop(struct fmh_incident1 *s)
{
	return fmh_docker_stop(&s->dk);
}

int fmh_incident1_args(const struct fmh_incident1 *s, const char *jdir, const char *apiserver, const char **argv,
		       int max)
{
	const char *a[] = {"--kmsg", "none", "--journal-dir", jdir, "--docker-host", s->dk.host, "--root",
			   s->root, "--etcd", s->etcd.url, "--apiserver", apiserver};
	int n = (int)(sizeof(a) / sizeof(a[0]));
	if (n + 1 > max)
		return -ENOSPC;
	for (int i = 0; i < n; i++)
		argv[i] = a[i];
	argv[n] = NULL;
	return n;
}
