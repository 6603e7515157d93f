/* libFuzzer target: the diagnosis engine over any fact set (issue 20). Its
 * facts are parsed values, but their strings come from outside (container
 * and pod names, log lines and their fields, certificate paths, mount
 * points), and link() reads them to decide what explains what. The input is
 * a JSON array of facts, each {"kind":…, "id":…, fields…}; whatever it holds,
 * fm_diagnose must not crash, and its answer must keep the engine's
 * invariants:
 *   - every diagnosis has a code, a key, a component and an instance;
 *   - (code, key) is unique among the listed diagnoses;
 *   - a symptom in a diagnosis's links is not also listed on its own, nor
 *     linked from two diagnoses (each symptom joins one cause);
 *   - "explains" holds exactly the codes of "links".
 * Built with -fsanitize=fuzzer by `make fuzz`, replayed over its corpus in
 * ctest. */
#include "fm_diagnose.h"
#include "fm_facts.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795000000

static const char *s(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void check(const cJSON *ds)
{
	const cJSON *d, *e, *l, *m;
	cJSON_ArrayForEach(d, ds)
	{
		if (!s(d, "code") || !s(d, "key") || !s(d, "component") || !s(d, "instance"))
			__builtin_trap();
		for (e = d->next; e; e = e->next)
			if (!strcmp(s(d, "code"), s(e, "code")) && !strcmp(s(d, "key"), s(e, "key")))
				__builtin_trap();
		int nlinks = 0;
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(d, "links"))
		{
			const char *code = s(l, "code"), *key = s(l, "key");
			if (!code || !key)
				__builtin_trap();
			nlinks++;
			bool in_explains = false;
			cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(d, "explains"))
				in_explains |= cJSON_IsString(m) && !strcmp(m->valuestring, code);
			if (!in_explains)
				__builtin_trap();
			/* not listed on its own, not linked twice */
			cJSON_ArrayForEach(e, ds)
			{
				if (!strcmp(s(e, "code"), code) && !strcmp(s(e, "key"), key))
					__builtin_trap();
				const cJSON *o;
				cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(e, "links"))
				{
					if (o != l && !strcmp(s(o, "code"), code) && !strcmp(s(o, "key"), key))
						__builtin_trap();
				}
			}
		}
		if ((nlinks > 0) != (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "explains")) > 0))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cJSON *arr = cJSON_Parse(text);
	free(text);
	struct fm_facts *facts = fm_facts_new();
	const cJSON *f;
	cJSON_ArrayForEach(f, arr)
	{
		const char *kind = s(f, "kind"), *id = s(f, "id");
		if (!cJSON_IsObject(f) || !kind || !id)
			continue;
		cJSON *copy = cJSON_Duplicate(f, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "kind");
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
		fm_facts_put(facts, kind, id, copy);
	}
	cJSON *ds = fm_diagnose(facts, NOW);
	if (ds)
		check(ds);
	cJSON_Delete(ds);
	fm_facts_delete(&facts);
	cJSON_Delete(arr);
	return 0;
}
