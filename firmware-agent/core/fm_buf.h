/* fm_buf: a byte buffer that grows up to a fixed cap and no further.
 *
 * Used for response bodies and report encoding: an input can make the agent
 * refuse it, never make it grow without bound. The data is always followed by
 * a NUL byte (not counted in len) so text can be handed to parsers directly.
 */
#ifndef FM_BUF_H
#define FM_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct fm_buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap; /* allocated, excluding the NUL byte */
	size_t max; /* len never exceeds this */
	bool failed; /* an append was refused since init or reset (-EMSGSIZE,
		      * -ENOMEM): text built piece by piece checks it once */
};

/* An empty buffer that will hold at most max bytes. Allocates nothing. */
void fm_buf_init(struct fm_buf *b, size_t max);
/* Appends len bytes. 0, -EMSGSIZE (would exceed max; nothing appended) or
 * -ENOMEM. */
int fm_buf_append(struct fm_buf *b, const void *data, size_t len);
/* Appends printf's output. 0, -EMSGSIZE (nothing appended) or -ENOMEM. */
int fm_buf_printf(struct fm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its allocation for reuse. */
void fm_buf_reset(struct fm_buf *b);
/* Frees the allocation; the buffer is empty and reusable afterwards. */
void fm_buf_free(struct fm_buf *b);

#endif
