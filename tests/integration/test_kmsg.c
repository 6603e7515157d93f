/* The kernel log read from the real /dev/kmsg: lines written to it (as root)
 * become kmsg.match facts while the agent follows, a restart resumes after
 * the last record read (lines logged while it was down are counted once),
 * and probe's one-shot reads the ring back. Cannot open /dev/kmsg: FAIL. */
#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* One record into the kernel log. A fresh open each time: the kernel
 * rate-limits writers per open file. */
static void kmsg_write(const char *line)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open /dev/kmsg for writing (%s): this test needs root and /dev/kmsg",
			 strerror(errno));
	ssize_t n = write(fd, line, strlen(line));
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(line));
}

static void test_follow_and_resume(void **state)
{
	(void)state;
	char tmp[PATH_MAX], jdir[PATH_MAX + 16], sdir[PATH_MAX + 16], log[PATH_MAX + 16], line[128], id[96];
	assert_int_equal(fmh_tmpdir(tmp, sizeof(tmp)), 0);
	snprintf(jdir, sizeof(jdir), "%s/journal", tmp);
	snprintf(sdir, sizeof(sdir), "%s/state", tmp);
	/* an empty journal: only the kernel log says anything */
	assert_int_equal(mkdir(jdir, 0700), 0);

	/* the incident's line; earlier runs may have left it in the ring, so the
	 * exact counts are those of the follower, which starts at the end */
	snprintf(line, sizeof(line), "RPC: fragment too large: 1246907721\n");
	snprintf(id, sizeof(id), "rpc-fragment-too-large/1246907721");

	snprintf(log, sizeof(log), "%s/agent0.log", tmp);
	const char *argv[] = {fmh_agent(), "probe", "journal", "--follow", "--json", "--journal-dir", jdir,
			      "--state-dir", sdir, "--kmsg", "/dev/kmsg", NULL};
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	assert_int_equal(fmh_wait_log_pid(log, "\"kind\":\"kmsg.source\"", pid, 10000), 0);
	kmsg_write(line);
	assert_int_equal(fmh_wait_log_pid(log, id, pid, 5000), 0);
	assert_int_equal(fmh_follow_count(log, "kmsg.match", id), 1);
	assert_int_equal(fmh_stop(pid), 0);

	/* down: two more; then resumed from the saved sequence number */
	kmsg_write(line);
	kmsg_write(line);
	snprintf(log, sizeof(log), "%s/agent1.log", tmp);
	pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	assert_int_equal(fmh_wait_log_pid(log, "\"count\":3", pid, 10000), 0);
	assert_int_equal(fmh_follow_count(log, "kmsg.match", id), 3);
	/* and following again */
	kmsg_write(line);
	assert_int_equal(fmh_wait_log_pid(log, "\"count\":4", pid, 5000), 0);
	assert_true(fmh_follow_num(log, "kmsg.source", "/dev/kmsg", "last_seq") > 0);
	assert_int_equal(fmh_follow_num(log, "kmsg.source", "/dev/kmsg", "overruns"), 0);
	assert_int_equal(fmh_stop(pid), 0);

	/* the one-shot reads the ring back: all four are there (and those of
	 * earlier runs within the hour) */
	struct fmh_agent_run *r = calloc(1, sizeof(*r));
	fmh_run_agent(r, "probe", "journal", "--journal-dir", jdir, "--json", "--since", "1h", NULL);
	assert_int_equal(r->status, 0);
	const cJSON *f = fmh_find(fmh_field(r->json, "facts"), "kmsg.match", id);
	assert_non_null(f);
	assert_true(fmh_jnum(f, "count") >= 4);
	assert_string_equal(fmh_jstr(f, "source"), "kernel");
	assert_string_equal(fmh_jstr(fmh_field(f, "fields"), "protocol"), "java-rmi");
	assert_string_equal(fmh_jstr(fmh_field(f, "fields"), "marker_text"), "JRMI");
	const cJSON *src = fmh_find(fmh_field(r->json, "facts"), "kmsg.source", "/dev/kmsg");
	assert_non_null(src);
	assert_string_equal(fmh_jstr(src, "state"), "ok");
	assert_true(fmh_jnum(src, "records") >= 4);
	cJSON_Delete(r->json);
	free(r);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follow_and_resume),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
