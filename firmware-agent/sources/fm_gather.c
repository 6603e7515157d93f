/* fm_gather: sources side by side in child processes (see fm_gather.h). */
#include "fm_gather.h"

#include "fm_kinds.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What one source may send back: its facts as JSON. The largest real set
 * (Docker with many containers and their log tails) is well below this. */
#define GATHER_MAX (4u << 20)

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Runs the job into its own loop and facts; the facts as JSON into fd (-1:
 * into facts directly). */
static void run_job(const struct fm_gather_job *j, int fd, struct fm_facts *into)
{
	struct fm_loop *loop = fm_loop_new();
	struct fm_facts *facts = fd < 0 ? into : fm_facts_new();
	if (loop && facts)
		j->fn(loop, facts, j->arg);
	if (fd >= 0 && facts) {
		cJSON *arr = fm_facts_json(facts, "");
		char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
		if (s)
			write_all(fd, s, strlen(s));
		free(s);
		cJSON_Delete(arr);
		fm_facts_delete(&facts);
	}
	fm_loop_delete(&loop);
}

int fm_gather_start(struct fm_gather_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		jobs[i].pid = 0;
		jobs[i].fd = -1;
		fm_buf_init(&jobs[i].out, GATHER_MAX);
	}
	fflush(NULL); /* nothing buffered is written twice */
	for (size_t i = 0; i < n; i++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			continue; /* run here in fm_gather_finish */
		pid_t pid = fork();
		if (pid < 0) {
			close(p[0]);
			close(p[1]);
			continue;
		}
		if (pid == 0) {
			close(p[0]);
			for (size_t k = 0; k < i; k++)
				if (jobs[k].fd >= 0)
					close(jobs[k].fd);
			run_job(&jobs[i], p[1], NULL);
			_exit(0); /* not exit(): the parent's atexit and stdio are not ours */
		}
		close(p[1]);
		jobs[i].pid = pid;
		jobs[i].fd = p[0];
	}
	return 0;
}

static void incomplete(struct fm_facts *facts, const char *name, const char *why)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "state", "timeout");
	cJSON_AddStringToObject(f, "reason", why);
	fm_facts_put(facts, "check.incomplete", name, f);
}

/* Puts the facts of one finished job's JSON. 0, or -1 when it is not a
 * fact array. */
static int merge(struct fm_facts *facts, const struct fm_buf *b)
{
	cJSON *arr = b->data ? cJSON_ParseWithLength(b->data, b->len) : NULL;
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		return -1;
	}
	cJSON *f;
	while ((f = cJSON_DetachItemFromArray(arr, 0))) {
		cJSON *kind = cJSON_DetachItemFromObjectCaseSensitive(f, "kind");
		cJSON *id = cJSON_DetachItemFromObjectCaseSensitive(f, "id");
		/* a child's JSON: only the kinds a source puts */
		if (cJSON_IsString(kind) && cJSON_IsString(id) && fm_kind_known(kind->valuestring))
			fm_facts_put(facts, kind->valuestring, id->valuestring, f);
		else
			cJSON_Delete(f);
		cJSON_Delete(kind);
		cJSON_Delete(id);
	}
	cJSON_Delete(arr);
	return 0;
}

int fm_gather_finish(struct fm_gather_job *jobs, size_t n, int deadline_ms, struct fm_facts *facts)
{
	uint64_t end = now_ms() + (uint64_t)(deadline_ms > 0 ? deadline_ms : 0);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].pid == 0)
			run_job(&jobs[i], -1, facts);

	struct pollfd pf[16];
	for (;;) {
		size_t m = 0;
		size_t idx[16];
		for (size_t i = 0; i < n && m < 16; i++)
			if (jobs[i].fd >= 0) {
				pf[m] = (struct pollfd){.fd = jobs[i].fd, .events = POLLIN};
				idx[m++] = i;
			}
		if (m == 0)
			break;
		uint64_t t = now_ms();
		if (t >= end)
			break;
		int r = poll(pf, m, (int)(end - t));
		if (r < 0 && errno != EINTR)
			break;
		for (size_t k = 0; r > 0 && k < m; k++) {
			if (!pf[k].revents)
				continue;
			struct fm_gather_job *j = &jobs[idx[k]];
			char buf[16384];
			ssize_t got = read(j->fd, buf, sizeof(buf));
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0 && fm_buf_append(&j->out, buf, (size_t)got) == 0)
				continue;
			close(j->fd); /* end of its facts, an error, or too much */
			j->fd = -2;   /* finished */
		}
	}

	int cut = 0;
	for (size_t i = 0; i < n; i++) {
		struct fm_gather_job *j = &jobs[i];
		if (j->pid <= 0)
			continue;
		if (j->fd >= 0) { /* still running at the deadline */
			kill(j->pid, SIGKILL);
			close(j->fd);
		}
		int st = 0;
		while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
			;
		char why[160];
		if (j->fd >= 0) {
			snprintf(why, sizeof(why), "%s did not finish within %d ms; what it found is left out",
				 j->name, deadline_ms);
			incomplete(facts, j->name, why);
			cut++;
		} else if (merge(facts, &j->out) < 0) {
			snprintf(why, sizeof(why), "%s ended without its facts (%s %d)", j->name,
				 WIFSIGNALED(st) ? "signal" : "exit status",
				 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			incomplete(facts, j->name, why);
			cut++;
		}
		fm_buf_free(&j->out);
		j->pid = 0;
		j->fd = -1;
	}
	return cut;
}
