#include "fm_loop.h"

#include "fm_log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* One epoll_wait returns at most this many events; the rest stay ready in the
 * kernel (level-triggered) and come with the next call. */
#define BATCH_MAX 32

/* A callback taking longer than this starves every other source: say so. */
#define SLOW_CALLBACK_US 50000u

/* The events of one epoll_wait that are being dispatched. fm_loop_del and
 * fm_loop_mod look here so that an event removed by an earlier callback of the
 * same batch is not called with a pointer that may already be freed. There
 * is one at a time: the loop is never run from inside a callback. */
struct batch {
	struct epoll_event *evs;
	int n;
};

struct fm_loop {
	int epfd;
	bool stop;
	uint64_t max_dispatch_us;
	unsigned registered; /* only to complain about leaks at fm_loop_delete */
	struct batch *batch; /* NULL outside fm_loop_run_once */
	fm_loop_hook_fn before_sleep;
	void *before_sleep_arg;
};

void fm_loop_before_sleep(struct fm_loop *loop, fm_loop_hook_fn fn, void *arg)
{
	loop->before_sleep = fn;
	loop->before_sleep_arg = arg;
}

uint64_t fm_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t fm_now_ms(void)
{
	return fm_now_us() / 1000u;
}

struct fm_loop *fm_loop_new(void)
{
	struct fm_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = errno;
		free(loop);
		errno = err;
		return NULL;
	}
	return loop;
}

void fm_loop_delete(struct fm_loop **loop)
{
	if (!loop || !*loop)
		return;
	/* The events keep a pointer to the loop; one left registered would
	 * make its owner's later fm_loop_del a use after free. */
	if ((*loop)->registered)
		fm_warn("loop: deleted with %u events still registered", (*loop)->registered);
	if ((*loop)->epfd >= 0)
		close((*loop)->epfd);
	free(*loop);
	*loop = NULL;
}

int fm_loop_add(struct fm_loop *loop, struct fm_event *ev, int fd, uint32_t events, fm_event_fn fn)
{
	if (!loop || !ev || fd < 0 || !fn)
		return -EINVAL;
	/* ev->loop tells a registered event from one merely zeroed (fd 0). */
	if (ev->loop && ev->fd >= 0)
		return -EBUSY;
	struct epoll_event ee = {.events = events, .data.ptr = ev};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return -errno;
	ev->fd = fd;
	ev->events = events;
	ev->fn = fn;
	ev->loop = loop;
	loop->registered++;
	return 0;
}

/* Narrows what ev is still to be called with in the batches being dispatched
 * to keep (0: not at all). */
static void forget_pending(struct fm_loop *loop, const struct fm_event *ev, uint32_t keep)
{
	struct batch *b = loop->batch;
	for (int i = 0; b && i < b->n; i++) {
		if (b->evs[i].data.ptr != ev)
			continue;
		b->evs[i].events &= keep;
		if (!b->evs[i].events)
			b->evs[i].data.ptr = NULL;
	}
}

int fm_loop_mod(struct fm_event *ev, uint32_t events)
{
	if (!ev || ev->fd < 0 || !ev->loop)
		return -ENOENT;
	struct epoll_event ee = {.events = events, .data.ptr = ev};
	if (epoll_ctl(ev->loop->epfd, EPOLL_CTL_MOD, ev->fd, &ee) < 0)
		return -errno;
	ev->events = events;
	/* A callback that just dropped EPOLLOUT must not be handed a stale
	 * EPOLLOUT from this batch; errors and hang-ups are always reported,
	 * as epoll does. */
	forget_pending(ev->loop, ev, events | EPOLLERR | EPOLLHUP);
	return 0;
}

void fm_loop_del(struct fm_event *ev)
{
	if (!ev || ev->fd < 0 || !ev->loop)
		return;
	struct fm_loop *loop = ev->loop;
	/* Fails only if the owner closed the fd first, which already removed
	 * it from the epoll set: nothing left to undo. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, ev->fd, NULL);
	forget_pending(loop, ev, 0);
	loop->registered--;
	ev->fd = -1;
	ev->events = 0;
	ev->loop = NULL;
}

int fm_loop_run_once(struct fm_loop *loop, int timeout_ms)
{
	struct epoll_event evs[BATCH_MAX];
	/* A callback that runs the loop blocks every other source for as long
	 * as it waits, and re-enters code that is not done with its own state
	 * (issue 21): refused. The blocking conveniences (fm_httpc_fetch) are
	 * for one-shot commands, outside any callback. */
	if (fm_loop_dispatching(loop)) {
		fm_err("loop: run from inside a callback: refused (a bug: the caller must wait on events instead)");
		return -EDEADLK;
	}
	/* What the last pass changed is dealt with once, before waiting. */
	if (loop->before_sleep && !loop->stop)
		loop->before_sleep(loop->before_sleep_arg);
	int n = epoll_wait(loop->epfd, evs, BATCH_MAX, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;

	struct batch b = {.evs = evs, .n = n};
	loop->batch = &b;
	int ran = 0;
	for (int i = 0; i < n; i++) {
		struct fm_event *ev = evs[i].data.ptr;
		if (!ev)
			continue; /* removed by an earlier callback */
		/* Consumed: a del from inside the callback has nothing to clear. */
		evs[i].data.ptr = NULL;
		fm_event_fn fn = ev->fn;
		uint64_t start = fm_now_us();
		fn(ev, evs[i].events);
		uint64_t took = fm_now_us() - start;
		if (took > loop->max_dispatch_us)
			loop->max_dispatch_us = took;
		if (took > SLOW_CALLBACK_US)
			fm_warn("loop: a callback blocked for %llu ms",
				(unsigned long long)(took / 1000u));
		ran++;
	}
	loop->batch = NULL;
	return ran;
}

int fm_loop_run(struct fm_loop *loop)
{
	while (!loop->stop) {
		int r = fm_loop_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

int fm_loop_run_until(struct fm_loop *loop, const bool *done)
{
	while (!*done) {
		if (loop->stop)
			return -ECANCELED;
		int r = fm_loop_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

bool fm_loop_dispatching(const struct fm_loop *loop)
{
	return loop->batch != NULL;
}

void fm_loop_stop(struct fm_loop *loop)
{
	loop->stop = true;
}

bool fm_loop_stopped(const struct fm_loop *loop)
{
	return loop->stop;
}

uint64_t fm_loop_max_dispatch_us(const struct fm_loop *loop)
{
	return loop->max_dispatch_us;
}

/* Timers ------------------------------------------------------------------- */

static void timer_ready(struct fm_event *ev, uint32_t events)
{
	(void)events;
	struct fm_timer *t = container_of(ev, struct fm_timer, ev);
	uint64_t n;
	ssize_t r = read(ev->fd, &n, sizeof(n));
	/* EAGAIN: re-armed or disarmed since epoll_wait saw it readable, which
	 * resets the count. That expiry no longer exists: do not report it. */
	if (r != (ssize_t)sizeof(n)) {
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			fm_warn("loop: timerfd read: %s", strerror(errno));
		return;
	}
	t->expirations = n;
	t->fn(t);
}

int fm_timer_init(struct fm_loop *loop, struct fm_timer *t, fm_timer_fn fn)
{
	if (!loop || !t || !fn)
		return -EINVAL;
	t->ev = (struct fm_event)FM_EVENT_INIT;
	t->fn = fn;
	t->expirations = 0;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fm_loop_add(loop, &t->ev, fd, EPOLLIN, timer_ready);
	if (r < 0) {
		close(fd);
		return r;
	}
	return 0;
}

static struct timespec ms_to_ts(uint64_t ms)
{
	/* time_t is 32 bits on older ARM userlands: clamp rather than wrap
	 * into the past (68 years is "never" for us). */
	const uint64_t max_ms = (uint64_t)INT32_MAX * 1000u;
	if (ms > max_ms)
		ms = max_ms;
	return (struct timespec){.tv_sec = (time_t)(ms / 1000u),
				 .tv_nsec = (long)(ms % 1000u) * 1000000L};
}

static int timer_set(struct fm_timer *t, const struct itimerspec *its)
{
	if (!t || t->ev.fd < 0 || !t->ev.loop)
		return -EBADF;
	if (timerfd_settime(t->ev.fd, 0, its, NULL) < 0)
		return -errno;
	return 0;
}

int fm_timer_arm(struct fm_timer *t, uint64_t first_ms, uint64_t interval_ms)
{
	/* An all-zero it_value would disarm the timer instead. */
	if (first_ms == 0)
		first_ms = 1;
	struct itimerspec its = {.it_value = ms_to_ts(first_ms),
				 .it_interval = ms_to_ts(interval_ms)};
	return timer_set(t, &its);
}

int fm_timer_disarm(struct fm_timer *t)
{
	struct itimerspec its = {0};
	return timer_set(t, &its);
}

bool fm_timer_armed(const struct fm_timer *t)
{
	struct itimerspec its;
	if (!t || t->ev.fd < 0 || !t->ev.loop)
		return false;
	if (timerfd_gettime(t->ev.fd, &its) < 0)
		return false;
	if (its.it_value.tv_sec || its.it_value.tv_nsec)
		return true;
	/* A one-shot that expired reads as disarmed, but its callback has not
	 * run while the fd is still readable. Calling that "not armed" made
	 * "arm unless armed" re-arm it, which drops the expiry: under a steady
	 * stream of changes (a journal flood) the agent's 20 ms debounce was
	 * pushed back for good and nothing was evaluated between collections. */
	struct pollfd p = {.fd = t->ev.fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void fm_timer_close(struct fm_timer *t)
{
	/* ev.loop is set only between init and close: a zeroed timer (fd 0)
	 * must not close stdin. */
	if (!t || t->ev.fd < 0 || !t->ev.loop)
		return;
	int fd = t->ev.fd;
	fm_loop_del(&t->ev);
	close(fd);
}

/* Signals ------------------------------------------------------------------- */

static void signal_ready(struct fm_event *ev, uint32_t events)
{
	(void)events;
	struct fm_signal *s = container_of(ev, struct fm_signal, ev);
	struct signalfd_siginfo si[4];
	bool got = false;
	/* Drain before calling: the callback may close or free s. A standard
	 * signal pending twice (for the thread and for the process) is still
	 * one signal to us, so the callback runs once. */
	for (;;) {
		ssize_t r = read(ev->fd, si, sizeof(si));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				fm_warn("loop: signalfd read: %s", strerror(errno));
			break;
		}
		if (r < (ssize_t)sizeof(si[0]))
			break;
		got = true;
	}
	if (got)
		s->fn(s, s->signo);
}

int fm_signal_init(struct fm_loop *loop, struct fm_signal *s, int signo, fm_signal_fn fn)
{
	if (!loop || !s || !fn)
		return -EINVAL;
	s->ev = (struct fm_event)FM_EVENT_INIT;
	s->fn = fn;
	s->signo = signo;
	sigset_t set;
	sigemptyset(&set);
	if (sigaddset(&set, signo) < 0)
		return -errno;
	/* Blocked first, or a signal arriving before signalfd would take its
	 * default action (for SIGTERM: end the agent without cleanup). */
	int r = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (r)
		return -r;
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out_unblock;
	}
	r = fm_loop_add(loop, &s->ev, fd, EPOLLIN, signal_ready);
	if (r < 0)
		goto out_close_fd;
	return 0;

out_close_fd:
	close(fd);
out_unblock:
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return r;
}

void fm_signal_close(struct fm_signal *s)
{
	if (!s || s->ev.fd < 0 || !s->ev.loop)
		return;
	int fd = s->ev.fd;
	fm_loop_del(&s->ev);
	close(fd);
	/* A signal still pending now gets its normal disposition: at shutdown
	 * that is what a late SIGTERM should do. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, s->signo);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
