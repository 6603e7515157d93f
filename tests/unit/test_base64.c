/* fm_base64 (Mbed TLS's decoder behind our alphabet check): RFC 4648
 * vectors, strictness (alphabet, padding, nothing after padding), trailing
 * bits taken as Go's StdEncoding takes them, line breaks, buffer sizes,
 * every byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_base64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int decode(const char *in, char *out, size_t out_size, size_t *n, size_t *bad)
{
	return fm_base64_decode((unsigned char *)out, out_size, n, in, strlen(in), bad);
}

static void rfc4648_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"", ""},
	    {"Zg==", "f"},
	    {"Zm8=", "fo"},
	    {"Zm9v", "foo"},
	    {"Zm9vYg==", "foob"},
	    {"Zm9vYmE=", "fooba"},
	    {"Zm9vYmFy", "foobar"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[16];
		size_t n = 99;
		assert_int_equal(decode(v[i].in, out, sizeof(out), &n, NULL), 0);
		assert_int_equal(n, strlen(v[i].out));
		assert_memory_equal(out, v[i].out, n);
	}
}

static void line_breaks_are_skipped(void **state)
{
	(void)state;
	char out[16];
	size_t n;
	assert_int_equal(decode("Zm9v\nYmFy\r\n", out, sizeof(out), &n, NULL), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(decode("Zm\n9v\nYg\r\n==\n", out, sizeof(out), &n, NULL), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "foob", 4);
}

static void strictness(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t bad_at;
	} v[] = {
	    {"Zm9", 3},		 /* ends mid-quad */
	    {"Zm9vY", 5},	 /* ends mid-quad */
	    {"Zg", 2},		 /* padding missing */
	    {"Zm9 v", 3},	 /* a space */
	    {"Zm9v\t", 4},	 /* a tab */
	    {"Zm-_", 2},	 /* the URL alphabet */
	    {"Zm9v\xc3\xa9", 4}, /* not ASCII */
	    {"Zm9v\rZg==", 4}, /* a lone CR */
	    {" Zm9v", 0},	 /* a space before the data */
	    {"Z===", 1},	 /* '=' too early: the first '=' is named */
	    {"====", 0},	 /* only padding */
	    {"Zg=a", 2},	 /* "x=y" */
	    {"Zg==Zm9v", 2},	 /* data after padding */
	    {"Zg==\n=", 2},	 /* padding after padding */
	    {"Zm9v\0Zm9v", 4},	 /* cut at the NUL by strlen: fine below */
	};
	for (size_t i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++) {
		char out[16];
		size_t n = 0, bad = 77;
		assert_int_equal(decode(v[i].in, out, sizeof(out), &n, &bad), -EINVAL);
		if (bad != v[i].bad_at)
			fail_msg("\"%s\": bad_at %zu, expected %zu", v[i].in, bad, v[i].bad_at);
	}
	/* An embedded NUL is just another bad character. */
	char out[16];
	size_t n, bad;
	assert_int_equal(
	    fm_base64_decode((unsigned char *)out, sizeof(out), &n, "Zm9v\0Zm9v", 9, &bad),
	    -EINVAL);
	assert_int_equal(bad, 4);
	/* bad_at may be NULL. */
	assert_int_equal(decode("Zm9", out, sizeof(out), &n, NULL), -EINVAL);
}

/* Non-zero bits past the last byte: Go's StdEncoding (what wrote the
 * kubeconfig) decodes them without complaint, and so does this. */
static void trailing_bits_as_go(void **state)
{
	(void)state;
	char out[16];
	size_t n = 0;
	assert_int_equal(decode("Zh==", out, sizeof(out), &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'f');
	assert_int_equal(decode("Zm9=", out, sizeof(out), &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "fo", 2);
}

static void buffer_too_small(void **state)
{
	(void)state;
	char out[8];
	size_t n;
	assert_int_equal(decode("Zm9vYmFy", out, 5, &n, NULL), -ENOBUFS);
	assert_int_equal(decode("Zm9vYmFy", out, 6, &n, NULL), 0);
	assert_int_equal(n, 6);
	assert_int_equal(decode("Zm8=", out, 1, &n, NULL), -ENOBUFS);
	assert_int_equal(decode("Zm8=", out, 2, &n, NULL), 0);
	assert_true(fm_base64_decoded_max(8) >= 6);
}

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A plain encoder, to check decoding against every byte value. */
static size_t encode(char *out, const unsigned char *in, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t b = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			b |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			b |= in[i + 2];
		out[o++] = alphabet[b >> 18 & 63];
		out[o++] = alphabet[b >> 12 & 63];
		out[o++] = i + 1 < len ? alphabet[b >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[b & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static void every_byte_round_trips(void **state)
{
	(void)state;
	unsigned char in[256 + 2];
	char enc[400];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t el = encode(enc, in, len);
		char *out = NULL;
		size_t n = 0;
		assert_int_equal(fm_base64_decode_alloc(&out, &n, enc, el, NULL), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
		assert_int_equal(out[n], '\0');
		free(out);
	}
}

static void alloc_variant(void **state)
{
	(void)state;
	char *out = (char *)1;
	size_t n = 0;
	assert_int_equal(fm_base64_decode_alloc(&out, &n, "AAA=", 4, NULL), 0);
	assert_int_equal(n, 2); /* two NUL bytes, and the terminator */
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 0);
	free(out);
	size_t bad;
	assert_int_equal(fm_base64_decode_alloc(&out, NULL, "Zm9v!", 5, &bad), -EINVAL);
	assert_null(out);
	assert_int_equal(bad, 4);
	assert_int_equal(fm_base64_decode_alloc(&out, NULL, "", 0, NULL), 0);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc4648_vectors),
	    cmocka_unit_test(line_breaks_are_skipped),
	    cmocka_unit_test(strictness),
	    cmocka_unit_test(trailing_bits_as_go),
	    cmocka_unit_test(buffer_too_small),
	    cmocka_unit_test(every_byte_round_trips),
	    cmocka_unit_test(alloc_variant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
