/* fm_conf: configuration values as people write them. */
#ifndef FM_CONF_H
#define FM_CONF_H

#include <stddef.h>
#include <stdint.h>

/* Parses a duration: a number with a unit, ms, s, m, h or d ("500ms", "2s",
 * "30m", "2h"); a bare number is seconds. 0 with *ms set, or -EINVAL. */
int fm_conf_duration_ms(const char *s, uint64_t *ms);

/* The value of one hex digit (either case), or -1. Inline: the HTTP
 * parser and the triage query parser use it without the rest of fm_conf. */
static inline int fm_hexdigit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes len hex digits of s (either case, no separators) into out, which
 * holds max bytes; *n gets the byte count. 0, or -EINVAL (odd length or a
 * non-hex digit) or -EMSGSIZE (more than max bytes). Borrows everything. */
int fm_conf_hex(const char *s, size_t len, uint8_t *out, size_t max, size_t *n);

/* Opens a file that holds a secret (a PSK, a key store) for reading, and
 * refuses it when group or others may read or write it (a key anyone on
 * the machine can read is no key), or when it is not a regular file.
 * The fd (O_CLOEXEC), -EPERM (mode too open: *mode gets it), -EINVAL (not a
 * regular file), or -errno from open/fstat. mode may be NULL. */
int fm_conf_open_secret(const char *path, unsigned *mode);

#endif
