/* Unit tests for fm_http: the response parser fed in pieces of every size,
 * its caps, what it refuses, and request formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_http.h"

#define MIB (1024 * 1024)

/* A literal with its length, NULs inside included. */
#define LIT(s) s, sizeof(s) - 1

/* Collects what on_body hands out. */
struct sink {
	char data[64 * 1024];
	size_t len;
	size_t calls;
	size_t stop_at; /* return non-zero on this call (1-based); 0: never */
};

/* Big enough that the stack of a test does not carry them. */
static struct fm_http_parser P;
static struct sink S;

static int collect(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	s->calls++;
	/* The parser never hands out empty pieces. */
	assert_true(len > 0);
	if (s->stop_at && s->calls >= s->stop_at)
		return 1;
	assert_true(len <= sizeof(s->data) - s->len);
	memcpy(s->data + s->len, data, len);
	s->len += len;
	return 0;
}

static void start(uint64_t max_body)
{
	memset(&S, 0, sizeof(S));
	fm_http_parser_init(&P, max_body, collect, &S);
}

/* Feeds len bytes in pieces of step bytes (0: all at once). Returns the bytes
 * consumed or the first error; stops feeding once the parser leaves bytes. */
static ssize_t feed(const char *d, size_t len, size_t step)
{
	size_t off = 0;

	while (off < len) {
		size_t n = (step && step < len - off) ? step : len - off;
		ssize_t r = fm_http_parse(&P, d + off, n);

		if (r < 0)
			return r;
		assert_true((size_t)r <= n);
		off += (size_t)r;
		if ((size_t)r < n) {
			assert_true(P.done);
			break;
		}
	}
	return (ssize_t)off;
}

static void assert_body(const char *want, size_t len)
{
	assert_int_equal(S.len, len);
	assert_memory_equal(S.data, want, len);
	assert_int_equal(P.body_bytes, len);
}

/* Asserts the parser refused with rc and a reason mentioning why, and that
 * it keeps refusing. */
static void assert_refused(ssize_t r, int rc, const char *why)
{
	assert_int_equal(r, rc);
	assert_int_equal(P.state, FM_HTTP_P_ERROR);
	assert_false(P.done);
	assert_true(P.err[0] != '\0');
	if (why && !strstr(P.err, why))
		fail_msg("err \"%s\" does not mention \"%s\"", P.err, why);
	assert_int_equal(fm_http_parse(&P, LIT("HTTP/1.1 200 OK\r\n\r\n")), rc);
	assert_int_equal(fm_http_parse(&P, "", 0), rc);
	assert_int_equal(fm_http_parse_eof(&P), rc);
}

/* Feeds d whole and then one byte at a time; both must be refused alike. */
static void expect_refused(const char *d, size_t len, uint64_t max_body, int rc, const char *why)
{
	size_t step;

	for (step = 0; step <= 1; step++) {
		start(max_body);
		assert_refused(feed(d, len, step), rc, why);
	}
}

/* Chunked -------------------------------------------------------------------- */

/* Several chunks, upper- and lower-case hex, leading zeros, extensions with
 * and without BWS, CRLF inside the data, bare-LF line ends, trailers. */
static const char chunked_resp[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "X-Empty:\r\n"
				   "X-Spaced: \t padded value \t\r\n"
				   "\r\n"
				   "5\r\nhello\r\n"
				   "1;name=value\r\n,\r\n"
				   "A ; ext=\"quoted\"; other\r\n world 123\r\n"
				   "4\r\n\r\n\r\n\r\n"
				   "0010\n0123456789abcdef\n"
				   "1c;x\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ!!\r\n"
				   "0;last=yes\r\n"
				   "Expires: never\r\n"
				   "X-Trailer: t\r\n"
				   "\r\n";

static const char chunked_body[] = "hello"
				   ","
				   " world 123"
				   "\r\n\r\n"
				   "0123456789abcdef"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ!!";

static void assert_chunked_result(void)
{
	assert_true(P.headers_done);
	assert_true(P.done);
	assert_int_equal(P.state, FM_HTTP_P_DONE);
	assert_int_equal(P.status, 200);
	assert_int_equal(P.minor_version, 1);
	assert_string_equal(P.reason, "OK");
	assert_true(P.chunked);
	assert_true(P.keep_alive);
	assert_int_equal(P.content_length, -1);
	assert_int_equal(P.nheaders, 4);
	assert_string_equal(fm_http_header_get(&P, "content-type"), "application/json");
	assert_string_equal(fm_http_header_get(&P, "X-EMPTY"), "");
	assert_string_equal(fm_http_header_get(&P, "x-spaced"), "padded value");
	/* Trailers are dropped, not merged into the headers. */
	assert_null(fm_http_header_get(&P, "Expires"));
	assert_body(LIT(chunked_body));
}

static void test_chunked_every_split(void **state)
{
	size_t len = sizeof(chunked_resp) - 1;
	size_t split;

	(void)state;
	for (split = 0; split <= len; split++) {
		start(MIB);
		assert_int_equal(fm_http_parse(&P, chunked_resp, split), split);
		assert_false(P.done && split < len);
		assert_int_equal(fm_http_parse(&P, chunked_resp + split, len - split), len - split);
		assert_chunked_result();
	}
}

static void test_chunked_byte_at_a_time(void **state)
{
	size_t len = sizeof(chunked_resp) - 1;

	(void)state;
	start(MIB);
	assert_int_equal(feed(chunked_resp, len, 1), len);
	assert_chunked_result();
}

static void test_chunked_random_pieces(void **state)
{
	size_t len = sizeof(chunked_resp) - 1;
	uint32_t seed = 12345;
	int round;

	(void)state;
	for (round = 0; round < 200; round++) {
		size_t off = 0;

		start(MIB);
		while (off < len) {
			size_t n;

			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 40;
			if (n > len - off)
				n = len - off;
			assert_int_equal(fm_http_parse(&P, chunked_resp + off, n), n);
			off += n;
		}
		assert_chunked_result();
	}
}

/* Bytes after the last chunk's trailers belong to the next response. */
static void test_chunked_pipelined(void **state)
{
	char buf[1024];
	size_t len = sizeof(chunked_resp) - 1;
	const char next[] = "HTTP/1.1 204 No Content\r\n\r\n";
	size_t split;

	(void)state;
	memcpy(buf, chunked_resp, len);
	memcpy(buf + len, next, sizeof(next) - 1);
	for (split = 0; split <= len + sizeof(next) - 1; split++) {
		size_t first = split < len ? split : len;
		size_t total = len + sizeof(next) - 1;

		start(MIB);
		assert_int_equal(fm_http_parse(&P, buf, split), first);
		assert_int_equal(fm_http_parse(&P, buf + split, total - split),
				 split < len ? len - split : 0);
		assert_chunked_result();
	}
	start(MIB);
	assert_int_equal(feed(buf + len, sizeof(next) - 1, 0), sizeof(next) - 1);
	assert_int_equal(P.status, 204);
	assert_true(P.done);
}

/* Content-Length -------------------------------------------------------------- */

static const char cl_resp[] = "HTTP/1.1 200 OK\r\n"
			      "Content-Length: 14\r\n"
			      "Content-Type: text/plain\r\n"
			      "\r\n"
			      "Hello\r\n\r\nWorld";
static const char cl_next[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!";

static void assert_cl_result(void)
{
	assert_true(P.done);
	assert_int_equal(P.status, 200);
	assert_int_equal(P.content_length, 14);
	assert_false(P.chunked);
	assert_true(P.keep_alive);
	assert_body(LIT("Hello\r\n\r\nWorld"));
}

static void test_length_every_split_pipelined(void **state)
{
	char buf[256];
	size_t len = sizeof(cl_resp) - 1;
	size_t total = len + sizeof(cl_next) - 1;
	size_t split;

	(void)state;
	memcpy(buf, cl_resp, len);
	memcpy(buf + len, cl_next, sizeof(cl_next) - 1);
	for (split = 0; split <= total; split++) {
		start(MIB);
		assert_int_equal(fm_http_parse(&P, buf, split), split < len ? split : len);
		/* Whatever follows the body is left alone. */
		assert_int_equal(fm_http_parse(&P, buf + split, total - split),
				 split < len ? len - split : 0);
		assert_cl_result();
	}

	/* The leftover is a response in its own right. */
	start(MIB);
	assert_int_equal(feed(buf + len, total - len, 0), total - len);
	assert_true(P.done);
	assert_int_equal(P.status, 404);
	assert_string_equal(P.reason, "Not Found");
	assert_body(LIT("no!"));
}

static void test_length_byte_at_a_time(void **state)
{
	(void)state;
	start(MIB);
	assert_int_equal(feed(LIT(cl_resp), 1), sizeof(cl_resp) - 1);
	assert_cl_result();
	/* Once done, nothing more is taken. */
	assert_int_equal(fm_http_parse(&P, LIT("xyz")), 0);
	assert_int_equal(fm_http_parse_eof(&P), 0);
	assert_cl_result();
}

static void test_length_list_and_duplicates_agree(void **state)
{
	(void)state;
	start(MIB);
	assert_int_equal(feed(LIT("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n"
				  "content-length: 3\r\n\r\nabc"),
			      0),
			 sizeof("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n"
				"content-length: 3\r\n\r\nabc") -
			     1);
	assert_true(P.done);
	assert_int_equal(P.content_length, 3);
	assert_body(LIT("abc"));

	/* Zero: done at the blank line. */
	start(MIB);
	assert_int_equal(feed(LIT("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP"), 0),
			 sizeof("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") - 1);
	assert_true(P.done);
	assert_int_equal(S.calls, 0);
}

static void test_length_refused(void **state)
{
	static const struct {
		const char *value;
		const char *why;
	} cases[] = {
	    {"-1", "invalid Content-Length"},
	    {"+5", "invalid Content-Length"},
	    {"5a", "invalid Content-Length"},
	    {"0x5", "invalid Content-Length"},
	    {"5 5", "invalid Content-Length"},
	    {"5.0", "invalid Content-Length"},
	    {"", "empty Content-Length"},
	    {" , ", "empty Content-Length"},
	    {"5, 6", "conflicting"},
	    {"99999999999999999999", "out of range"},
	    {"9223372036854775808", "out of range"},
	};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n =
		    snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\nhello",
			     cases[i].value);

		expect_refused(buf, (size_t)n, MIB, -EBADMSG, cases[i].why);
	}
	/* Duplicate header fields that disagree. */
	expect_refused(LIT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
		       MIB, -EBADMSG, "conflicting");
	/* A bad Content-Length is refused even where no body follows. */
	start(MIB);
	P.no_body = true;
	assert_refused(feed(LIT("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), 0), -EBADMSG,
		       "Content-Length");
}

/* Caps ------------------------------------------------------------------------ */

static void test_length_over_max_refused_at_header_time(void **state)
{
	static const char over[] = "HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n";
	static const char exact[] = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";

	(void)state;
	/* No body byte has been sent: the size alone refuses it. */
	expect_refused(LIT(over), MIB, -EMSGSIZE, "body exceeds 1048576 bytes");
	assert_int_equal(S.calls, 0);

	start(MIB);
	assert_int_equal(feed(LIT(exact), 0), sizeof(exact) - 1);
	assert_true(P.headers_done);
	assert_false(P.done);
	assert_int_equal(P.state, FM_HTTP_P_BODY_LENGTH);

	/* Huge but representable. */
	expect_refused(LIT("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n"), MIB,
		       -EMSGSIZE, "body exceeds");
}

static void test_chunked_over_max_refused(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				 "5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n";
	static const char over[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "5\r\n12345\r\n6\r\n678901\r\n0\r\n\r\n";

	(void)state;
	start(10);
	assert_int_equal(feed(LIT(ok), 0), sizeof(ok) - 1);
	assert_true(P.done);
	assert_body(LIT("1234567890"));

	/* Refused at the size line of the chunk that would pass the cap, before
	 * any of its bytes go out. */
	expect_refused(LIT(over), 10, -EMSGSIZE, "body exceeds 10 bytes");
	assert_int_equal(S.len, 5);

	/* A single chunk the size of all memory. */
	expect_refused(LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "ffffffffffffffff\r\n"),
		       MIB, -EMSGSIZE, "body exceeds");
}

static void test_close_body_over_max_refused(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n\r\n";

	(void)state;
	start(8);
	assert_int_equal(feed(LIT(head), 0), sizeof(head) - 1);
	assert_int_equal(P.state, FM_HTTP_P_BODY_CLOSE);
	assert_int_equal(fm_http_parse(&P, LIT("12345")), 5);
	assert_int_equal(fm_http_parse(&P, LIT("678")), 3);
	assert_refused(fm_http_parse(&P, LIT("9")), -EMSGSIZE, "body exceeds 8 bytes");
	assert_body(LIT("12345678"));

	expect_refused(LIT("HTTP/1.1 200 OK\r\n\r\n123456789"), 8, -EMSGSIZE, "body exceeds");
}

/* A response whose status line and header section take exactly len bytes,
 * the blank line included; *padlen is the length of the X-Pad value. */
static size_t make_sized_head(char *buf, size_t len, size_t *padlen)
{
	static const char status[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
	size_t off = sizeof(status) - 1;
	size_t pad;

	memcpy(buf, status, off);
	/* "X-Pad: " + pad + "\r\n" + "\r\n" */
	pad = len - off - 7 - 2 - 2;
	memcpy(buf + off, "X-Pad: ", 7);
	off += 7;
	memset(buf + off, 'a', pad);
	off += pad;
	memcpy(buf + off, "\r\n\r\n", 4);
	off += 4;
	assert_int_equal(off, len);
	*padlen = pad;
	return off;
}

static void test_header_section_cap(void **state)
{
	static char buf[2 * FM_HTTP_MAX_HEADER];
	size_t n, i, pad;

	(void)state;
	n = make_sized_head(buf, FM_HTTP_MAX_HEADER, &pad);
	start(MIB);
	assert_int_equal(feed(buf, n, 0), n);
	assert_true(P.done);
	assert_int_equal(strlen(fm_http_header_get(&P, "x-pad")), pad);

	n = make_sized_head(buf, FM_HTTP_MAX_HEADER + 1, &pad);
	expect_refused(buf, n, MIB, -EMSGSIZE, "header section exceeds 8192 bytes");

	/* Many ordinary fields adding up past the cap. */
	n = 0;
	n += (size_t)sprintf(buf + n, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 10; i++) {
		n += (size_t)sprintf(buf + n, "X-H%zu: ", i);
		memset(buf + n, 'v', 900);
		n += 900;
		n += (size_t)sprintf(buf + n, "\r\n");
	}
	n += (size_t)sprintf(buf + n, "\r\n");
	expect_refused(buf, n, MIB, -EMSGSIZE, "header section exceeds");

	/* A line that never ends. */
	memcpy(buf, "HTTP/1.1 200 ", 13);
	memset(buf + 13, 'x', sizeof(buf) - 13);
	expect_refused(buf, sizeof(buf), MIB, -EMSGSIZE, "header section exceeds");
}

static void test_too_many_headers(void **state)
{
	static char buf[4096];
	size_t n, i;

	(void)state;
	n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < FM_HTTP_MAX_HEADERS; i++)
		n += (size_t)sprintf(buf + n, "X-%zu: %zu\r\n", i, i);
	n += (size_t)sprintf(buf + n, "\r\n");
	start(MIB);
	assert_int_equal(feed(buf, n, 0), n);
	assert_int_equal(P.nheaders, FM_HTTP_MAX_HEADERS);
	assert_string_equal(fm_http_header_get(&P, "x-63"), "63");

	n -= 2;
	n += (size_t)sprintf(buf + n, "X-Last: 64\r\n\r\n");
	expect_refused(buf, n, MIB, -EMSGSIZE, "more than 64 header fields");
}

static void test_chunk_line_and_trailer_caps(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	static char buf[16384];
	size_t n, i;

	(void)state;
	/* A size line of exactly FM_HTTP_MAX_LINE bytes, CRLF included. */
	n = sizeof(head) - 1;
	memcpy(buf, head, n);
	memcpy(buf + n, "1;", 2);
	memset(buf + n + 2, 'e', FM_HTTP_MAX_LINE - 4);
	n += FM_HTTP_MAX_LINE - 2;
	n += (size_t)sprintf(buf + n, "\r\nx\r\n0\r\n\r\n");
	start(MIB);
	assert_int_equal(feed(buf, n, 0), n);
	assert_true(P.done);
	assert_body(LIT("x"));

	/* One byte more. */
	n = sizeof(head) - 1;
	memcpy(buf + n, "1;", 2);
	memset(buf + n + 2, 'e', FM_HTTP_MAX_LINE - 3);
	n += FM_HTTP_MAX_LINE - 1;
	n += (size_t)sprintf(buf + n, "\r\nx\r\n0\r\n\r\n");
	expect_refused(buf, n, MIB, -EMSGSIZE, "chunk size line exceeds 1024 bytes");

	/* One trailer line too long. */
	n = sizeof(head) - 1;
	n += (size_t)sprintf(buf + n, "0\r\nX-T: ");
	memset(buf + n, 't', FM_HTTP_MAX_LINE);
	n += FM_HTTP_MAX_LINE;
	n += (size_t)sprintf(buf + n, "\r\n\r\n");
	expect_refused(buf, n, MIB, -EMSGSIZE, "trailer line exceeds");

	/* Many trailer lines, each short enough, adding up past the cap. */
	n = sizeof(head) - 1;
	n += (size_t)sprintf(buf + n, "0\r\n");
	for (i = 0; i < 10; i++) {
		n += (size_t)sprintf(buf + n, "X-T%zu: ", i);
		memset(buf + n, 't', 900);
		n += 900;
		n += (size_t)sprintf(buf + n, "\r\n");
	}
	n += (size_t)sprintf(buf + n, "\r\n");
	expect_refused(buf, n, MIB, -EMSGSIZE, "trailer section exceeds");
}

/* Malformed input ----------------------------------------------------------- */

struct bad_case {
	const char *data;
	size_t len;
	const char *why;
};

static void test_status_lines(void **state)
{
	static const struct {
		const char *line;
		int status;
		int minor;
		const char *reason;
	} good[] = {
	    {"HTTP/1.1 200", 200, 1, ""},
	    {"HTTP/1.1 200 ", 200, 1, ""},
	    {"HTTP/1.1 200 OK", 200, 1, "OK"},
	    {"HTTP/1.0 404 Not Found", 404, 0, "Not Found"},
	    {"HTTP/1.1 599 Whatever \t it says", 599, 1, "Whatever \t it says"},
	    {"HTTP/1.1 503 Service Unavailable \xc3\xa9", 503, 1, "Service Unavailable \xc3\xa9"},
	};
	static const struct bad_case bad[] = {
	    {LIT("HTTP/1.1 20 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/1.1 2000 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/2 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/2.0 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTP/1.1 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("http/1.1 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/1.1 abc OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/1.1 -20 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/1.1  200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/1.1 200\tOK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/1.x 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("HTTP/1.1\r\n\r\n"), "malformed status line"},
	    {LIT("\x00"), NULL},
	    {LIT("HTTP/1.1 200 OK\x00\r\n\r\n"), "NUL"},
	    {LIT("HTTP/1.1 200 O\x01K\r\n\r\n"), "control character"},
	    {LIT("HTTP/1.1 200 OK\rX\r\n\r\n"), "bare CR"},
	    {LIT("garbageHTTP/1.1 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT(" HTTP/1.1 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("\r\nHTTP/1.1 200 OK\r\n\r\n"), "malformed status line"},
	    {LIT("\x16\x03\x01\x02\x00"), "malformed status line"},
	    {LIT("SSH-2.0-OpenSSH_9.6\r\n"), "malformed status line"},
	    {LIT("HTTP/1.1 099 Low\r\n\r\n"), "out of range"},
	    {LIT("HTTP/1.1 600 High\r\n\r\n"), "out of range"},
	    {LIT("HTTP/1.1 000 Zero\r\n\r\n"), "out of range"},
	    {LIT("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"), "101"},
	};
	char buf[256];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = snprintf(buf, sizeof(buf), "%s\r\nContent-Length: 0\r\n\r\n", good[i].line);
		start(MIB);
		assert_int_equal(feed(buf, (size_t)n, 1), n);
		assert_true(P.done);
		assert_int_equal(P.status, good[i].status);
		assert_int_equal(P.minor_version, good[i].minor);
		assert_string_equal(P.reason, good[i].reason);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(bad[i].data, bad[i].len, MIB, -EBADMSG, bad[i].why);
}

static void test_bad_headers(void **state)
{
	static const struct bad_case bad[] = {
	    {LIT("NoColon"), "without colon"},
	    {LIT("No Colon At All"), "without colon"},
	    {LIT("Name : value"), "whitespace before colon"},
	    {LIT("Name\t: value"), "whitespace before colon"},
	    {LIT("Na(me: value"), "invalid character in header name"},
	    {LIT("Na\"me: value"), "invalid character in header name"},
	    {LIT("Na/me: value"), "invalid character in header name"},
	    {LIT("\xc3\xa4: value"), "invalid character in header name"},
	    {LIT("Na\x7fme: value"), "control character"},
	    {LIT(": value"), "empty header name"},
	    {LIT("Name: value\r\n continued"), "obsolete line folding"},
	    {LIT("Name: value\r\n\tcontinued"), "obsolete line folding"},
	    {LIT("Name: va\x00lue"), "NUL"},
	    {LIT("Na\x00me: value"), "NUL"},
	    {LIT("Name: va\rlue"), "bare CR"},
	    {LIT("Name: value\r"), "bare CR"},
	    {LIT("Name: va\x1blue"), "control character"},
	};
	char buf[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\nX-Before: ok\r\n");
		memcpy(buf + n, bad[i].data, bad[i].len);
		n += bad[i].len;
		n += (size_t)sprintf(buf + n, "\r\nContent-Length: 0\r\n\r\n");
		expect_refused(buf, n, MIB, -EBADMSG, bad[i].why);
	}
	/* Folding on the first field, with nothing to fold onto. */
	expect_refused(LIT("HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n"), MIB, -EBADMSG,
		       "obsolete line folding");
}

static void test_bad_chunks(void **state)
{
	static const struct bad_case bad[] = {
	    {LIT("g\r\n"), "invalid chunk size"},
	    {LIT("\r\n"), "invalid chunk size"},
	    {LIT(" 5\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
	    {LIT("5 x\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
	    {LIT("-1\r\n"), "invalid chunk size"},
	    {LIT("+1\r\n"), "invalid chunk size"},
	    {LIT("0x5\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
	    {LIT("ffffffffffffffffff\r\n"), "invalid chunk size"},
	    {LIT("10000000000000000\r\n"), "invalid chunk size"},
	    {LIT("5\r\nhelloX\r\n0\r\n\r\n"), "missing CRLF after chunk data"},
	    {LIT("5\r\nhello0\r\n\r\n"), "missing CRLF after chunk data"},
	    {LIT("5\r\nhello\rX\r\n0\r\n\r\n"), "missing CRLF after chunk data"},
	    {LIT("5\r\nhello\r\r\n0\r\n\r\n"), "missing CRLF after chunk data"},
	    {LIT("5\rX\r\n"), "bare CR"},
	    {LIT("5;ext\x00\r\nhello\r\n0\r\n\r\n"), "NUL"},
	    {LIT("0\r\nBad Trailer\r\n\r\n"), "trailer"},
	    {LIT("0\r\nX-T: a\r\n folded\r\n\r\n"), "obsolete line folding"},
	    {LIT("0\r\nX-T: a\x00\r\n\r\n"), "NUL"},
	};
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	char buf[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = sizeof(head) - 1;
		memcpy(buf, head, n);
		memcpy(buf + n, bad[i].data, bad[i].len);
		n += bad[i].len;
		expect_refused(buf, n, MIB, -EBADMSG, bad[i].why);
	}
}

static void test_transfer_encoding(void **state)
{
	static const struct bad_case bad[] = {
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	     "unsupported transfer coding \"gzip\""},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
	     "unsupported transfer coding"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n"),
	     "unsupported transfer coding"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"),
	     "unsupported transfer coding"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
	     "more than once"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n"),
	     "more than once"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"), "empty Transfer-Encoding"},
	    {LIT("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), "HTTP/1.0"},
	};
	static const char both[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Length: 100\r\n"
				   "Transfer-Encoding: , Chunked\r\n"
				   "\r\n"
				   "3\r\nabc\r\n0\r\n\r\n";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(bad[i].data, bad[i].len, MIB, -EBADMSG, bad[i].why);

	/* Chunked wins over Content-Length, and the connection is not reused
	 * after such a response. */
	start(MIB);
	assert_int_equal(feed(LIT(both), 0), sizeof(both) - 1);
	assert_true(P.done);
	assert_true(P.chunked);
	assert_false(P.keep_alive);
	assert_body(LIT("abc"));
}

/* Bare LF ends lines as well as CRLF (RFC 9112 2.2 lets a recipient accept it). */
static void test_bare_lf_tolerated(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\n"
				   "Transfer-Encoding: chunked\n"
				   "X-A:  a \n"
				   "\n"
				   "3\nabc\n"
				   "0\n"
				   "X-T: t\n"
				   "\n";

	(void)state;
	start(MIB);
	assert_int_equal(feed(LIT(resp), 1), sizeof(resp) - 1);
	assert_true(P.done);
	assert_string_equal(P.reason, "OK");
	assert_string_equal(fm_http_header_get(&P, "x-a"), "a");
	assert_body(LIT("abc"));
}

/* Responses without a body ------------------------------------------------- */

static void test_interim_skipped(void **state)
{
	static const char resp[] = "HTTP/1.1 100 Continue\r\n\r\n"
				   "HTTP/1.1 103 Early Hints\r\n"
				   "Link: </style.css>; rel=preload\r\n"
				   "\r\n"
				   "HTTP/1.1 201 Created\r\n"
				   "Location: /v1/x\r\n"
				   "Content-Length: 2\r\n"
				   "\r\n"
				   "hi";
	size_t len = sizeof(resp) - 1;
	size_t split;

	(void)state;
	for (split = 0; split <= len; split++) {
		start(MIB);
		assert_int_equal(fm_http_parse(&P, resp, split), split);
		assert_int_equal(fm_http_parse(&P, resp + split, len - split), len - split);
		assert_true(P.done);
		assert_int_equal(P.status, 201);
		assert_string_equal(P.reason, "Created");
		assert_int_equal(P.nheaders, 2);
		assert_null(fm_http_header_get(&P, "link"));
		assert_string_equal(fm_http_header_get(&P, "location"), "/v1/x");
		assert_body(LIT("hi"));
	}

	/* The interim response's header fields are not visible meanwhile. */
	start(MIB);
	assert_int_equal(feed(LIT("HTTP/1.1 103 Early Hints\r\nLink: <x>\r\n\r\n"), 0),
			 sizeof("HTTP/1.1 103 Early Hints\r\nLink: <x>\r\n\r\n") - 1);
	assert_false(P.headers_done);
	assert_null(fm_http_header_get(&P, "link"));
	assert_int_equal(P.state, FM_HTTP_P_STATUS);
}

static void test_no_body_responses(void **state)
{
	static const char *const resps[] = {
	    "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
	    "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "HTTP/1.1 204 No Content\r\n\r\n",
	};
	static const char next[] = "HTTP/1.1 200 OK\r\n";
	char buf[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(resps) / sizeof(resps[0]); i++) {
		n = strlen(resps[i]);
		memcpy(buf, resps[i], n);
		memcpy(buf + n, next, sizeof(next) - 1);
		start(MIB);
		assert_int_equal(fm_http_parse(&P, buf, n + sizeof(next) - 1), n);
		assert_true(P.done);
		assert_false(P.chunked);
		assert_true(P.keep_alive);
		assert_int_equal(S.calls, 0);
		assert_int_equal(P.body_bytes, 0);
	}

	/* HEAD: the fields describe the body GET would have, bigger than the
	 * cap and in a coding we could not decode; none of it applies. */
	start(16);
	P.no_body = true;
	n = (size_t)sprintf(buf,
			    "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n"
			    "Transfer-Encoding: gzip\r\n\r\n%s",
			    next);
	assert_int_equal(fm_http_parse(&P, buf, n), n - (sizeof(next) - 1));
	assert_true(P.done);
	assert_int_equal(P.content_length, 5000);
	assert_int_equal(S.calls, 0);
	assert_int_equal(fm_http_parse_eof(&P), 0);
}

static void test_close_delimited_eof(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nstreamed";

	(void)state;
	start(MIB);
	assert_int_equal(feed(LIT(resp), 3), sizeof(resp) - 1);
	assert_true(P.headers_done);
	assert_false(P.done);
	/* Only the close can end this body, so the connection cannot be reused
	 * whatever the server said. */
	assert_false(P.keep_alive);
	assert_int_equal(fm_http_parse(&P, LIT(" more")), 5);
	assert_int_equal(fm_http_parse_eof(&P), 0);
	assert_true(P.done);
	assert_body(LIT("streamed more"));
	assert_int_equal(fm_http_parse_eof(&P), 0);
	assert_int_equal(fm_http_parse(&P, LIT("x")), 0);

	/* An empty body is a body too. */
	start(MIB);
	assert_int_equal(feed(LIT("HTTP/1.0 200 OK\r\n\r\n"), 0),
			 sizeof("HTTP/1.0 200 OK\r\n\r\n") - 1);
	assert_int_equal(fm_http_parse_eof(&P), 0);
	assert_true(P.done);
	assert_int_equal(S.calls, 0);
}

static void test_truncated_eof(void **state)
{
	static const struct bad_case cut[] = {
	    {LIT(""), "before a response"},
	    {LIT("HTTP/1.1 2"), "header section"},
	    {LIT("HTTP/1.1 200 OK\r\nContent-Le"), "header section"},
	    {LIT("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"), "header section"},
	    {LIT("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"), "5 bytes short"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), "chunked"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde"), "chunked"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"), "chunked"},
	    {LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n"), "chunked"},
	    {LIT("HTTP/1.1 100 Continue\r\n\r\n"), "before a response"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		start(MIB);
		assert_int_equal(feed(cut[i].data, cut[i].len, 0), cut[i].len);
		assert_false(P.done);
		assert_refused(fm_http_parse_eof(&P), -EBADMSG, cut[i].why);
	}
}

/* on_body ------------------------------------------------------------------- */

static void test_on_body_cancel(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";

	(void)state;
	start(MIB);
	S.stop_at = 2;
	assert_refused(feed(LIT(resp), 0), -ECANCELED, NULL);
	assert_int_equal(S.calls, 2);
	assert_int_equal(S.len, 3);

	/* Also for a Content-Length body, on the first piece. */
	start(MIB);
	S.stop_at = 1;
	assert_refused(feed(LIT("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), 0), -ECANCELED,
		       NULL);
	assert_int_equal(S.len, 0);

	/* No callback: the body is counted and dropped, the cap still holds. */
	fm_http_parser_init(&P, 4, NULL, NULL);
	assert_int_equal(fm_http_parse(&P, LIT("HTTP/1.1 200 OK\r\n\r\n1234")),
			 sizeof("HTTP/1.1 200 OK\r\n\r\n1234") - 1);
	assert_int_equal(P.body_bytes, 4);
	assert_refused(fm_http_parse(&P, LIT("5")), -EMSGSIZE, "body exceeds 4 bytes");
}

/* keep_alive ---------------------------------------------------------------- */

static void test_keep_alive(void **state)
{
	static const struct {
		const char *resp;
		bool keep_alive;
	} cases[] = {
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
	    {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
	    {"HTTP/1.1 200 OK\r\nConnection: CLOSE\r\nContent-Length: 0\r\n\r\n", false},
	    {"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
	     false},
	    {"HTTP/1.1 200 OK\r\nConnection: Upgrade\r\nConnection: close\r\n"
	     "Content-Length: 0\r\n\r\n",
	     false},
	    {"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", true},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
	    {"HTTP/1.1 200 OK\r\n\r\nbody", false},
	    {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
	    {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true},
	    {"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
	     false},
	    {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody", false},
	    {"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n", true},
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].resp);
		start(MIB);
		assert_int_equal(feed(cases[i].resp, n, 0), n);
		assert_int_equal(fm_http_parse_eof(&P), 0);
		assert_true(P.done);
		if (P.keep_alive != cases[i].keep_alive)
			fail_msg("case %zu: keep_alive %d, want %d", i, P.keep_alive,
				 cases[i].keep_alive);
	}
}

/* fm_http_header_get -------------------------------------------------------- */

static void test_header_get(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/plain\r\n"
				   "X-Dup: first\r\n"
				   "x-dup: second\r\n"
				   "X-Odd: a:b: c\r\n"
				   "Content-Length: 0\r\n"
				   "\r\n";

	(void)state;
	start(MIB);
	assert_int_equal(fm_http_parse(&P, resp, 30), 30);
	/* Not yet: the header section has not ended. */
	assert_null(fm_http_header_get(&P, "content-type"));
	assert_int_equal(fm_http_parse(&P, resp + 30, sizeof(resp) - 1 - 30),
			 sizeof(resp) - 1 - 30);
	assert_string_equal(fm_http_header_get(&P, "CONTENT-TYPE"), "text/plain");
	assert_string_equal(fm_http_header_get(&P, "content-type"), "text/plain");
	assert_string_equal(fm_http_header_get(&P, "X-DUP"), "first");
	assert_string_equal(fm_http_header_get(&P, "x-odd"), "a:b: c");
	assert_null(fm_http_header_get(&P, "content-typ"));
	assert_null(fm_http_header_get(&P, "content-type-x"));
	assert_null(fm_http_header_get(&P, ""));
	assert_string_equal(P.headers[2].name, "x-dup");
	assert_string_equal(P.headers[2].value, "second");
}

/* fm_http_format_request ----------------------------------------------------- */

static void test_format_get(void **state)
{
	static const char want[] = "GET /v1.43/info HTTP/1.1\r\n"
				   "Host: localhost\r\n"
				   "User-Agent: fleetmedic/" FM_VERSION "\r\n"
				   "\r\n";
	char buf[256];
	ssize_t n;

	(void)state;
	n = fm_http_format_request(buf, sizeof(buf), "GET", "/v1.43/info", "localhost", NULL, 0,
				   NULL);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want));

	/* Extra header lines go in verbatim before the blank line. */
	n = fm_http_format_request(buf, sizeof(buf), "GET", "/metrics", "10.0.0.1:2381", NULL, 0,
				   "Accept: text/plain\r\nX-A: b\r\n");
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "GET /metrics HTTP/1.1\r\n"
				 "Host: 10.0.0.1:2381\r\n"
				 "User-Agent: fleetmedic/" FM_VERSION "\r\n"
				 "Accept: text/plain\r\n"
				 "X-A: b\r\n"
				 "\r\n");
}

static void test_format_post(void **state)
{
	static const char want[] = "POST /v3/kv/range HTTP/1.1\r\n"
				   "Host: [fd00::1]:2379\r\n"
				   "User-Agent: fleetmedic/" FM_VERSION "\r\n"
				   "Content-Type: application/json\r\n"
				   "Content-Length: 17\r\n"
				   "Authorization: Bearer abc\r\n"
				   "\r\n";
	char buf[512];
	ssize_t n;

	(void)state;
	n = fm_http_format_request(buf, sizeof(buf), "POST", "/v3/kv/range", "[fd00::1]:2379",
				   "application/json", 17, "Authorization: Bearer abc\r\n");
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want));

	/* A body without a type still gets its length. */
	n = fm_http_format_request(buf, sizeof(buf), "PUT", "/x", "h", NULL, 3, NULL);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "PUT /x HTTP/1.1\r\nHost: h\r\n"
				 "User-Agent: fleetmedic/" FM_VERSION "\r\n"
				 "Content-Length: 3\r\n\r\n");

	/* A type without a body: the length says zero. */
	n = fm_http_format_request(buf, sizeof(buf), "POST", "/x", "h", "text/plain", 0, NULL);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "POST /x HTTP/1.1\r\nHost: h\r\n"
				 "User-Agent: fleetmedic/" FM_VERSION "\r\n"
				 "Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
}

static void test_format_enospc(void **state)
{
	char buf[256];
	ssize_t n;

	(void)state;
	n = fm_http_format_request(buf, sizeof(buf), "GET", "/", "h", NULL, 0, NULL);
	assert_true(n > 0);
	/* Room for the text and its NUL is needed; one byte less is refused. */
	assert_int_equal(fm_http_format_request(buf, (size_t)n + 1, "GET", "/", "h", NULL, 0, NULL),
			 n);
	assert_int_equal(fm_http_format_request(buf, (size_t)n, "GET", "/", "h", NULL, 0, NULL),
			 -ENOSPC);
	assert_int_equal(fm_http_format_request(buf, 10, "GET", "/", "h", NULL, 0, NULL), -ENOSPC);
	assert_int_equal(fm_http_format_request(NULL, 0, "GET", "/", "h", NULL, 0, NULL), -ENOSPC);
}

static void test_format_einval(void **state)
{
	static const struct {
		const char *method, *path, *host, *type, *extra;
	} bad[] = {
	    {"GET /", "/", "h", NULL, NULL},
	    {"GE\rT", "/", "h", NULL, NULL},
	    {"GET\n", "/", "h", NULL, NULL},
	    {"", "/", "h", NULL, NULL},
	    {NULL, "/", "h", NULL, NULL},
	    {"GET", "/a b", "h", NULL, NULL},
	    {"GET", "/a\r\nX-Injected: 1", "h", NULL, NULL},
	    {"GET", "/a\n", "h", NULL, NULL},
	    {"GET", "", "h", NULL, NULL},
	    {"GET", NULL, "h", NULL, NULL},
	    {"GET", "/", "h\r\nX-Injected: 1", NULL, NULL},
	    {"GET", "/", "h\n", NULL, NULL},
	    {"GET", "/", "h h", NULL, NULL},
	    {"GET", "/", "", NULL, NULL},
	    {"GET", "/", NULL, NULL, NULL},
	    {"POST", "/", "h", "text/plain\r\nX-Injected: 1", NULL},
	    {"GET", "/", "h", NULL, "X-A: b"},
	    {"GET", "/", "h", NULL, "X-A: b\n"},
	    {"GET", "/", "h", NULL, "X-A: b\r\n\r\nGET /smuggled HTTP/1.1\r\n"},
	    {"GET", "/", "h", NULL, "\r\n"},
	    {"GET", "/", "h", NULL, "X-A: b\rc\r\n"},
	};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 'z', sizeof(buf));
		if (fm_http_format_request(buf, sizeof(buf), bad[i].method, bad[i].path,
					   bad[i].host, bad[i].type, 0, bad[i].extra) != -EINVAL)
			fail_msg("case %zu accepted", i);
	}
	/* An empty extra block is fine. */
	assert_true(fm_http_format_request(buf, sizeof(buf), "GET", "/", "h", NULL, 0, "") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunked_every_split),
	    cmocka_unit_test(test_chunked_byte_at_a_time),
	    cmocka_unit_test(test_chunked_random_pieces),
	    cmocka_unit_test(test_chunked_pipelined),
	    cmocka_unit_test(test_length_every_split_pipelined),
	    cmocka_unit_test(test_length_byte_at_a_time),
	    cmocka_unit_test(test_length_list_and_duplicates_agree),
	    cmocka_unit_test(test_length_refused),
	    cmocka_unit_test(test_length_over_max_refused_at_header_time),
	    cmocka_unit_test(test_chunked_over_max_refused),
	    cmocka_unit_test(test_close_body_over_max_refused),
	    cmocka_unit_test(test_header_section_cap),
	    cmocka_unit_test(test_too_many_headers),
	    cmocka_unit_test(test_chunk_line_and_trailer_caps),
	    cmocka_unit_test(test_status_lines),
	    cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_bad_chunks),
	    cmocka_unit_test(test_transfer_encoding),
	    cmocka_unit_test(test_bare_lf_tolerated),
	    cmocka_unit_test(test_interim_skipped),
	    cmocka_unit_test(test_no_body_responses),
	    cmocka_unit_test(test_close_delimited_eof),
	    cmocka_unit_test(test_truncated_eof),
	    cmocka_unit_test(test_on_body_cancel),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_header_get),
	    cmocka_unit_test(test_format_get),
	    cmocka_unit_test(test_format_post),
	    cmocka_unit_test(test_format_enospc),
	    cmocka_unit_test(test_format_einval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
