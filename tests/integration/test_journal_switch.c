/* The journal follower (fm_journal, in this process) taken through every
 * way the journal's files change under it, one step at a time: the writer
 * is systemd-journal-remote run once per step, the file switch is done by
 * the test (the active file renamed to an archived name and a new one
 * begun, as journald's rotation does), and the follower is driven by this
 * test's own loop: either to idle (every inotify event and batch handled:
 * nothing is ready for SETTLE_MS while the batch timer is 1 ms) or exactly
 * one batch (what fm_journal_new reads before returning). After each step
 * the counts are exact: every entry of ours seen once, every conflict line
 * counted once (issue 18).
 *
 * The cases:
 *   - a switch while the follower is caught up, and after a switch;
 *   - a switch in the middle of a backlog (one batch read of 30,000
 *     entries, more than a batch and more than the reopen interval, so the
 *     follower reopens at a cursor whose file was renamed meanwhile);
 *   - the writer's rewrite at a switch: the last entry of the full file
 *     written again at the head of the new one, under the next sequence
 *     number of the same sequence-number id (what journald and
 *     systemd-journal-remote 252 do when a file fills up in the middle of
 *     an entry; journalctl then shows the entry twice) - with the follower
 *     caught up, in the middle of a backlog, across a reopen and across a
 *     restart from the saved state.
 */
#include "fm_harness.h"
#include "fm_journal.h"
#include "fm_loop.h"
#include "fm_rules.h"
#include "fmh_journal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define ID	    "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"
#define MATCH_ID    "container-name-conflict.docker/" ID
/* Longer than any timer the follower arms between batches (1 ms): a loop
 * with nothing ready for this long has nothing left to do. */
#define SETTLE_MS   200
/* More than one batch (16384 entries) and than the reopen interval (20000). */
#define BACKLOG	    30000

struct jt {
	char tmp[PATH_MAX], dir[PATH_MAX], file[PATH_MAX], state[PATH_MAX], next[PATH_MAX];
	struct fm_loop *loop;
	struct fm_facts *facts;
	struct fm_rules *rules;
	struct fm_journal *jr;
	unsigned rotations;
	long long entries, conflicts, rewrites; /* written */
};

static int setup(void **state)
{
	struct jt *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	assert_int_equal(fmh_tmpdir(t->tmp, sizeof(t->tmp)), 0);
	snprintf(t->dir, sizeof(t->dir), "%s/journal", t->tmp);
	snprintf(t->state, sizeof(t->state), "%s/state", t->tmp);
	snprintf(t->file, sizeof(t->file), "%s/remote.journal", t->dir);
	snprintf(t->next, sizeof(t->next), "%s/next.journal", t->tmp);
	assert_int_equal(mkdir(t->dir, 0700), 0);
	assert_int_equal(mkdir(t->state, 0700), 0);
	assert_non_null(t->loop = fm_loop_new());
	assert_non_null(t->facts = fm_facts_new());
	assert_non_null(t->rules = fm_rules_new());
	char err[256];
	assert_int_equal(fm_rules_load_default(t->rules, err, sizeof(err)), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct jt *t = *state;
	fm_journal_delete(&t->jr);
	fm_rules_delete(&t->rules);
	fm_facts_delete(&t->facts);
	fm_loop_delete(&t->loop);
	free(t);
	return 0;
}

/* The writer ------------------------------------------------------------------ */

/* n kubelet entries, every third the conflict line (n a multiple of 3: the
 * last entry is a conflict). */
static void write_entries(struct jt *t, size_t n)
{
	assert_int_equal(n % 3, 0);
	char *text = fmh_journal_kubelet_text(n, 3, ID);
	assert_non_null(text);
	assert_int_equal(fmh_journal_append(t->file, text), 0);
	free(text);
	t->entries += (long long)n;
	t->conflicts += (long long)n / 3;
}

/* The active file renamed to an archived name (journald's rotation); the
 * next write begins a new one. */
static void rotate(struct jt *t)
{
	assert_int_equal(fmh_journal_rotate(t->dir, ++t->rotations), 0);
}

static void run_cmd(const char *const argv[], char *out, size_t size)
{
	int st;
	assert_int_equal(fmh_run(argv, out, size, &st, 60000), 0);
	if (st != 0)
		fail_msg("%s failed (%d): %s", argv[0], st, out ? out : "");
}

/* The writer's rewrite at a file switch: the active file's last entry
 * (a conflict line) written again, stamps and fields as they were, as the
 * first entry of the new active file, which has the same sequence-number
 * id (only a writer's own rotation gives that: here the new file begins as
 * a copy of the old, whose entries sd-journal then recognises as the same
 * entries by their equal sequence numbers). */
static void rotate_rewriting_last(struct jt *t)
{
	static char out[65536];
	const char *last[] = {"journalctl", "--file", t->file, "-o", "export", "-n", "1", NULL};
	run_cmd(last, out, sizeof(out));
	/* __CURSOR and the like are the reader's, not the entry's */
	static char entry[65536];
	size_t n = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, "__", 2) != 0 || strncmp(l, "__REALTIME_TIMESTAMP=", 21) == 0 ||
		    strncmp(l, "__MONOTONIC_TIMESTAMP=", 22) == 0)
			n += (size_t)snprintf(entry + n, sizeof(entry) - n, "%s\n", l);
	assert_non_null(strstr(entry, ID));
	snprintf(entry + n, sizeof(entry) - n, "\n"); /* the entry's end: without it the writer drops it */
	const char *cp[] = {"cp", t->file, t->next, NULL};
	run_cmd(cp, NULL, 0);
	assert_int_equal(fmh_journal_append_export(t->next, entry), 0);
	rotate(t);
	assert_int_equal(rename(t->next, t->file), 0);
	t->rewrites++;
	/* the journal now holds that entry twice, for journalctl too */
	static char cat[1 << 16];
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "journalctl -D '%s' -o cat | grep -c %s", t->dir, ID);
	const char *count[] = {"sh", "-c", cmd, NULL};
	run_cmd(count, cat, sizeof(cat));
	assert_int_equal(atoll(cat), t->conflicts + t->rewrites);
}

/* The follower --------------------------------------------------------------------- */

/* Starts the follower (with the state dir: a restart resumes), which reads
 * one batch before it returns. */
static void follow(struct jt *t)
{
	struct fm_journal_opts o = {.dir = t->dir, .state_dir = t->state, .rules = t->rules};
	char err[256];
	t->jr = fm_journal_new(t->loop, &o, t->facts, err, sizeof(err));
	if (!t->jr)
		fail_msg("fm_journal_new: %s", err);
}

/* Runs the loop until the follower has nothing left to do. */
static void settle(struct jt *t)
{
	while (fm_loop_run_once(t->loop, SETTLE_MS) > 0)
		;
}

static long long source_num(struct jt *t, const char *key)
{
	const cJSON *f = fm_facts_get(t->facts, "journal.source", t->dir);
	assert_non_null(f);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, key);
	assert_true(cJSON_IsNumber(v));
	return (long long)v->valuedouble;
}

static long long conflicts_counted(struct jt *t)
{
	const cJSON *f = fm_facts_get(t->facts, "journal.match", MATCH_ID);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "count");
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

/* Every entry written seen once, every conflict counted once, every
 * rewrite recognised. */
static void exactly_once(struct jt *t)
{
	settle(t);
	assert_int_equal(source_num(t, "entries_seen"), t->entries);
	assert_int_equal(conflicts_counted(t), t->conflicts);
	assert_int_equal(source_num(t, "entries_matched"), t->conflicts);
	assert_int_equal(source_num(t, "entries_rewritten"), t->rewrites);
}

/* One batch read of a backlog: the follower is in the middle of it. */
static void mid_batch(struct jt *t)
{
	long long seen = source_num(t, "entries_seen");
	assert_true(seen > 0 && seen < t->entries);
}

/* The cases ------------------------------------------------------------------------- */

static void switch_caught_up(void **state)
{
	struct jt *t = *state;
	write_entries(t, 300);
	follow(t);
	exactly_once(t);
	rotate(t);
	write_entries(t, 300);
	exactly_once(t);
	write_entries(t, 30);
	exactly_once(t);
}

static void switch_mid_backlog(void **state)
{
	struct jt *t = *state;
	write_entries(t, BACKLOG);
	follow(t);
	mid_batch(t);
	rotate(t);
	write_entries(t, 3000);
	exactly_once(t);
	/* the catch-up ended with a reopen, at a cursor in the renamed file */
	assert_true(source_num(t, "reopens") >= 1);
	rotate(t);
	write_entries(t, 300);
	exactly_once(t);
}

static void rewrite_caught_up(void **state)
{
	struct jt *t = *state;
	write_entries(t, 300);
	follow(t);
	exactly_once(t);
	rotate_rewriting_last(t);
	exactly_once(t);
	write_entries(t, 30);
	exactly_once(t);
}

static void rewrite_mid_backlog(void **state)
{
	struct jt *t = *state;
	write_entries(t, BACKLOG);
	follow(t);
	mid_batch(t);
	rotate_rewriting_last(t);
	write_entries(t, 300);
	exactly_once(t);
}

/* The catch-up of a backlog ends with a reopen at the cursor (the
 * conflict the writer then writes again): the rewrite is read by the
 * reopened journal. */
static void rewrite_after_reopen(void **state)
{
	struct jt *t = *state;
	write_entries(t, BACKLOG);
	follow(t);
	exactly_once(t);
	long long reopens = source_num(t, "reopens");
	assert_true(reopens >= 1);
	rotate_rewriting_last(t);
	write_entries(t, 30);
	exactly_once(t);
}

/* Stopped after the entry (its state saved), the rewrite made while it is
 * down: the restarted follower does not count it again. */
static void rewrite_across_restart(void **state)
{
	struct jt *t = *state;
	write_entries(t, 300);
	follow(t);
	exactly_once(t);
	fm_journal_delete(&t->jr);
	fm_facts_drop(t->facts, "");
	rotate_rewriting_last(t);
	write_entries(t, 30);
	follow(t);
	exactly_once(t);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(switch_caught_up, setup, teardown),
		cmocka_unit_test_setup_teardown(switch_mid_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(rewrite_caught_up, setup, teardown),
		cmocka_unit_test_setup_teardown(rewrite_mid_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(rewrite_after_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(rewrite_across_restart, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
