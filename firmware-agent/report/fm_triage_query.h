/* fm_triage_query: the query of a triage request (fm_triage.h), parsed as
 * the hostile input it is. No I/O, no libcoap: fuzzed alone
 * (tests/fuzz/fuzz_triage.c). */
#ifndef FM_TRIAGE_QUERY_H
#define FM_TRIAGE_QUERY_H

#include <stddef.h>

/* A parsed query. */
struct fm_triage_query {
	char u[33];   /* /journal: unit (required) */
	unsigned n;   /* /journal: count, 1..FM_JOURNAL_TAIL_MAX (default 20) */
	char g[129];  /* /journal: substring */
	char k[65];   /* /facts: kind prefix */
	char id[65];  /* /act/rm: container id, 12..64 hex */
};

/* Parses query (len bytes, "key=value&key=value" as libcoap joins the
 * Uri-Query options; not NUL-terminated, not trusted) for resource
 * ("journal", "facts", "act/rm", or another: no key allowed). 0, or -EINVAL
 * with err saying which key or value is wrong (answered 4.00). */
int fm_triage_query_parse(const char *resource, const char *query, size_t len, struct fm_triage_query *q,
			  char *err, size_t err_size);

#endif
