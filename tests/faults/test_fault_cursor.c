/* Fault: the journal cursor written late (issue 27, flash writes).
 *
 * `fleetmedic-agent run` follows real journal files (systemd-journal-remote)
 * with --save-interval 1h: journal.state is written once, at the first
 * batch, and then only at exit, so the cursor on disk is older than the
 * entries the agent has counted.
 *
 *   - SIGKILL after a log rule fired (container-name-conflict raised at the
 *     controller) and while journal.state still holds the first batch:
 *     the restarted agent reads the entries since again, counts them once
 *     (the counts written with the old cursor plus the re-read), and the
 *     controller's history holds the raise once: no duplicate, no resolve,
 *     no key raised twice.
 *   - SIGTERM at the same point: journal.state is written at exit with the
 *     last entry; the restarted agent repeats nothing (its count is the
 *     same) and loses nothing (the entries appended after the restart are
 *     counted, once).
 *
 * The agent's own count is asked live over the controller (triage NODE
 * facts journal.source: entries_seen); every wait is on an event with a
 * deadline, except one, which waits for the hold (--hold 1s) to run out
 * since the restart: a resolve of a diagnosis the re-read did not bring
 * back would be due then, and the marker raised after it is stored after
 * that resolve (reports are delivered in order).
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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_A	"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"
#define ID_B	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HOLD_MS 1000

/* The node's first entries (fmh_fnode_init): five routine kubelet lines. */
#define FIRST 5

static const char *const extra[] = {"--heartbeat", "60s", "--collect-interval", "1s", "--hold", "1s",
				    "--save-interval", "1h", NULL};

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

/* journal.state's "seen" and "matched" as on disk now; -1 each when there
 * is none yet. */
static void state_counts(const struct fmh_fnode *n, long long *seen, long long *matched)
{
	int rc;
	cJSON *o = fm_state_read_json(n->state, "journal.state", &rc);
	const cJSON *s = cJSON_GetObjectItem(o, "seen"), *m = cJSON_GetObjectItem(o, "matched");
	*seen = cJSON_IsNumber(s) ? (long long)s->valuedouble : -1;
	*matched = cJSON_IsNumber(m) ? (long long)m->valuedouble : -1;
	cJSON_Delete(o);
}

/* Waits until journal.state holds seen entries (written by the agent's
 * first batch); fails the test after ms. */
static void wait_state_seen(const struct fmh_fnode *n, long long want, uint64_t ms)
{
	uint64_t t0 = fm_now_ms();
	long long seen, matched;
	for (state_counts(n, &seen, &matched); seen != want; state_counts(n, &seen, &matched)) {
		if (fm_now_ms() - t0 > ms)
			fail_msg("journal.state holds %lld entries, not %lld, after %llu ms", seen, want,
				 (unsigned long long)ms);
		usleep(20000);
	}
}

/* The agent's live fact (kind, id holding id_part), asked over the
 * controller: its number field key, or -1 when there is none. */
static long long live_num(const struct fmh_fnode *n, const char *kind, const char *id_part, const char *key)
{
	int status;
	/* 5 s: answered (or refused) before the harness's 10 s for the
	 * client; a request to the killed agent's session waits that long */
	cJSON *j = fmh_controller_json(&n->ctl, &status, "triage", FMH_NODE_A, "facts", kind, "--timeout", "5s", NULL);
	/* --json: {"code":"2.05","payload":"<the agent's answer, JSON text>"} */
	cJSON *facts = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "payload")));
	long long v = -1;
	const cJSON *fact;
	cJSON_ArrayForEach(fact, facts)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fact, "id"));
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(fact, key);
		if (id && strstr(id, id_part) && cJSON_IsNumber(x))
			v = (long long)x->valuedouble;
	}
	cJSON_Delete(facts);
	cJSON_Delete(j);
	return v;
}

/* Waits until the agent says it has seen want entries of ours (the
 * journal.source fact); fails the test after ms, or at once when it says
 * more (counted twice). */
static void wait_live_seen(const struct fmh_fnode *n, long long want, uint64_t ms)
{
	uint64_t t0 = fm_now_ms();
	long long seen;
	while ((seen = live_num(n, "journal.source", n->jdir, "entries_seen")) != want) {
		if (seen > want)
			fail_msg("the agent counted %lld entries of ours, %lld were written", seen, want);
		if (fm_now_ms() - t0 > ms)
			fail_msg("the agent counted %lld entries of ours, not %lld, after %llu ms", seen, want,
				 (unsigned long long)ms);
		usleep(50000);
	}
}

/* Fails the test when a (key, raise) pair is in the history twice. */
static void no_raise_twice(const cJSON *show)
{
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(show, "history"))
	{
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(h, "key"));
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(h, "event"));
		if (k && e && strcmp(e, "raise") == 0 && fmh_history_count(show, k, "raise") != 1)
			fail_msg("%s raised %d times at the controller", k, fmh_history_count(show, k, "raise"));
	}
}

static void append(const struct fmh_fnode *n, size_t entries, size_t every, const char *id)
{
	char *text = fmh_journal_kubelet_text(entries, every, id);
	assert_non_null(text);
	assert_int_equal(fmh_journal_append(n->jfile, text), 0);
	free(text);
}

/* SIGKILL with the cursor on disk older than the rule's lines: read again,
 * counted once, raised once. */
static void sigkill_rereads_raises_once(void **st)
{
	(void)st;
	struct fmh_fnode node;
	char log[PATH_MAX], log2[PATH_MAX];
	long long seen, matched;
	assert_int_equal(fmh_fnode_init(&node, NULL), 0);
	pid_t agent = fmh_fnode_agent(&node, "agent.log", log, NULL, NULL, extra);
	wait_state_seen(&node, FIRST, 15000);

	/* 30 entries, the conflict every 10th: 3 lines of the rule */
	append(&node, 30, 10, ID_A);
	cJSON *j = fmh_fnode_wait_history(&node, "container-name-conflict", "raise", 30000);
	cJSON_Delete(j);
	wait_live_seen(&node, FIRST + 30, 30000);
	assert_int_equal(live_num(&node, "journal.match", ID_A, "count"), 3);
	/* the cursor on disk is the first batch's: older than the last 30 */
	state_counts(&node, &seen, &matched);
	assert_int_equal(seen, FIRST);
	assert_int_equal(matched, 0);

	int status;
	assert_int_equal(kill(agent, SIGKILL), 0);
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 128 + SIGKILL);

	uint64_t t0 = fm_now_ms();
	agent = fmh_fnode_agent(&node, "agent2.log", log2, NULL, NULL, extra);
	/* the 30 read again, counted once: 35 and 3, not 65 and 6 */
	wait_live_seen(&node, FIRST + 30, 30000);
	assert_int_equal(live_num(&node, "journal.match", ID_A, "count"), 3);

	/* The hold since the restart: a diagnosis the re-read had not
	 * brought back would be resolved by now (see the file's comment). */
	while (fm_now_ms() - t0 < HOLD_MS + 500)
		usleep(20000);
	fmh_fnode_ext4_errors(&node, "cursork", 2);
	j = fmh_fnode_wait_history(&node, "cursork", "raise", 30000);
	fmh_history_ordered(j);
	assert_int_equal(fmh_history_count(j, "container-name-conflict", "raise"), 1);
	assert_int_equal(fmh_history_count(j, "container-name-conflict", "resolve"), 0);
	assert_non_null(fmh_show_active(j, "container-name-conflict"));
	no_raise_twice(j);
	cJSON_Delete(j);
	assert_int_equal(fmh_log_count(log2, "diagnosis raised: container-name-conflict"), 0);

	/* SIGTERM writes what the re-read counted */
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	state_counts(&node, &seen, &matched);
	assert_int_equal(seen, FIRST + 30);
	assert_int_equal(matched, 3);
	fmh_fault_line("test_fault_cursor", "injects=sigkill-stale-cursor reread_entries=30 reread_matches=3 raises=1 save_interval_s=3600");
}

/* SIGTERM: the cursor written at exit; a restart repeats nothing and
 * loses nothing. */
static void sigterm_loses_nothing(void **st)
{
	(void)st;
	struct fmh_fnode node;
	char log[PATH_MAX], log2[PATH_MAX];
	long long seen, matched;
	int status;
	assert_int_equal(fmh_fnode_init(&node, NULL), 0);
	pid_t agent = fmh_fnode_agent(&node, "agent.log", log, NULL, NULL, extra);
	wait_state_seen(&node, FIRST, 15000);

	/* the rule's line last: its raise says all 30 were read */
	append(&node, 30, 30, ID_A);
	cJSON *j = fmh_fnode_wait_history(&node, "container-name-conflict", "raise", 30000);
	cJSON_Delete(j);
	state_counts(&node, &seen, &matched);
	assert_int_equal(seen, FIRST); /* not written since the first batch */

	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	state_counts(&node, &seen, &matched);
	assert_int_equal(seen, FIRST + 30);
	assert_int_equal(matched, 1);

	agent = fmh_fnode_agent(&node, "agent2.log", log2, NULL, NULL, extra);
	/* nothing repeated: the restart's own count is the exit's */
	wait_live_seen(&node, FIRST + 30, 30000);
	assert_int_equal(live_num(&node, "journal.match", ID_A, "count"), 1);
	/* nothing lost: what comes after the restart is counted, once */
	append(&node, 20, 20, ID_B);
	wait_live_seen(&node, FIRST + 50, 30000);
	assert_int_equal(live_num(&node, "journal.match", ID_A, "count"), 1);
	assert_int_equal(live_num(&node, "journal.match", ID_B, "count"), 1);

	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	state_counts(&node, &seen, &matched);
	assert_int_equal(seen, FIRST + 50);
	assert_int_equal(matched, 2);
	j = fmh_fnode_show(&node);
	assert_non_null(j);
	fmh_history_ordered(j);
	no_raise_twice(j);
	cJSON_Delete(j);
	fmh_fault_line("test_fault_cursor", "injects=sigterm-stale-cursor repeated=0 lost=0 save_interval_s=3600");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigkill_rereads_raises_once),
		cmocka_unit_test(sigterm_loses_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
