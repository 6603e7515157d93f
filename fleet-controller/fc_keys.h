/* fc_keys: the controller's PSK keystore (`--keys FILE`).
 *
 * One `IDENTITY HEXKEY` pair a line, separated by blanks; `#` starts a
 * comment (a whole line or after the pair); blank lines are ignored. The
 * identity is the node's name (1..64 printable ASCII characters, no blank),
 * the key 16..64 bytes written as hex. A file that group or others may read
 * is refused: it holds every node's key.
 */
#ifndef FC_KEYS_H
#define FC_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define FC_KEYS_ID_MAX 64
#define FC_KEYS_KEY_MIN 16
#define FC_KEYS_KEY_MAX 64
/* Bounds on what is read: the file, one line. */
#define FC_KEYS_FILE_MAX (4 * 1024 * 1024)
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

#endif
