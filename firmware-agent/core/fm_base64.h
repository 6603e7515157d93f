/* fm_base64: decoding of standard base64 (RFC 4648 section 4), as
 * kubeconfigs carry certificates and keys (certificate-authority-data ...:
 * Go's base64.StdEncoding, padded), through Mbed TLS's decoder.
 *
 * Only the standard alphabet, padding required (the length without line
 * breaks is a multiple of 4), '=' only in the last one or two places. Line
 * breaks (LF, CRLF) are skipped anywhere, as Go's decoder does; any other
 * character (spaces and a lone CR included) is an error. The unused low
 * bits of the last character are not checked (neither does Go's
 * StdEncoding).
 */
#ifndef FM_BASE64_H
#define FM_BASE64_H

#include <stddef.h>

/* The most bytes in_len characters of base64 can decode to. */
size_t fm_base64_decoded_max(size_t in_len);

/* Decodes in[0..in_len) into out (out_size bytes; fm_base64_decoded_max(in_len)
 * is always enough) and sets *out_len. Returns 0, -EINVAL for input that is
 * not base64 (*bad_at, if not NULL, gets the offset of the first character
 * outside the alphabet, else of the first '=' when the padding is wrong,
 * else in_len: the input ends mid-quad), or
 * -ENOBUFS when out is too small. out may be written to even on failure. */
int fm_base64_decode(unsigned char *out, size_t out_size, size_t *out_len, const char *in,
		     size_t in_len, size_t *bad_at);

/* fm_base64_decode into a fresh buffer: *out (malloc'd, the caller frees it)
 * gets the bytes followed by a NUL, *out_len (may be NULL) their number
 * without the NUL. Returns 0, -EINVAL as above, or -ENOMEM; *out is NULL on
 * failure. */
int fm_base64_decode_alloc(char **out, size_t *out_len, const char *in, size_t in_len,
			   size_t *bad_at);

#endif
