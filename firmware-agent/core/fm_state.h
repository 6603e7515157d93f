/* fm_state: the agent's state directory (/var/lib/fleetmedic by default):
 * small files that must survive a crash whole or not at all (the journal
 * cursor with the match counts, the kmsg sequence number).
 *
 * A write is atomic: the data goes to a temporary file in the same
 * directory, which is fsync'ed, renamed over the target, and the directory is
 * fsync'ed, so after a crash or power loss the file holds either the old or
 * the new content, never a mix or nothing.
 */
#ifndef FM_STATE_H
#define FM_STATE_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest state file written or read back. */
#define FM_STATE_MAX (512 * 1024)

/* Writes len bytes of data as dir/name atomically (see above); creates dir
 * (0700) and its missing parents (0755) when missing. name is a plain file
 * name (no '/'). 0, -EINVAL (bad
 * name), -EFBIG (len > FM_STATE_MAX) or -errno. Borrows everything. */
int fm_state_write(const char *dir, const char *name, const void *data, size_t len);

/* The same atomic replacement of dir/name, with no size bound and not
 * counted in fm_state_status (the controller's key store: enroll, revoke).
 * The file is created 0600 (its owner's alone). 0, -EINVAL or -errno. */
int fm_file_replace(const char *dir, const char *name, const void *data, size_t len);

/* Reads dir/name into buf (NUL-terminated; *len excludes the NUL). 0,
 * -ENOENT (no such state yet), -EFBIG (larger than size - 1 or FM_STATE_MAX:
 * not ours, refused), or -errno. */
int fm_state_read(const char *dir, const char *name, char *buf, size_t size, size_t *len);

/* The JSON forms, for state kept as one JSON object. write takes ownership
 * of o (also on failure); 0 or -errno as fm_state_write. read returns the
 * parsed object (caller owns it), or NULL with *rc set: -ENOENT (none yet),
 * -EBADMSG (not JSON, or nested deeper than FM_JSON_MAX_DEPTH), or as
 * fm_state_read. */
int fm_state_write_json(const char *dir, const char *name, cJSON *o);
cJSON *fm_state_read_json(const char *dir, const char *name, int *rc);

/* What the writes of this process have met, for the run loop to poll (the
 * queue, the journal and kmsg cursors all write through fm_state_write):
 * the failures of the filesystem (ENOSPC, EIO, EROFS …; not a bad name or
 * size, which are the caller's) are counted, and the last one kept until a
 * write to the same dir succeeds. */
struct fm_state_status {
	uint64_t failed;  /* writes failed since the start */
	uint64_t failing; /* failed in a row in dir (0: the last write there worked) */
	int err;	  /* -errno of the last failure (0: none yet) */
	char dir[PATH_MAX]; /* where the last failure was ("" none yet) */
	char name[128];	  /* the file it did not write */
};
/* Copies the status into *st. */
void fm_state_status(struct fm_state_status *st);
/* Whether the last write failed as the first of a run of failures in its
 * dir: the one a caller logs (an outage of the disk is one line in the
 * log, not one per write; the run loop's agent.state fact counts them). */
bool fm_state_failure_is_new(void);

/* The device holding dir ("loop3" for /dev/loop3; "MAJ:MIN" when the mount
 * table does not name one), from the agent's own mount table
 * (/proc/self/mountinfo: the state dir is the agent's, not the host's under
 * --root). 0 or -errno (-ENOENT: not found). */
int fm_state_device(const char *dir, char *dev, size_t size);

#endif
