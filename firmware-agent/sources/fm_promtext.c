/* fm_promtext: see fm_promtext.h.
 *
 * The grammar is the text format's, checked strictly enough that garbage is
 * counted as garbage (a page that is not /metrics must not read as an empty
 * histogram), and leniently where Prometheus' own parser is lenient (blanks
 * around labels, a trailing comma, an optional timestamp).
 */
#include "fm_promtext.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALUE 64 /* bytes of one number ("1.2345e+06", "+Inf") */

void fm_promtext_init(struct fm_promtext *p, struct fm_prom_hist *hists, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->hists = hists;
	p->nhists = n;
	for (size_t i = 0; i < n; i++) {
		const char *name = hists[i].name;
		memset(&hists[i], 0, sizeof(hists[i]));
		hists[i].name = name;
	}
}

/* Not <ctype.h>: the format is ASCII, and the locale must not matter. */
static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static size_t skip_blanks(const char *s, size_t i, size_t len)
{
	while (i < len && blank(s[i]))
		i++;
	return i;
}

/* A number as the format writes it: a float, "+Inf", "-Inf" or "NaN". The
 * token is copied: strtod must not run past it. */
static bool parse_number(const char *s, size_t len, double *out)
{
	char tok[MAX_VALUE];
	char *end;
	if (len == 0 || len >= sizeof(tok))
		return false;
	memcpy(tok, s, len);
	tok[len] = '\0';
	*out = strtod(tok, &end);
	return end == tok + len;
}

/* Parses a quoted label value at s[*i] (just past the opening quote),
 * unescaping \\, \" and \n into out (NULL: skip it). Leaves *i past the
 * closing quote. False when unterminated or longer than out. */
static bool label_value(const char *s, size_t len, size_t *i, char *out, size_t outsize)
{
	size_t o = 0;
	while (*i < len) {
		char c = s[(*i)++];
		if (c == '"') {
			if (out)
				out[o] = '\0';
			return true;
		}
		if (c == '\\') {
			if (*i >= len)
				return false;
			c = s[(*i)++];
			c = c == 'n' ? '\n' : c;
		}
		if (out) {
			if (o + 1 >= outsize)
				return false;
			out[o++] = c;
		}
	}
	return false;
}

/* Which histogram a sample name belongs to, and as what. */
enum part { PART_NONE, PART_BUCKET, PART_COUNT, PART_SUM };

static struct fm_prom_hist *match(struct fm_promtext *p, const char *name, size_t len,
				  enum part *part)
{
	for (size_t i = 0; i < p->nhists; i++) {
		struct fm_prom_hist *h = &p->hists[i];
		size_t hl = strlen(h->name);
		if (len <= hl || memcmp(name, h->name, hl) != 0)
			continue;
		const char *suf = name + hl;
		size_t sl = len - hl;
		if (sl == 7 && memcmp(suf, "_bucket", 7) == 0)
			*part = PART_BUCKET;
		else if (sl == 6 && memcmp(suf, "_count", 6) == 0)
			*part = PART_COUNT;
		else if (sl == 4 && memcmp(suf, "_sum", 4) == 0)
			*part = PART_SUM;
		else
			continue;
		return h;
	}
	*part = PART_NONE;
	return NULL;
}

/* Adds v observations at bound le, keeping the bounds sorted. False when
 * the table is full (the sample is dropped and the histogram marked). */
static bool add_bucket(struct fm_prom_hist *h, double le, double v)
{
	size_t i = 0;
	while (i < h->n_buckets && h->le[i] < le)
		i++;
	if (i < h->n_buckets && h->le[i] == le) {
		h->cum[i] += v;
		return true;
	}
	if (h->n_buckets == FM_PROMTEXT_MAX_BUCKETS) {
		h->truncated = true;
		return false;
	}
	memmove(&h->le[i + 1], &h->le[i], (h->n_buckets - i) * sizeof(h->le[0]));
	memmove(&h->cum[i + 1], &h->cum[i], (h->n_buckets - i) * sizeof(h->cum[0]));
	h->le[i] = le;
	h->cum[i] = v;
	h->n_buckets++;
	return true;
}

/* The label set at s[*i] ('{' ... '}'), *i moved past it; the value of
 * "le" (a histogram bucket's bound) into le_text. false when malformed. */
static bool parse_labels(const char *s, size_t len, size_t *pi, char *le_text, size_t le_size, bool *have_le)
{
	size_t i = *pi + 1;
	for (;;) {
		i = skip_blanks(s, i, len);
		if (i < len && s[i] == '}')
			break;
		size_t ln = i;
		if (i >= len || !name_start(s[i]))
			return false;
		while (i < len && name_char(s[i]))
			i++;
		bool is_le = i - ln == 2 && memcmp(s + ln, "le", 2) == 0;
		i = skip_blanks(s, i, len);
		if (i >= len || s[i] != '=')
			return false;
		i = skip_blanks(s, i + 1, len);
		if (i >= len || s[i] != '"')
			return false;
		i++;
		if (!label_value(s, len, &i, is_le ? le_text : NULL, le_size))
			return false;
		*have_le |= is_le;
		i = skip_blanks(s, i, len);
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (i < len && s[i] == '}')
			break;
		return false;
	}
	*pi = i + 1;
	return true;
}

/* One line, without its newline. Returns false when it is malformed. */
static bool parse_line(struct fm_promtext *p, const char *s, size_t len)
{
	char le_text[MAX_VALUE];
	bool have_le = false;
	size_t i, name_at, name_len;

	if (len && s[len - 1] == '\r')
		len--;
	i = skip_blanks(s, 0, len);
	if (i == len || s[i] == '#')
		return true; /* blank, HELP, TYPE or a comment */
	if (!name_start(s[i]))
		return false;
	name_at = i;
	while (i < len && name_char(s[i]))
		i++;
	name_len = i - name_at;

	i = skip_blanks(s, i, len);
	if (i < len && s[i] == '{') {
		if (!parse_labels(s, len, &i, le_text, sizeof(le_text), &have_le))
			return false;
		i = skip_blanks(s, i, len);
	} else if (i == name_at + name_len) {
		return false; /* the name runs into something that is not a blank */
	}

	size_t v_at = i;
	while (i < len && !blank(s[i]))
		i++;
	double v;
	if (!parse_number(s + v_at, i - v_at, &v))
		return false;
	i = skip_blanks(s, i, len);
	if (i < len) { /* a timestamp: milliseconds, an integer */
		size_t t_at = i;
		if (s[i] == '-')
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == t_at || (i == t_at + 1 && s[t_at] == '-'))
			return false;
		if (skip_blanks(s, i, len) != len)
			return false;
	}

	enum part part;
	struct fm_prom_hist *h = match(p, s + name_at, name_len, &part);
	if (!h)
		return true;
	p->samples++;
	/* Counts are non-negative and finite; anything else is a lie. */
	switch (part) {
	case PART_BUCKET: {
		double le;
		if (!have_le || !parse_number(le_text, strlen(le_text), &le) || isnan(le) ||
		    !isfinite(v) || v < 0)
			return false;
		h->seen = true;
		add_bucket(h, le, v);
		return true;
	}
	case PART_COUNT:
		if (!isfinite(v) || v < 0)
			return false;
		h->seen = h->has_count = true;
		h->count += v;
		return true;
	case PART_SUM:
		if (!isfinite(v))
			return false;
		h->seen = h->has_sum = true;
		h->sum += v;
		return true;
	case PART_NONE:
		break;
	}
	return true;
}

static void end_line(struct fm_promtext *p)
{
	p->lines++;
	if (!p->skipping && !parse_line(p, p->line, p->len))
		p->bad_lines++;
	p->skipping = false;
	p->len = 0;
}

int fm_promtext_feed(void *ctx, const char *data, size_t len)
{
	struct fm_promtext *p = ctx;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) : len;
		if (!p->skipping) {
			if (p->len + seg > FM_PROMTEXT_MAX_LINE) {
				p->skipping = true;
				p->long_lines++;
				p->len = 0;
			} else {
				memcpy(p->line + p->len, data, seg);
				p->len += seg;
			}
		}
		if (!nl)
			break;
		end_line(p);
		data = nl + 1;
		len -= seg + 1;
	}
	return 0;
}

void fm_promtext_end(struct fm_promtext *p)
{
	if (p->len || p->skipping)
		end_line(p);
}

void fm_promtext_parse(struct fm_promtext *p, const char *text, size_t len,
		       struct fm_prom_hist *hists, size_t n)
{
	fm_promtext_init(p, hists, n);
	fm_promtext_feed(p, text, len);
	fm_promtext_end(p);
}

bool fm_prom_hist_count(const struct fm_prom_hist *h, double *count)
{
	if (h->has_count) {
		*count = h->count;
		return true;
	}
	if (h->n_buckets && isinf(h->le[h->n_buckets - 1]) && h->le[h->n_buckets - 1] > 0) {
		*count = h->cum[h->n_buckets - 1];
		return true;
	}
	return false;
}

int fm_prom_hist_share_above(const struct fm_prom_hist *h, double le, double *share,
			     double *bound)
{
	double count;
	size_t i;
	if (!fm_prom_hist_count(h, &count))
		return -ENODATA;
	/* Bounds are printed in decimal and read back: allow for the rounding. */
	for (i = h->n_buckets; i > 0 && h->le[i - 1] > le + 1e-9; i--)
		;
	if (i == 0)
		return -ENODATA;
	double below = h->cum[i - 1];
	if (below > count * (1 + 1e-9))
		return -ERANGE;
	if (bound)
		*bound = h->le[i - 1];
	*share = count > 0 ? 1 - below / count : 0;
	if (*share < 0)
		*share = 0;
	return 0;
}
