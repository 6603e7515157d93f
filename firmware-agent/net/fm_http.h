/* fm_http: HTTP/1.1 response framing, pure (no I/O).
 *
 * The parser is fed whatever bytes arrived, in pieces of any size, and keeps
 * no pointer into them. It understands the status line, header fields,
 * Content-Length, chunked transfer coding (with chunk extensions and
 * trailers), bodies delimited by the connection closing, 1xx interim
 * responses (skipped) and responses that never carry a body (204, 304, HEAD).
 * A body that never ends (Docker's /events) is streamed out through on_body
 * as it arrives.
 *
 * Every size is capped: the status line plus header section at
 * FM_HTTP_MAX_HEADER bytes, the body at the max_body given to init. Input
 * beyond a cap, or input that is not HTTP, is refused with a reason rather
 * than guessed at.
 */
#ifndef FM_HTTP_H
#define FM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FM_HTTP_MAX_HEADER  8192 /* status line + all header lines, bytes */
#define FM_HTTP_MAX_HEADERS 64   /* header fields kept */
#define FM_HTTP_MAX_LINE    1024 /* one chunk-size line or trailer line */

struct fm_http_header {
	const char *name;  /* points into the parser's header buffer, NUL-terminated */
	const char *value; /* leading/trailing whitespace removed */
};

/* Receives body bytes (after de-chunking). Return 0 to go on, non-zero to
 * stop parsing (fm_http_parse then returns -ECANCELED). */
typedef int (*fm_http_body_fn)(void *ctx, const char *data, size_t len);

enum fm_http_pstate {
	FM_HTTP_P_STATUS = 0,
	FM_HTTP_P_HEADERS,
	FM_HTTP_P_BODY_LENGTH,
	FM_HTTP_P_BODY_CLOSE,
	FM_HTTP_P_CHUNK_SIZE,
	FM_HTTP_P_CHUNK_DATA,
	FM_HTTP_P_CHUNK_DATA_END,
	FM_HTTP_P_TRAILERS,
	FM_HTTP_P_DONE,
	FM_HTTP_P_ERROR,
};

struct fm_http_parser {
	/* Settings (fm_http_parser_init). */
	uint64_t max_body;
	fm_http_body_fn on_body;
	void *ctx;
	bool no_body; /* response to HEAD */

	/* Results, valid once headers_done. */
	int status;         /* 100..599 */
	int minor_version;  /* HTTP/1.x */
	const char *reason; /* reason phrase, may be "" */
	struct fm_http_header headers[FM_HTTP_MAX_HEADERS];
	size_t nheaders;
	int64_t content_length; /* -1 when absent */
	bool chunked;
	bool keep_alive;   /* the connection may carry another request */
	bool headers_done; /* status line and headers parsed */
	bool done;         /* the whole response, body included, parsed */
	uint64_t body_bytes;
	char err[128]; /* why parsing failed, for the person reading the report */

	/* Internal state. */
	enum fm_http_pstate state;
	char hdr[FM_HTTP_MAX_HEADER];
	size_t hdr_len;
	char line[FM_HTTP_MAX_LINE];
	size_t line_len;
	uint64_t left; /* bytes left in the body or the current chunk */
	size_t trailer_bytes;
	int error; /* what every call returns once state is FM_HTTP_P_ERROR */
};

/* Prepares p for one response. on_body may be NULL (the body is discarded but
 * still counted against max_body). Borrows ctx. */
void fm_http_parser_init(struct fm_http_parser *p, uint64_t max_body, fm_http_body_fn on_body,
			 void *ctx);

/* Feeds len bytes of the response. Returns the number of bytes consumed: len,
 * or fewer when the response ended inside data (the rest belongs to whatever
 * the peer sends next). Errors: -EBADMSG (not HTTP: reason in p->err),
 * -EMSGSIZE (a cap exceeded: reason in p->err), -ECANCELED (on_body said stop).
 * After an error, every further call returns the same error. */
ssize_t fm_http_parse(struct fm_http_parser *p, const char *data, size_t len);

/* The peer closed the connection. Completes a body delimited by the close and
 * returns 0; returns -EBADMSG (reason in p->err) if the response was cut
 * short; 0 if it was already done. */
int fm_http_parse_eof(struct fm_http_parser *p);

/* The value of header name (case-insensitive), the first one if repeated;
 * NULL when absent or headers not parsed yet. Valid while p lives. */
const char *fm_http_header_get(const struct fm_http_parser *p, const char *name);

/* Formats a request head into buf: "METHOD path HTTP/1.1", Host, User-Agent,
 * Content-Type and Content-Length when body_len > 0 (or content_type set),
 * extra_headers verbatim (each line ending in CRLF, may be NULL), blank line.
 * Returns the length, or -ENOSPC when it does not fit, -EINVAL when method,
 * path or host holds CR, LF or a space where none may be. */
ssize_t fm_http_format_request(char *buf, size_t size, const char *method, const char *path,
			       const char *host, const char *content_type, size_t body_len,
			       const char *extra_headers);

#endif
