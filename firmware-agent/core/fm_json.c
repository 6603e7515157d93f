#include "fm_json.h"

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

cJSON *fm_json_parse(const char *s, size_t len)
{
	if (!s || fm_json_too_deep(s, len))
		return NULL;
	return cJSON_ParseWithLength(s, len);
}
