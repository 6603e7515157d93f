#include "fm_json.h"

#include <stdint.h>
#include <string.h>

bool fm_json_too_deep(const char *s, size_t len)
{
	int depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > FM_JSON_MAX_DEPTH)
				return true;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	return false;
}

size_t fm_json_utf8_char(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;
	uint32_t cp, min;
	if (len == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if ((u[0] & 0xe0) == 0xc0) {
		n = 2, cp = u[0] & 0x1f, min = 0x80;
	} else if ((u[0] & 0xf0) == 0xe0) {
		n = 3, cp = u[0] & 0x0f, min = 0x800;
	} else if ((u[0] & 0xf8) == 0xf0) {
		n = 4, cp = u[0] & 0x07, min = 0x10000;
	} else {
		return 0; /* a continuation byte, or 0xf8..0xff */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool fm_json_utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = fm_json_utf8_char(s + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

size_t fm_json_utf8_repair(char *s)
{
	size_t len = strlen(s), bad = 0;
	for (size_t i = 0; i < len;) {
		size_t n = fm_json_utf8_char(s + i, len - i);
		if (!n) {
			s[i++] = '?';
			bad++;
		} else {
			i += n;
		}
	}
	return bad;
}

cJSON *fm_json_parse(const char *s, size_t len)
{
	if (!s || fm_json_too_deep(s, len) || !fm_json_utf8_valid(s, len))
		return NULL;
	return cJSON_ParseWithLength(s, len);
}

bool fm_json_u64(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0)
		return false;
	*out = (uint64_t)v->valuedouble;
	return true;
}

bool fm_json_lists(const cJSON *arr, const char *s)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, arr)
	{
		if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0)
			return true;
	}
	return false;
}
