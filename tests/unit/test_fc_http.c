/* fc_http_parse: the routes, the bearer token compared whole, loopback
 * addresses, label values escaped as Prometheus's text format wants. */
#include "fc_http.h"
#include "fc_keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void routes(void **state)
{
	(void)state;
	char node[FC_KEYS_ID_MAX + 1];
	assert_int_equal(fc_http_route("GET", "/api/v1/nodes", node, sizeof(node)), FC_ROUTE_NODES);
	assert_int_equal(fc_http_route("HEAD", "/api/v1/nodes/", node, sizeof(node)), FC_ROUTE_NODES);
	assert_int_equal(fc_http_route("GET", "/api/v1/nodes/pi-master1", node, sizeof(node)), FC_ROUTE_NODE);
	assert_string_equal(node, "pi-master1");
	assert_int_equal(fc_http_route("GET", "/metrics", node, sizeof(node)), FC_ROUTE_METRICS);
	assert_int_equal(fc_http_route("POST", "/metrics", node, sizeof(node)), FC_ROUTE_METHOD);
	assert_int_equal(fc_http_route("DELETE", "/api/v1/nodes/x", node, sizeof(node)), FC_ROUTE_METHOD);
	/* the pages, and triage (POST only) */
	assert_int_equal(fc_http_route("GET", "/", node, sizeof(node)), FC_ROUTE_PAGE);
	assert_int_equal(fc_http_route("GET", "/nodes/rpi4-cp1", node, sizeof(node)), FC_ROUTE_NODE_PAGE);
	assert_string_equal(node, "rpi4-cp1");
	assert_int_equal(fc_http_route("POST", "/", node, sizeof(node)), FC_ROUTE_METHOD);
	assert_int_equal(fc_http_route("POST", "/api/v1/nodes/pi-master1/triage", node, sizeof(node)), FC_ROUTE_TRIAGE);
	assert_string_equal(node, "pi-master1");
	assert_int_equal(fc_http_route("GET", "/api/v1/nodes/pi-master1/triage", node, sizeof(node)), FC_ROUTE_METHOD);
	/* a node named "triage" is a node */
	assert_int_equal(fc_http_route("GET", "/api/v1/nodes/triage", node, sizeof(node)), FC_ROUTE_NODE);
	/* names the keystore could not hold, and other paths */
	const char *none[] = {"/api/v1/nodes/a/b", "/api/v1/nodes/a b", "/api/v1/nodes/\x01", "/api/v1/nodesx",
			      "/api/v1/node", "", "/metrics/", "/nodes/", "/nodes/a/b", "/api/v1/nodes//triage",
			      "/api/v1/nodes/a b/triage"};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_int_equal(fc_http_route("GET", none[i], node, sizeof(node)), FC_ROUTE_NOT_FOUND);
	char long_name[128] = "/api/v1/nodes/";
	memset(long_name + strlen(long_name), 'a', FC_KEYS_ID_MAX + 1);
	long_name[14 + FC_KEYS_ID_MAX + 1] = '\0';
	assert_int_equal(fc_http_route("GET", long_name, node, sizeof(node)), FC_ROUTE_NOT_FOUND);
}

static void token(void **state)
{
	(void)state;
	const char *t = "s3cret-token-0123456789";
	assert_true(fc_http_token_ok("Bearer s3cret-token-0123456789", t));
	assert_false(fc_http_token_ok(NULL, t));
	assert_false(fc_http_token_ok("", t));
	assert_false(fc_http_token_ok("s3cret-token-0123456789", t));
	assert_false(fc_http_token_ok("Basic s3cret-token-0123456789", t));
	assert_false(fc_http_token_ok("Bearer s3cret-token-012345678", t));   /* a prefix */
	assert_false(fc_http_token_ok("Bearer s3cret-token-01234567890", t)); /* longer */
	assert_false(fc_http_token_ok("Bearer s3cret-token-0123456780", t));
	assert_false(fc_http_token_ok("Bearer ", ""));
}

static void loopback(void **state)
{
	(void)state;
	assert_true(fc_http_loopback("127.0.0.1"));
	assert_true(fc_http_loopback("127.1.2.3"));
	assert_true(fc_http_loopback("::1"));
	assert_true(fc_http_loopback("localhost"));
	assert_false(fc_http_loopback("0.0.0.0"));
	assert_false(fc_http_loopback("::"));
	assert_false(fc_http_loopback("10.77.0.1"));
	assert_false(fc_http_loopback("128.0.0.1"));
	assert_false(fc_http_loopback("controller.example"));
}

static void labels(void **state)
{
	(void)state;
	char out[32];
	size_t len = 0;
	assert_true(fc_http_label(out, sizeof(out), &len, "a\"b\\c\nd"));
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	assert_int_equal(len, strlen(out));
	len = 0;
	assert_false(fc_http_label(out, 8, &len, "0123456789"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes),
		cmocka_unit_test(token),
		cmocka_unit_test(loopback),
		cmocka_unit_test(labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
