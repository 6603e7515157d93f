/* fm_base64: see fm_base64.h. The decoding is Mbed TLS's (already linked for
 * TLS); what is ours is the alphabet check in front of it, which gives the
 * offset of a bad character for the error message and refuses what Go's
 * StdEncoding refuses but Mbed TLS would take (spaces before a line break,
 * a lone CR is skipped by Go, refused here and by Mbed TLS alike). */
#include "fm_base64.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <stdlib.h>

#include <mbedtls/base64.h>

static bool allowed(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/' || c == '=' || c == '\n' || c == '\r';
}

size_t fm_base64_decoded_max(size_t in_len)
{
	return in_len / 4 * 3 + 3;
}

int fm_base64_decode(unsigned char *out, size_t out_size, size_t *out_len, const char *in,
		     size_t in_len, size_t *bad_at)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t first_pad = in_len;
	for (size_t i = 0; i < in_len; i++) {
		/* a CR only as the start of a CRLF line break */
		if (!allowed(s[i]) || (s[i] == '\r' && (i + 1 == in_len || s[i + 1] != '\n'))) {
			if (bad_at)
				*bad_at = i;
			return -EINVAL;
		}
		if (s[i] == '=' && first_pad == in_len)
			first_pad = i;
	}
	size_t n = 0;
	int rc = mbedtls_base64_decode(out, out_size, &n, s, in_len);
	if (rc == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
		return -ENOBUFS;
	if (rc != 0) {
		/* every character is of the alphabet: the padding is misplaced,
		 * or the input ends mid-quad */
		if (bad_at)
			*bad_at = first_pad;
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
