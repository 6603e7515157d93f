/* A private directory for the targets that read their input back from a
 * file (state files, key stores): made on first use (on /dev/shm when
 * writable), removed with what is
 * in it at exit, so a replay in ctest leaves nothing behind. */
#ifndef FUZZ_TMPDIR_H
#define FUZZ_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

static char fuzz_dir[64];

static void fuzz_tmpdir_remove(void)
{
	DIR *d = opendir(fuzz_dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	rmdir(fuzz_dir);
}

/* The directory, or NULL (then the target does nothing). */
static const char *fuzz_tmpdir(void)
{
	if (!fuzz_dir[0]) {
		/* tmpfs when there is one: the queue fsyncs every write */
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fm-fuzz-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(fuzz_dir)) {
			fuzz_dir[0] = '\0';
			return NULL;
		}
		atexit(fuzz_tmpdir_remove);
	}
	return fuzz_dir;
}

/* Writes size bytes of data as dir/name, mode 0600. 0 or -1. */
static int fuzz_put(const char *dir, const char *name, const void *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ssize_t w = size ? write(fd, data, size) : 0;
	close(fd);
	return w == (ssize_t)size ? 0 : -1;
}

#endif
