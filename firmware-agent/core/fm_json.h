/* fm_json: JSON from a server, parsed within bounds.
 *
 * cJSON nests up to 1000 levels; no answer the agent reads needs more than a
 * few, so a document nested deeper than FM_JSON_MAX_DEPTH is refused before
 * it is parsed at all (STYLE: JSON depth 32). Every source that parses an
 * answer goes through here.
 */
#ifndef FM_JSON_H
#define FM_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FM_JSON_MAX_DEPTH 32

/* True when s[0..len) opens more than FM_JSON_MAX_DEPTH objects or arrays
 * inside one another (brackets inside strings do not count). */
bool fm_json_too_deep(const char *s, size_t len);

/* s[0..len) as JSON (any value), or NULL when it is not JSON, nested too
 * deeply, or not UTF-8 (RFC 8259 8.1: JSON text is UTF-8; Go's encoder,
 * etcd's, kube-apiserver's and Docker's, never writes anything else), so
 * every string of the result is valid UTF-8. The caller frees the result
 * with cJSON_Delete. Borrows s. */
cJSON *fm_json_parse(const char *s, size_t len);

/* A JSON number as an unsigned count, sequence number or time: true and
 * *out when v is a number from 0 to 2^53 (every such double is an exact
 * integer; anything larger or negative would be undefined behaviour to
 * convert, and is no count we wrote or a server meant). */
bool fm_json_u64(const cJSON *v, uint64_t *out);

/* Whether the array arr holds the string s. */
bool fm_json_lists(const cJSON *arr, const char *s);

/* UTF-8 as RFC 3629 has it: the shortest form, no surrogates, nothing
 * above U+10FFFF. A fact's strings must be that (fm_facts.h). */

/* The length (1 to 4) of the valid UTF-8 character that starts s[0..len),
 * or 0 when the bytes there do not make one (or len is 0). */
size_t fm_json_utf8_char(const char *s, size_t len);

/* True when s[0..len) is valid UTF-8 throughout. */
bool fm_json_utf8_valid(const char *s, size_t len);

/* Replaces, in place, every byte of the NUL-terminated s that is not part
 * of a valid UTF-8 character with '?'. Returns how many were replaced. */
size_t fm_json_utf8_repair(char *s);

#endif
