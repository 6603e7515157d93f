/* Fault: a collection in flight while the live sources change (issue 21,
 * the first bug of its review). etcd accepts connections and never answers
 * (every collection waits out its deadline on it, the loop serving the
 * live sources meanwhile), 6443 refuses, and kubelet's conflict lines keep
 * arriving in the journal, as in incident 1 (Docker holds the stale
 * attempts). The controller's history must show container-name-conflict
 * raised with apiserver-unreachable explained, and never
 * apiserver-unreachable raised on its own: no evaluation may see a source
 * half restated (a collection's facts are committed whole), and the
 * refusal is the blocked kube-apiserver's from the first evaluation that
 * sees it (the conflict lines are in the journal before the agent starts).
 * etcd-unreachable stands on its own beside it: etcd's silence is a fault
 * of its own (issue 20).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_faults.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static struct fmh_fault f;

FMH_FAULT_FIXTURES(f)

/* Collections to watch (1 s apart, each waiting ~1 s on etcd). */
#define WATCH_MS 8000

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void no_standalone_symptom(void **st)
{
	(void)st;
	int port;
	assert_true(fmh_listen_silent(&port) >= 0);
	char silent[64];
	snprintf(silent, sizeof(silent), "https://127.0.0.1:%d", port);
	/* incident 1's evidence first: stale attempts, kubelet's lines */
	assert_int_equal(fmh_incident1_break(&f.node), 0);

	fmh_fault_spawn(&f, silent); /* etcd accepting, never answering */
	fmh_fault_wait(&f, "container-name-conflict", "critical", 20000);

	/* More of kubelet's lines while collections come and go. */
	uint64_t end = fm_now_ms() + WATCH_MS;
	int batches = 0;
	while (fm_now_ms() < end) {
		assert_int_equal(fmh_incident1_break_journal(&f.node), 0);
		batches++;
		fmh_fault_alive(&f);
		sleep_ms(300);
	}
	fmh_fault_wait(&f, "etcd-unreachable", "critical", 10000);

	int status;
	cJSON *show = fmh_controller_json(&f.ctl, &status, "show", FMH_NODE_A, "--history", "200", NULL);
	assert_non_null(show);
	int raises = 0, conflict = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, fmh_field(show, "history"))
	{
		const char *ev = fmh_jstr(h, "event");
		const cJSON *code = cJSON_GetObjectItem(h, "code");
		if (strcmp(ev, "raise") != 0 || !cJSON_IsString(code))
			continue;
		raises++;
		conflict += strcmp(code->valuestring, "container-name-conflict") == 0;
		if (strcmp(code->valuestring, "apiserver-unreachable") == 0) {
			char *t = cJSON_Print(fmh_field(show, "history"));
			fail_msg("apiserver-unreachable raised on its own:\n%s", t);
		}
	}
	assert_true(conflict >= 1);
	/* what the controller holds now: the conflict, explaining the refusal */
	const cJSON *d, *cd = NULL;
	cJSON_ArrayForEach(d, fmh_field(show, "diagnoses"))
	{
		if (strcmp(fmh_jstr(d, "code"), "container-name-conflict") == 0)
			cd = d;
		assert_string_not_equal(fmh_jstr(d, "code"), "apiserver-unreachable");
	}
	assert_non_null(cd);
	assert_true(fmh_lists(fmh_field(cd, "explains"), "apiserver-unreachable"));
	fmh_fault_line("test_fault_halfstate", "batches=%d raises=%d standalone_apiserver=0", batches, raises);
	cJSON_Delete(show);
	fmh_fault_alive(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_standalone_symptom),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
