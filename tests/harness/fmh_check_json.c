#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fmh_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cJSON *fmh_field(const cJSON *o, const char *key)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	if (!v) {
		const cJSON *kind = o ? cJSON_GetObjectItemCaseSensitive(o, "kind") : NULL;
		fail_msg("no \"%s\" in %s", key,
			 !o			? "(no object)"
			 : cJSON_IsString(kind) ? kind->valuestring
						: "the object");
	}
	return v;
}

const char *fmh_jstr(const cJSON *o, const char *key)
{
	const cJSON *v = fmh_field(o, key);
	if (!cJSON_IsString(v))
		fail_msg("\"%s\" is not a string", key);
	return v->valuestring;
}

const char *fmh_jstr_opt(const cJSON *o, const char *key)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double fmh_jnum(const cJSON *o, const char *key)
{
	const cJSON *v = fmh_field(o, key);
	if (!cJSON_IsNumber(v))
		fail_msg("\"%s\" is not a number", key);
	return v->valuedouble;
}

bool fmh_jbool(const cJSON *o, const char *key)
{
	const cJSON *v = fmh_field(o, key);
	if (!cJSON_IsBool(v))
		fail_msg("\"%s\" is not a boolean", key);
	return cJSON_IsTrue(v);
}

static bool is_str(const cJSON *o, const char *key, const char *value)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && strcmp(v->valuestring, value) == 0;
}

const cJSON *fmh_find(const cJSON *facts, const char *kind, const char *id)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, facts)
	{
		if (is_str(f, "kind", kind) && (!id || is_str(f, "id", id)))
			return f;
	}
	return NULL;
}

int fmh_count_kind(const cJSON *facts, const char *kind)
{
	int n = 0;
	const cJSON *f;
	cJSON_ArrayForEach(f, facts)
	{
		n += is_str(f, "kind", kind);
	}
	return n;
}

int fmh_count_kind_set(const struct fm_facts *facts, const char *kind)
{
	int n = 0;
	for (size_t i = 0; i < fm_facts_count(facts); i++)
		n += is_str(fm_facts_at(facts, i), "kind", kind);
	return n;
}

void fmh_dump(const struct fm_facts *facts)
{
	cJSON *all = fm_facts_json(facts, "");
	char *s = cJSON_Print(all);
	fprintf(stderr, "%s\n", s ? s : "(out of memory)");
	free(s);
	cJSON_Delete(all);
}

const cJSON *fmh_diagnosis(const cJSON *check_json, const char *code)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, fmh_field(check_json, "diagnoses"))
	{
		if (strcmp(fmh_jstr(d, "code"), code) == 0)
			return d;
	}
	return NULL;
}

bool fmh_lists(const cJSON *arr, const char *s)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (cJSON_IsString(x) && strcmp(x->valuestring, s) == 0)
			return true;
	}
	return false;
}

int fmh_requote(char *out, size_t size, const char *line, int depth)
{
	size_t o = 0, bs = ((size_t)1 << depth) - 1;
	for (const char *p = line; *p;) {
		if (*p == '\\') {
			const char *q = p;
			while (*q == '\\')
				q++;
			if (*q == '"') {
				p = q; /* the quote below carries its depth */
				continue;
			}
		}
		if (o + bs + 2 > size)
			return -E2BIG;
		if (*p == '"')
			for (size_t k = 0; k < bs; k++)
				out[o++] = '\\';
		out[o++] = *p++;
	}
	out[o] = '\0';
	return 0;
}
