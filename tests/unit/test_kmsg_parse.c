/* fm_kmsg_parse: /dev/kmsg records. */
#include "fm_kmsg.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_record(void **state)
{
	(void)state;
	/* as the incident's dmesg line was logged, with a continuation line */
	const char rec[] = "4,2093,901221780814,-;RPC: fragment too large: 1246907721\n SUBSYSTEM=net\n";
	struct fm_kmsg_record r;
	assert_int_equal(fm_kmsg_parse(rec, sizeof(rec) - 1, &r), 0);
	assert_int_equal(r.level, 4);
	assert_int_equal(r.facility, 0);
	assert_int_equal(r.seq, 2093);
	assert_int_equal(r.ts_us, 901221780814ULL);
	assert_false(r.continued);
	assert_int_equal(r.len, strlen("RPC: fragment too large: 1246907721"));
	assert_memory_equal(r.msg, "RPC: fragment too large: 1246907721", r.len);
}

static void test_user_and_flags(void **state)
{
	(void)state;
	/* written by a user process (facility 1), extra fields after flags */
	const char rec[] = "12,347,6902410352,c,caller=T1;hello";
	struct fm_kmsg_record r;
	assert_int_equal(fm_kmsg_parse(rec, sizeof(rec) - 1, &r), 0);
	assert_int_equal(r.level, 4);
	assert_int_equal(r.facility, 1);
	assert_true(r.continued);
	assert_int_equal(r.len, 5);
	/* empty message */
	assert_int_equal(fm_kmsg_parse("6,1,2,-;", 8, &r), 0);
	assert_int_equal(r.len, 0);
}

static void test_malformed(void **state)
{
	(void)state;
	struct fm_kmsg_record r;
	static const char *const bad[] = {
		"",
		"6,1,2,-",		       /* no ';' */
		"6,1,2;msg",		       /* no flags */
		"x,1,2,-;msg",		       /* not a number */
		"6,,2,-;msg",		       /* empty seq */
		"6,99999999999999999999,2,-;m", /* overflow */
		"6;1,2,-,m",		       /* ';' before the fields */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fm_kmsg_parse(bad[i], strlen(bad[i]), &r), -EINVAL);
	/* the length bounds the parse: the NUL-free prefix is not a record */
	assert_int_equal(fm_kmsg_parse("6,1,2,-;msg", 5, &r), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_user_and_flags),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
