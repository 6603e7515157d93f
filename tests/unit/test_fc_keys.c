/* fc_keys: the keystore file, its mode, every bad line named. */
#include "fc_keys.h"
#include "fm_buf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/fc_keys.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/keys", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_keys(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

#define KEY16 "00112233445566778899aabbccddeeff"

static void test_good(void **state)
{
	(void)state;
	write_keys("# the fleet\n\npi-master1 " KEY16 "\n  node-b\t" KEY16 KEY16 "  # trailing comment\r\n", 0600);
	struct fc_keys *k = NULL;
	struct fm_buf errs;
	fm_buf_init(&errs, 4096);
	assert_int_equal(fc_keys_load(path, &k, &errs), 0);
	assert_int_equal(errs.len, 0);
	assert_int_equal(fc_keys_count(k), 2);
	size_t len = 0;
	const uint8_t *key = fc_keys_find(k, "pi-master1", 10, &len);
	assert_non_null(key);
	assert_int_equal(len, 16);
	assert_int_equal(key[0], 0x00);
	assert_int_equal(key[15], 0xff);
	assert_non_null(fc_keys_find(k, "node-b", 6, &len));
	assert_int_equal(len, 32);
	/* a prefix of an identity, or a longer one, is another identity */
	assert_null(fc_keys_find(k, "pi-master", 9, &len));
	assert_null(fc_keys_find(k, "pi-master12", 11, &len));
	assert_null(fc_keys_find(k, "node-b\0x", 8, &len));
	fc_keys_delete(&k);
	assert_null(k);
	fm_buf_free(&errs);
}

static void test_mode_refused(void **state)
{
	(void)state;
	write_keys("pi-master1 " KEY16 "\n", 0640);
	struct fc_keys *k = NULL;
	struct fm_buf errs;
	fm_buf_init(&errs, 4096);
	assert_int_equal(fc_keys_load(path, &k, &errs), -EPERM);
	assert_null(k);
	assert_non_null(strstr(errs.data, "group or others"));
	assert_non_null(strstr(errs.data, "0640"));
	fm_buf_free(&errs);
}

static void test_bad_lines(void **state)
{
	(void)state;
	write_keys("pi-master1 " KEY16 "\n"                 /* 1 fine */
		   "lonely\n"                               /* 2 one field */
		   "a b c\n"                                /* 3 three fields */
		   "short 0011\n"                           /* 4 key too short */
		   "odd " KEY16 "0\n"                       /* 5 odd hex */
		   "nothex " KEY16 "zz\n"                   /* 6 not hex */
		   "x1234567890123456789012345678901234567890123456789012345678901234 " KEY16 "\n" /* 7: 65 chars */
		   "pi-master1 " KEY16 "\n"                 /* 8 duplicate */
		   "long " KEY16 KEY16 KEY16 KEY16 "00\n",  /* 9 65 bytes */
		   0600);
	struct fc_keys *k = NULL;
	struct fm_buf errs;
	fm_buf_init(&errs, 8192);
	assert_int_equal(fc_keys_load(path, &k, &errs), -EINVAL);
	assert_null(k);
	print_message("%s", errs.data);
	const char *want[] = {":2: expected", ":3: expected", ":4: key is 2 bytes", ":5: key is not hex",
			      ":6: key is not hex", ":7: identity longer", "pi-master1 is given twice",
			      ":9: key is 65 bytes"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(strstr(errs.data, want[i]));
	/* one line per problem, each naming the file */
	int lines = 0;
	for (const char *p = errs.data; (p = strstr(p, path)); p++)
		lines++;
	assert_int_equal(lines, 8);
	fm_buf_free(&errs);
}

static void test_empty_and_missing(void **state)
{
	(void)state;
	write_keys("# nobody yet\n", 0600);
	struct fc_keys *k = NULL;
	assert_int_equal(fc_keys_load(path, &k, NULL), 0);
	assert_int_equal(fc_keys_count(k), 0);
	size_t len;
	assert_null(fc_keys_find(k, "a", 1, &len));
	fc_keys_delete(&k);
	unlink(path);
	assert_int_equal(fc_keys_load(path, &k, NULL), -ENOENT);
	write_keys("p\x01i " KEY16 "\n", 0600);
	assert_int_equal(fc_keys_load(path, &k, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
