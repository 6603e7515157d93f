#include "fm_log.h"

#include <stdarg.h>
#include <stdio.h>

static enum fm_log_level max_level = FM_LOG_NOTICE;
static int journal_prefix;

void fm_log_set_level(enum fm_log_level level)
{
	max_level = level;
}

void fm_log_set_journal_prefix(int on)
{
	journal_prefix = on;
}

void fm_log(enum fm_log_level level, const char *fmt, ...)
{
	if (level > max_level)
		return;
	/* One buffered line, one write: lines from a log flood never interleave. */
	char line[1024];
	int n = 0;
	if (journal_prefix)
		n = snprintf(line, sizeof(line), "<%d>", (int)level);
	else
		n = snprintf(line, sizeof(line), "fleetmedic: ");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
