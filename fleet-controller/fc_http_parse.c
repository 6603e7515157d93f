/* fc_http_parse: what the controller's HTTP side decides from a request's
 * own bytes (the route, the token, the labels it writes), apart from
 * libmicrohttpd so the fuzz target builds it alone (see fc_http.h). */
#include "fc_http.h"

#include "fm_conf.h"

#include "fc_keys.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

enum fc_http_route fc_http_route(const char *method, const char *url, char *node, size_t node_size)
{
	static const char nodes[] = "/api/v1/nodes", pages[] = "/nodes/";
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	enum fc_http_route r = FC_ROUTE_NOT_FOUND;
	if (strlen(url) > FC_HTTP_URL_MAX)
		return FC_ROUTE_NOT_FOUND;
	if (strcmp(url, "/metrics") == 0) {
		r = FC_ROUTE_METRICS;
	} else if (strcmp(url, "/") == 0) {
		r = FC_ROUTE_PAGE;
	} else if (strncmp(url, pages, sizeof(pages) - 1) == 0) {
		const char *name = url + sizeof(pages) - 1;
		size_t n = strlen(name);
		if (n == 0 || n >= node_size || !fm_node_name_ok(name, n))
			return FC_ROUTE_NOT_FOUND;
		memcpy(node, name, n + 1);
		r = FC_ROUTE_NODE_PAGE;
	} else if (strcmp(url, nodes) == 0 || strcmp(url, "/api/v1/nodes/") == 0) {
		r = FC_ROUTE_NODES;
	} else if (strncmp(url, nodes, sizeof(nodes) - 1) == 0 && url[sizeof(nodes) - 1] == '/') {
		const char *name = url + sizeof(nodes);
		size_t n = strlen(name);
		static const char triage[] = "/triage";
		if (n > sizeof(triage) - 1 && strcmp(name + n - (sizeof(triage) - 1), triage) == 0) {
			n -= sizeof(triage) - 1;
			if (n == 0 || n >= node_size || !fm_node_name_ok(name, n))
				return FC_ROUTE_NOT_FOUND;
			memcpy(node, name, n);
			node[n] = '\0';
			return strcmp(method, "POST") == 0 ? FC_ROUTE_TRIAGE : FC_ROUTE_METHOD;
		}
		if (n == 0 || n >= node_size || !fm_node_name_ok(name, n))
			return FC_ROUTE_NOT_FOUND;
		memcpy(node, name, n + 1);
		r = FC_ROUTE_NODE;
	}
	return r != FC_ROUTE_NOT_FOUND && !get ? FC_ROUTE_METHOD : r;
}

bool fc_http_token_ok(const char *authorization, const char *token)
{
	static const char bearer[] = "Bearer ";
	size_t tl = strlen(token);
	if (!authorization || tl == 0 || strncmp(authorization, bearer, sizeof(bearer) - 1) != 0)
		return false;
	const char *given = authorization + sizeof(bearer) - 1;
	size_t gl = strnlen(given, FC_HTTP_TOKEN_MAX + 1);
	/* every byte of the token compared, whatever the given length */
	unsigned char diff = (unsigned char)(gl != tl);
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)(token[i] ^ (i < gl ? given[i] : 0));
	return diff == 0;
}

bool fc_http_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

bool fc_http_label(char *out, size_t size, size_t *len, const char *value)
{
	for (const char *p = value; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		size_t n = esc ? 2 : 1;
		if (*len + n + 1 > size)
			return false;
		memcpy(out + *len, esc ? esc : p, n);
		*len += n;
	}
	out[*len] = '\0';
	return true;
}

