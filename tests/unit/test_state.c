/* fm_state: atomic write, read back, caps; damaged files put aside. */
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

#include <dirent.h>

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

/* How many of name's files put aside are in d (newest into newest). */
static int count_bad(const char *d, const char *name, char *newest, size_t size)
{
	DIR *dp = opendir(d);
	assert_non_null(dp);
	const struct dirent *e;
	int n = 0;
	char pre[160];
	snprintf(pre, sizeof(pre), "%s.bad-", name);
	if (newest)
		newest[0] = '\0';
	while ((e = readdir(dp))) {
		if (strncmp(e->d_name, pre, strlen(pre)) != 0)
			continue;
		n++;
		if (newest && strverscmp(e->d_name, newest) > 0)
			snprintf(newest, size, "%s", e->d_name);
	}
	closedir(dp);
	return n;
}

/* The record of name's last quarantine, or fails. */
static struct fm_state_bad last_bad(const char *d, const char *name)
{
	struct fm_state_bad b;
	for (size_t i = 0; fm_state_bad_at(i, &b); i++)
		if (strcmp(b.dir, d) == 0 && strcmp(b.name, name) == 0)
			return b;
	fail_msg("no record of %s/%s put aside", d, name);
	return b;
}

/* A damaged file is renamed NAME.bad-STAMP (a suffix when taken), at most
 * FM_STATE_BAD_KEEP kept, the newest; the record names it. */
static void test_quarantine(void **state)
{
	(void)state;
	char q[128], path[256], newest[160];
	int rc;
	snprintf(q, sizeof(q), "%s/q", dir);
	assert_int_equal(fm_state_write(q, "uplink.json", "garbage{", 8), 0);
	assert_null(fm_state_load_json(q, "uplink.json", &rc));
	assert_int_equal(rc, -EBADMSG);
	snprintf(path, sizeof(path), "%s/uplink.json", q);
	assert_int_equal(access(path, F_OK), -1); /* gone: the agent starts clean */
	assert_int_equal(count_bad(q, "uplink.json", newest, sizeof(newest)), 1);
	struct fm_state_bad b = last_bad(q, "uplink.json");
	assert_string_equal(b.kept, newest);
	/* NAME.bad-YYYYMMDDTHHMMSSZ, UTC */
	assert_int_equal(strlen(b.kept), strlen("uplink.json.bad-") + 16);
	assert_int_equal(b.kept[strlen(b.kept) - 1], 'Z');
	assert_non_null(strstr(b.why, "not JSON"));
	/* What was in it is kept whole. */
	char buf[64];
	size_t len;
	assert_int_equal(fm_state_read(q, b.kept, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "garbage{");

	/* Again and again (within one second: suffixed), only the newest 3
	 * kept; none yet is not put aside. */
	for (int i = 0; i < 5; i++) {
		char text[16];
		snprintf(text, sizeof(text), "bad %d", i);
		assert_int_equal(fm_state_write(q, "uplink.json", text, strlen(text)), 0);
		assert_null(fm_state_load_json(q, "uplink.json", &rc));
	}
	assert_null(fm_state_load_json(q, "uplink.json", &rc));
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(count_bad(q, "uplink.json", newest, sizeof(newest)), FM_STATE_BAD_KEEP);
	assert_int_equal(fm_state_read(q, newest, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "bad 4");
	assert_string_equal(last_bad(q, "uplink.json").kept, newest);
	/* Another name's are its own. */
	assert_int_equal(fm_state_write(q, "uplink.json.x", "{}", 2), 0);
	assert_int_equal(fm_state_quarantine(q, "uplink.json.x", "test"), 0);
	assert_int_equal(count_bad(q, "uplink.json", NULL, 0), FM_STATE_BAD_KEEP);
	assert_int_equal(count_bad(q, "uplink.json.x", NULL, 0), 1);
	/* One record per name, not one per quarantine. */
	size_t n = 0;
	while (fm_state_bad_at(n, &b))
		n++;
	assert_int_equal(n, 2);
}

/* A symbolic link is put aside as the link, never followed; a file of
 * another owner and a FIFO are not the agent's either. */
static void test_quarantine_not_ours(void **state)
{
	(void)state;
	char q[128], target[256], link[256], kept[320];
	int rc;
	struct stat st;
	snprintf(q, sizeof(q), "%s/n", dir);
	snprintf(target, sizeof(target), "%s/secret", dir);
	assert_int_equal(fm_state_write(dir, "secret", "{\"cursor\":\"x\"}", 14), 0);
	assert_int_equal(fm_state_write(q, "first", "{}", 2), 0); /* makes q */
	snprintf(link, sizeof(link), "%s/journal.state", q);
	assert_int_equal(symlink(target, link), 0);
	assert_null(fm_state_load_json(q, "journal.state", &rc));
	assert_int_equal(rc, -ELOOP);
	struct fm_state_bad b = last_bad(q, "journal.state");
	snprintf(kept, sizeof(kept), "%s/%s", q, b.kept);
	assert_int_equal(lstat(kept, &st), 0);
	assert_true(S_ISLNK(st.st_mode)); /* the link moved, its target untouched */
	assert_int_equal(stat(target, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_non_null(strstr(b.why, "symbolic link"));

	/* Another owner's file (as root: chown works). */
	assert_int_equal(fm_state_write(q, "kmsg.state", "{\"seq\":1}", 9), 0);
	snprintf(link, sizeof(link), "%s/kmsg.state", q);
	if (geteuid() == 0) {
		assert_int_equal(chown(link, 4242, 4242), 0);
		assert_null(fm_state_load_json(q, "kmsg.state", &rc));
		assert_int_equal(rc, -EPERM);
		b = last_bad(q, "kmsg.state");
		assert_non_null(strstr(b.why, "not owned by the agent's user"));
		snprintf(kept, sizeof(kept), "%s/%s", q, b.kept);
		assert_int_equal(lstat(kept, &st), 0);
		assert_int_equal(st.st_uid, 4242);
		assert_int_equal(access(link, F_OK), -1);
	} else {
		fprintf(stderr, "not root: the other owner's file not tried\n");
	}

	/* A FIFO: refused at once (the read does not wait for a writer). */
	snprintf(link, sizeof(link), "%s/uplink.json", q);
	assert_int_equal(mkfifo(link, 0600), 0);
	assert_null(fm_state_load_json(q, "uplink.json", &rc));
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(access(link, F_OK), -1);

	/* Cannot be moved (dir gone): recorded, kept empty, an error. */
	assert_int_equal(fm_state_quarantine("/nonexistent/fm", "uplink.json", "test"), -ENOENT);
	b = last_bad("/nonexistent/fm", "uplink.json");
	assert_string_equal(b.kept, "");
}

/* The state dir itself: a file where it should be is the configuration's
 * error; a missing one is made. */
static void test_dir_usable(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof(p), "%s/made/here", dir);
	assert_int_equal(fm_state_dir_usable(p), 0);
	snprintf(p, sizeof(p), "%s/secret", dir);
	assert_int_equal(fm_state_write(dir, "secret", "x", 1), 0);
	assert_int_equal(fm_state_dir_usable(p), -ENOTDIR);
	snprintf(p, sizeof(p), "%s/secret/below", dir);
	assert_int_equal(fm_state_dir_usable(p), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_quarantine),
		cmocka_unit_test(test_quarantine_not_ours),
		cmocka_unit_test(test_dir_usable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
