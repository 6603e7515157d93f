/*
 * harness_victim [fail|abort|sigkill|term]: a test program that dies badly
 * while the harness runs a child for it, so that test_harness can check the
 * child does not outlive it.
 *
 * It starts `sleep 1000` with fmh_spawn() and makes a tmpdir, prints
 *   SLEEP_PID=<pid>
 *   TMPDIR=<path>
 * on stdout, and then, by mode:
 *   fail     fails a cmocka assertion (exit 1; the atexit cleanup stops sleep)
 *   abort    calls abort() (the SIGABRT handler cleans up)
 *   term     raises SIGTERM (the SIGTERM handler cleans up)
 *   sigkill  raises SIGKILL (no cleanup can run: PDEATHSIG kills sleep; the
 *            tmpdir stays, so put TMPDIR in a directory of your own)
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fm_harness.h"

static const char *mode = "fail";

static void test_victim(void **state)
{
	const char *const argv[] = {"sleep", "1000", NULL};
	char dir[PATH_MAX];
	pid_t pid;

	(void)state;
	pid = fmh_spawn(argv, NULL);
	assert_true(pid > 0);
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	printf("SLEEP_PID=%d\nTMPDIR=%s\n", (int)pid, dir);
	fflush(stdout);

	if (strcmp(mode, "abort") == 0)
		abort();
	if (strcmp(mode, "sigkill") == 0)
		raise(SIGKILL);
	if (strcmp(mode, "term") == 0)
		raise(SIGTERM);
	fail_msg("harness_victim fails on purpose (mode %s)", mode);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_victim),
	};

	if (fmh_init() != 0)
		return 99;
	if (argc > 1)
		mode = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
