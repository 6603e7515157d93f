/* fm_conf: configuration values as people write them. */
#ifndef FM_CONF_H
#define FM_CONF_H

#include <stdbool.h>
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

/* A node's name, the same rule everywhere it is taken (the agent's identity,
 * the controller's key store, enroll/revoke, the HTTP API's paths): 1 to
 * FM_NODE_NAME_MAX bytes of [A-Za-z0-9._-], beginning with a letter or a
 * digit (what a host name or a Kubernetes node name is). n: its length. */
#define FM_NODE_NAME_MAX 64
bool fm_node_name_ok(const char *s, size_t n);
#define FM_NODE_NAME_RULE "1 to 64 of A-Z a-z 0-9 . _ -, beginning with a letter or a digit"

/* Opens a file that holds a secret (a PSK, a key store) for reading, and
 * refuses it when group or others may read or write it (a key anyone on
 * the machine can read is no key), or when it is not a regular file.
 * The fd (O_CLOEXEC), -EPERM (mode too open: *mode gets it), -EINVAL (not a
 * regular file), or -errno from open/fstat. mode may be NULL. */
int fm_conf_open_secret(const char *path, unsigned *mode);

/* The configuration file's bounds: the whole text, one line, the settings. */
#define FM_CONF_TEXT_MAX (64 * 1024)
#define FM_CONF_LINE_MAX 4096
#define FM_CONF_KEYS_MAX 256

/* Called for each "key = value" line: key and value are trimmed, non-empty
 * and point into the text (valid while it is). 0, or -1 with why saying
 * what is wrong with that line (without a prefix: the parser says where). */
typedef int (*fm_conf_line_fn)(void *arg, const char *key, const char *value, char *why, size_t why_size);

/* Splits a configuration text into "key = value" lines: '#' starts a
 * comment, blank lines are skipped, spaces around key and value are not
 * part of them. Refuses the whole text at the first line that is wrong: a
 * NUL byte (not a text file), a line longer than FM_CONF_LINE_MAX, a line
 * without '=', an empty key or value, a key given twice, more than
 * FM_CONF_KEYS_MAX settings, or a line fn refuses. text (len bytes, with a
 * NUL at text[len]) is modified in place: keys and values point into it.
 * 0, or -EINVAL with *lineno the line (1-based; 0: the whole text) and why
 * "KEY: what is wrong" or "what is wrong". Borrows everything. */
int fm_conf_parse(char *text, size_t len, fm_conf_line_fn fn, void *arg, unsigned *lineno, char *why,
		  size_t why_size);

#endif
