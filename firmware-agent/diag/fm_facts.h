/* fm_facts: the fact set. Sources put facts; the diagnosis engine reads them.
 *
 * A fact is a JSON object with at least "kind" (what it is: "etcd.status",
 * "cert", "apiserver.readyz" ...) and "id" (which one: an endpoint URL, a
 * file, a pod name), plus the fields that matter, in snake_case. The pair
 * (kind, id) is unique in a set: putting it again replaces the fact. Facts
 * that describe a failure carry "state" (fm_probe.h): "ok", "refused",
 * "timeout", "tls", "http-status", "malformed", "too-large", "closed",
 * "config", and a "reason" a person can act on.
 *
 * The set is small (tens to a few hundred facts on a node): a flat array,
 * searched linearly.
 *
 * Every string of a fact is valid UTF-8, so the set always prints as JSON
 * (RFC 8259 8.1): fm_facts_put replaces each byte that is not part of a
 * valid UTF-8 character with '?', in the fields, the kind and the id alike
 * (a lookup by kind and id means the same repaired strings).
 */
#ifndef FM_FACTS_H
#define FM_FACTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct fm_facts;

/* NULL on allocation failure. */
struct fm_facts *fm_facts_new(void);
/* Frees and NULLs *f; accepts NULL. */
void fm_facts_delete(struct fm_facts **f);

/* Adds the fact (kind, id) with fields, replacing an earlier one with the
 * same kind and id. Takes ownership of fields (a cJSON object; "kind" and
 * "id" are set on it) also on failure. Returns the stored object (valid until
 * it is replaced or the set is deleted), or NULL on allocation failure. */
cJSON *fm_facts_put(struct fm_facts *f, const char *kind, const char *id, cJSON *fields);
/* The fact (kind, id), or NULL. */
const cJSON *fm_facts_get(const struct fm_facts *f, const char *kind, const char *id);
/* Removes every fact whose kind starts with prefix ("etcd." removes what the
 * etcd source said), so a source can restate what it knows. */
void fm_facts_drop(struct fm_facts *f, const char *prefix);

/* Removes the one fact (kind, id) if present (observers are told), so a
 * source that restates its facts can retract one that no longer holds (a
 * container that was removed). */
void fm_facts_remove(struct fm_facts *f, const char *kind, const char *id);

/* Replaces at once what a source said (a collection builds its facts in
 * staging, a set of its own nobody observes, then commits them here): every
 * fact of f whose kind starts with one of prefixes (NULL-terminated) and
 * that staging does not hold is removed, then every fact of staging is put
 * in f, in staging's order (moved: staging is left empty). The observer is
 * told of what really changed only: a commit that restates the same facts
 * tells nothing. No evaluation can see the source half restated, as it
 * could between an fm_facts_drop and the puts after it. 0, or -ENOMEM when
 * a fact could not be put. */
int fm_facts_commit(struct fm_facts *f, struct fm_facts *staging, const char *const *prefixes);

/* Told of every change to the set: a fact put that is new or differs from
 * the one it replaces (dropped false), and every fact removed by
 * fm_facts_drop (dropped true, called just before it is freed). A put that
 * changes nothing is not a change. fact is borrowed for the call. */
typedef void (*fm_facts_observer_fn)(void *arg, const cJSON *fact, bool dropped);
/* One observer per set (fn NULL: none). The report and `probe --follow`
 * hang on this; sources need not know who listens. */
void fm_facts_observe(struct fm_facts *f, fm_facts_observer_fn fn, void *arg);

size_t fm_facts_count(const struct fm_facts *f);
/* The i-th fact in the order they were first put. */
const cJSON *fm_facts_at(const struct fm_facts *f, size_t i);
/* The facts whose kind starts with prefix, as a new JSON array (copies).
 * prefix "" gives all. Caller owns the result; NULL on allocation failure. */
cJSON *fm_facts_json(const struct fm_facts *f, const char *prefix);

#endif
