/* libFuzzer target for the agent's configuration file syntax
 * (fm_conf_parse): whatever line it hands over is a trimmed, non-empty key
 * without '=' and a value, both inside one line without a comment; the
 * values go through the value parsers (durations, hex keys) too. */
#include "fm_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int line(void *arg, const char *k, const char *v, char *why, size_t why_size)
{
	unsigned *n = arg;
	size_t kl = strlen(k), vl = strlen(v);
	if (!kl || !vl || kl > FM_CONF_LINE_MAX || vl > FM_CONF_LINE_MAX || strpbrk(k, "=#\n") ||
	    strpbrk(v, "#\n") || k[0] == ' ' || k[kl - 1] == ' ' || v[0] == ' ' || v[vl - 1] == ' ')
		__builtin_trap();
	uint64_t ms;
	uint8_t key[64];
	size_t kn;
	(void)fm_conf_duration_ms(v, &ms);
	if (fm_conf_hex(v, vl, key, sizeof(key), &kn) == 0 && kn != vl / 2)
		__builtin_trap();
	if (++*n > FM_CONF_KEYS_MAX)
		__builtin_trap();
	if (v[0] == '!') { /* a value the caller refuses */
		snprintf(why, why_size, "refused");
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FM_CONF_TEXT_MAX)
		return 0;
	char *text = malloc(size + 1), why[400];
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	unsigned n = 0, lineno = 0;
	if (fm_conf_parse(text, size, line, &n, &lineno, why, sizeof(why)) < 0 &&
	    (!memchr(why, '\0', sizeof(why)) || !why[0]))
		__builtin_trap();
	free(text);
	return 0;
}
