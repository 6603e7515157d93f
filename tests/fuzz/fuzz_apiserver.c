/* libFuzzer target for the readers of kube-apiserver's answers
 * (fm_apiserver.h fm_apiserver_parse_*): one input is read as every answer
 * the apiserver source asks for, the verbose /livez and /readyz text (200
 * and 500), /version, the node list and the kube-system pod list, into one
 * fact set, which must then print as valid UTF-8 JSON that parses back
 * (fuzz_facts.h), with every pod and node message within its cap.
 * Replayed in ctest over what the apiserver stand-in serves
 * (capture-seeds.sh). */
#include "fm_apiserver.h"

#include "fuzz_facts.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define URL "https://127.0.0.1:6443"

/* Messages are cut at 512 bytes, "..." included. */
static void check_caps(const cJSON *fact)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, fact)
	{
		if (cJSON_IsString(f) && strcmp(f->string, "name") != 0 &&
		    strcmp(f->string, "id") != 0 && strcmp(f->string, "namespace") != 0 &&
		    strlen(f->valuestring) >= 512)
			__builtin_trap();
		if (cJSON_IsArray(f) || cJSON_IsObject(f))
			check_caps(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct fm_facts *facts = fm_facts_new();
	if (!facts)
		return 0;

	static const int statuses[] = {200, 500};
	for (size_t i = 0; i < 2; i++) {
		int l = fm_apiserver_parse_health(facts, URL, "livez", false, statuses[i], s, size);
		int r = fm_apiserver_parse_health(facts, URL, "readyz", true, statuses[i], s, size);
		if (l > 1 || r > 1 || (statuses[i] != 200 && (l == 1 || r == 1)))
			__builtin_trap();
	}
	fm_apiserver_parse_version(facts, URL, s, size);
	int nodes = fm_apiserver_parse_nodes(facts, URL, s, size);
	int pods = fm_apiserver_parse_pods(facts, URL, s, size);
	if ((nodes == 0) != (fm_facts_get(facts, "apiserver.nodes", URL) != NULL) ||
	    (pods == 0) != (fm_facts_get(facts, "apiserver.pods", URL) != NULL))
		__builtin_trap();

	fuzz_facts_check(facts);
	cJSON *all = fm_facts_json(facts, "");
	const cJSON *fact;
	cJSON_ArrayForEach(fact, all)
	{
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(fact, "kind");
		if (cJSON_IsString(kind) &&
		    (strcmp(kind->valuestring, "pod") == 0 || strcmp(kind->valuestring, "node") == 0))
			check_caps(fact);
	}
	cJSON_Delete(all);
	fm_facts_delete(&facts);
	return 0;
}
