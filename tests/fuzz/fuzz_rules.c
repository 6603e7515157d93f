/* libFuzzer target for the rule matcher: the first byte chooses. Odd: the
 * rest is a rule file, loaded into a fresh set and, when it loads, matched
 * against a fixed line. Even: the rest is a log line, matched by the
 * built-in rules for every source, counted in a match table and published as
 * facts, which must print as valid UTF-8 JSON (fuzz_facts.h). */
#include "fm_rules.h"

#include "fuzz_facts.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char line[] = "E1105 open /var/lib/docker/overlay2/x/lower: structure needs cleaning";
	struct fm_rules *rs = fm_rules_new();
	struct fm_facts *facts = fm_facts_new();
	struct fm_rules_match m;
	char err[256];
	if (!rs || !facts || size == 0)
		goto out;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	if (data[0] & 1) {
		if (fm_rules_load(rs, text, len, "fuzz", err, sizeof(err)) == 0)
			for (int s = 0; s < FM_RULES_SRC_COUNT; s++)
				(void)fm_rules_match(rs, 0, (enum fm_rules_source)s, line, sizeof(line) - 1, &m);
		goto out;
	}
	if (fm_rules_load_default(rs, err, sizeof(err)) < 0)
		__builtin_trap();
	struct fm_rules_hits *h = fm_rules_hits_new(rs);
	for (int s = 0; h && s < FM_RULES_SRC_COUNT; s++)
		for (int i = fm_rules_match(rs, 0, (enum fm_rules_source)s, text, len, &m); i >= 0;
		     i = fm_rules_match(rs, (size_t)i + 1, (enum fm_rules_source)s, text, len, &m)) {
			/* fields come from the plain text: inside it, and with no
			 * klog quoting left (no backslash before a quote) */
			size_t tlen = m.text ? strlen(m.text) : 0;
			if (!m.text || tlen > len)
				__builtin_trap();
			for (size_t k = 0; k < m.nfields; k++) {
				if (m.off[k] + m.len[k] > tlen)
					__builtin_trap();
				for (size_t b = m.off[k]; b + 1 < m.off[k] + m.len[k]; b++)
					if (m.text[b] == '\\' && m.text[b + 1] == '"')
						__builtin_trap();
			}
			fm_rules_hits_add(h, i, &m, "fuzz", 1, text, len);
		}
	if (h)
		fm_rules_hits_publish(h, "journal.match", facts);
	fuzz_facts_check(facts);
	fm_rules_hits_delete(&h);
out:
	fm_facts_delete(&facts);
	fm_rules_delete(&rs);
	return 0;
}
