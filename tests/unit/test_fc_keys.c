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
		   "a b c d\n"                              /* 3 four fields */
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

static void test_previous_key(void **state)
{
	(void)state;
	write_keys("# rotated\npi-1 " KEY16 " 00112233445566778899aabbccddeeff # new, then old\n", 0600);
	struct fc_keys *k = NULL;
	assert_int_equal(fc_keys_load(path, &k, NULL), 0);
	struct fc_keys_pair p;
	assert_true(fc_keys_get(k, "pi-1", 4, &p));
	assert_int_equal(p.len, 16);
	assert_non_null(p.prev);
	assert_int_equal(p.prev_len, 16);
	assert_int_equal(p.prev[15], 0xff);
	assert_int_equal(p.note, FC_KEYS_NOTE_NONE);
	fc_keys_set_note(k, "pi-1", 4, FC_KEYS_NOTE_PREV);
	assert_true(fc_keys_get(k, "pi-1", 4, &p) && p.note == FC_KEYS_NOTE_PREV);
	/* a reload keeps the note where the keys are the same */
	struct fc_keys *again = NULL;
	write_keys("pi-0 " KEY16 "\npi-1 " KEY16 " 00112233445566778899aabbccddeeff\npi-2 " KEY16 "\n", 0600);
	assert_int_equal(fc_keys_load(path, &again, NULL), 0);
	fc_keys_carry_notes(again, k);
	assert_true(fc_keys_get(again, "pi-1", 4, &p) && p.note == FC_KEYS_NOTE_PREV);
	fc_keys_delete(&again);
	write_keys("pi-1 " KEY16 " 00112233445566778899aabbccddee00\n", 0600); /* another previous key */
	assert_int_equal(fc_keys_load(path, &again, NULL), 0);
	fc_keys_carry_notes(again, k);
	assert_true(fc_keys_get(again, "pi-1", 4, &p) && p.note == FC_KEYS_NOTE_NONE);
	fc_keys_delete(&again);
	fc_keys_forget_prev(k, "pi-1", 4);
	assert_true(fc_keys_get(k, "pi-1", 4, &p));
	assert_null(p.prev);
	assert_int_equal(p.note, FC_KEYS_NOTE_NONE);
	fc_keys_delete(&k);
}

static void test_node_names(void **state)
{
	(void)state;
	/* the one rule: what the keys file, enroll and the API take */
	write_keys("bad/name " KEY16 "\n-dash " KEY16 "\nok.node_1-a " KEY16 "\n", 0600);
	struct fm_buf errs;
	fm_buf_init(&errs, 4096);
	struct fc_keys *k = NULL;
	assert_int_equal(fc_keys_load(path, &k, &errs), -EINVAL);
	assert_non_null(strstr(errs.data, ":1: identity is not a node name"));
	assert_non_null(strstr(errs.data, ":2: identity is not a node name"));
	assert_null(strstr(errs.data, ":3:"));
	fm_buf_free(&errs);
}

/* The file's text (static buffer). */
static const char *text(void)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_edit(void **state)
{
	(void)state;
	static const uint8_t k1[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t k2[16] = {0xaa}, k3[16] = {0xbb};
	struct fm_buf errs;
	fm_buf_init(&errs, 4096);
	unlink(path);
	/* a first node makes the file, 0600 */
	assert_int_equal(fc_keys_edit(path, "pi-1", FC_KEYS_ADD, k1, 16, &errs), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_string_equal(text(), "pi-1 0102030405060708090a0b0c0d0e0f10\n");
	/* comments and other lines kept as they are */
	write_keys("# fleet\npi-1 0102030405060708090a0b0c0d0e0f10  # first\n", 0600);
	assert_int_equal(fc_keys_edit(path, "pi-2", FC_KEYS_ADD, k2, 16, &errs), 0);
	assert_int_equal(fc_keys_edit(path, "pi-2", FC_KEYS_ADD, k2, 16, &errs), -EEXIST);
	assert_non_null(strstr(errs.data, "enrolled already"));
	/* rotate: new key, the old one kept as previous; a second rotation
	 * before the node took the first keeps the key it holds */
	assert_int_equal(fc_keys_edit(path, "pi-1", FC_KEYS_ROTATE, k3, 16, &errs), 0);
	assert_int_equal(fc_keys_edit(path, "pi-1", FC_KEYS_ROTATE, k2, 16, &errs), 0);
	assert_string_equal(text(), "# fleet\n"
				    "pi-1 aa000000000000000000000000000000 0102030405060708090a0b0c0d0e0f10\n"
				    "pi-2 aa000000000000000000000000000000\n");
	assert_int_equal(fc_keys_edit(path, "pi-1", FC_KEYS_ROTATE_NOW, k3, 16, &errs), 0);
	assert_int_equal(fc_keys_edit(path, "pi-2", FC_KEYS_REVOKE, NULL, 0, &errs), 0);
	assert_string_equal(text(), "# fleet\npi-1 bb000000000000000000000000000000\n");
	assert_int_equal(fc_keys_edit(path, "pi-2", FC_KEYS_REVOKE, NULL, 0, &errs), -ENOENT);
	assert_int_equal(fc_keys_edit(path, "no/such", FC_KEYS_ADD, k1, 16, &errs), -EINVAL);
	/* a file that does not load is not touched */
	write_keys("pi-1 zz\n", 0600);
	assert_int_equal(fc_keys_edit(path, "pi-3", FC_KEYS_ADD, k1, 16, &errs), -EINVAL);
	assert_string_equal(text(), "pi-1 zz\n");
	/* a store a service user owns stays its own */
	write_keys("pi-1 " KEY16 "\n", 0600);
	assert_int_equal(chown(path, 4242, 4243), 0);
	assert_int_equal(fc_keys_edit(path, "pi-3", FC_KEYS_ADD, k1, 16, &errs), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, 4242);
	assert_int_equal(sb.st_gid, 4243);
	assert_int_equal(sb.st_mode & 0777, 0600);
	write_keys("pi-1 " KEY16 "\n", 0644);
	assert_int_equal(fc_keys_edit(path, "pi-3", FC_KEYS_ADD, k1, 16, &errs), -EPERM);
	fm_buf_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_previous_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
