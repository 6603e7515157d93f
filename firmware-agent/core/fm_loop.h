/* fm_loop: the agent's one event loop (epoll), its timers (timerfd) and
 * signals (signalfd).
 *
 * Every source is a file descriptor. A module embeds a struct fm_event in its
 * own state and registers it; the loop calls the event's function with the
 * epoll events that fired, and the module finds its state again with
 * container_of. Nothing here allocates per event.
 *
 * An event may be removed from inside any callback, also an event that is
 * still waiting in the current epoll batch: that one is then not called.
 */
#ifndef FM_LOOP_H
#define FM_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct fm_loop;
struct fm_event;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP ...). */
typedef void (*fm_event_fn)(struct fm_event *ev, uint32_t events);

struct fm_event {
	int fd;           /* -1 while not registered */
	uint32_t events;  /* what it is registered for */
	fm_event_fn fn;
	struct fm_loop *loop;
};

/* A timer is an event on its own timerfd. */
struct fm_timer;
typedef void (*fm_timer_fn)(struct fm_timer *t);
struct fm_timer {
	struct fm_event ev;
	fm_timer_fn fn;
	uint64_t expirations; /* how many times it fired since the last call (>1: we were late) */
};

/* A signal delivered through signalfd; the signal is blocked for the thread. */
struct fm_signal;
typedef void (*fm_signal_fn)(struct fm_signal *s, int signo);
struct fm_signal {
	struct fm_event ev;
	fm_signal_fn fn;
	int signo;
};

/* Returns NULL (errno set) when epoll cannot be created. */
struct fm_loop *fm_loop_new(void);
/* Closes the epoll fd and NULLs *loop. Registered events are not closed: their
 * owners close them, before this (an event keeps a pointer to the loop).
 * Accepts NULL and *loop == NULL. */
void fm_loop_delete(struct fm_loop **loop);

/* Registers ev for fd. 0 or -errno. The loop borrows ev until fm_loop_del. */
int fm_loop_add(struct fm_loop *loop, struct fm_event *ev, int fd, uint32_t events,
		fm_event_fn fn);
/* Changes the events ev waits for. 0 or -errno. */
int fm_loop_mod(struct fm_event *ev, uint32_t events);
/* Unregisters ev (does not close its fd); safe from inside callbacks and on an
 * event that was never added (fd == -1). */
void fm_loop_del(struct fm_event *ev);

/* Waits at most timeout_ms (-1: forever) and dispatches what is ready.
 * Returns the number of callbacks run, or -errno. EINTR is not an error (0).
 * Never nested: called from inside a callback it refuses with -EDEADLK (a
 * callback that waits blocks every other source; a source that needs
 * several round trips is a state machine driven by its events). */
int fm_loop_run_once(struct fm_loop *loop, int timeout_ms);
/* Runs until fm_loop_stop. 0 or -errno. The stop is sticky: once stopped,
 * fm_loop_run returns at once and fm_loop_stopped stays true. */
int fm_loop_run(struct fm_loop *loop);
/* For one-shot commands: runs passes until *done is true. 0 then;
 * -ECANCELED when the loop was stopped first (SIGTERM), -EDEADLK from
 * inside a callback (nothing run), or the pass's -errno. */
int fm_loop_run_until(struct fm_loop *loop, const bool *done);
/* Whether a callback of loop is running (where waiting is refused). */
bool fm_loop_dispatching(const struct fm_loop *loop);
void fm_loop_stop(struct fm_loop *loop);
bool fm_loop_stopped(const struct fm_loop *loop);

/* fn(arg) runs at the start of every pass, before the loop waits: what the
 * callbacks of the last pass marked to do is done once there (Redis's
 * beforeSleep), not once per callback. fn NULL: none. */
typedef void (*fm_loop_hook_fn)(void *arg);
void fm_loop_before_sleep(struct fm_loop *loop, fm_loop_hook_fn fn, void *arg);

/* The longest a single callback has taken, in microseconds, since the loop was
 * made: the figure that says whether anything blocks the loop. */
uint64_t fm_loop_max_dispatch_us(const struct fm_loop *loop);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t fm_now_ms(void);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t fm_now_us(void);

/* Timers ---------------------------------------------------------------------
 * fm_timer_init makes the timerfd and registers it (disarmed). 0 or -errno. */
int fm_timer_init(struct fm_loop *loop, struct fm_timer *t, fm_timer_fn fn);
/* First expiry after first_ms (0 is taken as 1 ms), then every interval_ms
 * (0: one-shot). Re-arming replaces the previous setting. 0 or -errno. */
int fm_timer_arm(struct fm_timer *t, uint64_t first_ms, uint64_t interval_ms);
int fm_timer_disarm(struct fm_timer *t);
/* Whether the timer will call back: armed and not yet expired, or expired
 * and its callback not yet run (so "arm it unless armed" never drops an
 * expiry that is waiting for the loop). */
bool fm_timer_armed(const struct fm_timer *t);
/* Unregisters and closes the timerfd; accepts a timer never initialised if it
 * was zeroed with ev.fd = -1 (see FM_TIMER_INIT). */
void fm_timer_close(struct fm_timer *t);
#define FM_EVENT_INIT {.fd = -1}
#define FM_TIMER_INIT {.ev = FM_EVENT_INIT}

/* Signals ----------------------------------------------------------------------
 * Blocks signo for the calling thread and delivers it through a signalfd.
 * 0 or -errno. fn runs once per wake-up, however many instances of the signal
 * were pending. */
int fm_signal_init(struct fm_loop *loop, struct fm_signal *s, int signo, fm_signal_fn fn);
/* Closes the signalfd and unblocks the signal. */
void fm_signal_close(struct fm_signal *s);

#endif
