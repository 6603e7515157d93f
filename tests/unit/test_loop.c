/* Unit tests for fm_loop: events, removal during a batch, timers, signals.
 *
 * Nothing here sleeps to wait for something: a test waits on the event with a
 * deadline (run_until), or, where an event must NOT happen, runs the loop
 * until a later sentinel timer has fired.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DEADLINE_MS 2000

/* A test event on its own eventfd. */
struct tev {
	struct fm_event ev;
	int fd;
	int calls;
	uint32_t last;
	bool drain;	   /* read the eventfd when called */
	struct tev *other; /* what the callback acts on, per test */
};

static int make_ready_eventfd(void)
{
	int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void tev_open(struct tev *t, bool ready)
{
	*t = (struct tev){.ev = FM_EVENT_INIT};
	t->fd = eventfd(ready ? 1 : 0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(t->fd >= 0);
}

static void tev_close(struct tev *t)
{
	fm_loop_del(&t->ev);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static void note_call(struct tev *t, uint32_t events)
{
	t->calls++;
	t->last = events;
	if (t->drain) {
		uint64_t v;
		assert_int_equal(read(t->fd, &v, sizeof(v)), sizeof(v));
	}
}

static void on_plain(struct fm_event *ev, uint32_t events)
{
	note_call(container_of(ev, struct tev, ev), events);
}

/* Runs the loop until *done or the deadline; fails the test on the deadline. */
static void run_until(struct fm_loop *loop, const bool *done)
{
	uint64_t end = fm_now_ms() + DEADLINE_MS;
	while (!*done) {
		uint64_t now = fm_now_ms();
		assert_true(now < end);
		assert_true(fm_loop_run_once(loop, (int)(end - now)) >= 0);
	}
}

/* Spins (no sleep) until ms of CLOCK_MONOTONIC have passed. */
static void busy_wait_ms(uint64_t ms)
{
	uint64_t end = fm_now_ms() + ms;
	while (fm_now_ms() < end)
		;
}

/* Waits, with a deadline, until fd is readable without dispatching it. */
static void wait_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
}

static int setup(void **state)
{
	struct fm_loop *loop = fm_loop_new();
	if (!loop)
		return -1;
	*state = loop;
	return 0;
}

static int teardown(void **state)
{
	struct fm_loop *loop = *state;
	fm_loop_delete(&loop);
	return loop == NULL ? 0 : -1;
}

/* Events ------------------------------------------------------------------ */

static void test_new_delete(void **state)
{
	(void)state;
	struct fm_loop *loop = fm_loop_new();
	assert_non_null(loop);
	assert_false(fm_loop_stopped(loop));
	assert_int_equal(fm_loop_max_dispatch_us(loop), 0);
	fm_loop_delete(&loop);
	assert_null(loop);
	fm_loop_delete(&loop);
	fm_loop_delete(NULL);
}

static void test_event_fires_on_eventfd(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a;
	tev_open(&a, true);
	a.drain = true;
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_plain), 0);
	assert_int_equal(a.ev.fd, a.fd);
	assert_int_equal(a.ev.events, EPOLLIN);
	assert_ptr_equal(a.ev.loop, loop);

	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls, 1);
	assert_true(a.last & EPOLLIN);
	/* Drained: nothing more to do. */
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	assert_int_equal(a.calls, 1);
	tev_close(&a);
}

/* The before-sleep hook (issue 21): once per pass, before the wait, after
 * however many callbacks the last pass ran; what it sees is everything
 * they did. */
struct sleep_count {
	int hooks;
	int calls_seen; /* the callbacks' count when the hook last ran */
	struct tev *t[3];
};

static void on_sleep(void *arg)
{
	struct sleep_count *c = arg;
	c->hooks++;
	c->calls_seen = c->t[0]->calls + c->t[1]->calls + c->t[2]->calls;
}

static void test_before_sleep_once_per_pass(void **state)
{
	struct fm_loop *loop = *state;
	struct tev t[3];
	struct sleep_count c = {.t = {&t[0], &t[1], &t[2]}};
	for (int i = 0; i < 3; i++) {
		tev_open(&t[i], true);
		t[i].drain = true;
		assert_int_equal(fm_loop_add(loop, &t[i].ev, t[i].fd, EPOLLIN, on_plain), 0);
	}
	fm_loop_before_sleep(loop, on_sleep, &c);
	/* first pass: the hook before the wait (nothing run yet), then all
	 * three callbacks in one batch */
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 3);
	assert_int_equal(c.hooks, 1);
	assert_int_equal(c.calls_seen, 0);
	/* next pass: the hook once, seeing the three */
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	assert_int_equal(c.hooks, 2);
	assert_int_equal(c.calls_seen, 3);
	fm_loop_before_sleep(loop, NULL, NULL);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	assert_int_equal(c.hooks, 2);
	for (int i = 0; i < 3; i++)
		tev_close(&t[i]);
}

static void test_event_fires_on_pipe(void **state)
{
	struct fm_loop *loop = *state;
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	struct tev r = {.ev = FM_EVENT_INIT, .fd = p[0]};
	assert_int_equal(fm_loop_add(loop, &r.ev, p[0], EPOLLIN, on_plain), 0);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(r.calls, 1);
	assert_true(r.last & EPOLLIN);

	/* The writer goes away: the reader is told (EPOLLHUP). */
	close(p[1]);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_true(r.last & EPOLLHUP);
	tev_close(&r);
}

static void test_epollout(void **state)
{
	struct fm_loop *loop = *state;
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	struct tev w = {.ev = FM_EVENT_INIT, .fd = p[1]};
	assert_int_equal(fm_loop_add(loop, &w.ev, p[1], EPOLLOUT, on_plain), 0);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(w.calls, 1);
	assert_true(w.last & EPOLLOUT);
	tev_close(&w);
	close(p[0]);
}

static void test_mod(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a;
	/* An eventfd at 0 is writable, not readable. */
	tev_open(&a, false);
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_plain), 0);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);

	assert_int_equal(fm_loop_mod(&a.ev, EPOLLOUT), 0);
	assert_int_equal(a.ev.events, EPOLLOUT);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls, 1);
	assert_true(a.last & EPOLLOUT);
	assert_false(a.last & EPOLLIN);

	assert_int_equal(fm_loop_mod(&a.ev, EPOLLIN), 0);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	assert_int_equal(a.calls, 1);
	tev_close(&a);

	/* Not registered (any more). */
	assert_int_equal(fm_loop_mod(&a.ev, EPOLLIN), -ENOENT);
}

static void test_add_errors(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a;
	tev_open(&a, false);
	assert_int_equal(fm_loop_add(loop, &a.ev, -1, EPOLLIN, on_plain), -EINVAL);
	assert_int_equal(a.ev.fd, -1);
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, NULL), -EINVAL);
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_plain), 0);
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_plain), -EBUSY);
	tev_close(&a);

	/* A closed fd: epoll's own error comes back, the event stays unregistered. */
	int fd = make_ready_eventfd();
	close(fd);
	struct fm_event ev = FM_EVENT_INIT;
	assert_int_equal(fm_loop_add(loop, &ev, fd, EPOLLIN, on_plain), -EBADF);
	assert_int_equal(ev.fd, -1);
	assert_null(ev.loop);

	/* Deleting what was never added is harmless. */
	fm_loop_del(&ev);
	fm_loop_del(NULL);
	assert_int_equal(ev.fd, -1);
}

/* Removal during a batch -------------------------------------------------- */

static void on_del_other(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	if (t->other)
		fm_loop_del(&t->other->ev);
}

/* Both fds are ready before the wait, so they come in one batch. Whichever
 * runs first deletes the other, which must then not run: exactly one call,
 * whatever order epoll chose. */
static void test_del_other_in_same_batch(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a, b;
	tev_open(&a, true);
	tev_open(&b, true);
	a.other = &b;
	b.other = &a;
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_del_other), 0);
	assert_int_equal(fm_loop_add(loop, &b.ev, b.fd, EPOLLIN, on_del_other), 0);

	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls + b.calls, 1);
	struct tev *ran = a.calls ? &a : &b;
	struct tev *gone = a.calls ? &b : &a;
	assert_int_equal(gone->ev.fd, -1);
	assert_int_equal(ran->ev.fd, ran->fd);

	/* The deleted one stays quiet although its fd is still ready. */
	assert_int_equal(fm_loop_run_once(loop, 0), 1);
	assert_int_equal(gone->calls, 0);
	assert_int_equal(ran->calls, 2);
	tev_close(&a);
	tev_close(&b);
}

/* Only a deletes b. Either a ran first (b not called in this batch) or b ran
 * first (then both ran). What must never happen is b being called after a. */
static int order_seq;

static void on_ordered(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	t->last = (uint32_t)++order_seq; /* reuse: when it ran */
	if (t->other)
		fm_loop_del(&t->other->ev);
}

static void test_del_other_one_way(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a, b;
	tev_open(&a, true);
	tev_open(&b, true);
	a.other = &b;
	order_seq = 0;
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_ordered), 0);
	assert_int_equal(fm_loop_add(loop, &b.ev, b.fd, EPOLLIN, on_ordered), 0);

	int ran = fm_loop_run_once(loop, DEADLINE_MS);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.ev.fd, -1);
	if (b.calls) {
		assert_int_equal(ran, 2);
		assert_true(b.last < a.last);
	} else {
		assert_int_equal(ran, 1);
	}
	tev_close(&a);
	tev_close(&b);
}

/* Many ready at once; the first to run deletes all the others. */
#define MANY 8
static struct tev many[MANY];

static void on_del_all_others(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	for (int i = 0; i < MANY; i++)
		if (&many[i] != t)
			fm_loop_del(&many[i].ev);
}

static void test_del_many_in_same_batch(void **state)
{
	struct fm_loop *loop = *state;
	for (int i = 0; i < MANY; i++) {
		tev_open(&many[i], true);
		assert_int_equal(
		    fm_loop_add(loop, &many[i].ev, many[i].fd, EPOLLIN, on_del_all_others), 0);
	}
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	int calls = 0, registered = 0;
	for (int i = 0; i < MANY; i++) {
		calls += many[i].calls;
		registered += many[i].ev.fd >= 0;
	}
	assert_int_equal(calls, 1);
	assert_int_equal(registered, 1);
	for (int i = 0; i < MANY; i++)
		tev_close(&many[i]);
}

/* The first callback deletes, closes and frees the other event's owner (under
 * ASan any later touch of it is a use after free) and puts a new registration
 * in its place, which may reuse the memory. */
static struct tev *heap[2];

static void on_free_other(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	int other = heap[0] == t ? 1 : 0;
	if (!heap[other])
		return;
	tev_close(heap[other]);
	free(heap[other]);
	/* A fresh, not-ready registration: a stale batch entry pointing at
	 * this memory would call it. */
	heap[other] = malloc(sizeof(*heap[other]));
	assert_non_null(heap[other]);
	tev_open(heap[other], false);
	assert_int_equal(
	    fm_loop_add(t->ev.loop, &heap[other]->ev, heap[other]->fd, EPOLLIN, on_free_other), 0);
}

static void test_del_free_reuse_other_in_same_batch(void **state)
{
	struct fm_loop *loop = *state;
	for (int i = 0; i < 2; i++) {
		heap[i] = malloc(sizeof(*heap[i]));
		assert_non_null(heap[i]);
		tev_open(heap[i], true);
		heap[i]->drain = true;
		assert_int_equal(
		    fm_loop_add(loop, &heap[i]->ev, heap[i]->fd, EPOLLIN, on_free_other), 0);
	}
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(heap[0]->calls + heap[1]->calls, 1);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	for (int i = 0; i < 2; i++) {
		tev_close(heap[i]);
		free(heap[i]);
		heap[i] = NULL;
	}
}

static void on_self_del(struct fm_event *ev, uint32_t events)
{
	note_call(container_of(ev, struct tev, ev), events);
	fm_loop_del(ev);
}

static void test_self_delete(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a;
	tev_open(&a, true);
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_self_del), 0);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.ev.fd, -1);
	/* Still ready, no longer registered. */
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	assert_int_equal(a.calls, 1);
	tev_close(&a);
}

static void on_readd_self(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	struct fm_loop *loop = ev->loop;
	fm_loop_del(ev);
	assert_int_equal(fm_loop_add(loop, ev, t->fd, EPOLLIN, on_readd_self), 0);
}

static void test_delete_readd_self(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a;
	tev_open(&a, true);
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_readd_self), 0);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.ev.fd, a.fd);
	/* Registered again and still ready: it fires again. */
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls, 2);
	tev_close(&a);
}

/* Whichever runs first deletes and re-adds the other (once): the other must
 * skip this batch, as its old entry belonged to the old registration, and
 * fire in the next one. */
static bool readd_done;

static void on_readd_other(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	if (readd_done)
		return;
	readd_done = true;
	struct fm_loop *loop = ev->loop;
	fm_loop_del(&t->other->ev);
	assert_int_equal(fm_loop_add(loop, &t->other->ev, t->other->fd, EPOLLIN, on_readd_other),
			 0);
}

static void test_delete_readd_other_in_same_batch(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a, b;
	tev_open(&a, true);
	tev_open(&b, true);
	a.other = &b;
	b.other = &a;
	readd_done = false;
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_readd_other), 0);
	assert_int_equal(fm_loop_add(loop, &b.ev, b.fd, EPOLLIN, on_readd_other), 0);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 2);
	assert_int_equal(a.calls + b.calls, 3);
	assert_true(a.calls >= 1 && b.calls >= 1);
	tev_close(&a);
	tev_close(&b);
}

/* A callback that drops EPOLLOUT for another event in the same batch: that
 * event is not handed the stale EPOLLOUT. */
static void on_mod_other_in(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	if (t->other)
		assert_int_equal(fm_loop_mod(&t->other->ev, EPOLLIN), 0);
}

static void test_mod_other_in_same_batch(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a, b;
	/* Both writable and not readable. */
	tev_open(&a, false);
	tev_open(&b, false);
	a.other = &b;
	b.other = &a;
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLOUT, on_mod_other_in), 0);
	assert_int_equal(fm_loop_add(loop, &b.ev, b.fd, EPOLLOUT, on_mod_other_in), 0);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls + b.calls, 1);
	tev_close(&a);
	tev_close(&b);
}

/* Loop control and measurement --------------------------------------------- */

static void on_stop_after_3(struct fm_event *ev, uint32_t events)
{
	struct tev *t = container_of(ev, struct tev, ev);
	note_call(t, events);
	if (t->calls == 3)
		fm_loop_stop(ev->loop);
}

static void test_stop_ends_run(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a;
	tev_open(&a, true); /* never drained: ready on every turn */
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_stop_after_3), 0);
	assert_false(fm_loop_stopped(loop));
	assert_int_equal(fm_loop_run(loop), 0);
	assert_true(fm_loop_stopped(loop));
	assert_int_equal(a.calls, 3);
	/* Sticky: a second run returns at once. */
	assert_int_equal(fm_loop_run(loop), 0);
	assert_int_equal(a.calls, 3);
	tev_close(&a);
}

static void on_busy_60ms(struct fm_event *ev, uint32_t events)
{
	note_call(container_of(ev, struct tev, ev), events);
	busy_wait_ms(60);
}

static void test_max_dispatch_us(void **state)
{
	struct fm_loop *loop = *state;
	struct tev a;
	tev_open(&a, true);
	a.drain = true;
	assert_int_equal(fm_loop_max_dispatch_us(loop), 0);
	assert_int_equal(fm_loop_add(loop, &a.ev, a.fd, EPOLLIN, on_busy_60ms), 0);
	assert_int_equal(fm_loop_run_once(loop, DEADLINE_MS), 1);
	assert_int_equal(a.calls, 1);
	/* A lower bound: the callback spun for at least 60 ms. */
	assert_true(fm_loop_max_dispatch_us(loop) >= 50000);
	tev_close(&a);
}

/* The loop is never run from inside a callback (issue 21): a source that
 * waited there would block every other one. Refused, and the loop goes on. */
struct nest {
	struct fm_timer t;
	bool in_callback, done;
	int rc_once, rc_until;
};

static void on_nest(struct fm_timer *t)
{
	struct nest *n = container_of(t, struct nest, t);
	n->in_callback = fm_loop_dispatching(t->ev.loop);
	n->rc_once = fm_loop_run_once(t->ev.loop, 0);
	n->rc_until = fm_loop_run_until(t->ev.loop, &n->done);
	n->done = true;
}

static void test_nested_run_refused(void **state)
{
	struct fm_loop *loop = *state;
	struct nest n = {.t = FM_TIMER_INIT};
	assert_false(fm_loop_dispatching(loop));
	assert_int_equal(fm_timer_init(loop, &n.t, on_nest), 0);
	assert_int_equal(fm_timer_arm(&n.t, 1, 0), 0);
	assert_int_equal(fm_loop_run_until(loop, &n.done), 0);
	assert_true(n.in_callback);
	assert_int_equal(n.rc_once, -EDEADLK);
	assert_int_equal(n.rc_until, -EDEADLK);
	assert_false(fm_loop_dispatching(loop));
	/* Stopped: the wait ends without its condition. */
	bool never = false;
	fm_loop_stop(loop);
	assert_int_equal(fm_loop_run_until(loop, &never), -ECANCELED);
	fm_timer_close(&n.t);
}

static void test_now_ms_monotonic(void **state)
{
	(void)state;
	uint64_t a = fm_now_ms();
	busy_wait_ms(2);
	uint64_t b = fm_now_ms();
	assert_true(b >= a + 2);
}

/* Timers ------------------------------------------------------------------ */

struct ttimer {
	struct fm_timer t;
	int calls;
	uint64_t expirations;
	uint64_t last_expirations;
	bool done;
	int done_after; /* calls */
	struct ttimer *other;
};

static void on_timer(struct fm_timer *t)
{
	struct ttimer *tt = container_of(t, struct ttimer, t);
	tt->calls++;
	tt->last_expirations = t->expirations;
	tt->expirations += t->expirations;
	if (tt->calls >= tt->done_after)
		tt->done = true;
}

static void ttimer_init(struct fm_loop *loop, struct ttimer *tt)
{
	*tt = (struct ttimer){.t = FM_TIMER_INIT, .done_after = 1};
	assert_int_equal(fm_timer_init(loop, &tt->t, on_timer), 0);
	assert_true(tt->t.ev.fd >= 0);
	assert_false(fm_timer_armed(&tt->t));
}

/* A one-shot that expired while the loop was busy is still armed until its
 * callback runs: "arm unless armed" must not push it back (the debounce of
 * the agent's evaluation under a journal flood, issue 18). */
static void test_timer_expired_is_armed(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a;
	ttimer_init(loop, &a);
	assert_int_equal(fm_timer_arm(&a.t, 1, 0), 0);
	/* the expiry, waited for on the timer's own fd, not handled */
	struct pollfd p = {.fd = a.t.ev.fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(fm_timer_armed(&a.t));
	assert_int_equal(a.calls, 0);
	run_until(loop, &a.done);
	assert_int_equal(a.calls, 1);
	assert_false(fm_timer_armed(&a.t));
	fm_timer_close(&a.t);
}

static void test_timer_one_shot(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a;
	ttimer_init(loop, &a);
	assert_int_equal(fm_timer_arm(&a.t, 10, 0), 0);
	assert_true(fm_timer_armed(&a.t));
	run_until(loop, &a.done);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.last_expirations, 1);
	/* One-shot: spent, and nothing more comes. */
	assert_false(fm_timer_armed(&a.t));
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
	assert_int_equal(a.calls, 1);
	fm_timer_close(&a.t);
	assert_int_equal(a.t.ev.fd, -1);
}

static void test_timer_zero_first_fires(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a;
	ttimer_init(loop, &a);
	/* 0 is taken as 1 ms, not as "disarm". */
	assert_int_equal(fm_timer_arm(&a.t, 0, 0), 0);
	run_until(loop, &a.done);
	assert_int_equal(a.calls, 1);
	fm_timer_close(&a.t);
}

static void test_timer_periodic(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a;
	ttimer_init(loop, &a);
	a.done_after = 3;
	assert_int_equal(fm_timer_arm(&a.t, 5, 5), 0);
	run_until(loop, &a.done);
	assert_int_equal(a.calls, 3);
	assert_true(a.expirations >= 3);
	assert_true(fm_timer_armed(&a.t));

	/* Late by ~20 periods: one call that reports them all. */
	a.done = false;
	a.done_after = a.calls + 1;
	assert_int_equal(fm_timer_arm(&a.t, 1, 1), 0);
	busy_wait_ms(20);
	run_until(loop, &a.done);
	assert_true(a.last_expirations >= 2);
	fm_timer_close(&a.t);
}

static void test_timer_disarm(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a, sentinel;
	ttimer_init(loop, &a);
	ttimer_init(loop, &sentinel);
	assert_int_equal(fm_timer_arm(&a.t, 10, 0), 0);
	assert_int_equal(fm_timer_disarm(&a.t), 0);
	assert_false(fm_timer_armed(&a.t));
	/* The sentinel expires well after a would have. */
	assert_int_equal(fm_timer_arm(&sentinel.t, 60, 0), 0);
	run_until(loop, &sentinel.done);
	assert_int_equal(a.calls, 0);
	fm_timer_close(&a.t);
	fm_timer_close(&sentinel.t);
}

/* Both timers have expired before the wait; whichever callback runs first
 * disarms the other, whose readable timerfd then has nothing to read: its fn
 * must not run. */
static void on_timer_disarm_other(struct fm_timer *t)
{
	struct ttimer *tt = container_of(t, struct ttimer, t);
	on_timer(t);
	assert_int_equal(fm_timer_disarm(&tt->other->t), 0);
}

static void test_timer_disarm_in_same_batch(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a, b;
	ttimer_init(loop, &a);
	ttimer_init(loop, &b);
	a.t.fn = on_timer_disarm_other;
	b.t.fn = on_timer_disarm_other;
	a.other = &b;
	b.other = &a;
	assert_int_equal(fm_timer_arm(&a.t, 1, 0), 0);
	assert_int_equal(fm_timer_arm(&b.t, 1, 0), 0);
	wait_readable(a.t.ev.fd);
	wait_readable(b.t.ev.fd);
	assert_true(fm_loop_run_once(loop, 0) >= 1);
	assert_int_equal(a.calls + b.calls, 1);
	fm_timer_close(&a.t);
	fm_timer_close(&b.t);
}

static void test_timer_rearm_replaces(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a, sentinel;
	ttimer_init(loop, &a);
	ttimer_init(loop, &sentinel);

	/* Far, then near: fires near (well within the deadline). */
	assert_int_equal(fm_timer_arm(&a.t, 3600 * 1000, 0), 0);
	assert_int_equal(fm_timer_arm(&a.t, 10, 0), 0);
	run_until(loop, &a.done);
	assert_int_equal(a.calls, 1);

	/* Near, then far: does not fire before the sentinel. */
	assert_int_equal(fm_timer_arm(&a.t, 10, 0), 0);
	assert_int_equal(fm_timer_arm(&a.t, 3600 * 1000, 0), 0);
	assert_int_equal(fm_timer_arm(&sentinel.t, 60, 0), 0);
	run_until(loop, &sentinel.done);
	assert_int_equal(a.calls, 1);
	assert_true(fm_timer_armed(&a.t));

	/* Periodic replaced by one-shot. */
	a.done = false;
	a.done_after = 2;
	assert_int_equal(fm_timer_arm(&a.t, 5, 5), 0);
	assert_int_equal(fm_timer_arm(&a.t, 5, 0), 0);
	run_until(loop, &a.done);
	assert_false(fm_timer_armed(&a.t));
	fm_timer_close(&a.t);
	fm_timer_close(&sentinel.t);
}

static void test_timer_close_never_initialised(void **state)
{
	(void)state;
	struct fm_timer t = FM_TIMER_INIT;
	fm_timer_close(&t);
	assert_int_equal(t.ev.fd, -1);
	assert_false(fm_timer_armed(&t));
	assert_int_equal(fm_timer_arm(&t, 10, 0), -EBADF);
	assert_int_equal(fm_timer_disarm(&t), -EBADF);
	fm_timer_close(NULL);
}

static void test_timer_close_twice(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a;
	ttimer_init(loop, &a);
	assert_int_equal(fm_timer_arm(&a.t, 10, 10), 0);
	fm_timer_close(&a.t);
	assert_int_equal(a.t.ev.fd, -1);
	assert_false(fm_timer_armed(&a.t));
	fm_timer_close(&a.t);
	assert_int_equal(a.t.ev.fd, -1);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);
}

/* A timer that closes itself from its own callback. */
static void on_timer_close_self(struct fm_timer *t)
{
	on_timer(t);
	fm_timer_close(t);
}

static void test_timer_close_in_callback(void **state)
{
	struct fm_loop *loop = *state;
	struct ttimer a;
	ttimer_init(loop, &a);
	a.t.fn = on_timer_close_self;
	assert_int_equal(fm_timer_arm(&a.t, 1, 1), 0);
	run_until(loop, &a.done);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.t.ev.fd, -1);
}

/* Signals ----------------------------------------------------------------- */

struct tsig {
	struct fm_signal s;
	int calls;
	int signo;
	bool done;
};

static void on_signal(struct fm_signal *s, int signo)
{
	struct tsig *ts = container_of(s, struct tsig, s);
	ts->calls++;
	ts->signo = signo;
	ts->done = true;
}

static bool blocked(int signo)
{
	sigset_t set;
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &set), 0);
	return sigismember(&set, signo);
}

static void test_signal_delivered(void **state)
{
	struct fm_loop *loop = *state;
	struct tsig ts = {.s = {.ev = FM_EVENT_INIT}};
	assert_false(blocked(SIGUSR1));
	assert_int_equal(fm_signal_init(loop, &ts.s, SIGUSR1, on_signal), 0);
	assert_true(blocked(SIGUSR1));
	assert_int_equal(raise(SIGUSR1), 0);
	run_until(loop, &ts.done);
	assert_int_equal(ts.calls, 1);
	assert_int_equal(ts.signo, SIGUSR1);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);

	/* Two before the loop looks: standard signals merge, one call. */
	ts.done = false;
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	run_until(loop, &ts.done);
	assert_int_equal(ts.calls, 2);
	assert_int_equal(fm_loop_run_once(loop, 0), 0);

	fm_signal_close(&ts.s);
	assert_int_equal(ts.s.ev.fd, -1);
	assert_false(blocked(SIGUSR1));
	fm_signal_close(&ts.s);
}

static void test_signal_bad_signo(void **state)
{
	struct fm_loop *loop = *state;
	struct tsig ts = {.s = {.ev = FM_EVENT_INIT}};
	assert_int_equal(fm_signal_init(loop, &ts.s, 0, on_signal), -EINVAL);
	assert_int_equal(ts.s.ev.fd, -1);
	fm_signal_close(&ts.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_delete),
	    cmocka_unit_test(test_now_ms_monotonic),
	    cmocka_unit_test_setup_teardown(test_event_fires_on_eventfd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_before_sleep_once_per_pass, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_fires_on_pipe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_epollout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mod, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_del_other_in_same_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_del_other_one_way, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_del_many_in_same_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_del_free_reuse_other_in_same_batch, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_self_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_readd_self, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_readd_other_in_same_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mod_other_in_same_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_ends_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_dispatch_us, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_run_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_one_shot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_zero_first_fires, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_periodic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_disarm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_disarm_in_same_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_rearm_replaces, setup, teardown),
	    cmocka_unit_test(test_timer_close_never_initialised),
	    cmocka_unit_test_setup_teardown(test_timer_close_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_close_in_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_expired_is_armed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal_delivered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal_bad_signo, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
