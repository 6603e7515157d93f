/* fm_base64: see fm_base64.h. */
#include "fm_base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* 0..63 for the alphabet, 64 for '=', 65 for a skipped line break, 255 for
 * anything else. Works on unsigned char, so bytes >= 0x80 are simply BAD
 * whatever the signedness of char (unsigned on ARM, signed on x86). */
#define PAD  64
#define SKIP 65
#define BAD  255

static unsigned char value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (unsigned char)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (unsigned char)(c - '0' + 52);
	switch (c) {
	case '+':
		return 62;
	case '/':
		return 63;
	case '=':
		return PAD;
	case '\r':
	case '\n':
		return SKIP;
	default:
		return BAD;
	}
}

size_t fm_base64_decoded_max(size_t in_len)
{
	return in_len / 4 * 3 + 3;
}

int fm_base64_decode(unsigned char *out, size_t out_size, size_t *out_len, const char *in,
		     size_t in_len, size_t *bad_at)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char quad[4];
	size_t at[4] = {0};
	size_t n = 0, q = 0;
	bool ended = false; /* a quad with padding was seen: nothing may follow */

	if (bad_at)
		*bad_at = 0;
	for (size_t i = 0; i < in_len; i++) {
		unsigned char v = value_of(s[i]);
		if (v == SKIP)
			continue;
		if (v == BAD || ended) {
			if (bad_at)
				*bad_at = i;
			return -EINVAL;
		}
		at[q] = i;
		quad[q++] = v;
		if (q < 4)
			continue;
		q = 0;
		/* '=' only in the last two places, and "x=y=" is not a thing. */
		if (quad[0] == PAD || quad[1] == PAD || (quad[2] == PAD && quad[3] != PAD)) {
			size_t k = quad[0] == PAD ? 0 : quad[1] == PAD ? 1 : 3;
			if (bad_at)
				*bad_at = at[k];
			return -EINVAL;
		}
		uint32_t bits = (uint32_t)quad[0] << 18 | (uint32_t)quad[1] << 12;
		size_t got = 1;
		if (quad[2] != PAD) {
			bits |= (uint32_t)quad[2] << 6;
			got = 2;
			if (quad[3] != PAD) {
				bits |= quad[3];
				got = 3;
			}
		}
		/* The bits past the last whole byte must be zero (RFC 4648 3.5). */
		if ((got == 1 && (bits & 0xffff)) || (got == 2 && (bits & 0xff))) {
			if (bad_at)
				*bad_at = at[got];
			return -EINVAL;
		}
		if (out_size - n < got) /* n <= out_size always */
			return -ENOBUFS;
		out[n++] = (unsigned char)(bits >> 16);
		if (got > 1)
			out[n++] = (unsigned char)(bits >> 8);
		if (got > 2)
			out[n++] = (unsigned char)bits;
		ended = got < 3;
	}
	if (q != 0) {
		if (bad_at)
			*bad_at = in_len;
		return -EINVAL;
	}
	*out_len = n;
	return 0;
}

int fm_base64_decode_alloc(char **out, size_t *out_len, const char *in, size_t in_len,
			   size_t *bad_at)
{
	size_t size = fm_base64_decoded_max(in_len) + 1, n = 0;
	unsigned char *buf = malloc(size);
	*out = NULL;
	if (!buf)
		return -ENOMEM;
	int ret = fm_base64_decode(buf, size - 1, &n, in, in_len, bad_at);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[n] = '\0';
	*out = (char *)buf;
	if (out_len)
		*out_len = n;
	return 0;
}
