/* libFuzzer target for the readers of etcd's answers (fm_etcd.h
 * fm_etcd_parse_*): one input is read as every answer the etcd source asks
 * for, /version, /health, the verbose /livez and /readyz text, the
 * maintenance status, the alarm list, the member list and the masterleases
 * count, into one fact set, which must then print as valid UTF-8 JSON
 * that parses back (fuzz_facts.h: a fact is what the report sends).
 * Replayed in ctest over the answers of real etcd 3.4 and 3.5
 * (capture-seeds.sh). */
#include "fm_etcd.h"

#include "fuzz_facts.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define URL "https://127.0.0.1:2379"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct fm_facts *facts = fm_facts_new();
	struct fm_etcd_version v = {0};
	struct fm_etcd_health h = {0};
	struct fm_etcd_alarm al[4];
	uint64_t leader;
	bool known;
	if (!facts)
		return 0;

	fm_etcd_parse_version(facts, URL, s, size, &v);
	fm_etcd_parse_health(&h, 503, s, size);
	if (strlen(h.reason) >= sizeof(h.reason))
		__builtin_trap();
	fm_etcd_parse_checks(&h, "/livez", 503, s, size);
	fm_etcd_parse_checks(&h, "/readyz", 500, s, size);
	if (h.healthy || strlen(h.reason) >= sizeof(h.reason))
		__builtin_trap();
	/* As the collection puts it. */
	cJSON *hf = cJSON_CreateObject();
	cJSON_AddBoolToObject(hf, "healthy", h.healthy);
	cJSON_AddStringToObject(hf, "reason", h.reason);
	fm_facts_put(facts, "etcd.health", URL, hf);
	if (fm_etcd_parse_status(facts, URL, s, size, &leader, &known) < 0 && (leader || known))
		__builtin_trap();
	int n = fm_etcd_parse_alarms(facts, URL, s, size, al, 4);
	if (n > 4)
		__builtin_trap();
	for (int i = 0; i < n; i++) {
		char id[64];
		snprintf(id, sizeof(id), "%s#%s", URL, al[i].name);
		if (al[i].members < 1 || !al[i].name[0] || !fm_facts_get(facts, "etcd.alarm", id))
			__builtin_trap();
	}
	fm_etcd_parse_members(facts, URL, s, size);
	fm_etcd_parse_masterleases(facts, URL, s, size);

	fuzz_facts_check(facts);
	fm_facts_delete(&facts);
	return 0;
}
