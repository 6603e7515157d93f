/* The servers' collections as the daemon runs them (issue 21 item 2): state
 * machines on the loop that never wait and never run the loop themselves.
 *
 * The server is a listening socket on 127.0.0.1 that never accepts: the
 * kernel completes the TCP handshake, the request goes into the socket's
 * buffer, and no answer ever comes -- etcd or kube-apiserver hung. A
 * collection that waited inside its begin would return only after its
 * deadline, with its facts written; one that is a state machine returns at
 * once, and its end arrives from a pass of the test's own loop while
 * another event (a periodic timer) keeps being served.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_apiserver.h"
#include "fm_etcd.h"
#include "fm_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS  300  /* each request's deadline */
#define DEADLINE_MS 5000 /* the longest the test waits for the end */

struct fx {
	struct fm_loop *loop;
	struct fm_facts *facts;
	int lfd;
	struct fm_endpoint ep;
	struct fm_timer tick;
	int ticks;       /* periodic timer calls */
	int ticks_at_end; /* ... when the collection ended */
	int rc;
	bool ended, from_loop;
};

static void on_tick(struct fm_timer *t)
{
	struct fx *f = container_of(t, struct fx, tick);
	f->ticks++;
}

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	f.tick = (struct fm_timer)FM_TIMER_INIT;
	f.loop = fm_loop_new();
	f.facts = fm_facts_new();
	assert_non_null(f.loop);
	assert_non_null(f.facts);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	f.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f.lfd >= 0);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.lfd, 8), 0);
	assert_int_equal(getsockname(f.lfd, (struct sockaddr *)&sa, &len), 0);
	snprintf(f.ep.url, sizeof(f.ep.url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	snprintf(f.ep.origin, sizeof(f.ep.origin), "--test");
	assert_int_equal(fm_timer_init(f.loop, &f.tick, on_tick), 0);
	assert_int_equal(fm_timer_arm(&f.tick, 5, 5), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fm_timer_close(&f->tick);
	close(f->lfd);
	fm_facts_delete(&f->facts);
	fm_loop_delete(&f->loop);
	return 0;
}

static void on_collected(void *ctx, int rc)
{
	struct fx *f = ctx;
	f->rc = rc;
	f->ended = true;
	f->from_loop = fm_loop_dispatching(f->loop);
	f->ticks_at_end = f->ticks;
}

/* Runs the test's loop until the collection ended, at most DEADLINE_MS. */
static void wait_end(struct fx *f)
{
	uint64_t end = fm_now_ms() + DEADLINE_MS;
	while (!f->ended) {
		uint64_t now = fm_now_ms();
		if (now >= end)
			fail_msg("the collection did not end within %d ms", DEADLINE_MS);
		assert_true(fm_loop_run_once(f->loop, (int)(end - now)) >= 0);
	}
}

/* What the endpoint fact of kind says: "timeout", with its reason. */
static void assert_timed_out(struct fx *f, const char *kind)
{
	const cJSON *ep = fm_facts_get(f->facts, kind, f->ep.url);
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(ep, "state"));
	if (!st || strcmp(st, "timeout") != 0)
		fail_msg("%s state %s, not timeout", kind, st ? st : "(none)");
}

static void test_etcd_never_waits(void **state)
{
	struct fx *f = *state;
	struct fm_collect_opts co = {.timeout_ms = TIMEOUT_MS};
	struct fm_etcd_collection *e =
		fm_etcd_collection_new(f->loop, &f->ep, NULL, time(NULL), &co, f->facts, on_collected, f);
	assert_non_null(e);
	/* Begun, not done: the request waits on the loop, not in here. */
	assert_false(f->ended);
	assert_false(fm_etcd_collection_ended(e));
	assert_null(fm_facts_get(f->facts, "etcd.endpoint", f->ep.url));
	wait_end(f);
	assert_true(fm_etcd_collection_ended(e));
	assert_true(f->from_loop);
	/* The periodic timer was served while the request waited. */
	assert_true(f->ticks_at_end >= 1);
	assert_int_equal(f->rc, -1);
	assert_timed_out(f, "etcd.endpoint");
	fm_etcd_collection_delete(&e);
	assert_null(e);
}

static void test_apiserver_never_waits(void **state)
{
	struct fx *f = *state;
	struct fm_collect_opts co = {.timeout_ms = TIMEOUT_MS};
	struct fm_apiserver_collection *k =
		fm_apiserver_collection_new(f->loop, &f->ep, time(NULL), &co, f->facts, on_collected, f);
	assert_non_null(k);
	assert_false(f->ended);
	assert_false(fm_apiserver_collection_ended(k));
	wait_end(f);
	assert_true(fm_apiserver_collection_ended(k));
	assert_true(f->from_loop);
	assert_true(f->ticks_at_end >= 1);
	assert_int_equal(f->rc, -1);
	assert_timed_out(f, "apiserver.endpoint");
	fm_apiserver_collection_delete(&k);
}

/* Deleted while it waits (the daemon stopping): its request canceled, its
 * end never called, nothing left on the loop (ASan and fm_loop_delete's
 * leak check at teardown). */
static void test_delete_in_flight(void **state)
{
	struct fx *f = *state;
	struct fm_collect_opts co = {.timeout_ms = TIMEOUT_MS};
	struct fm_etcd_collection *e =
		fm_etcd_collection_new(f->loop, &f->ep, NULL, time(NULL), &co, f->facts, on_collected, f);
	struct fm_apiserver_collection *k =
		fm_apiserver_collection_new(f->loop, &f->ep, time(NULL), &co, f->facts, on_collected, f);
	assert_non_null(e);
	assert_non_null(k);
	assert_false(f->ended);
	fm_etcd_collection_delete(&e);
	fm_apiserver_collection_delete(&k);
	/* Past both deadlines twice over: nothing calls back. */
	uint64_t until = fm_now_ms() + 2 * TIMEOUT_MS;
	for (uint64_t now = fm_now_ms(); now < until; now = fm_now_ms())
		assert_true(fm_loop_run_once(f->loop, (int)(until - now)) >= 0);
	assert_false(f->ended);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_etcd_never_waits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apiserver_never_waits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_in_flight, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
