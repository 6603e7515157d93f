/* fm_coap: PSK files (mode and hex), controller addresses, and real DTLS-PSK
 * sessions on loopback between two libcoap contexts in one fm_loop: the
 * client's request reaches the server with the client's identity, the server
 * can send a request back over the client's session (what triage relies
 * on), a wrong key is refused, and a long answer goes block-wise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_coap.h"
#include "fm_harness.h"

#include <coap3/coap.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t KEY[] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
			      0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void psk_file(void **state)
{
	(void)state;
	char dir[256], path[512], err[512];
	uint8_t key[FM_COAP_PSK_MAX];
	size_t len = 0;
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/psk", dir);

	write_file(path, "00112233445566778899AABBCCDDEEFF\n", 0600);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), 0);
	assert_int_equal(len, sizeof(KEY));
	assert_memory_equal(key, KEY, sizeof(KEY));

	write_file(path, "00112233445566778899aabbccddeeff", 0640);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "0640"));
	write_file(path, "00112233445566778899aabbccddeeff", 0604);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), -EPERM);

	write_file(path, "0011zz", 0600);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), -EINVAL);
	write_file(path, "001", 0600);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), -EINVAL);
	write_file(path, "  \n", 0600);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), -EINVAL);
	write_file(path, "0011223344", 0600);
	assert_int_equal(fm_coap_read_psk(path, key, 4, &len, err, sizeof(err)), -EMSGSIZE);
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big, 0600);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), -EMSGSIZE);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(fm_coap_read_psk(path, key, sizeof(key), &len, err, sizeof(err)), -ENOENT);
}

static void uris(void **state)
{
	(void)state;
	struct fm_coap_uri u;
	char err[256], host[64];
	uint16_t port;
	assert_int_equal(fm_coap_parse_uri("coaps://ctl.example", &u, err, sizeof(err)), 0);
	assert_true(u.secure);
	assert_string_equal(u.host, "ctl.example");
	assert_int_equal(u.port, 5684);
	assert_int_equal(fm_coap_parse_uri("coap://127.0.0.1:6000/", &u, err, sizeof(err)), 0);
	assert_false(u.secure);
	assert_int_equal(u.port, 6000);
	assert_int_equal(fm_coap_parse_uri("coaps://[::1]:7000", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 7000);
	assert_int_equal(fm_coap_parse_uri("coaps://[::1]", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(fm_coap_parse_uri("http://x", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(fm_coap_parse_uri("coaps://", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(fm_coap_parse_uri("coaps://h/rp", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(fm_coap_parse_uri("coaps://h:0", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(fm_coap_parse_uri("coaps://h:70000", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(fm_coap_parse_uri("coaps://h:12x", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(fm_coap_parse_hostport("127.0.0.1:5684", host, sizeof(host), &port, err, sizeof(err)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(fm_coap_parse_hostport("::1:5684", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	assert_int_equal(fm_coap_parse_hostport(":5684", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
}

/* --- two contexts in one loop ------------------------------------------------- */

struct peer {
	int lookups;
	char identity[64];
	coap_session_t *client_seen; /* the server's side of the client's session */
	int answers;
	coap_pdu_code_t last_code;
	size_t last_len;
	char last_body[8192];
	int events_error;
	int back_calls; /* requests served on the client's side */
};

static struct peer srv, cli;

static size_t lookup(void *arg, const uint8_t *identity, size_t id_len, uint8_t *key)
{
	(void)arg;
	srv.lookups++;
	if (id_len != 5 || memcmp(identity, "node1", 5) != 0)
		return 0;
	memcpy(key, KEY, sizeof(KEY));
	return sizeof(KEY);
}

static void srv_post(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
		     const coap_string_t *query, coap_pdu_t *resp)
{
	(void)r;
	(void)req;
	(void)query;
	assert_true(fm_coap_session_identity(s, srv.identity, sizeof(srv.identity)));
	srv.client_seen = s;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
}

static void cli_get(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
		    const coap_string_t *query, coap_pdu_t *resp)
{
	(void)r;
	cli.back_calls++;
	static char big[5000];
	memset(big, 'x', sizeof(big));
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
	coap_add_data_large_response(r, s, req, resp, query, COAP_MEDIATYPE_TEXT_PLAIN, -1, 0,
				     sizeof(big), (const uint8_t *)big, NULL, NULL);
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
				   const coap_mid_t mid)
{
	(void)sent;
	(void)mid;
	struct peer *p = fm_coap_owner(coap_session_get_context(s));
	p->answers++;
	p->last_code = coap_pdu_get_code(rcvd);
	size_t len = 0, off = 0, total = 0;
	const uint8_t *data = NULL;
	p->last_len = 0;
	if (coap_get_data_large(rcvd, &len, &data, &off, &total) && len < sizeof(p->last_body)) {
		memcpy(p->last_body, data, len);
		p->last_len = len;
	}
	return COAP_RESPONSE_OK;
}

static int on_event(coap_session_t *s, const coap_event_t ev)
{
	struct peer *p = fm_coap_owner(coap_session_get_context(s));
	if (ev == COAP_EVENT_DTLS_ERROR || ev == COAP_EVENT_DTLS_CLOSED || ev == COAP_EVENT_SESSION_FAILED)
		p->events_error++;
	return 0;
}

static void run_until(struct fm_loop *loop, int *counter, int want)
{
	uint64_t end = fm_now_ms() + 10000;
	while (*counter < want && fm_now_ms() < end)
		fm_loop_run_once(loop, 100);
	assert_true(*counter >= want);
}

static coap_pdu_t *request(coap_session_t *s, coap_pdu_code_t code, const char *path)
{
	coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, code, coap_new_message_id(s),
					coap_session_max_pdu_size(s));
	assert_non_null(pdu);
	coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path), (const uint8_t *)path);
	return pdu;
}

static void sessions(void **state)
{
	(void)state;
	char err[512];
	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	struct fm_loop *loop = fm_loop_new();
	struct fm_coap *server = fm_coap_new(loop), *client = fm_coap_new(loop);
	assert_non_null(server);
	assert_non_null(client);
	fm_coap_set_owner(server, &srv);
	fm_coap_set_owner(client, &cli);
	uint16_t port = (uint16_t)fmh_free_port();
	assert_int_equal(fm_coap_listen(server, "127.0.0.1", port, lookup, NULL, err, sizeof(err)), 0);
	coap_resource_t *r = coap_resource_init(coap_make_str_const("hb"), 0);
	coap_register_request_handler(r, COAP_REQUEST_POST, srv_post);
	coap_add_resource(fm_coap_context(server), r);
	r = coap_resource_init(coap_make_str_const("status"), 0);
	coap_register_request_handler(r, COAP_REQUEST_GET, cli_get);
	coap_add_resource(fm_coap_context(client), r);
	coap_register_response_handler(fm_coap_context(server), on_response);
	coap_register_response_handler(fm_coap_context(client), on_response);
	coap_register_event_handler(fm_coap_context(client), on_event);

	char uri[64];
	struct fm_coap_uri u;
	snprintf(uri, sizeof(uri), "coaps://127.0.0.1:%u", port);
	assert_int_equal(fm_coap_parse_uri(uri, &u, err, sizeof(err)), 0);
	coap_session_t *s = fm_coap_client(client, &u, "node1", KEY, sizeof(KEY), err, sizeof(err));
	assert_non_null(s);
	coap_send(s, request(s, COAP_REQUEST_CODE_POST, "hb"));
	fm_coap_process(client);
	run_until(loop, &cli.answers, 1);
	assert_int_equal(cli.last_code, COAP_RESPONSE_CODE_CHANGED);
	assert_string_equal(srv.identity, "node1");
	assert_int_equal(srv.lookups, 1);
	/* Mbed TLS has RFC 9146: both ends asked for a connection id. */
	assert_true(coap_dtls_cid_is_supported());

	/* The server asks back over the client's session: libcoap dispatches
	 * a request arriving on a client session to the client context's
	 * resources, and a 5000-byte answer comes block-wise, whole. */
	assert_non_null(srv.client_seen);
	coap_send(srv.client_seen, request(srv.client_seen, COAP_REQUEST_CODE_GET, "status"));
	fm_coap_process(server);
	run_until(loop, &srv.answers, 1);
	assert_int_equal(cli.back_calls, 1);
	assert_int_equal(srv.last_code, COAP_RESPONSE_CODE_CONTENT);
	assert_int_equal(srv.last_len, 5000);

	/* A client with the wrong key is refused. */
	uint8_t wrong[sizeof(KEY)];
	memcpy(wrong, KEY, sizeof(KEY));
	wrong[0] ^= 1;
	coap_session_t *bad = fm_coap_client(client, &u, "node1", wrong, sizeof(wrong), err, sizeof(err));
	assert_non_null(bad);
	int before = cli.answers;
	coap_send(bad, request(bad, COAP_REQUEST_CODE_POST, "hb"));
	fm_coap_process(client);
	run_until(loop, &cli.events_error, 1);
	assert_int_equal(cli.answers, before);

	coap_session_release(bad);
	coap_session_release(s);
	fm_coap_delete(&client);
	fm_coap_delete(&server);
	assert_null(server);
	fm_coap_delete(&server);
	fm_loop_delete(&loop);
}

int main(void)
{
	fmh_init();
	if (getenv("FM_DEBUG")) {
		fm_log_set_level(FM_LOG_DEBUG);
		fm_coap_log_setup(FM_LOG_DEBUG);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(psk_file),
		cmocka_unit_test(uris),
		cmocka_unit_test(sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
