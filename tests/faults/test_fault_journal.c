/* Fault: the journal directory the agent follows is rotated (the active
 * file renamed to an archived name as journald does, a new one started)
 * twice and vacuumed (`journalctl -D DIR --vacuum-files=1` deletes the
 * archived files: it counts the active one) under a running agent (issue 11):
 *   - the agent keeps following: incident 1's kubelet line written after
 *     the vacuum still raises container-name-conflict at the controller;
 *   - no fd to a deleted journal file is kept (counted in /proc/PID/fd,
 *     waited for with a deadline of 5 s);
 *   - the agent stays up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_faults.h"
#include "fmh_journal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct fmh_fault f;

FMH_FAULT_FIXTURES(f)

static void routine(size_t n)
{
	char *text = fmh_journal_kubelet_text(n, 0, NULL);
	assert_non_null(text);
	assert_int_equal(fmh_journal_append(f.node.jfile, text), 0);
	free(text);
}

static int journal_files(void)
{
	DIR *d = opendir(f.node.jdir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".journal") != NULL;
	closedir(d);
	return n;
}

/* How long until the agent holds no fd to a deleted file; fails after
 * limit_ms. */
static long until_no_deleted(uint64_t limit_ms)
{
	uint64_t t0 = fm_now_ms();
	struct fmh_proc p;
	for (;;) {
		assert_int_equal(fmh_proc_sample(f.agent, &p), 0);
		if (p.deleted == 0)
			return (long)(fm_now_ms() - t0);
		if (fm_now_ms() - t0 > limit_ms)
			fail_msg("the agent keeps %d fds to deleted files for %llu ms", p.deleted,
				 (unsigned long long)limit_ms);
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void journal_rotated_and_vacuumed(void **st)
{
	(void)st;
	fmh_fault_agent(&f);
	for (unsigned r = 1; r <= 2; r++) {
		assert_int_equal(fmh_journal_rotate(f.node.jdir, r), 0);
		routine(200);
	}
	assert_int_equal(journal_files(), 3);
	const char *vac[] = {"journalctl", "-D", f.node.jdir, "--vacuum-files=1", NULL};
	char out[4096];
	int status;
	assert_int_equal(fmh_run(vac, out, sizeof(out), &status, 30000), 0);
	if (status != 0)
		fail_msg("journalctl --vacuum-files=1: %s", out);
	/* journalctl counts the active file too: the archived ones go */
	int vacuumed = 3 - journal_files();
	assert_int_equal(vacuumed, 2);
	/* the agent is told by inotify; it lets go of the deleted file */
	long deleted_ms = until_no_deleted(5000);
	fmh_fault_alive(&f);

	/* incident 1 after the vacuum: still followed */
	assert_int_equal(fmh_incident1_break_docker(&f.node), 0);
	uint64_t t0 = fm_now_ms();
	assert_int_equal(fmh_incident1_break_journal(&f.node), 0);
	long match_ms = (long)(fm_now_ms() - t0) + fmh_fault_wait(&f, "container-name-conflict", "critical", 10000);
	fmh_fault_alive(&f);
	/* every conflict line of incident 1's counted once (30, every 3rd) */
	char blk[16];
	snprintf(blk, sizeof(blk), "%.12s", f.node.id24);
	assert_int_equal(fmh_fault_match_count(&f, blk), 10);
	struct fmh_proc p;
	assert_int_equal(fmh_proc_sample(f.agent, &p), 0);
	assert_int_equal(p.deleted, 0);
	fmh_fault_line("test_fault_journal",
		       "injects=journal-rotate-vacuum rotations=2 vacuumed_files=%d deleted_fd_gone_ms=%ld match_after_ms=%ld fds=%d",
		       vacuumed, deleted_ms, match_ms, p.fds);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(journal_rotated_and_vacuumed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
