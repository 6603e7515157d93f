#include "fm_buf.h"

#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fm_buf_init(struct fm_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

int fm_buf_append(struct fm_buf *b, const void *data, size_t len)
{
	if (len > b->max - b->len) {
		b->failed = true;
		return -EMSGSIZE;
	}
	if (b->len + len > b->cap || !b->data) {
		/* Double, so a body arriving in small reads costs log(n) reallocs. */
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		char *p = realloc(b->data, cap + 1);
		if (!p) {
			b->failed = true;
			return -ENOMEM;
		}
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void fm_buf_reset(struct fm_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

void fm_buf_free(struct fm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int fm_buf_printf(struct fm_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return -EINVAL;
	}
	if ((size_t)n < sizeof(small))
		return fm_buf_append(b, small, (size_t)n);
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->failed = true;
		return -ENOMEM;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = fm_buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}
