/* fmh_events: a runtime's own event client, its lines stamped (fmh_events.h). */
#include "fmh_events.h"

#include "fm_harness.h"
#include "fm_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINES	 512
#define LINE_MAX_ 160 /* kept of each line: the start of it */

struct fmh_events {
	pid_t pid;
	int fd;
	pthread_t th;
	pthread_mutex_t mu;
	int n;
	char line[LINES][LINE_MAX_];
	uint64_t at_us[LINES];
};

static void keep(struct fmh_events *e, const char *line, size_t len, uint64_t t)
{
	pthread_mutex_lock(&e->mu);
	if (e->n < LINES) {
		snprintf(e->line[e->n], LINE_MAX_, "%.*s", (int)len, line);
		e->at_us[e->n++] = t;
	}
	pthread_mutex_unlock(&e->mu);
}

static void *reader(void *arg)
{
	struct fmh_events *e = arg;
	char buf[8192];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(e->fd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		uint64_t t = fm_now_us();
		have += (size_t)r;
		char *nl;
		while ((nl = memchr(buf, '\n', have))) {
			keep(e, buf, (size_t)(nl - buf), t);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
		}
		if (have == sizeof(buf)) { /* a line longer than that: its start */
			keep(e, buf, have, t);
			have = 0;
		}
	}
}

struct fmh_events *fmh_events_start(const char *const argv[])
{
	struct fmh_events *e = calloc(1, sizeof(*e));
	int p[2];
	if (!e)
		return NULL;
	pthread_mutex_init(&e->mu, NULL);
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(e);
		return NULL;
	}
	/* fmh_spawn's log path, opened again: the pipe's write end (the
	 * client's stdout and stderr) */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	e->pid = fmh_spawn(argv, path);
	close(p[1]);
	e->fd = p[0];
	if (e->pid < 0 || pthread_create(&e->th, NULL, reader, e) != 0) {
		int err = e->pid < 0 ? -e->pid : EAGAIN;
		if (e->pid > 0)
			fmh_stop(e->pid);
		close(e->fd);
		free(e);
		errno = err;
		return NULL;
	}
	return e;
}

uint64_t fmh_events_seen(struct fmh_events *e, const char *a, const char *b, int timeout_ms)
{
	uint64_t end = fm_now_us() + (uint64_t)timeout_ms * 1000u;
	do {
		pthread_mutex_lock(&e->mu);
		for (int i = 0; i < e->n; i++)
			if (strstr(e->line[i], a) && (!b || strstr(e->line[i], b))) {
				uint64_t t = e->at_us[i];
				pthread_mutex_unlock(&e->mu);
				return t;
			}
		pthread_mutex_unlock(&e->mu);
		usleep(2000);
	} while (fm_now_us() < end);
	return 0;
}

void fmh_events_stop(struct fmh_events **ep)
{
	struct fmh_events *e = ep ? *ep : NULL;
	if (!e)
		return;
	fmh_stop(e->pid);	    /* its group: the pipe's last writer gone */
	pthread_join(e->th, NULL); /* its read ends then */
	close(e->fd);
	pthread_mutex_destroy(&e->mu);
	free(e);
	*ep = NULL;
}
