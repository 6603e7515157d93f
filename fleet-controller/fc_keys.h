/* fc_keys: the controller's PSK keystore (`--keys FILE`).
 *
 * One `IDENTITY HEXKEY [PREVIOUS-HEXKEY]` a line, separated by blanks; `#`
 * starts a comment (a whole line or after the pair); blank lines are
 * ignored. The identity is the node's name (fm_node_name_ok), a key 16..64
 * bytes written as hex. The third field is a rotated node's previous key
 * (`enroll --rotate`): serve takes it as well until the node has handshaken
 * with the new one. A file that group or others may read is refused: it
 * holds every node's key.
 */
#ifndef FC_KEYS_H
#define FC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_KEYS_ID_MAX 64
#define FC_KEYS_KEY_MIN 16
#define FC_KEYS_KEY_MAX 64
/* Bounds on what is read: the file, one line. */
#define FC_KEYS_FILE_MAX_MIB 16 /* 100,000 nodes of 64-byte keys: 14 MB */
#define FC_KEYS_FILE_MAX (FC_KEYS_FILE_MAX_MIB * 1024 * 1024)
#define FC_KEYS_LINE_MAX 512

struct fm_buf;
struct fc_keys;

/* Loads path. Every problem goes to errs (may be NULL) as one line
 * "PATH:LINE: what is wrong\n" (or "PATH: ..." for the file as a whole),
 * as many as there are bad lines (up to errs' cap); a file with any bad line
 * is refused whole, so a typo never silently locks a node out.
 * 0 with *out set (caller owns it; fc_keys_delete), -EPERM (group/other
 * may read it), -EINVAL (bad lines), -EFBIG, or -errno from reading it.
 * An empty file is valid (no node can connect). */
int fc_keys_load(const char *path, struct fc_keys **out, struct fm_buf *errs);
void fc_keys_delete(struct fc_keys **k);

/* The key of identity (id_len bytes, not NUL-terminated), or NULL. *len gets
 * its length. Valid until fc_keys_delete. */
const uint8_t *fc_keys_find(const struct fc_keys *k, const void *id, size_t id_len,
			    size_t *len);
size_t fc_keys_count(const struct fc_keys *k);

/* A node's keys: its key, and its previous one (NULL when none) with
 * serve's note on which to offer its next handshake. false: no such
 * identity. Valid until fc_keys_delete. */
enum fc_keys_note {
	FC_KEYS_NOTE_NONE,    /* nothing known here: the store may say */
	FC_KEYS_NOTE_PREV,    /* the node holds the previous key */
	FC_KEYS_NOTE_CURRENT, /* it holds the new one (the previous failed) */
};
struct fc_keys_pair {
	const uint8_t *key;
	size_t len;
	const uint8_t *prev;
	size_t prev_len;
	enum fc_keys_note note;
};
bool fc_keys_get(const struct fc_keys *k, const void *id, size_t id_len, struct fc_keys_pair *out);
/* serve's note of which of a rotated node's keys to offer its next
 * handshake (DTLS-PSK names the identity, not the key): the one it used
 * last, or not the one that failed. */
void fc_keys_set_note(struct fc_keys *k, const void *id, size_t id_len, enum fc_keys_note note);
/* A reload: the notes of from's rotated nodes go to the same nodes in to
 * where their keys are the same. */
void fc_keys_carry_notes(struct fc_keys *to, const struct fc_keys *from);
/* The node has handshaken with its new key: the previous one is no more. */
void fc_keys_forget_prev(struct fc_keys *k, const void *id, size_t id_len);

/* enroll / revoke: changes node's line in the file at path, atomically
 * (fm_file_replace: a temporary file, fsync, rename, the directory fsync'ed;
 * mode 0600), under an exclusive lock on its directory; every other line
 * (comments too) is kept as it is. A file that does not load is not
 * touched.
 *   FC_KEYS_ADD         appends `node key` (the file and its directory, 0700,
 *                       are made when missing); -EEXIST when node is there
 *   FC_KEYS_ROTATE      node's line becomes `node key PREVIOUS`, PREVIOUS the
 *                       key it is known to hold (its current one, or the
 *                       previous one of a rotation not yet taken up)
 *   FC_KEYS_ROTATE_NOW  `node key`: the old key stops at once
 *   FC_KEYS_REVOKE      node's line goes
 * -ENOENT when node is not there (but for ADD). 0, or -errno with a line in
 * errs saying why. key is ignored for REVOKE. */
/* The directory of the keys file at path into dir (size bytes; "." for a
 * bare name), and its name within it (a pointer into path; "" when path
 * ends in '/'): what enroll locks and serve watches. */
const char *fc_keys_dir(const char *path, char *dir, size_t size);

enum fc_keys_op { FC_KEYS_ADD, FC_KEYS_ROTATE, FC_KEYS_ROTATE_NOW, FC_KEYS_REVOKE };
int fc_keys_edit(const char *path, const char *node, enum fc_keys_op op, const uint8_t *key, size_t key_len,
		 struct fm_buf *errs);

#endif
