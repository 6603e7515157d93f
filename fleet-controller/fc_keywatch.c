#include "fc_keywatch.h"

#include "fc_keys.h"
#include "fc_server.h"
#include "fm_buf.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct fc_keywatch {
	char path[PATH_MAX];
	const char *base; /* in path */
	struct fc_keys *keys;
	struct fc_server *server;
	struct fm_event ino;
	struct fm_signal hup;
	char last_error[512]; /* the refusal logged last ("" after a load) */
};

void fc_keywatch_reload(struct fc_keywatch *w, const char *cause)
{
	struct fm_buf errs;
	struct fc_keys *k = NULL;
	fm_buf_init(&errs, 4096);
	if (fc_keys_load(w->path, &k, &errs) < 0) {
		/* the first complaint stands for the rest */
		char line[sizeof(w->last_error)];
		const char *t = errs.data ? errs.data : "cannot be read";
		size_t n = strcspn(t, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)n, t);
		if (strcmp(line, w->last_error) != 0) {
			fm_err("keys (%s): %s; the keys in use stay", cause, line);
			snprintf(w->last_error, sizeof(w->last_error), "%s", line);
		} else {
			fm_info("keys (%s): the file still does not load (said above)", cause);
		}
		fm_buf_free(&errs);
		return;
	}
	fm_buf_free(&errs);
	w->last_error[0] = '\0';
	fc_keys_carry_notes(k, w->keys);
	size_t before = fc_keys_count(w->keys);
	int closed = fc_server_set_keys(w->server, k);
	fc_keys_delete(&w->keys);
	w->keys = k;
	fm_notice("keys (%s): %s reloaded: %zu node keys (were %zu), %d session%s closed", cause, w->path,
		  fc_keys_count(k), before, closed, closed == 1 ? "" : "s");
}

static void on_hup(struct fm_signal *sig, int signo)
{
	(void)signo;
	fc_keywatch_reload(container_of(sig, struct fc_keywatch, hup), "SIGHUP");
}

static void on_inotify(struct fm_event *ev, uint32_t events)
{
	(void)events;
	struct fc_keywatch *w = container_of(ev, struct fc_keywatch, ino);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool ours = false;
	for (;;) {
		ssize_t n = read(ev->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ie = (const struct inotify_event *)p;
			/* the queue overflowed: whatever happened, read it */
			if ((ie->mask & IN_Q_OVERFLOW) || (ie->len && strcmp(ie->name, w->base) == 0))
				ours = true;
			p += sizeof(*ie) + ie->len;
		}
	}
	if (ours)
		fc_keywatch_reload(w, "the file changed");
}

struct fc_keywatch *fc_keywatch_new(struct fm_loop *loop, const char *path, struct fc_keys *keys,
				    struct fc_server *server, char *why, size_t size)
{
	struct fc_keywatch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	w->ino = (struct fm_event)FM_EVENT_INIT;
	w->hup = (struct fm_signal){.ev = FM_EVENT_INIT};
	w->server = server;
	if ((size_t)snprintf(w->path, sizeof(w->path), "%s", path) >= sizeof(w->path)) {
		snprintf(why, size, "--keys: path too long");
		goto fail;
	}
	char dir[PATH_MAX];
	w->base = fc_keys_dir(w->path, dir, sizeof(dir));
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		snprintf(why, size, "--keys: inotify: %s", strerror(errno));
		goto fail;
	}
	/* the directory: a rename over the file replaces its inode */
	if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
					   IN_ATTRIB) < 0) {
		snprintf(why, size, "--keys: cannot watch %s: %s", dir, strerror(errno));
		close(fd);
		goto fail;
	}
	int rc = fm_loop_add(loop, &w->ino, fd, EPOLLIN, on_inotify);
	if (rc < 0) {
		close(fd);
		snprintf(why, size, "--keys: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = fm_signal_init(loop, &w->hup, SIGHUP, on_hup)) < 0) {
		snprintf(why, size, "SIGHUP: %s", strerror(-rc));
		goto fail;
	}
	w->keys = keys;
	return w;
fail:
	fc_keywatch_delete(&w);
	return NULL;
}

void fc_keywatch_delete(struct fc_keywatch **pw)
{
	if (!pw || !*pw)
		return;
	struct fc_keywatch *w = *pw;
	fm_signal_close(&w->hup);
	if (w->ino.fd >= 0) {
		int fd = w->ino.fd;
		fm_loop_del(&w->ino);
		close(fd);
	}
	fc_keys_delete(&w->keys);
	free(w);
	*pw = NULL;
}
