/* fmh_loopdev: real ext4 filesystems on loop devices for the tests, and
 * leaving none behind.
 *
 * Every loop device attached and every mount made here is recorded (8 of
 * each) and undone at exit and from the fatal-signal handlers (SIGINT,
 * SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, chained before the harness's
 * own, which then removes the temporary directories) and when a sanitizer
 * aborts: mounts are detached (umount2 MNT_DETACH) and loop devices cleared
 * (LOOP_CLR_FD, which the kernel defers until a lazily unmounted
 * filesystem lets go). Only what was recorded is touched.
 *
 * Needs root, losetup, mkfs.ext4 and debugfs (e2fsprogs, util-linux): a
 * missing one makes the calls fail, and the test with them.
 */
#ifndef FMH_LOOPDEV_H
#define FMH_LOOPDEV_H

#include <stddef.h>

/* Creates an ext4 image file of size_mb MiB at path (truncate, mkfs.ext4).
 * 0 or -errno (-EIO: mkfs failed; its output went to stderr). */
int fmh_ext4_image(const char *path, int size_mb);

/* Attaches image to a free loop device (losetup --find --show) and records
 * it; dev gets "/dev/loopN". 0 or -errno. */
int fmh_loop_attach(const char *image, char *dev, size_t size);

/* Detaches a recorded loop device now. 0 or -errno. */
int fmh_loop_detach(const char *dev);

/* mount -t ext4 -o opts dev dir, recorded. 0 or -errno (-EIO: mount failed). */
int fmh_mount(const char *dev, const char *dir, const char *opts);

/* Unmounts a recorded mount now. 0 or -errno. */
int fmh_umount(const char *dir);

/* Runs debugfs -w -R request dev (the filesystem must not be mounted).
 * 0 or -errno (-EIO: debugfs failed). */
int fmh_debugfs(const char *dev, const char *request);

/* Runs debugfs -R request dev read-only (the filesystem should not be
 * mounted) and puts what it printed (stdout and stderr) into out. 0 or
 * -errno (-EIO: debugfs failed). */
int fmh_debugfs_read(const char *dev, const char *request, char *out, size_t size);

/* Undoes every recorded mount and loop device (also run at exit). */
void fmh_loopdev_cleanup(void);

#endif
