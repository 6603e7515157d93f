#include "fmh_loopdev.h"
#include "fm_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#define MAX_REC 8
#define RUN_MS	60000

/* Fixed tables: the signal handler walks them without allocating. */
static char mounts[MAX_REC][256];
static char loops[MAX_REC][64];
static volatile sig_atomic_t mounts_used[MAX_REC], loops_used[MAX_REC];
static bool installed;

/* Async-signal-safe: only umount2, open, ioctl, close. */
static void undo_all(void)
{
	for (int i = 0; i < MAX_REC; i++)
		if (mounts_used[i]) {
			if (umount2(mounts[i], 0) != 0)
				umount2(mounts[i], MNT_DETACH);
			mounts_used[i] = 0;
		}
	for (int i = 0; i < MAX_REC; i++)
		if (loops_used[i]) {
			int fd = open(loops[i], O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				ioctl(fd, LOOP_CLR_FD, 0);
				close(fd);
			}
			loops_used[i] = 0;
		}
}

/* The harness runs it before it stops processes and removes directories:
 * at exit, at a test's fmh_cleanup(), on a fatal signal, on a sanitizer's
 * death. */
static void install(void)
{
	if (installed)
		return;
	fmh_init();
	fmh_on_cleanup(undo_all);
	installed = true;
}

void fmh_loopdev_cleanup(void)
{
	undo_all();
}

/* Runs argv to its end, its output into out (printed when it fails). */
static int run_out(const char *const argv[], char *out, size_t size)
{
	int status = -1;
	int rc = fmh_run(argv, out, size, &status, RUN_MS);
	if (rc < 0) {
		fprintf(stderr, "fmh_loopdev: cannot run %s: %s\n", argv[0], strerror(-rc));
		return rc;
	}
	if (status != 0) {
		fprintf(stderr, "fmh_loopdev: %s exited %d:\n%s\n", argv[0], status, out);
		return -EIO;
	}
	return 0;
}

static int run(const char *const argv[])
{
	char out[4096];
	return run_out(argv, out, sizeof(out));
}

int fmh_ext4_image(const char *path, int size_mb)
{
	char size[32];
	snprintf(size, sizeof(size), "%dM", size_mb);
	install();
	const char *const trunc[] = {"truncate", "-s", size, path, NULL};
	const char *const mkfs[] = {"mkfs.ext4", "-q", "-F", path, NULL};
	int rc = run(trunc);
	return rc < 0 ? rc : run(mkfs);
}

int fmh_loop_attach(const char *image, char *dev, size_t size)
{
	install();
	int slot = -1;
	for (int i = 0; i < MAX_REC && slot < 0; i++)
		if (!loops_used[i])
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	const char *const argv[] = {"losetup", "--find", "--show", image, NULL};
	char out[256];
	int status = -1;
	int rc = fmh_run(argv, out, sizeof(out), &status, RUN_MS);
	if (rc < 0)
		return rc;
	out[strcspn(out, "\n")] = '\0';
	if (status != 0 || strncmp(out, "/dev/loop", 9) != 0) {
		fprintf(stderr, "fmh_loopdev: losetup exited %d: %s\n", status, out);
		return -EIO;
	}
	if (strlen(out) >= size || strlen(out) >= sizeof(loops[slot]))
		return -ENAMETOOLONG;
	memcpy(loops[slot], out, strlen(out) + 1);
	loops_used[slot] = 1;
	memcpy(dev, out, strlen(out) + 1);
	return 0;
}

int fmh_loop_detach(const char *dev)
{
	for (int i = 0; i < MAX_REC; i++)
		if (loops_used[i] && !strcmp(loops[i], dev)) {
			const char *const argv[] = {"losetup", "-d", dev, NULL};
			int rc = run(argv);
			loops_used[i] = 0;
			return rc;
		}
	return -ESRCH;
}

int fmh_mount(const char *dev, const char *dir, const char *opts)
{
	install();
	int slot = -1;
	for (int i = 0; i < MAX_REC && slot < 0; i++)
		if (!mounts_used[i])
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	if (strlen(dir) >= sizeof(mounts[slot]))
		return -ENAMETOOLONG;
	/* Recorded before mounting: a signal in between finds it and umount2
	 * fails harmlessly. */
	memcpy(mounts[slot], dir, strlen(dir) + 1);
	mounts_used[slot] = 1;
	const char *const argv[] = {"mount", "-t", "ext4", "-o", opts, dev, dir, NULL};
	int rc = run(argv);
	if (rc < 0)
		mounts_used[slot] = 0;
	return rc;
}

int fmh_umount(const char *dir)
{
	for (int i = 0; i < MAX_REC; i++)
		if (mounts_used[i] && !strcmp(mounts[i], dir)) {
			int rc = umount2(dir, 0) == 0 ? 0 : -errno;
			mounts_used[i] = 0;
			return rc;
		}
	return -ESRCH;
}

int fmh_debugfs(const char *dev, const char *request)
{
	const char *const argv[] = {"debugfs", "-w", "-R", request, dev, NULL};
	return run(argv);
}

int fmh_debugfs_read(const char *dev, const char *request, char *out, size_t size)
{
	const char *const argv[] = {"debugfs", "-R", request, dev, NULL};
	return run_out(argv, out, size);
}
