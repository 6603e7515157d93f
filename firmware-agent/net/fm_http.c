#include "fm_http.h"

#include "fm_conf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The parser reads the status line and header section byte by byte into
 * p->hdr, terminators included, so the cap on that buffer is the cap on the
 * section and no byte is ever copied twice. A completed line is cut up in
 * place: NULs replace the colon and the line end, and the header table points
 * at the pieces. Body bytes are never copied; they go to on_body straight out
 * of the caller's data.
 */

static int fail(struct fm_http_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct fm_http_parser *p, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->state = FM_HTTP_P_ERROR;
	p->error = code;
	return code;
}

static bool is_ctl(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 5.6.2: tchar, the characters of a field name. */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* ASCII only: field names and the tokens we look for are ASCII, and a
 * locale-aware tolower could match bytes the peer did not mean. */
static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool token_eq(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (word[i] == '\0' || lower(s[i]) != lower(word[i]))
			return false;
	return word[n] == '\0';
}

static bool name_eq(const char *a, const char *b)
{
	return token_eq(a, strlen(a), b);
}

/* The next non-empty element of the comma-separated list at *s, trimmed of
 * whitespace; false at the end. RFC 9110 5.6.1 has recipients skip empty
 * elements ("a, , b" is two elements). */
static bool list_next(const char **s, const char **elem, size_t *n)
{
	const char *c = *s;
	const char *end;

	while (is_ows(*c) || *c == ',')
		c++;
	if (*c == '\0')
		return false;
	*elem = c;
	while (*c != '\0' && *c != ',')
		c++;
	end = c;
	while (end > *elem && is_ows(end[-1]))
		end--;
	*n = (size_t)(end - *elem);
	*s = c;
	return true;
}

/* Appends c to the line buf[start..*n), which may grow up to cap bytes,
 * terminator included. Returns 1 when c (LF) ended the line, 0 when more is
 * needed, a negative errno when the byte is refused. A CR must be followed by
 * LF: a bare CR is a line end to some parsers and not to others, which is how
 * responses get smuggled (RFC 9112 2.2). */
static int line_push(struct fm_http_parser *p, char *buf, size_t *n, size_t start, size_t cap,
		     const char *what, char c)
{
	if (*n > start && buf[*n - 1] == '\r' && c != '\n')
		return fail(p, -EBADMSG, "bare CR in %s", what);
	if (c == '\0')
		return fail(p, -EBADMSG, "NUL byte in %s", what);
	if (is_ctl(c) && c != '\t' && c != '\r' && c != '\n')
		return fail(p, -EBADMSG, "control character 0x%02x in %s", (unsigned char)c, what);
	if (*n >= cap)
		return fail(p, -EMSGSIZE, "%s exceeds %zu bytes", what, cap);
	buf[(*n)++] = c;
	return c == '\n';
}

/* The length of the line buf[0..n) without its LF or CRLF. */
static size_t line_content(const char *buf, size_t n)
{
	n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	return n;
}

/* Checks a field line (header or trailer) and returns why it is refused, or
 * NULL; *colon is where the name ends. */
static const char *field_check(const char *s, size_t n, size_t *colon)
{
	size_t i;

	/* RFC 9112 5.2: obs-fold is obsolete; rejecting it is allowed and
	 * safer than guessing how the sender meant to join the lines. */
	if (is_ows(s[0]))
		return "obsolete line folding";
	for (i = 0; i < n && is_tchar(s[i]); i++)
		;
	if (i == n)
		return "header line without colon";
	if (s[i] != ':') {
		if (!memchr(s + i, ':', n - i))
			return "header line without colon";
		/* RFC 9112 5.1: a server MUST reject whitespace between the
		 * name and the colon; a client is no better placed to guess. */
		if (is_ows(s[i]))
			return "whitespace before colon";
		return "invalid character in header name";
	}
	if (i == 0)
		return "empty header name";
	*colon = i;
	return NULL;
}

/* "HTTP/1.x NNN reason", reason optional (RFC 9112 4 allows it empty, and
 * some servers drop the space before it too). */
static int status_line(struct fm_http_parser *p, char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7]) || s[8] != ' ' ||
	    !is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]) || (n > 12 && s[12] != ' '))
		return fail(p, -EBADMSG, "malformed status line");
	p->minor_version = s[7] - '0';
	p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (p->status < 100 || p->status > 599)
		return fail(p, -EBADMSG, "status code %03d out of range", p->status);
	p->reason = n > 12 ? s + 13 : s + 12;
	p->state = FM_HTTP_P_HEADERS;
	return 0;
}

static int header_line(struct fm_http_parser *p, char *s, size_t n)
{
	struct fm_http_header *h;
	const char *why;
	size_t colon = 0;
	char *v;
	char *end;

	why = field_check(s, n, &colon);
	if (why)
		return fail(p, -EBADMSG, "%s", why);
	if (p->nheaders == FM_HTTP_MAX_HEADERS)
		return fail(p, -EMSGSIZE, "more than %d header fields", FM_HTTP_MAX_HEADERS);
	s[colon] = '\0';
	v = s + colon + 1;
	end = s + n;
	while (v < end && is_ows(*v))
		v++;
	while (end > v && is_ows(end[-1]))
		end--;
	*end = '\0';
	h = &p->headers[p->nheaders++];
	h->name = s;
	h->value = v;
	return 0;
}

static int content_length(struct fm_http_parser *p)
{
	size_t i, n, k, values;
	const char *s, *e;
	int64_t v;

	for (i = 0; i < p->nheaders; i++) {
		if (!name_eq(p->headers[i].name, "content-length"))
			continue;
		s = p->headers[i].value;
		values = 0;
		/* RFC 9110 8.6: "42, 42" (or the header repeated) may be
		 * taken as 42; differing values mean the framing is unknown. */
		while (list_next(&s, &e, &n)) {
			v = 0;
			for (k = 0; k < n; k++) {
				if (!is_digit(e[k]))
					return fail(p, -EBADMSG, "invalid Content-Length");
				if (v > (INT64_MAX - (e[k] - '0')) / 10)
					return fail(p, -EBADMSG, "Content-Length out of range");
				v = v * 10 + (e[k] - '0');
			}
			if (p->content_length >= 0 && p->content_length != v)
				return fail(p, -EBADMSG, "conflicting Content-Length values");
			p->content_length = v;
			values++;
		}
		if (values == 0)
			return fail(p, -EBADMSG, "empty Content-Length");
	}
	return 0;
}

/* Returns 1 when the codings are exactly "chunked", 0 when there is no
 * Transfer-Encoding, a negative errno otherwise. Anything else we cannot
 * decode; RFC 9112 6.3 would read such a body to the close, but a body we
 * cannot decode is no use to a diagnostic agent. */
static int transfer_encoding(struct fm_http_parser *p)
{
	size_t i, n;
	const char *s, *e;
	int seen = 0, chunked = 0;

	for (i = 0; i < p->nheaders; i++) {
		if (!name_eq(p->headers[i].name, "transfer-encoding"))
			continue;
		seen = 1;
		s = p->headers[i].value;
		while (list_next(&s, &e, &n)) {
			if (!token_eq(e, n, "chunked"))
				return fail(p, -EBADMSG, "unsupported transfer coding \"%.*s\"",
					    (int)(n > 32 ? 32 : n), e);
			/* RFC 9112 7: a sender MUST NOT chunk twice. */
			if (chunked++)
				return fail(p, -EBADMSG, "chunked applied more than once");
		}
	}
	if (!seen)
		return 0;
	if (!chunked)
		return fail(p, -EBADMSG, "empty Transfer-Encoding");
	/* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means the
	 * framing is faulty. */
	if (p->minor_version == 0)
		return fail(p, -EBADMSG, "Transfer-Encoding in an HTTP/1.0 response");
	return 1;
}

/* RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
 * "keep-alive". */
static bool connection_persists(const struct fm_http_parser *p)
{
	bool closing = false, keep = false;
	size_t i, n;
	const char *s, *e;

	for (i = 0; i < p->nheaders; i++) {
		if (!name_eq(p->headers[i].name, "connection"))
			continue;
		s = p->headers[i].value;
		while (list_next(&s, &e, &n)) {
			if (token_eq(e, n, "close"))
				closing = true;
			else if (token_eq(e, n, "keep-alive"))
				keep = true;
		}
	}
	if (closing)
		return false;
	return p->minor_version >= 1 || keep;
}

static void finish(struct fm_http_parser *p)
{
	p->state = FM_HTTP_P_DONE;
	p->done = true;
}

static int body_too_big(struct fm_http_parser *p)
{
	return fail(p, -EMSGSIZE, "body exceeds %" PRIu64 " bytes", p->max_body);
}

/* The blank line: decides how the body is framed (RFC 9112 6.3). */
static int headers_end(struct fm_http_parser *p)
{
	int te;

	if (p->status < 200) {
		/* We never ask to upgrade; what follows a 101 is not HTTP and
		 * parsing it as the next response would only mislead. */
		if (p->status == 101)
			return fail(p, -EBADMSG, "unexpected 101 Switching Protocols");
		/* Interim: its fields are not the final response's. */
		p->hdr_len = 0;
		p->nheaders = 0;
		p->status = 0;
		p->reason = "";
		p->state = FM_HTTP_P_STATUS;
		return 0;
	}
	if (content_length(p) < 0)
		return p->error;
	p->keep_alive = connection_persists(p);
	p->headers_done = true;

	/* These carry no body whatever their fields say (RFC 9112 6.3 #1). */
	if (p->no_body || p->status == 204 || p->status == 304) {
		finish(p);
		return 0;
	}
	te = transfer_encoding(p);
	if (te < 0)
		return te;
	if (te) {
		/* RFC 9112 6.1: both present may be an attempt at smuggling;
		 * chunked wins and the connection is not reused. */
		if (p->content_length >= 0)
			p->keep_alive = false;
		p->chunked = true;
		p->line_len = 0;
		p->state = FM_HTTP_P_CHUNK_SIZE;
		return 0;
	}
	if (p->content_length >= 0) {
		if ((uint64_t)p->content_length > p->max_body)
			return body_too_big(p);
		p->left = (uint64_t)p->content_length;
		if (p->left == 0)
			finish(p);
		else
			p->state = FM_HTTP_P_BODY_LENGTH;
		return 0;
	}
	p->keep_alive = false;
	p->state = FM_HTTP_P_BODY_CLOSE;
	return 0;
}

static int header_byte(struct fm_http_parser *p, char c)
{
	size_t start = p->hdr_len - p->line_len;
	size_t n;
	char *s;
	int rc;

	/* Refuse what is plainly not HTTP (TLS on a plain port, a banner) at
	 * once instead of after 8 KiB. */
	if (p->state == FM_HTTP_P_STATUS && p->line_len < 7 && c != "HTTP/1."[p->line_len])
		return fail(p, -EBADMSG, "malformed status line");
	rc = line_push(p, p->hdr, &p->hdr_len, start, sizeof(p->hdr), "header section", c);
	if (rc < 0)
		return rc;
	p->line_len = p->hdr_len - start;
	if (rc == 0)
		return 0;

	s = p->hdr + start;
	n = line_content(s, p->line_len);
	s[n] = '\0';
	p->line_len = 0;
	if (p->state == FM_HTTP_P_STATUS)
		return status_line(p, s, n);
	if (n == 0)
		return headers_end(p);
	return header_line(p, s, n);
}

static int chunk_size_line(struct fm_http_parser *p)
{
	const char *s = p->line;
	size_t n = line_content(s, p->line_len);
	uint64_t size = 0;
	size_t i;
	int d;

	for (i = 0; i < n && (d = fm_hexdigit(s[i])) >= 0; i++) {
		if (size > UINT64_MAX >> 4)
			return fail(p, -EBADMSG, "invalid chunk size (overflow)");
		size = size << 4 | (uint64_t)d;
	}
	if (i == 0)
		return fail(p, -EBADMSG, "invalid chunk size");
	/* RFC 9112 7.1.1: BWS may precede the ";" of an extension. */
	while (i < n && is_ows(s[i]))
		i++;
	if (i < n && s[i] != ';')
		return fail(p, -EBADMSG, "invalid chunk size");
	/* Refuse now rather than after streaming most of it out. */
	if (size > p->max_body - p->body_bytes)
		return body_too_big(p);
	p->line_len = 0;
	if (size == 0) {
		p->trailer_bytes = 0;
		p->state = FM_HTTP_P_TRAILERS;
	} else {
		p->left = size;
		p->state = FM_HTTP_P_CHUNK_DATA;
	}
	return 0;
}

static int chunk_size_byte(struct fm_http_parser *p, char c)
{
	int rc;

	rc = line_push(p, p->line, &p->line_len, 0, sizeof(p->line), "chunk size line", c);
	if (rc <= 0)
		return rc;
	return chunk_size_line(p);
}

/* line_len is reused as "CR seen". */
static int chunk_end_byte(struct fm_http_parser *p, char c)
{
	if (c == '\r' && p->line_len == 0) {
		p->line_len = 1;
		return 0;
	}
	if (c == '\n') {
		p->line_len = 0;
		p->state = FM_HTTP_P_CHUNK_SIZE;
		return 0;
	}
	return fail(p, -EBADMSG, "missing CRLF after chunk data");
}

/* Trailer fields are checked like header fields, then dropped: nothing we
 * fetch uses them, and keeping them would need a second header buffer. */
static int trailer_byte(struct fm_http_parser *p, char c)
{
	const char *why;
	size_t colon, n;
	int rc;

	if (p->trailer_bytes >= FM_HTTP_MAX_HEADER)
		return fail(p, -EMSGSIZE, "trailer section exceeds %d bytes", FM_HTTP_MAX_HEADER);
	p->trailer_bytes++;
	rc = line_push(p, p->line, &p->line_len, 0, sizeof(p->line), "trailer line", c);
	if (rc <= 0)
		return rc;
	n = line_content(p->line, p->line_len);
	p->line_len = 0;
	if (n == 0) {
		finish(p);
		return 0;
	}
	why = field_check(p->line, n, &colon);
	if (why)
		return fail(p, -EBADMSG, "%s (trailer)", why);
	return 0;
}

/* Counts len body bytes against max_body and hands them on. */
static int deliver(struct fm_http_parser *p, const char *data, size_t len)
{
	if (len > p->max_body - p->body_bytes)
		return body_too_big(p);
	p->body_bytes += len;
	if (len && p->on_body && p->on_body(p->ctx, data, len) != 0)
		return fail(p, -ECANCELED, "stopped by the body callback");
	return 0;
}

void fm_http_parser_init(struct fm_http_parser *p, uint64_t max_body, fm_http_body_fn on_body,
			 void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->max_body = max_body;
	p->on_body = on_body;
	p->ctx = ctx;
	p->reason = "";
	p->content_length = -1;
	p->state = FM_HTTP_P_STATUS;
}

ssize_t fm_http_parse(struct fm_http_parser *p, const char *data, size_t len)
{
	size_t i = 0;
	size_t n;
	int rc = 0;

	if (p->state == FM_HTTP_P_ERROR)
		return p->error;
	while (i < len && p->state != FM_HTTP_P_DONE) {
		switch (p->state) {
		case FM_HTTP_P_STATUS:
		case FM_HTTP_P_HEADERS:
			rc = header_byte(p, data[i++]);
			break;
		case FM_HTTP_P_BODY_LENGTH:
		case FM_HTTP_P_CHUNK_DATA:
			n = len - i;
			if (n > p->left)
				n = (size_t)p->left;
			rc = deliver(p, data + i, n);
			if (rc < 0)
				break;
			i += n;
			p->left -= n;
			if (p->left > 0)
				break;
			if (p->state == FM_HTTP_P_BODY_LENGTH) {
				finish(p);
			} else {
				p->line_len = 0;
				p->state = FM_HTTP_P_CHUNK_DATA_END;
			}
			break;
		case FM_HTTP_P_BODY_CLOSE:
			rc = deliver(p, data + i, len - i);
			i = len;
			break;
		case FM_HTTP_P_CHUNK_SIZE:
			rc = chunk_size_byte(p, data[i++]);
			break;
		case FM_HTTP_P_CHUNK_DATA_END:
			rc = chunk_end_byte(p, data[i++]);
			break;
		case FM_HTTP_P_TRAILERS:
			rc = trailer_byte(p, data[i++]);
			break;
		default:
			rc = fail(p, -EBADMSG, "parser in an impossible state");
			break;
		}
		if (rc < 0)
			return rc;
	}
	return (ssize_t)i;
}

int fm_http_parse_eof(struct fm_http_parser *p)
{
	switch (p->state) {
	case FM_HTTP_P_DONE:
		return 0;
	case FM_HTTP_P_ERROR:
		return p->error;
	case FM_HTTP_P_BODY_CLOSE:
		finish(p);
		return 0;
	case FM_HTTP_P_STATUS:
		if (p->hdr_len == 0)
			return fail(p, -EBADMSG, "connection closed before a response");
		return fail(p, -EBADMSG, "connection closed inside the header section");
	case FM_HTTP_P_HEADERS:
		return fail(p, -EBADMSG, "connection closed inside the header section");
	case FM_HTTP_P_BODY_LENGTH:
		return fail(p, -EBADMSG, "connection closed %" PRIu64 " bytes short of the body",
			    p->left);
	default:
		return fail(p, -EBADMSG, "connection closed inside the chunked body");
	}
}

const char *fm_http_header_get(const struct fm_http_parser *p, const char *name)
{
	size_t i;

	if (!p->headers_done)
		return NULL;
	for (i = 0; i < p->nheaders; i++)
		if (name_eq(p->headers[i].name, name))
			return p->headers[i].value;
	return NULL;
}

/* Request formatting ------------------------------------------------------ */

/* No byte that could end the request line or a header line early, and no
 * space where the grammar has none (RFC 9112 3). */
static bool clean(const char *s, bool allow_space)
{
	if (!s || *s == '\0')
		return false;
	for (; *s; s++)
		if (is_ctl(*s) || (*s == ' ' && !allow_space))
			return false;
	return true;
}

static bool method_ok(const char *s)
{
	if (!s || *s == '\0')
		return false;
	for (; *s; s++)
		if (!is_tchar(*s))
			return false;
	return true;
}

/* Lines ending in CRLF, none empty (an empty one would end the head early
 * and turn the rest into a body). */
static bool extra_ok(const char *s)
{
	size_t n = strlen(s);
	size_t i;

	if (n == 0)
		return true;
	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n' || s[0] == '\r')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '\r' && s[i + 1] != '\n')
			return false;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
		if (s[i] == '\n' && s[i + 1] == '\r')
			return false;
		if (is_ctl(s[i]) && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	}
	return true;
}

ssize_t fm_http_format_request(char *buf, size_t size, const char *method, const char *path,
			       const char *host, const char *content_type, size_t body_len,
			       const char *extra_headers)
{
	int n;

	if (!method_ok(method) || !clean(path, false) || !clean(host, false) ||
	    (content_type && !clean(content_type, true)) ||
	    (extra_headers && !extra_ok(extra_headers)))
		return -EINVAL;
	if (!extra_headers)
		extra_headers = "";

	/* snprintf reports the length it wanted, so one call both writes and
	 * tells whether it fit; the buffer always ends in NUL. */
	if (content_type)
		n = snprintf(buf, size,
			     "%s %s HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "User-Agent: fleetmedic/" FM_VERSION "\r\n"
			     "Content-Type: %s\r\n"
			     "Content-Length: %zu\r\n"
			     "%s\r\n",
			     method, path, host, content_type, body_len, extra_headers);
	else if (body_len > 0)
		n = snprintf(buf, size,
			     "%s %s HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "User-Agent: fleetmedic/" FM_VERSION "\r\n"
			     "Content-Length: %zu\r\n"
			     "%s\r\n",
			     method, path, host, body_len, extra_headers);
	else
		n = snprintf(buf, size,
			     "%s %s HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "User-Agent: fleetmedic/" FM_VERSION "\r\n"
			     "%s\r\n",
			     method, path, host, extra_headers);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOSPC;
	return n;
}
