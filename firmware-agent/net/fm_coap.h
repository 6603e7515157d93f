/* fm_coap: libcoap nested in fm_loop (libcoap's "Method Two": its context
 * has one epoll fd of its own that we watch, plus a timer for its next
 * retransmission or session timeout), and libcoap's log lines in fm_log.
 *
 * Shared by the agent's uplink and the controller: neither runs libcoap's
 * own loop, so the one loop stays ours.
 */
#ifndef FM_COAP_H
#define FM_COAP_H

#include "fm_loop.h"

struct coap_context_t;

/* Starts libcoap (coap_startup) and routes its log lines into fm_log at the
 * matching level: libcoap's warnings and errors show, its debug chatter only
 * with debug on. Idempotent. */
void fm_coap_startup(void);
/* coap_cleanup, once every context is freed. */
void fm_coap_cleanup(void);

struct fm_coap_io {
	struct fm_event ev;     /* libcoap's epoll fd */
	struct fm_timer timer;  /* libcoap's next timeout */
	struct coap_context_t *ctx;
};
#define FM_COAP_IO_INIT {.ev = FM_EVENT_INIT, .timer = FM_TIMER_INIT}

/* Watches ctx's epoll fd in loop and arms the timer for its timeouts. Borrows
 * loop and ctx until fm_coap_io_detach. 0, -ENOTSUP (libcoap built without
 * epoll) or -errno. */
int fm_coap_io_attach(struct fm_coap_io *io, struct fm_loop *loop, struct coap_context_t *ctx);
/* Re-arms the timer for libcoap's next timeout. Call after sending from
 * outside a libcoap callback (a new request, a held answer), so its
 * retransmissions are timed. */
void fm_coap_io_kick(struct fm_coap_io *io);
/* Unregisters both; safe on a zeroed (FM_COAP_IO_INIT) or detached io. */
void fm_coap_io_detach(struct fm_coap_io *io);

#endif
