/* libFuzzer target for what the controller's HTTP side parses of a request
 * itself (fc_http_parse.c): the route of METHOD and path (the input's first
 * line is the method, the rest the path), the bearer token check, a label
 * value written into /metrics, and the pages' HTML escaping. libmicrohttpd
 * parses the HTTP. */
#include "fc_http.h"
#include "fc_keys.h"
#include "fc_page.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char *nl = strchr(s, '\n');
	const char *method = "GET", *url = s;
	if (nl) {
		*nl = '\0';
		method = s;
		url = nl + 1;
	}
	char node[FC_KEYS_ID_MAX + 1];
	memset(node, 0, sizeof(node));
	enum fc_http_route r = fc_http_route(method, url, node, sizeof(node));
	if (r == FC_ROUTE_NODE && (strlen(node) == 0 || strlen(node) > FC_KEYS_ID_MAX || strchr(node, '/')))
		__builtin_trap();
	/* the token: only itself passes */
	if (fc_http_token_ok(url, "0123456789abcdef") && strcmp(url, "Bearer 0123456789abcdef") != 0)
		__builtin_trap();
	(void)fc_http_loopback(url);
	char out[256];
	size_t len = 0;
	if (fc_http_label(out, sizeof(out), &len, url) && (len != strlen(out) || strchr(out, '\n')))
		__builtin_trap();
	/* what a node said, as the pages write it: no markup survives */
	char *e = fc_page_esc(url);
	if (e && strpbrk(e, "<>\"'"))
		__builtin_trap();
	free(e);
	free(s);
	return 0;
}
