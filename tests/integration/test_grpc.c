/* fm_grpc against an independent gRPC server (tests/harness/grpc_peer.py:
 * Debian's python3-grpcio, its own HTTP/2 and gRPC) on a unix socket:
 * unary and streaming answers, statuses, deadlines, caps, several calls on
 * one connection, a server that goes away, a socket nobody listens on.
 *
 * Nothing sleeps to wait: each test runs the loop until the calls it made
 * have ended, with a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_cri.h"
#include "fm_grpc.h"
#include "fm_harness.h"
#include "fmh_check.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEADLINE_MS 10000 /* the longest a test waits for its calls */

struct fx {
	struct fm_loop *loop;
	struct fm_grpc *g;
	char dir[PATH_MAX];
	char sock[108];
	char log[PATH_MAX + 16];
	pid_t peer;
};

/* One call's outcome, as the test sees it. */
struct got {
	struct fm_grpc_result res;
	int ended;
	int msgs;
	char first[64];	 /* the first message, as text */
	size_t first_len;
	int stop_after;	 /* on_msg says stop after this many (0: never) */
};

static int setup(void **state)
{
	static struct fx f;
	char err[256];
	memset(&f, 0, sizeof(f));
	if (fmh_init() < 0 || fmh_tmpdir(f.dir, sizeof(f.dir)) < 0)
		return -1;
	snprintf(f.sock, sizeof(f.sock), "%s/peer.sock", f.dir);
	snprintf(f.log, sizeof(f.log), "%s/peer.log", f.dir);
	const char *argv[] = {"/usr/bin/python3", FMH_GRPC_PEER, f.sock, NULL};
	f.peer = fmh_spawn(argv, f.log);
	if (f.peer <= 0 || fmh_wait_log_pid(f.log, "ready", f.peer, 30000) < 0) {
		fprintf(stderr, "the gRPC peer did not start (python3-grpcio?); its log is %s\n", f.log);
		return -1;
	}
	f.loop = fm_loop_new();
	f.g = f.loop ? fm_grpc_new(f.loop, f.sock, err, sizeof(err)) : NULL;
	if (!f.g) {
		fprintf(stderr, "fm_grpc_new: %s\n", err);
		return -1;
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fm_grpc_delete(&f->g);
	fm_loop_delete(&f->loop);
	fmh_cleanup();
	return 0;
}

static bool on_msg(struct fm_grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call;
	struct got *got = ctx;
	if (got->msgs++ == 0) {
		got->first_len = len;
		snprintf(got->first, sizeof(got->first), "%.*s", (int)(len < 63 ? len : 63), (const char *)msg);
	}
	return !got->stop_after || got->msgs < got->stop_after;
}

static void on_done(const struct fm_grpc_result *res, void *ctx)
{
	struct got *got = ctx;
	got->res = *res;
	got->ended++;
}

/* Starts METHOD with the text req; the caller waits. */
static void start(struct fx *f, const char *method, const char *req, int timeout_ms, size_t max_msg, struct got *got)
{
	char path[64];
	snprintf(path, sizeof(path), "/fmtest.Peer/%s", method);
	struct fm_grpc_req r = {.path = path, .msg = (const uint8_t *)req, .len = strlen(req), .max_msg = max_msg,
				.timeout_ms = timeout_ms, .on_msg = on_msg, .on_done = on_done, .ctx = got};
	assert_int_equal(fm_grpc_call(f->g, &r, NULL), 0);
}

/* Runs the loop until every got has ended; fails the test at the deadline. */
static void wait_all(struct fx *f, struct got *gots, int n)
{
	uint64_t end = fm_now_ms() + DEADLINE_MS;
	for (;;) {
		int left = 0;
		for (int i = 0; i < n; i++)
			left += !gots[i].ended;
		if (!left)
			return;
		uint64_t now = fm_now_ms();
		if (now >= end)
			fail_msg("%d of %d calls had not ended after %d ms", left, n, DEADLINE_MS);
		assert_true(fm_loop_run_once(f->loop, (int)(end - now)) >= 0);
	}
}

static void call(struct fx *f, const char *method, const char *req, int timeout_ms, size_t max_msg, struct got *got)
{
	start(f, method, req, timeout_ms, max_msg, got);
	wait_all(f, got, 1);
	assert_int_equal(got->ended, 1);
}

static void assert_failed(const struct got *got, enum fm_grpc_fail fail, const char *words)
{
	if (got->res.fail != fail || !strstr(got->res.reason, words))
		fail_msg("%s: %s (wanted %s with \"%s\")", fm_grpc_fail_name(got->res.fail), got->res.reason,
			 fm_grpc_fail_name(fail), words);
}

static void test_unary(void **state)
{
	struct fx *f = *state;
	struct got got = {0};
	call(f, "Echo", "hello runtime", 2000, 0, &got);
	assert_int_equal(got.res.fail, FM_GRPC_OK);
	assert_int_equal(got.res.grpc_status, 0);
	assert_int_equal(got.msgs, 1);
	assert_string_equal(got.first, "hello runtime");
	/* An empty message is a message. */
	struct got empty = {0};
	call(f, "Echo", "", 2000, 0, &empty);
	assert_int_equal(empty.res.fail, FM_GRPC_OK);
	assert_int_equal(empty.msgs, 1);
	assert_int_equal(empty.first_len, 0);
}

static void test_stream(void **state)
{
	struct fx *f = *state;
	struct got got = {0};
	call(f, "Stream", "200", 5000, 0, &got);
	assert_int_equal(got.res.fail, FM_GRPC_OK);
	assert_int_equal(got.msgs, 200);
	assert_int_equal(got.res.messages, 200);
	assert_string_equal(got.first, "message 0");
	/* The reader stops after 3: canceled, the connection still good. */
	struct got stop = {.stop_after = 3};
	call(f, "Stream", "100", 5000, 0, &stop);
	assert_failed(&stop, FM_GRPC_CANCELED, "stopped by the reader");
	assert_int_equal(stop.msgs, 3);
	struct got again = {0};
	call(f, "Echo", "still there", 2000, 0, &again);
	assert_int_equal(again.res.fail, FM_GRPC_OK);
}

static void test_status(void **state)
{
	struct fx *f = *state;
	struct got got = {0};
	call(f, "Fail", "5 container \"abc\" not found: 100% sure", 2000, 0, &got);
	assert_failed(&got, FM_GRPC_STATUS, "gRPC status 5: container \"abc\" not found: 100% sure");
	assert_int_equal(got.res.grpc_status, 5);
	assert_int_equal(got.msgs, 0);
	/* A method the server does not have: UNIMPLEMENTED (12), which the
	 * CRI source reads as "this runtime has no such call". */
	struct got none = {0};
	call(f, "NoSuchMethod", "", 2000, 0, &none);
	assert_int_equal(none.res.fail, FM_GRPC_STATUS);
	assert_int_equal(none.res.grpc_status, 12);
}

static void test_deadline(void **state)
{
	struct fx *f = *state;
	struct got slow = {0};
	call(f, "Hang", "", 300, 0, &slow);
	assert_failed(&slow, FM_GRPC_TIMEOUT, "no answer within 300 ms");
	assert_true(slow.res.elapsed_ms >= 300);
	/* The connection is not poisoned by a call given up. */
	struct got fast = {0};
	call(f, "Sleep", "10", 2000, 0, &fast);
	assert_int_equal(fast.res.fail, FM_GRPC_OK);
	assert_string_equal(fast.first, "10");
}

static void test_too_large(void **state)
{
	struct fx *f = *state;
	struct got got = {0};
	call(f, "Big", "70000", 2000, 65536, &got);
	assert_failed(&got, FM_GRPC_TOO_LARGE, "70000 bytes, over the 65536-byte cap");
	struct got fits = {0};
	call(f, "Big", "2000000", 5000, 4u << 20, &fits);
	assert_int_equal(fits.res.fail, FM_GRPC_OK);
	assert_int_equal(fits.first_len, 2000000);
}

/* Several calls at once on one connection: each its own answer. */
static void test_concurrent(void **state)
{
	struct fx *f = *state;
	struct got gots[8];
	memset(gots, 0, sizeof(gots));
	char req[8][16];
	for (int i = 0; i < 8; i++) {
		snprintf(req[i], sizeof(req[i]), "%d", 50 - 5 * i);
		start(f, "Sleep", req[i], 5000, 0, &gots[i]);
	}
	wait_all(f, gots, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(gots[i].res.fail, FM_GRPC_OK);
		assert_string_equal(gots[i].first, req[i]);
	}
}

/* The server dies: the running call fails as closed, the next one
 * is refused; a new server on the same socket is reached again. */
static void test_server_gone(void **state)
{
	struct fx *f = *state;
	struct got hang = {0};
	start(f, "Hang", "", 10000, 0, &hang);
	/* The call is on the wire before the server goes. */
	struct got ping = {0};
	call(f, "Echo", "x", 2000, 0, &ping);
	assert_int_equal(ping.res.fail, FM_GRPC_OK);
	/* SIGKILL: gone without a word (a SIGTERM would end the call
	 * politely with a status). */
	assert_int_equal(kill(f->peer, SIGKILL), 0);
	fmh_stop(f->peer);
	f->peer = 0;
	wait_all(f, &hang, 1);
	assert_int_equal(hang.res.fail, FM_GRPC_CLOSED);
	struct got refused = {0};
	call(f, "Echo", "x", 2000, 0, &refused);
	assert_int_equal(refused.res.fail, FM_GRPC_REFUSED);
	if (!strstr(refused.res.reason, f->sock))
		fail_msg("the reason does not name the socket: %s", refused.res.reason);

	const char *argv[] = {"/usr/bin/python3", FMH_GRPC_PEER, f->sock, NULL};
	unlink(f->log);
	f->peer = fmh_spawn(argv, f->log);
	assert_true(f->peer > 0);
	assert_int_equal(fmh_wait_log_pid(f->log, "ready", f->peer, 30000), 0);
	struct got back = {0};
	call(f, "Echo", "back", 2000, 0, &back);
	assert_int_equal(back.res.fail, FM_GRPC_OK);
	assert_string_equal(back.first, "back");
}

/* Deleting the client with calls running: each ends, canceled, once. */
static void test_delete_running(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct fm_grpc *g = fm_grpc_new(f->loop, f->sock, err, sizeof(err));
	assert_non_null(g);
	struct got gots[2];
	memset(gots, 0, sizeof(gots));
	struct fm_grpc_req r = {.path = "/fmtest.Peer/Hang", .timeout_ms = 5000, .on_done = on_done, .ctx = &gots[0]};
	assert_int_equal(fm_grpc_call(g, &r, NULL), 0);
	r.ctx = &gots[1];
	r.timeout_ms = 0; /* a stream without a deadline */
	assert_int_equal(fm_grpc_call(g, &r, NULL), 0);
	assert_int_equal(fm_loop_run_once(f->loop, 50) >= 0, 1);
	fm_grpc_delete(&g);
	assert_null(g);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(gots[i].ended, 1);
		assert_int_equal(gots[i].res.fail, FM_GRPC_CANCELED);
	}
}

static void test_bad_endpoint(void **state)
{
	struct fx *f = *state;
	char err[256];
	assert_null(fm_grpc_new(f->loop, "tcp://127.0.0.1:1", err, sizeof(err)));
	assert_non_null(strstr(err, "unix:///PATH"));
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_null(fm_grpc_new(f->loop, longp, err, sizeof(err)));
	assert_non_null(strstr(err, "longer than"));
}

/* The agent's CRI source on a gRPC server that has no CRI (as Docker's
 * own containerd, its cri plugin disabled): no-cri, not a runtime down. */
static void test_cri_source_without_cri(void **state)
{
	struct fx *f = *state;
	char ep[160];
	snprintf(ep, sizeof(ep), "unix://%s", f->sock);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "cri", "--json", "--runtime-endpoint", ep, NULL);
	if (!r.json)
		fail_msg("probe cri printed no JSON (%d): %s %s", r.status, r.out, r.err);
	const cJSON *rt = fmh_find(fmh_field(r.json, "facts"), "cri.runtime", ep);
	assert_non_null(rt);
	assert_string_equal(fmh_jstr(rt, "state"), "no-cri");
	assert_non_null(strstr(fmh_jstr(rt, "reason"), "serves no CRI"));
	assert_int_equal(r.status, 0);
	cJSON_Delete(r.json);
}

/* The CRI source's watch on a runtime with the CRI's own event stream
 * (GetContainerEvents: containerd 1.7+, CRI-O): a stopped container is
 * told at once, and containerd's events are never asked for. */
static void on_watch_event(void *arg, const char *what)
{
	if (strcmp(what, "exit") == 0)
		(*(int *)arg)++;
}

static void test_cri_watch_container_events(void **state)
{
	struct fx *f = *state;
	char ep[160], err[256];
	int exits = 0;
	snprintf(ep, sizeof(ep), "unix://%s", f->sock);
	struct fm_cri_watch_opts wo = {.endpoint = ep, .on_event = on_watch_event, .arg = &exits};
	struct fm_cri_watch *w = fm_cri_watch_new(f->loop, &wo, err, sizeof(err));
	assert_non_null(w);
	uint64_t end = fm_now_ms() + DEADLINE_MS;
	while (!exits && fm_now_ms() < end)
		assert_true(fm_loop_run_once(f->loop, 100) >= 0);
	assert_int_equal(exits, 1);
	assert_int_equal(fm_cri_watch_exits(w), 1);
	fm_cri_watch_delete(&w);
	assert_null(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unary),	   cmocka_unit_test(test_stream),
	    cmocka_unit_test(test_status),	   cmocka_unit_test(test_deadline),
	    cmocka_unit_test(test_too_large),	   cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_delete_running), cmocka_unit_test(test_bad_endpoint),
	    cmocka_unit_test(test_cri_source_without_cri), cmocka_unit_test(test_cri_watch_container_events),
	    cmocka_unit_test(test_server_gone),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
