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

#include "fm_loop.h"

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
 * The file is made 0600, with the owner and group of the file it replaces
 * (a key store a service user reads stays readable to it). 0, -EINVAL or
 * -errno. */
int fm_file_replace(const char *dir, const char *name, const void *data, size_t len);

/* Reads dir/name into buf (NUL-terminated; *len excludes the NUL). 0,
 * -ENOENT (no such state yet), -EFBIG (larger than size - 1 or FM_STATE_MAX:
 * not ours, refused), -ELOOP (a symbolic link: never followed), -EINVAL (not
 * a regular file), -EPERM (not owned by the agent's effective uid: not a
 * file it wrote), or -errno. The owner is the opened fd's (fstat), so
 * nothing can be swapped in between the check and the read. */
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
/* st.failed alone, for the writers that write late (the journal and kmsg
 * cursors, --save-interval): a failure since their last write says their
 * file may be the one left stale, so they write at once. */
uint64_t fm_state_failures(void);
/* Whether the last write failed as the first of a run of failures in its
 * dir: the one a caller logs (an outage of the disk is one line in the
 * log, not one per write; the run loop's agent.state fact counts them). */
bool fm_state_failure_is_new(void);

/* When a position file that changes often is written (the journal's and
 * the kernel log's cursors, --save-interval): at most every save_ms while
 * it changes (issue 27: on an SD card each write is a page and two
 * fsyncs), and at once when it matters: save_ms 0, nothing written or
 * read back yet (a restart would read the whole boot again), the caller
 * says so (urgent), the last write failed, or another write in the state
 * dir failed since (the file on disk may be the stale one), or no timer.
 * The caller writes (and then calls fm_saver_wrote) when fm_saver_due says
 * so, and when its timer fires with dirty set. */
struct fm_saver {
	struct fm_timer timer; /* the caller's callback; ev.fd -1 until initialised */
	uint64_t save_ms;
	bool dirty;	       /* changes the file does not hold yet */
	bool saved_once;       /* the file holds a position (read back or written) */
	bool failed;	       /* the last write failed: the next change writes again */
	uint64_t failures;     /* fm_state_failures() after the last write */
	uint64_t saves;	       /* written by this process */
};
/* Before anything else (fm_saver_init may come later, or never). */
void fm_saver_prepare(struct fm_saver *s, uint64_t save_ms);
/* The timer on loop, fn its callback. 0 or -errno. */
int fm_saver_init(struct fm_saver *s, struct fm_loop *loop, fm_timer_fn fn);
void fm_saver_close(struct fm_saver *s);
/* A change to write: true when it must be written now, else the timer is
 * armed (when it is not already). */
bool fm_saver_due(struct fm_saver *s, bool urgent);
/* The file was written (rc 0) or not (-errno). */
void fm_saver_wrote(struct fm_saver *s, int rc);

/* The device holding dir ("loop3" for /dev/loop3; "MAJ:MIN" when the mount
 * table does not name one), from the agent's own mount table
 * (/proc/self/mountinfo: the state dir is the agent's, not the host's under
 * --root). 0 or -errno (-ENOENT: not found). */
int fm_state_device(const char *dir, char *dev, size_t size);

/* Whether dir can be the state dir at all, for `run` to refuse at start
 * what only the configuration can mend: creates it as fm_state_write would;
 * 0, or -ENOTDIR (it or a parent is a file), -EACCES … A filesystem in
 * trouble (read-only, full, I/O errors) is not refused: the agent runs on
 * and says so (state-unwritable). */
int fm_state_dir_usable(const char *dir);

/* --- damaged state: kept aside, never fatal (issue 25) ------------------ */

/* How many files put aside are kept per state file (NAME.bad-*): the
 * oldest go first. */
#define FM_STATE_BAD_KEEP 3

/* Puts dir/name aside, a file the agent cannot take (not JSON, not the
 * shape it writes, not its own, a symbolic link …; why says which, for
 * the log and the diagnosis): renamed to NAME.bad-YYYYMMDDTHHMMSSZ (UTC;
 * "-2", "-3" … appended when that is taken) in the same dir, never
 * followed or opened; of NAME's files put aside only the newest
 * FM_STATE_BAD_KEEP are kept; the dir is fsync'ed. Logs one warning and
 * records it for fm_state_bad_at (the run loop's agent.state fact, the
 * diagnosis state-corrupt), also when the rename fails (then the file
 * stays where it is and the agent's next write replaces it). The caller
 * starts from a clean state either way. 0 or -errno (of the rename).
 * Borrows everything. */
int fm_state_quarantine(const char *dir, const char *name, const char *why);

/* fm_state_read_json for the agent's own state read back at start: a file
 * that is there but not what the agent writes (anything but -ENOENT and
 * -ENOMEM: not JSON, too big, not its owner's, a link, unreadable) is put
 * aside by fm_state_quarantine and NULL returned with *rc set as
 * fm_state_read_json: the caller starts afresh. */
cJSON *fm_state_load_json(const char *dir, const char *name, int *rc);

/* A state file this process put aside. */
struct fm_state_bad {
	char dir[PATH_MAX];
	char name[128]; /* the state file */
	char kept[192]; /* what it is now called in dir ("": could not be moved) */
	char why[192];
	int64_t at;	/* when, seconds since the epoch */
};
/* The i-th file put aside by this process (the latest of each dir/name,
 * at most 8 names): true and *b set, false past the last. */
bool fm_state_bad_at(size_t i, struct fm_state_bad *b);

#endif
