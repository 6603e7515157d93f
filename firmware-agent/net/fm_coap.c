#include "fm_coap.h"

#include "fm_log.h"

#include <coap3/coap.h>
#include <errno.h>
#include <string.h>

static bool started;

static void log_bridge(coap_log_t level, const char *message)
{
	enum fm_log_level l;
	if (level <= COAP_LOG_ERR)
		l = FM_LOG_ERR;
	else if (level == COAP_LOG_WARN)
		l = FM_LOG_WARNING;
	else if (level == COAP_LOG_NOTICE)
		l = FM_LOG_NOTICE;
	else if (level == COAP_LOG_INFO)
		l = FM_LOG_INFO;
	else
		l = FM_LOG_DEBUG;
	/* libcoap's lines end in '\n'; fm_log adds its own. */
	size_t n = strlen(message);
	while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		n--;
	fm_log(l, "coap: %.*s", (int)n, message);
}

void fm_coap_startup(void)
{
	if (started)
		return;
	started = true;
	coap_startup();
	coap_set_log_handler(log_bridge);
	/* libcoap formats every line below its level: keep it quiet unless asked. */
	coap_set_log_level(COAP_LOG_WARN);
	coap_dtls_set_log_level(COAP_LOG_WARN);
}

void fm_coap_cleanup(void)
{
	if (!started)
		return;
	started = false;
	coap_cleanup();
}

static void rearm(struct fm_coap_io *io)
{
	coap_tick_t now;
	coap_ticks(&now);
	/* 0: nothing pending. libcoap's epoll mode needs this call before every
	 * wait anyway: it computes the next timeout and runs the due ones. */
	unsigned int ms = coap_io_prepare_epoll(io->ctx, now);
	if (ms)
		fm_timer_arm(&io->timer, ms, 0);
	else
		fm_timer_disarm(&io->timer);
}

static void process(struct fm_coap_io *io)
{
	if (coap_io_process(io->ctx, COAP_IO_NO_WAIT) < 0)
		fm_warn("coap: processing failed (%s)", strerror(errno));
	rearm(io);
}

static void on_fd(struct fm_event *ev, uint32_t events)
{
	(void)events;
	process(container_of(ev, struct fm_coap_io, ev));
}

static void on_timer(struct fm_timer *t)
{
	process(container_of(t, struct fm_coap_io, timer));
}

int fm_coap_io_attach(struct fm_coap_io *io, struct fm_loop *loop, struct coap_context_t *ctx)
{
	int fd = coap_context_get_coap_fd(ctx);
	if (fd < 0)
		return -ENOTSUP;
	io->ctx = ctx;
	int rc = fm_loop_add(loop, &io->ev, fd, EPOLLIN, on_fd);
	if (rc < 0)
		return rc;
	rc = fm_timer_init(loop, &io->timer, on_timer);
	if (rc < 0) {
		fm_loop_del(&io->ev);
		return rc;
	}
	rearm(io);
	return 0;
}

void fm_coap_io_kick(struct fm_coap_io *io)
{
	if (io->ctx)
		rearm(io);
}

void fm_coap_io_detach(struct fm_coap_io *io)
{
	fm_loop_del(&io->ev);
	fm_timer_close(&io->timer);
	io->ctx = NULL;
}
