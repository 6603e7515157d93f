/* Fault: SIGTERM while everything waits (issue 11, item 2).
 *
 * `fleetmedic-agent run` with etcd and the apiserver blackholed (listeners
 * that never accept: the TLS handshake waits out its 5 s deadline, so a
 * collection is always in flight) and a report waiting for its ACK (the
 * real serve frozen with SIGSTOP after the session was up). SIGTERM:
 *   - the agent exits with status 0 within 1 s, measured from kill() to
 *     waitpid() (the requirement: a bound, not a benchmark);
 *   - its state is on disk and whole: uplink.json with the unacknowledged
 *     report under its sequence number, journal.state with the cursor;
 *   - restarted on the same state dir (serve thawed), it resumes: the
 *     report arrives once, what was reported before is not reported again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fm_state.h"
#include "fmh_check.h"
#include "fmh_faults_ctl.h"
#include "fmh_journal.h"
#include "fmh_uplink.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCKING "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"

static struct fmh_fnode node;
static char etcd[64], apiserver[64];
static int etcd_port, apiserver_port;

static int setup(void **st)
{
	(void)st;
	/* The kubeadm PKI under the node's root: etcd and the apiserver are
	 * asked over TLS with it (without, they are configuration errors). */
	if (fmh_fnode_init(&node, NULL) < 0 || fmh_pki(node.root) < 0 || fmh_listen_silent(&etcd_port) < 0 ||
	    fmh_listen_silent(&apiserver_port) < 0)
		return -1;
	snprintf(etcd, sizeof(etcd), "https://127.0.0.1:%d", etcd_port);
	snprintf(apiserver, sizeof(apiserver), "https://127.0.0.1:%d", apiserver_port);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	if (node.ctl.pid > 0)
		kill(node.ctl.pid, SIGCONT);
	fmh_cleanup();
	return 0;
}

static const char *const extra[] = {"--timeout", "5s", "--heartbeat", "60s", "--collect-interval", "1s",
				    "--hold", "1s", "--ack-timeout", "2s", "--max-retransmit", "4", NULL};

/* The head of the queue on disk has a sequence number: it went on the
 * wire and waits for its ACK. Its q, or 0. */
static uint32_t head_on_wire(void)
{
	int rc;
	cJSON *o = fm_state_read_json(node.state, "uplink.json", &rc);
	const cJSON *head = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "reports"), 0);
	const cJSON *q = cJSON_GetObjectItem(head, "q");
	uint32_t seq = cJSON_IsNumber(q) ? (uint32_t)q->valuedouble : 0;
	cJSON_Delete(o);
	return seq;
}

static void sigterm_within_1s(void **st)
{
	(void)st;
	char log[PATH_MAX], log2[PATH_MAX];
	pid_t agent = fmh_fnode_agent(&node, "agent.log", log, etcd, apiserver, extra);

	/* The session is up: the journal's conflict line reaches serve. */
	char *text = fmh_journal_kubelet_text(1, 1, BLOCKING);
	assert_non_null(text);
	assert_int_equal(fmh_journal_append(node.jfile, text), 0);
	free(text);
	cJSON *j = fmh_fnode_wait_history(&node, "container-name-conflict", "raise", 30000);
	cJSON_Delete(j);

	/* serve frozen; a change of the board goes on the wire and waits. */
	assert_int_equal(kill(node.ctl.pid, SIGSTOP), 0);
	fmh_fnode_ext4_errors(&node, "faultt", 3);
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis raised: fs-corruption the ext4 filesystem on faultt", agent, 30000), 0);
	uint64_t w0 = fm_now_ms();
	uint32_t seq;
	while (!(seq = head_on_wire())) {
		if (fm_now_ms() - w0 > 10000)
			fail_msg("the report of faultt never went on the wire");
		usleep(20000);
	}
	/* A request waits on the silent etcd or apiserver right now (each
	 * waits 5 s, the collect timer fires every second). */
	w0 = fm_now_ms();
	while (fmh_tcp_waiting(etcd_port) + fmh_tcp_waiting(apiserver_port) == 0) {
		if (fm_now_ms() - w0 > 10000)
			fail_msg("no request waits on the silent etcd or apiserver");
		usleep(10000);
	}

	uint64_t t0 = fm_now_ms();
	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	uint64_t stop_ms = fm_now_ms() - t0;
	assert_int_equal(status, 0);

	/* The state on disk, whole. */
	assert_int_equal(head_on_wire(), seq);
	int rc;
	cJSON *js = fm_state_read_json(node.state, "journal.state", &rc);
	if (!js)
		fail_msg("journal.state: %s", strerror(-rc));
	cJSON_Delete(js);

	/* serve thawed, the agent again: the report once, nothing re-raised. */
	assert_int_equal(kill(node.ctl.pid, SIGCONT), 0);
	agent = fmh_fnode_agent(&node, "agent2.log", log2, etcd, apiserver, extra);
	j = fmh_fnode_wait_history(&node, "faultt", "raise", 30000);
	cJSON_Delete(j);
	j = fmh_fnode_show(&node);
	assert_non_null(j);
	fmh_history_ordered(j);
	assert_int_equal(fmh_history_count(j, "faultt", "raise"), 1);
	assert_int_equal(fmh_history_count(j, "container-name-conflict", "raise"), 1);
	cJSON_Delete(j);
	assert_int_equal(fmh_log_count(log2, "diagnosis raised: container-name-conflict"), 0);

	uint64_t t1 = fm_now_ms();
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	uint64_t stop2_ms = fm_now_ms() - t1;
	assert_int_equal(status, 0);
	assert_true(stop_ms <= 1000);
	assert_true(stop2_ms <= 1000);
	fmh_fault_line("test_fault_sigterm", "injects=sigterm-silent-servers stop_ms=%llu stop_idle_ms=%llu bound_ms=1000 exit=%d unacked_q=%u",
		       (unsigned long long)stop_ms, (unsigned long long)stop2_ms, status, seq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigterm_within_1s),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
