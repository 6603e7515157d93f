/* fm_state: atomic write, read back, caps. */
#include "fm_state.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/fm_state.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_roundtrip(void **state)
{
	(void)state;
	char sub[128], buf[64];
	size_t len;
	snprintf(sub, sizeof(sub), "%s/new", dir); /* created on first write */
	assert_int_equal(fm_state_read(sub, "x.state", buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(fm_state_write(sub, "x.state", "first", 5), 0);
	assert_int_equal(fm_state_write(sub, "x.state", "second!", 7), 0);
	assert_int_equal(fm_state_read(sub, "x.state", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "second!");
	/* no temporary file left behind */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s/.x.state.tmp", sub);
	assert_int_equal(access(tmp, F_OK), -1);
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* Missing parents are made too (0755), the state dir itself 0700. */
	char deep[160];
	snprintf(deep, sizeof(deep), "%s/var/lib/fleetmedic", dir);
	assert_int_equal(fm_state_write(deep, "x.state", "x", 1), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(deep, sizeof(deep), "%s/var/lib", dir);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	/* A regular file in the way is an error, not a silent success. */
	snprintf(deep, sizeof(deep), "%s/new/x.state/sub", dir);
	assert_int_equal(fm_state_write(deep, "y.state", "y", 1), -ENOTDIR);
}

static void test_caps(void **state)
{
	(void)state;
	char buf[8];
	size_t len;
	assert_int_equal(fm_state_write(dir, "../evil", "x", 1), -EINVAL);
	assert_int_equal(fm_state_write(dir, "", "x", 1), -EINVAL);
	assert_int_equal(fm_state_write(dir, "big", "x", FM_STATE_MAX + 1), -EFBIG);
	assert_int_equal(fm_state_write(dir, "long", "0123456789", 10), 0);
	/* larger than the caller's buffer: refused whole, never cut */
	assert_int_equal(fm_state_read(dir, "long", buf, sizeof(buf), &len), -EFBIG);
	assert_int_equal(len, 0);
	/* a directory where the file should be */
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(fm_state_read(dir, "adir", buf, sizeof(buf), &len), -EINVAL);
}

/* A write the filesystem refuses is counted and kept until a write to the
 * same dir works; no temporary file is left; the device is named. */
static void test_status(void **state)
{
	(void)state;
	char sub[128], file[160];
	struct fm_state_status st;
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	fm_state_status(&st);
	uint64_t failed0 = st.failed;
	/* sub a regular file: the tmp file cannot be made in it (ENOTDIR). */
	FILE *f = fopen(sub, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(fm_state_write(sub, "a.json", "{}", 2), -ENOTDIR);
	assert_true(fm_state_failure_is_new()); /* the one to log */
	assert_int_equal(fm_state_write(sub, "a.json", "{}", 2), -ENOTDIR);
	assert_false(fm_state_failure_is_new());
	fm_state_status(&st);
	assert_int_equal(st.failed, failed0 + 2);
	assert_int_equal(st.failing, 2);
	assert_int_equal(st.err, -ENOTDIR);
	assert_string_equal(st.dir, sub);
	assert_string_equal(st.name, "a.json");
	/* A bad name is the caller's: not counted. */
	assert_int_equal(fm_state_write(sub, "../x", "{}", 2), -EINVAL);
	fm_state_status(&st);
	assert_int_equal(st.failed, failed0 + 2);
	/* Another dir working does not clear sub's failure; sub's does. */
	assert_int_equal(fm_state_write(dir, "b.json", "{}", 2), 0);
	fm_state_status(&st);
	assert_int_equal(st.failing, 2);
	assert_int_equal(unlink(sub), 0);
	assert_int_equal(fm_state_write(sub, "a.json", "{}", 2), 0);
	fm_state_status(&st);
	assert_int_equal(st.failing, 0);
	assert_int_equal(st.failed, failed0 + 2);
	snprintf(file, sizeof(file), "%s/.a.json.tmp", sub);
	assert_int_equal(access(file, F_OK), -1);

	char dev[64];
	assert_int_equal(fm_state_device(dir, dev, sizeof(dev)), 0);
	assert_true(dev[0] != '\0');
	assert_int_equal(fm_state_device("/nonexistent/fm", dev, sizeof(dev)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_status),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
