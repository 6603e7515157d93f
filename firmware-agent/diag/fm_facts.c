#include "fm_facts.h"

#include "fm_json.h"
#include "fm_kinds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct fm_facts {
	cJSON *all; /* array of fact objects */
	fm_facts_observer_fn observer;
	void *observer_arg;
};

void fm_facts_observe(struct fm_facts *f, fm_facts_observer_fn fn, void *arg)
{
	f->observer = fn;
	f->observer_arg = arg;
}

static void tell(const struct fm_facts *f, const cJSON *fact, bool dropped)
{
	if (f->observer)
		f->observer(f->observer_arg, fact, dropped);
}

struct fm_facts *fm_facts_new(void)
{
	struct fm_facts *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->all = cJSON_CreateArray();
	if (!f->all) {
		free(f);
		return NULL;
	}
	return f;
}

void fm_facts_delete(struct fm_facts **f)
{
	if (!f || !*f)
		return;
	cJSON_Delete((*f)->all);
	free(*f);
	*f = NULL;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Whether stored (a repaired string) is key once key is repaired too
 * (fm_json_utf8_repair), without copying key. */
static bool same(const char *stored, const char *key)
{
	size_t len = strlen(key);
	for (size_t i = 0; i < len;) {
		size_t n = fm_json_utf8_char(key + i, len - i);
		if (n == 0) {
			if (*stored++ != '?')
				return false;
			i++;
			continue;
		}
		if (strncmp(stored, key + i, n) != 0)
			return false;
		stored += n;
		i += n;
	}
	return *stored == '\0';
}

static bool is(const cJSON *fact, const char *kind, const char *id)
{
	return same(str(fact, "kind"), kind) && same(str(fact, "id"), id);
}

/* Every string of o (values and member names, nested ones too) made valid
 * UTF-8: what a source read may hold any bytes or be cut inside a
 * character, and a fact must print as JSON (RFC 8259 8.1: UTF-8). Strings
 * cJSON does not own (references, constant names) are not ours to change;
 * no source puts such. */
static void repair(cJSON *o)
{
	for (cJSON *c = o; c; c = c->next) {
		if (c->string && !(c->type & cJSON_StringIsConst))
			fm_json_utf8_repair(c->string);
		if (cJSON_IsString(c) && c->valuestring && !(c->type & cJSON_IsReference))
			fm_json_utf8_repair(c->valuestring);
		if (c->child)
			repair(c->child);
	}
}

/* A new object with kind and id first (a person reading the JSON sees them
 * first) and then the fields, moved out of fields, which is freed. */
static cJSON *keyed(const char *kind, const char *id, cJSON *fields)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "kind", kind) || !cJSON_AddStringToObject(o, "id", id))
		goto out_free;
	cJSON_DeleteItemFromObjectCaseSensitive(fields, "kind");
	cJSON_DeleteItemFromObjectCaseSensitive(fields, "id");
	while (fields->child) {
		cJSON *item = cJSON_DetachItemViaPointer(fields, fields->child);
		if (!cJSON_AddItemToObject(o, item->string, item)) {
			cJSON_Delete(item);
			goto out_free;
		}
	}
	cJSON_Delete(fields);
	return o;

out_free:
	cJSON_Delete(o);
	cJSON_Delete(fields);
	return NULL;
}

/* Puts fact (kind and id first, repaired), replacing the one of the same
 * kind and id in place. Takes fact. */
static cJSON *store(struct fm_facts *f, cJSON *fact)
{
	const char *kind = str(fact, "kind"), *id = str(fact, "id");
	int i = 0;
	for (cJSON *c = f->all->child; c; c = c->next, i++) {
		if (is(c, kind, id)) {
			/* Compared only when somebody listens. */
			bool same = !f->observer || cJSON_Compare(c, fact, 1);
			cJSON_ReplaceItemInArray(f->all, i, fact);
			if (!same)
				tell(f, fact, false);
			return fact;
		}
	}
	if (!cJSON_AddItemToArray(f->all, fact)) {
		cJSON_Delete(fact);
		return NULL;
	}
	tell(f, fact, false);
	return fact;
}

cJSON *fm_facts_put(struct fm_facts *f, const char *kind, const char *id, cJSON *fields)
{
	if (!fields || !cJSON_IsObject(fields)) {
		cJSON_Delete(fields);
		return NULL;
	}
	cJSON *fact = keyed(kind, id, fields);
	if (!fact)
		return NULL;
	repair(fact->child);
	return store(f, fact);
}

const cJSON *fm_facts_get(const struct fm_facts *f, const char *kind, const char *id)
{
	for (const cJSON *c = f->all->child; c; c = c->next)
		if (is(c, kind, id))
			return c;
	return NULL;
}

void fm_facts_drop(struct fm_facts *f, const char *prefix)
{
	size_t n = strlen(prefix);
	cJSON *c = f->all->child;
	while (c) {
		cJSON *next = c->next;
		if (strncmp(str(c, "kind"), prefix, n) == 0) {
			cJSON *gone = cJSON_DetachItemViaPointer(f->all, c);
			tell(f, gone, true);
			cJSON_Delete(gone);
		}
		c = next;
	}
}

void fm_facts_remove(struct fm_facts *f, const char *kind, const char *id)
{
	for (cJSON *c = f->all->child; c; c = c->next) {
		if (is(c, kind, id)) {
			cJSON *gone = cJSON_DetachItemViaPointer(f->all, c);
			tell(f, gone, true);
			cJSON_Delete(gone);
			return;
		}
	}
}

static bool owned(const cJSON *fact, const char *const *prefixes)
{
	for (size_t i = 0; prefixes && prefixes[i]; i++)
		if (strncmp(str(fact, "kind"), prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

int fm_facts_commit(struct fm_facts *f, struct fm_facts *staging, const char *const *prefixes)
{
	/* what the source no longer says */
	cJSON *c = f->all->child;
	while (c) {
		cJSON *next = c->next;
		if (owned(c, prefixes) && !fm_facts_get(staging, str(c, "kind"), str(c, "id"))) {
			cJSON *gone = cJSON_DetachItemViaPointer(f->all, c);
			tell(f, gone, true);
			cJSON_Delete(gone);
		}
		c = next;
	}
	/* what it says now: moved, in its order */
	int rc = 0;
	while (staging->all->child) {
		cJSON *fact = cJSON_DetachItemViaPointer(staging->all, staging->all->child);
		if (!store(f, fact))
			rc = -ENOMEM;
	}
	return rc;
}

size_t fm_facts_count(const struct fm_facts *f)
{
	return (size_t)cJSON_GetArraySize(f->all);
}

const cJSON *fm_facts_at(const struct fm_facts *f, size_t i)
{
	return cJSON_GetArrayItem(f->all, (int)i);
}

cJSON *fm_facts_json(const struct fm_facts *f, const char *prefix)
{
	size_t n = strlen(prefix);
	cJSON *out = cJSON_CreateArray();
	if (!out)
		return NULL;
	for (const cJSON *c = f->all->child; c; c = c->next) {
		if (strncmp(str(c, "kind"), prefix, n) != 0)
			continue;
		cJSON *copy = cJSON_Duplicate(c, 1);
		if (!copy || !cJSON_AddItemToArray(out, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}

bool fm_kind_known(const char *kind)
{
#define FM_KIND_IS(k, what) (strcmp(kind, k) == 0) ||
	return kind && (FM_KINDS(FM_KIND_IS) false);
#undef FM_KIND_IS
}
