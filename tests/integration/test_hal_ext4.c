/* A real corrupted ext4 filesystem: an image on a loop device whose file's
 * inode debugfs clobbered (mode 0: no valid file type). Touching the file
 * makes the kernel answer EUCLEAN ("Structure needs cleaning") and count
 * the error; hal, and `fleetmedic-agent probe hal --json`, must report the
 * device's errors_count > 0 and the last error. With errors=remount-ro the
 * kernel also stops writes, and the read-only remount must be reported.
 * Mounts and loop devices are undone even when the test fails
 * (fmh_loopdev). Needs root: without it, or without losetup, mount,
 * mkfs.ext4 or debugfs, the test fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_loopdev.h"
#include "hal/hal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fs {
	char dir[256], img[300], mnt[300], file[320], dev[64], name[32];
	ino_t ino;
};

/* An ext4 image with one file whose inode is then corrupted, mounted with
 * opts. */
static void corrupted_fs(struct fs *f, const char *opts)
{
	assert_int_equal(getuid(), 0); /* loop devices and mounts need root */
	assert_int_equal(fmh_tmpdir(f->dir, sizeof(f->dir)), 0);
	snprintf(f->img, sizeof(f->img), "%s/ext4.img", f->dir);
	snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->dir);
	snprintf(f->file, sizeof(f->file), "%s/victim", f->mnt);
	assert_int_equal(mkdir(f->mnt, 0755), 0);
	assert_int_equal(fmh_ext4_image(f->img, 16), 0);
	assert_int_equal(fmh_loop_attach(f->img, f->dev, sizeof(f->dev)), 0);
	snprintf(f->name, sizeof(f->name), "%s", strrchr(f->dev, '/') + 1);

	assert_int_equal(fmh_mount(f->dev, f->mnt, opts), 0);
	int fd = open(f->file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "etcd member data\n", 17), 17);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	f->ino = st.st_ino;
	assert_int_equal(close(fd), 0);
	assert_int_equal(fmh_umount(f->mnt), 0);

	/* Mode 0 is no file type at all: ext4_iget refuses the inode as
	 * corrupted (EFSCORRUPTED, which is EUCLEAN). */
	assert_int_equal(fmh_debugfs(f->dev, "set_inode_field /victim mode 0"), 0);
	assert_int_equal(fmh_mount(f->dev, f->mnt, opts), 0);

	/* touch */
	errno = 0;
	fd = open(f->file, O_WRONLY | O_CREAT, 0644);
	int err = errno;
	if (fd >= 0)
		close(fd);
	assert_int_equal(fd, -1);
	assert_int_equal(err, EUCLEAN);
}

/* The ext4 entry for f's device; the kernel commits the error counters to
 * the superblock from a work item, so wait for them with a deadline. */
static const struct hal_ext4 *wait_ext4(struct hal_storage *s, const struct fs *f)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		assert_int_equal(hal_storage_read("/", s), 0);
		for (int i = 0; i < s->n_ext4; i++)
			if (!strcmp(s->ext4[i].dev, f->name) && s->ext4[i].errors_count > 0)
				return &s->ext4[i];
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10) {
			for (int i = 0; i < s->n_ext4; i++)
				print_message("ext4 %s: errors_count %lld %s\n", s->ext4[i].dev,
					      (long long)s->ext4[i].errors_count,
					      s->ext4[i].reason);
			fail_msg("no ext4 errors reported for %s within 10 s", f->name);
		}
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL); /* polling the counter, bounded by the deadline */
	}
}

static void ext4_errors_reported(void **state)
{
	(void)state;
	struct fs f;
	corrupted_fs(&f, "errors=continue");
	struct hal_storage *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	const struct hal_ext4 *x = wait_ext4(s, &f);
	assert_true(x->errors_count > 0);
	assert_string_equal(x->mount_point, f.mnt);
	assert_true(x->last.time > 0);
	assert_string_not_equal(x->last.func, "");
	assert_true(x->last.line > 0);
	assert_int_equal(x->last.ino, (int64_t)f.ino);
	assert_string_equal(hal_ext4_errcode_name(x->last.errcode), "EFSCORRUPTED");
	assert_true(x->first.time > 0);
	/* errors=continue: still writable. */
	for (int i = 0; i < s->n_ro; i++)
		assert_string_not_equal(s->ro[i].mount_point, f.mnt);
	free(s);

	/* The same through the agent binary, reading the real /proc and /sys. */
	struct fmh_agent_run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	fmh_run_agent(r, "probe", "hal", "--json", "--root", "/", NULL);
	assert_int_equal(r->status, 0);
	assert_non_null(r->json);
	const cJSON *facts = fmh_field(r->json, "facts");
	const cJSON *e = fmh_find(facts, "hal.ext4", f.name);
	assert_non_null(e);
	assert_true(fmh_jnum(e, "errors_count") > 0);
	assert_true(fmh_jbool(e, "has_errors"));
	assert_string_equal(fmh_jstr(e, "mount_point"), f.mnt);
	assert_string_equal(fmh_jstr(e, "last_error_errcode_name"), "EFSCORRUPTED");
	assert_int_equal((long long)fmh_jnum(e, "last_error_ino"), (long long)f.ino);
	assert_non_null(fmh_jstr(e, "last_error_func"));
	assert_non_null(fmh_jstr(e, "last_error_time"));
	cJSON_Delete(r->json);
	free(r);

	assert_int_equal(fmh_umount(f.mnt), 0);
	assert_int_equal(fmh_loop_detach(f.dev), 0);
}

static void remount_ro_reported(void **state)
{
	(void)state;
	struct fs f;
	corrupted_fs(&f, "errors=remount-ro");
	struct hal_storage *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	wait_ext4(s, &f);
	/* Writes are refused now. */
	char other[340];
	snprintf(other, sizeof(other), "%s/new", f.mnt);
	int fd = open(other, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EROFS);

	const struct hal_mount *m = NULL;
	for (int i = 0; i < s->n_ro; i++)
		if (!strcmp(s->ro[i].mount_point, f.mnt))
			m = &s->ro[i];
	assert_non_null(m);
	assert_true(m->super_ro);
	assert_false(m->mount_ro);
	assert_string_equal(m->errors, "remount-ro");
	assert_string_equal(m->source, f.dev);
	free(s);

	struct fmh_agent_run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	fmh_run_agent(r, "probe", "hal", "--json", NULL);
	assert_non_null(r->json);
	const cJSON *ro = fmh_find(fmh_field(r->json, "facts"), "hal.readonly", f.mnt);
	assert_non_null(ro);
	assert_true(fmh_jbool(ro, "remounted_ro"));
	assert_true(fmh_jbool(ro, "superblock_ro"));
	assert_string_equal(fmh_jstr(ro, "device"), f.dev);
	cJSON_Delete(r->json);
	free(r);

	assert_int_equal(fmh_umount(f.mnt), 0);
	assert_int_equal(fmh_loop_detach(f.dev), 0);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ext4_errors_reported),
	    cmocka_unit_test(remount_ro_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
