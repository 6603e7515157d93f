/* libFuzzer target for the triage query parser (GET /journal?u=&n=&g=,
 * /facts?k=, POST /act/rm?id=): the input is a resource name, a newline,
 * then the query as libcoap hands it over. Whatever is accepted keeps to
 * the documented bounds. */
#include "fm_journal.h"
#include "fm_triage_query.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nl = memchr(in, '\n', size);
	char resource[16];
	size_t rlen = nl ? (size_t)(nl - in) : 0;
	if (!nl || rlen >= sizeof(resource))
		return 0;
	memcpy(resource, in, rlen);
	resource[rlen] = '\0';
	struct fm_triage_query q;
	char err[256];
	if (fm_triage_query_parse(resource, nl + 1, size - rlen - 1, &q, err, sizeof(err)) == 0) {
		if (q.n < 1 || q.n > FM_JOURNAL_TAIL_MAX || strlen(q.u) > 32 || strlen(q.g) > 128 ||
		    strlen(q.k) > 64 || (q.id[0] && strlen(q.id) < 12))
			__builtin_trap();
		if (strcmp(resource, "journal") == 0 && !q.u[0])
			__builtin_trap();
	} else if (!memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	return 0;
}
