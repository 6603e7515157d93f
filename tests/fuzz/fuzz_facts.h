/* What every fuzz target that fills a fact set checks of it: the set prints
 * as JSON that parses back, and the text is valid UTF-8 (RFC 8259 8.1: the
 * report carries facts as JSON, and a controller's strict decoder would
 * refuse anything else), whatever bytes the parsers were fed. */
#ifndef FUZZ_FACTS_H
#define FUZZ_FACTS_H

#include "fm_facts.h"
#include "fm_json.h"

#include <string.h>

static inline void fuzz_facts_check(const struct fm_facts *facts)
{
	cJSON *all = fm_facts_json(facts, "");
	char *text = all ? cJSON_PrintUnformatted(all) : NULL;
	if (text) {
		cJSON *back = cJSON_Parse(text);
		if (!back || !fm_json_utf8_valid(text, strlen(text)))
			__builtin_trap();
		cJSON_Delete(back);
	}
	cJSON_free(text);
	cJSON_Delete(all);
}

#endif
