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

#define FM_JSON_MAX_DEPTH 32

/* True when s[0..len) opens more than FM_JSON_MAX_DEPTH objects or arrays
 * inside one another (brackets inside strings do not count). */
bool fm_json_too_deep(const char *s, size_t len);

/* s[0..len) as JSON (any value), or NULL when it is not JSON or nested too
 * deeply. The caller frees the result with cJSON_Delete. Borrows s. */
cJSON *fm_json_parse(const char *s, size_t len);

#endif
