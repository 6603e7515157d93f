/* libFuzzer target for fm_http, the HTTP/1.1 response parser: the first
 * byte chooses the request (bit 0: HEAD, no body) and the body cap (bits
 * 1-2), the second seeds the splits; the rest is the response. It is parsed
 * whole, then again in pieces (fuzz_split.h), and both parses must agree on
 * everything: the outcome, the status and headers and, when neither
 * failed, the bytes consumed and the body bytes (a hash of them); the cap
 * and the header strings are checked too. Built with -fsanitize=fuzzer by `make fuzz`, replayed in ctest. */
#include "fm_http.h"

#include "fuzz_split.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct fm_http_parser p;
	uint64_t hash; /* FNV-1a of the body bytes delivered */
	uint64_t delivered;
	size_t consumed;
	ssize_t rc;  /* the first error, or 0 */
	int eof_rc;
};

static int on_body(void *ctx, const char *d, size_t len)
{
	struct run *r = ctx;
	for (size_t i = 0; i < len; i++)
		r->hash = (r->hash ^ (uint8_t)d[i]) * 0x100000001b3ull;
	r->delivered += len;
	return 0;
}

static void parse(struct run *r, const char *s, size_t len, uint64_t max_body, bool head,
		  int split_seed)
{
	struct fuzz_split sp;
	memset(r, 0, sizeof(*r));
	r->hash = 0xcbf29ce484222325ull;
	fm_http_parser_init(&r->p, max_body, on_body, r);
	r->p.no_body = head;
	fuzz_split_init(&sp, (uint8_t)split_seed);
	while (r->consumed < len && !r->p.done) {
		size_t n = split_seed < 0 ? len : fuzz_split_next(&sp, len - r->consumed);
		ssize_t got = fm_http_parse(&r->p, s + r->consumed, n);
		if (got < 0) {
			r->rc = got;
			break;
		}
		if ((size_t)got > n)
			__builtin_trap();
		r->consumed += (size_t)got;
		if ((size_t)got < n && !r->p.done)
			__builtin_trap(); /* stopped short of the piece without an end */
	}
	r->eof_rc = fm_http_parse_eof(&r->p);
}

static void check_one(const struct run *r, uint64_t max_body)
{
	const struct fm_http_parser *p = &r->p;
	if (r->delivered != p->body_bytes || p->body_bytes > max_body)
		__builtin_trap();
	if (!p->headers_done)
		return;
	if (p->status < 100 || p->status > 599 || p->nheaders > FM_HTTP_MAX_HEADERS)
		__builtin_trap();
	for (size_t i = 0; i < p->nheaders; i++) {
		const char *n = p->headers[i].name, *v = p->headers[i].value;
		if (n < p->hdr || n >= p->hdr + sizeof(p->hdr) || v < p->hdr ||
		    v >= p->hdr + sizeof(p->hdr) || strlen(n) == 0)
			__builtin_trap();
		if (fm_http_header_get(p, n) == NULL)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t caps[] = {0, 16, 4096, UINT64_MAX};
	static struct run whole, split;
	if (size < 2)
		return 0;
	bool head = data[0] & 1;
	uint64_t max_body = caps[(data[0] >> 1) & 3];
	const char *s = (const char *)data + 2;
	size_t len = size - 2;

	parse(&whole, s, len, max_body, head, -1);
	parse(&split, s, len, max_body, head, data[1]);
	check_one(&whole, max_body);
	check_one(&split, max_body);
	const struct fm_http_parser *a = &whole.p, *b = &split.p;
	if (whole.rc != split.rc || whole.eof_rc != split.eof_rc || a->done != b->done ||
	    a->headers_done != b->headers_done)
		__builtin_trap();
	/* After an error a split parse has delivered the pieces before it. */
	if (whole.rc == 0 && (whole.consumed != split.consumed || whole.hash != split.hash ||
			      a->body_bytes != b->body_bytes))
		__builtin_trap();
	if (a->headers_done &&
	    (a->status != b->status || a->nheaders != b->nheaders ||
	     a->content_length != b->content_length || a->chunked != b->chunked ||
	     a->keep_alive != b->keep_alive || strcmp(a->reason, b->reason) != 0))
		__builtin_trap();
	for (size_t i = 0; a->headers_done && i < a->nheaders; i++)
		if (strcmp(a->headers[i].name, b->headers[i].name) ||
		    strcmp(a->headers[i].value, b->headers[i].value))
			__builtin_trap();
	return 0;
}
