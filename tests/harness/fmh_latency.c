#include "fmh_latency.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int fmh_latency_etcd_remember(const struct fmh_etcd *e, struct fmh_latency_etcd *r)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)e->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, r->cmd, sizeof(r->cmd) - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (n <= 0)
		return err ? err : -ESRCH;
	if (n == (ssize_t)sizeof(r->cmd) - 1)
		return -E2BIG;
	r->cmd[n] = '\0';
	size_t k = 0;
	for (ssize_t at = 0; at < n; at += (ssize_t)strlen(r->cmd + at) + 1) {
		if (k == sizeof(r->argv) / sizeof(r->argv[0]) - 1)
			return -E2BIG;
		r->argv[k++] = r->cmd + at;
	}
	r->argv[k] = NULL;
	return 0;
}

int fmh_latency_etcd_respawn(struct fmh_etcd *e, const struct fmh_latency_etcd *r)
{
	char log[PATH_MAX + 32];
	if (e->pid > 0)
		fmh_stop(e->pid);
	snprintf(log, sizeof(log), "%s/etcd-again.log", e->dir);
	e->pid = fmh_spawn(r->argv, log);
	return e->pid < 0 ? (int)e->pid : 0;
}
