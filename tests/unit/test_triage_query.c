/* fm_triage_query: the triage resources' query, as libcoap hands it over
 * (Uri-Query options joined with '&', escaped per RFC 7252 6.5.8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_triage_query.h"

#include <errno.h>
#include <string.h>

static int parse(const char *res, const char *q, struct fm_triage_query *out, char *err, size_t size)
{
	return fm_triage_query_parse(res, q, q ? strlen(q) : 0, out, err, size);
}

static void journal_values_are_decoded(void **state)
{
	(void)state;
	struct fm_triage_query q;
	char err[256];
	assert_int_equal(parse("journal", "u=kubelet&n=2&g=already%20in%20use", &q, err, sizeof(err)), 0);
	assert_string_equal(q.u, "kubelet");
	assert_int_equal(q.n, 2);
	assert_string_equal(q.g, "already in use");
	/* A '&' inside a value arrives escaped, so it survives the join. */
	assert_int_equal(parse("journal", "u=kubelet&g=a%26b%3dc", &q, err, sizeof(err)), 0);
	assert_string_equal(q.g, "a&b=c");
	assert_int_equal(q.n, 20); /* the default */
}

static void hostile_values_are_refused(void **state)
{
	(void)state;
	struct fm_triage_query q;
	char err[256];
	/* Escapes that decode to a control byte or NUL, or are cut short. */
	assert_int_equal(parse("journal", "u=kubelet&g=a%00b", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("journal", "u=kubelet&g=a%0a", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("journal", "u=kubelet&g=a%2", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("journal", "u=kubelet&g=%zz", &q, err, sizeof(err)), -EINVAL);
	/* Limits: count 1..max, unit 32 bytes, twice the same key, unknown key. */
	assert_int_equal(parse("journal", "u=kubelet&n=0", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("journal", "u=kubelet&n=9999999", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("journal", "u=0123456789012345678901234567890123456789", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("journal", "u=a&u=b", &q, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(parse("journal", "u=a&x=1", &q, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown query key 'x'"));
	assert_int_equal(parse("journal", NULL, &q, err, sizeof(err)), -EINVAL);
	/* /act/rm: hex ids only, 12..64 digits. */
	assert_int_equal(parse("act/rm", "id=8470235abd66", &q, err, sizeof(err)), 0);
	assert_string_equal(q.id, "8470235abd66");
	assert_int_equal(parse("act/rm", "id=8470235abd6", &q, err, sizeof(err)), -EINVAL);
	/* 12 bytes of query, 4 digits once decoded: a prefix (fuzz_triage). */
	assert_int_equal(parse("act/rm", "id=%61%62%63%64", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("act/rm", "id=..%2F..%2Fetc", &q, err, sizeof(err)), -EINVAL);
	/* Resources without keys take none. */
	assert_int_equal(parse("status", "k=1", &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("facts", "k=docker.", &q, err, sizeof(err)), 0);
	assert_string_equal(q.k, "docker.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(journal_values_are_decoded),
		cmocka_unit_test(hostile_values_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
