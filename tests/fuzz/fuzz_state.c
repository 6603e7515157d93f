/* libFuzzer target for the journal's and kmsg's state files read back at
 * start (journal.state, kmsg.state: fm_state_load_json, the cursor, the
 * counts and the match table): a corrupted state dir never crashes the
 * agent (a file it cannot take is put aside, at most FM_STATE_BAD_KEEP
 * kept); a table restored from it is bounded and can be written again. */
#include "fm_facts.h"
#include "fm_journal.h"
#include "fm_json.h"
#include "fm_log.h"
#include "fm_rules.h"
#include "fm_state.h"
#include "fuzz_tmpdir.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fm_rules *rules;
	char err[256];
	const char *dir = fuzz_tmpdir();
	if (!rules) {
		rules = fm_rules_new();
		if (!rules || fm_rules_load_default(rules, err, sizeof(err)) < 0)
			__builtin_trap();
	}
	if (!dir || fuzz_put(dir, "journal.state", data, size) < 0)
		return 0;
	int rc;
	fm_log_set_level(FM_LOG_ERR - 1);
	cJSON *o = fm_state_load_json(dir, "journal.state", &rc);
	if (!o)
		return 0;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cursor");
	struct fm_journal_pos pos;
	if (cJSON_IsString(c))
		(void)fm_journal_parse_cursor(c->valuestring, &pos);
	uint64_t n;
	(void)fm_json_u64(cJSON_GetObjectItemCaseSensitive(o, "seq"), &n);
	struct fm_rules_hits *h = fm_rules_hits_new(rules);
	struct fm_facts *facts = fm_facts_new();
	if (h && facts && fm_rules_hits_restore(h, cJSON_GetObjectItemCaseSensitive(o, "hits")) == 0) {
		if (fm_rules_hits_publish(h, "journal.match", facts) > FM_RULES_HITS_MAX)
			__builtin_trap();
		cJSON *again = fm_rules_hits_json(h);
		if (!again || cJSON_GetArraySize(again) > FM_RULES_HITS_MAX)
			__builtin_trap();
		cJSON_Delete(again);
	}
	fm_facts_delete(&facts);
	fm_rules_hits_delete(&h);
	cJSON_Delete(o);
	return 0;
}
