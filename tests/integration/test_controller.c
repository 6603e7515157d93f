/* fleetmedic-controller serve on loopback, spoken to by an independent
 * CoAP/DTLS implementation (libcoap3-bin's coap-client-openssl: OpenSSL's
 * DTLS against our Mbed TLS), read back with `nodes` and `show`: reports
 * stored once, gaps recorded, wrong keys refused and logged, a node unable
 * to write another's status, unreachable after missed heartbeats, the
 * insecure mode, malformed payloads and usage errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fc_wire.h"
#include "fm_coap.h"
#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_controller.h"

#include <coap3/coap.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>

/* PROTOCOL.md's incident-1 report. */
#define INCIDENT1_KEY "k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_5c0e_24"
static const char incident1[] =
	"{\"q\":18,\"t\":1732345678,\"b\":\"rpi4\",\"d\":["
	"{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"" INCIDENT1_KEY "\","
	"\"m\":\"kubelet cannot recreate kube-apiserver: name held by 0f2a9c1e77d3 (running)\","
	"\"e\":[\"docker.stale_attempt:8470235abd66\",\"journal.match:kubelet\",\"apiserver.endpoint:refused\"],"
	"\"x\":[\"apiserver-unreachable\"],\"f\":[\"docker rm 8470235abd66 5c0e4b1d2a90\"]}],"
	"\"r\":[[\"etcd-unreachable\",\"https://127.0.0.1:2379\"]]}";

static struct fmh_controller ctl;
static char out[65536];

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0)
		return -1;
	return fmh_controller_start(&ctl, false) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_controller_stop(&ctl, NULL);
	fmh_cleanup();
	return 0;
}

static void coap(const char *id, const char *key, const char *method, const char *path, const char *payload)
{
	int rc = fmh_coap(&ctl, id, key, method, path, payload, out, sizeof(out));
	if (rc < 0)
		fail_msg("coap-client-openssl %s %s: %s", method, path, strerror(-rc));
}

/* The node's `show --json`, or NULL when it does not exist (exit 2). */
static cJSON *show(const char *node)
{
	int status;
	cJSON *j = fmh_controller_json(&ctl, &status, "show", node, NULL);
	if (!j)
		assert_int_equal(status, 2);
	else
		assert_int_equal(status, 0);
	return j;
}

static int history_events(const cJSON *n, const char *event)
{
	int k = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, fmh_field(n, "history"))
		k += strcmp(fmh_jstr(h, "event"), event) == 0;
	return k;
}

static void wait_log(const char *needle)
{
	if (fmh_wait_log_pid(ctl.log, needle, ctl.pid, 10000) < 0)
		fail_msg("serve never logged '%s'", needle);
}

/* A heartbeat and the incident-1 report with the right PSK show up in
 * nodes and show; GET /me answers the stored sequence and set hash. */
static void report_shows_up(void **state)
{
	(void)state;
	coap(FMH_NODE_A, FMH_KEY_A, "post", "hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}");
	/* the session's first request logs its peer, node and cipher suite */
	wait_log("DTLS session with 127.0.0.1:");
	char sess[96];
	snprintf(sess, sizeof(sess), "as '%s' (TLS-", FMH_NODE_A);
	wait_log(sess);
	assert_true(strlen(incident1) <= 1024);
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp", incident1);
	assert_null(strstr(out, "4.")); /* 2.04 prints nothing */

	int status;
	cJSON *nodes = fmh_controller_json(&ctl, &status, "nodes", NULL);
	assert_int_equal(status, 0);
	assert_int_equal(cJSON_GetArraySize(nodes), 1);
	const cJSON *n = cJSON_GetArrayItem(nodes, 0);
	assert_string_equal(fmh_jstr(n, "node"), FMH_NODE_A);
	assert_string_equal(fmh_jstr(n, "board"), "rpi4");
	assert_string_equal(fmh_jstr(n, "state"), "ok");
	assert_string_equal(fmh_jstr(n, "worst"), "critical");
	assert_true(fmh_lists(fmh_field(n, "codes"), "container-name-conflict"));
	assert_int_equal(fmh_jnum(n, "last_seq"), 18);
	assert_true(fmh_jnum(n, "last_seen_ago_s") <= 2);
	cJSON_Delete(nodes);

	cJSON *s = show(FMH_NODE_A);
	assert_non_null(s);
	const cJSON *d = cJSON_GetArrayItem(fmh_field(s, "diagnoses"), 0);
	assert_string_equal(fmh_jstr(d, "code"), "container-name-conflict");
	assert_string_equal(fmh_jstr(d, "key"), INCIDENT1_KEY);
	assert_string_equal(fmh_jstr(d, "severity"), "critical");
	assert_true(fmh_lists(fmh_field(d, "evidence"), "docker.stale_attempt:8470235abd66"));
	assert_true(fmh_lists(fmh_field(d, "remedy"), "docker rm 8470235abd66 5c0e4b1d2a90"));
	assert_true(fmh_lists(fmh_field(d, "explains"), "apiserver-unreachable"));
	assert_int_equal(history_events(s, "raise"), 1);
	assert_int_equal(history_events(s, "resolve"), 1);
	assert_int_equal(history_events(s, "gap"), 1); /* 1..17 never came */
	cJSON_Delete(s);

	/* the human forms say the same */
	const char *nodes_argv[] = {fmh_controller_bin(), "nodes", "--db", ctl.db, NULL};
	assert_int_equal(fmh_run(nodes_argv, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 0);
	print_message("%s", out);
	assert_non_null(strstr(out, "pi-master1"));
	assert_non_null(strstr(out, "rpi4"));
	assert_non_null(strstr(out, "critical"));
	assert_non_null(strstr(out, "container-name-conflict"));
	const char *show_argv[] = {fmh_controller_bin(), "show", FMH_NODE_A, "--db", ctl.db, NULL};
	assert_int_equal(fmh_run(show_argv, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 0);
	fprintf(stderr, "%s", out);
	assert_non_null(strstr(out, "fix: docker rm 8470235abd66 5c0e4b1d2a90"));
	assert_non_null(strstr(out, "evidence: docker.stale_attempt:8470235abd66"));
	assert_non_null(strstr(out, "explains: apiserver-unreachable"));

	/* GET /me carries the board, once a session (coap-client's own
	 * Uri-Query); a malformed one is refused and stores nothing */
	coap(FMH_NODE_A, FMH_KEY_A, "get", "me?b=rpi4%3Bx", NULL);
	assert_non_null(strstr(out, "4.00"));
	coap(FMH_NODE_A, FMH_KEY_A, "get", "me?b=jetson-nano", NULL);
	cJSON *sb = show(FMH_NODE_A);
	assert_string_equal(fmh_jstr(sb, "board"), "jetson-nano");
	cJSON_Delete(sb);
	coap(FMH_NODE_A, FMH_KEY_A, "get", "me", NULL);
	char want[64];
	snprintf(want, sizeof(want), "{\"q\":18,\"h\":\"%08x\"}",
		 fc_wire_hash_line(FC_WIRE_HASH_INIT, "container-name-conflict", INCIDENT1_KEY, 3));
	if (!strstr(out, want))
		fail_msg("GET /me: '%s', want '%s'", out, want);
}

/* Wrong key and unknown identity: the handshake fails, nothing is stored,
 * serve logs both with the peer's address. */
static void wrong_psk_refused(void **state)
{
	(void)state;
	coap(FMH_NODE_B, "not-the-key-of-node-b", "post", "rp", incident1);
	assert_null(show(FMH_NODE_B));
	wait_log("DTLS handshake with 127.0.0.1:");
	wait_log("(PSK identity 'node-b') failed");
	coap("intruder", FMH_KEY_A, "post", "rp", incident1);
	assert_null(show("intruder"));
	wait_log("refused: unknown PSK identity 'intruder'");
}

/* Node B's key cannot write node A's status, whatever the payload says. */
static void node_cannot_write_another(void **state)
{
	(void)state;
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp",
	     "{\"q\":1,\"t\":1,\"d\":[{\"c\":\"undervoltage\",\"s\":2,\"k\":\"board\"}]}");
	/* B claims to be A in every way a payload could */
	coap(FMH_NODE_B, FMH_KEY_B, "post", "rp",
	     "{\"q\":2,\"t\":1,\"node\":\"pi-master1\",\"n\":\"pi-master1\",\"b\":\"pi-master1\","
	     "\"r\":[[\"undervoltage\",\"board\"]],\"d\":[{\"c\":\"etcd-nospace\",\"s\":3,\"k\":\"pi-master1\"}]}");
	cJSON *a = show(FMH_NODE_A);
	assert_non_null(a);
	assert_int_equal(fmh_jnum(a, "last_seq"), 1);
	assert_int_equal(cJSON_GetArraySize(fmh_field(a, "diagnoses")), 1);
	assert_string_equal(fmh_jstr(cJSON_GetArrayItem(fmh_field(a, "diagnoses"), 0), "code"), "undervoltage");
	assert_int_equal(history_events(a, "resolve"), 0);
	cJSON_Delete(a);
	cJSON *b = show(FMH_NODE_B);
	assert_non_null(b);
	assert_string_equal(fmh_jstr(cJSON_GetArrayItem(fmh_field(b, "diagnoses"), 0), "code"), "etcd-nospace");
	cJSON_Delete(b);
}

/* A retransmitted or replayed sequence number is stored once; a skipped
 * range is recorded as a gap and logged. */
static void duplicates_and_gaps(void **state)
{
	(void)state;
	const char r1[] = "{\"q\":1,\"t\":1,\"d\":[{\"c\":\"clock-unsynced\",\"s\":2,\"k\":\"\",\"m\":\"first\"}]}";
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp", r1);
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp", r1);
	/* a replay with other content under an old number changes nothing */
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp",
	     "{\"q\":1,\"t\":1,\"d\":[{\"c\":\"clock-unsynced\",\"s\":3,\"k\":\"\",\"m\":\"replayed\"}]}");
	wait_log("report 1 stored before, not again");
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp", "{\"q\":5,\"t\":5,\"r\":[[\"clock-unsynced\",\"\"]]}");
	wait_log("node pi-master1: reports 2..4 never arrived (got 5)");
	cJSON *a = show(FMH_NODE_A);
	assert_int_equal(history_events(a, "raise"), 1);
	assert_int_equal(history_events(a, "change"), 0);
	assert_int_equal(history_events(a, "gap"), 1);
	assert_int_equal(history_events(a, "resolve"), 1);
	const cJSON *h;
	bool found = false;
	cJSON_ArrayForEach(h, fmh_field(a, "history"))
		if (strcmp(fmh_jstr(h, "event"), "gap") == 0)
			found = strstr(fmh_jstr(h, "detail"), "2..4") != NULL;
	assert_true(found);
	assert_int_equal(fmh_jnum(a, "last_seq"), 5);
	cJSON_Delete(a);
}

/* Heartbeats every 1 s, then silence: unreachable after 3 intervals, logged
 * once; the next heartbeat brings it back. */
static void unreachable_after_missed_heartbeats(void **state)
{
	(void)state;
	coap(FMH_NODE_A, FMH_KEY_A, "post", "hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":1}");
	wait_log("node pi-master1 is unreachable: no heartbeat for");
	int status;
	cJSON *nodes = fmh_controller_json(&ctl, &status, "nodes", NULL);
	assert_string_equal(fmh_jstr(cJSON_GetArrayItem(nodes, 0), "state"), "unreachable");
	cJSON_Delete(nodes);
	coap(FMH_NODE_A, FMH_KEY_A, "post", "hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":60}");
	wait_log("node pi-master1 is reachable again");
	cJSON *a = show(FMH_NODE_A);
	assert_string_equal(fmh_jstr(a, "state"), "ok");
	assert_int_equal(history_events(a, "unreachable"), 1);
	assert_int_equal(history_events(a, "reachable"), 1);
	cJSON_Delete(a);
}

/* Malformed payloads are answered 4.00 with the reason and stored nowhere;
 * the server keeps serving. */
static void malformed_refused(void **state)
{
	(void)state;
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp", "{\"t\":1}");
	assert_non_null(strstr(out, "4.00"));
	assert_non_null(strstr(out, "\"q\" is missing"));
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp",
	     "{\"q\":1,\"t\":1,\"d\":[{\"c\":\"x\",\"s\":9,\"k\":\"\"}]}");
	assert_non_null(strstr(out, "4.00"));
	coap(FMH_NODE_A, FMH_KEY_A, "post", "hb", "not json at all");
	assert_non_null(strstr(out, "4.00"));
	char big[1400];
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"q\":1,\"t\":1}", 13);
	coap(FMH_NODE_A, FMH_KEY_A, "post", "rp", big);
	assert_non_null(strstr(out, "4.13"));
	assert_null(show(FMH_NODE_A));
	coap(FMH_NODE_A, FMH_KEY_A, "get", "me", NULL);
	assert_non_null(strstr(out, "{\"q\":0,\"h\":\"811c9dc5\"}"));
}

/* --insecure: plain CoAP, the node named by ?n=, which must be known;
 * logged at WARNING. */
static void insecure_mode(void **state)
{
	(void)state;
	fmh_controller_stop(&ctl, NULL);
	assert_int_equal(fmh_controller_start(&ctl, true), 0);
	coap(NULL, NULL, "post", "rp?n=" FMH_NODE_B, "{\"q\":1,\"t\":1,\"i\":1}");
	wait_log("insecure request from 127.0.0.1:");
	wait_log("report 1 came over an insecure session");
	coap(NULL, NULL, "post", "rp", "{\"q\":2,\"t\":1,\"i\":1}");
	assert_non_null(strstr(out, "4.01"));
	coap(NULL, NULL, "post", "rp?n=stranger", "{\"q\":2,\"t\":1,\"i\":1}");
	assert_non_null(strstr(out, "4.01"));
	cJSON *b = show(FMH_NODE_B);
	assert_non_null(b);
	assert_true(fmh_jbool(b, "insecure"));
	assert_int_equal(fmh_jnum(b, "last_seq"), 1);
	cJSON_Delete(b);
	assert_null(show("stranger"));
}

/* Usage and configuration errors: exit 2 and one clear line. */
static void usage_errors(void **state)
{
	(void)state;
	int status;
	const char *no_keys[] = {fmh_controller_bin(), "serve", "--listen", "127.0.0.1:1", NULL};
	assert_int_equal(fmh_run(no_keys, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 2);
	assert_non_null(strstr(out, "serve needs --listen HOST:PORT and --keys FILE"));
	assert_int_equal(chmod(ctl.keys, 0644), 0);
	const char *open_keys[] = {fmh_controller_bin(), "serve", "--listen", "127.0.0.1:1", "--keys", ctl.keys,
				   "--db", ctl.db, NULL};
	assert_int_equal(fmh_run(open_keys, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(chmod(ctl.keys, 0600), 0);
	assert_int_equal(status, 2);
	assert_non_null(strstr(out, "readable or writable by group or others (mode 0644)"));
	const char *bad_listen[] = {fmh_controller_bin(), "serve", "--listen", "127.0.0.1:99999", "--keys",
				    ctl.keys, "--db", ctl.db, NULL};
	assert_int_equal(fmh_run(bad_listen, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 2);
	assert_non_null(strstr(out, "the port 1..65535"));
	const char *unknown[] = {fmh_controller_bin(), "show", "nobody", "--db", ctl.db, NULL};
	assert_int_equal(fmh_run(unknown, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 2);
	assert_non_null(strstr(out, "no such node"));
	const char *help[] = {fmh_controller_bin(), "--help", NULL};
	assert_int_equal(fmh_run(help, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "serve --listen HOST:PORT --keys FILE"));
}

/* The triage relay, with a STAND-IN node: this test, through fm_coap (a
 * DTLS-PSK client session whose context serves resources, as the agent's
 * `run` does), until the agent's run exists on this branch. */
static char hb_answer[64];

static void stand_in_resource(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
			      const coap_string_t *query, coap_pdu_t *response)
{
	(void)resource;
	(void)session;
	(void)query;
	/* each Uri-Query option as it arrived, in brackets */
	char opts[400] = "", body[600];
	coap_opt_iterator_t it;
	coap_opt_filter_t f;
	coap_option_filter_clear(&f);
	coap_option_filter_set(&f, COAP_OPTION_URI_QUERY);
	coap_option_iterator_init(request, &it, &f);
	coap_opt_t *o;
	while ((o = coap_option_next(&it)))
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "[%.*s]", (int)coap_opt_length(o),
			 (const char *)coap_opt_value(o));
	snprintf(body, sizeof(body), "{\"stand_in\":true,\"query\":\"%s\"}", opts);
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
	coap_add_data(response, strlen(body), (const uint8_t *)body);
}

static coap_response_t stand_in_answer(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
				       const coap_mid_t mid)
{
	(void)session;
	(void)sent;
	(void)mid;
	const uint8_t *data;
	size_t len;
	if (coap_get_data(received, &len, &data))
		snprintf(hb_answer, sizeof(hb_answer), "%.*s", (int)len, (const char *)data);
	return COAP_RESPONSE_OK;
}

/* Runs the stand-in's loop until path holds needle (or 15 s pass). */
static void pump_until(struct fm_loop *loop, const char *path, const char *needle)
{
	uint64_t end = fm_now_ms() + 15000;
	while (fm_now_ms() < end) {
		fm_loop_run_once(loop, 50);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(out, 1, sizeof(out) - 1, f);
			out[n] = '\0';
			fclose(f);
			if (strstr(out, needle))
				return;
		}
	}
	fail_msg("%s never held '%s': '%s'", path, needle, out);
}

/* The exit status of a spawned triage, once it has ended by itself. */
static int exit_status(pid_t pid, const char *log)
{
	/* fmh_wait_log_pid gives up with -ESRCH when pid exits: a needle that
	 * never appears waits for exactly that */
	if (fmh_wait_log_pid(log, "\x01never\x01", pid, 10000) != -ESRCH)
		fail_msg("triage (pid %d) did not end", (int)pid);
	int status = -1;
	assert_int_equal(fmh_stop_status(pid, &status), 0);
	return status;
}

static pid_t triage(const char *log, const char *what, const char *a1, const char *a2, const char *a3)
{
	const char *argv[16] = {fmh_controller_bin(), "triage", FMH_NODE_A, what, "--timeout", "20s"};
	int n = fmh_controller_store_args(&ctl, argv, 6);
	argv[n++] = a1;
	argv[n++] = a2;
	argv[n++] = a3;
	argv[n] = NULL;
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	return pid;
}

static void triage_relay(void **state)
{
	(void)state;
	struct fm_loop *loop = fm_loop_new();
	struct fm_coap *node = fm_coap_new(loop);
	assert_non_null(node);
	coap_context_t *ctx = fm_coap_context(node);
	const char *paths[] = {"status", "journal"};
	for (int i = 0; i < 2; i++) {
		coap_resource_t *r = coap_resource_init(coap_make_str_const(paths[i]), 0);
		coap_register_request_handler(r, COAP_REQUEST_GET, stand_in_resource);
		coap_add_resource(ctx, r);
	}
	coap_register_response_handler(ctx, stand_in_answer);
	struct fm_coap_uri u;
	char err[200], log1[PATH_MAX], log2[PATH_MAX], log3[PATH_MAX];
	assert_int_equal(fm_coap_parse_uri(ctl.url, &u, err, sizeof(err)), 0);

	/* the node has not spoken: the request is held */
	snprintf(log1, sizeof(log1), "%s/triage1.log", ctl.dir);
	pid_t t1 = triage(log1, "journal", "kubelet", "5", "a&b c");
	wait_log("triage: pi-master1 has no fresh session; held for its next heartbeat");

	/* its heartbeat is answered {"t":1} and the request goes out */
	coap_session_t *s = fm_coap_client(node, &u, FMH_NODE_A, (const uint8_t *)FMH_KEY_A, strlen(FMH_KEY_A), err,
					   sizeof(err));
	assert_non_null(s);
	coap_pdu_t *hb = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, s);
	coap_add_option(hb, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"hb");
	const char hbp[] = "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}";
	coap_add_data(hb, strlen(hbp), (const uint8_t *)hbp);
	assert_int_not_equal(coap_send(s, hb), COAP_INVALID_MID);
	fm_coap_process(node);
	pump_until(loop, log1, "\"stand_in\":\ttrue");
	/* the heartbeat's answer and the relayed request cross: the request
	 * may be answered (and the triage done) before the heartbeat's ACK
	 * is read here, on a busy machine */
	for (uint64_t end = fm_now_ms() + 10000; !hb_answer[0] && fm_now_ms() < end;)
		fm_loop_run_once(loop, 50);
	assert_string_equal(hb_answer, "{\"t\":1}");
	assert_int_equal(exit_status(t1, log1), 0);
	/* the query arrived whole, percent-decoded */
	if (!strstr(out, "[u=kubelet][n=5][g=a&b c]"))
		fail_msg("the stand-in saw: %s", out);

	/* now the node is fresh: asked at once */
	snprintf(log2, sizeof(log2), "%s/triage2.log", ctl.dir);
	pid_t t2 = triage(log2, "status", NULL, NULL, NULL);
	pump_until(loop, log2, "\"stand_in\":\ttrue");
	assert_int_equal(exit_status(t2, log2), 0);

	/* a resource the node does not have: its 4.04, exit 1 */
	snprintf(log3, sizeof(log3), "%s/triage3.log", ctl.dir);
	pid_t t3 = triage(log3, "hal", NULL, NULL, NULL);
	pump_until(loop, log3, "pi-master1 answered 4.04");
	assert_int_equal(exit_status(t3, log3), 1);

	coap_session_release(s);
	fm_coap_delete(&node);
	fm_loop_delete(&loop);
}

/* The controller's DTLS record buffers are sized for CoAP
 * (toolchains/mbedtls-dtls-server.h, issue 27): what crosses them at their
 * largest still does, over real DTLS-PSK from the agent's own stack
 * (fm_coap: libcoap and Mbed TLS with 16 kB buffers) -- a report of
 * DESIGN.md's whole budget (FC_WIRE_PAYLOAD_MAX, one datagram) and a triage
 * answer of 12 kB, block-wise (12 blocks of 1024 bytes) through serve's
 * relay. serve says which Mbed TLS it runs: 1152-byte records. */
#define BIG_ANSWER_LEN 12000
static char big_body[BIG_ANSWER_LEN + 1];
static coap_pdu_code_t big_code;
static int big_answers;

static void big_resource(coap_resource_t *resource, coap_session_t *session,
			 const coap_pdu_t *request, const coap_string_t *query,
			 coap_pdu_t *response)
{
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
	coap_add_data_large_response(resource, session, request, response, query,
				     COAP_MEDIATYPE_APPLICATION_JSON, -1, 0, strlen(big_body),
				     (const uint8_t *)big_body, NULL, NULL);
}

static coap_response_t big_answer(coap_session_t *session, const coap_pdu_t *sent,
				  const coap_pdu_t *received, const coap_mid_t mid)
{
	(void)session;
	(void)sent;
	(void)mid;
	big_code = coap_pdu_get_code(received);
	big_answers++;
	return COAP_RESPONSE_OK;
}

/* Sends a CON POST of payload to path and runs the loop until it is
 * answered; the answer's code. */
static coap_pdu_code_t post(struct fm_loop *loop, struct fm_coap *node, coap_session_t *s,
			    const char *path, const char *payload)
{
	int before = big_answers;
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, s);
	assert_non_null(pdu);
	coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path), (const uint8_t *)path);
	coap_add_data(pdu, strlen(payload), (const uint8_t *)payload);
	assert_int_not_equal(coap_send(s, pdu), COAP_INVALID_MID);
	fm_coap_process(node);
	for (uint64_t end = fm_now_ms() + 15000; big_answers == before && fm_now_ms() < end;)
		fm_loop_run_once(loop, 50);
	if (big_answers == before)
		fail_msg("POST /%s (%zu bytes) was never answered", path, strlen(payload));
	return big_code;
}

static void small_buffers_carry_the_largest(void **state)
{
	(void)state;
	/* a maximal report: incident 1's, its message and one more piece
	 * of evidence padded to FC_WIRE_PAYLOAD_MAX bytes exactly */
	char report[FC_WIRE_PAYLOAD_MAX + 1], m[FC_WIRE_TEXT_MAX + 1], e[FC_WIRE_TEXT_MAX + 1];
	const char *fmt =
	    "{\"q\":18,\"t\":1732345678,\"b\":\"rpi4\",\"d\":["
	    "{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"" INCIDENT1_KEY "\","
	    "\"m\":\"%s\",\"e\":[\"docker.stale_attempt:8470235abd66\",\"%s\"],"
	    "\"x\":[\"apiserver-unreachable\"],\"f\":[\"docker rm 8470235abd66 5c0e4b1d2a90\"]}],"
	    "\"r\":[[\"etcd-unreachable\",\"https://127.0.0.1:2379\"]]}";
	int bare = snprintf(NULL, 0, fmt, "", "");
	size_t pad = FC_WIRE_PAYLOAD_MAX - (size_t)bare, mlen = pad / 2;
	memset(m, 'm', mlen);
	m[mlen] = '\0';
	memset(e, 'e', pad - mlen);
	e[pad - mlen] = '\0';
	memcpy(e, "journal.match:", 14);
	assert_true(mlen <= FC_WIRE_TEXT_MAX && pad - mlen <= FC_WIRE_TEXT_MAX);
	assert_int_equal(snprintf(report, sizeof(report), fmt, m, e), FC_WIRE_PAYLOAD_MAX);

	/* a triage answer of BIG_ANSWER_LEN bytes of JSON */
	const char *head = "{\"stand_in\":true,\"pad\":\"",
		   *tail = "\",\"end\":\"block-wise-end\"}";
	size_t fill = BIG_ANSWER_LEN - strlen(head) - strlen(tail);
	strcpy(big_body, head);
	for (size_t i = 0; i < fill; i++)
		big_body[strlen(head) + i] = (char)('a' + i % 26);
	strcpy(big_body + strlen(head) + fill, tail);
	assert_int_equal(strlen(big_body), BIG_ANSWER_LEN);

	struct fm_loop *loop = fm_loop_new();
	struct fm_coap *node = fm_coap_new(loop);
	assert_non_null(node);
	coap_context_t *ctx = fm_coap_context(node);
	coap_resource_t *r = coap_resource_init(coap_make_str_const("journal"), 0);
	coap_register_request_handler(r, COAP_REQUEST_GET, big_resource);
	coap_add_resource(ctx, r);
	coap_register_response_handler(ctx, big_answer);
	struct fm_coap_uri u;
	char err[200], log[PATH_MAX];
	assert_int_equal(fm_coap_parse_uri(ctl.url, &u, err, sizeof(err)), 0);
	coap_session_t *s = fm_coap_client(node, &u, FMH_NODE_A, (const uint8_t *)FMH_KEY_A,
					   strlen(FMH_KEY_A), err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(
	    post(loop, node, s, "hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}"),
	    COAP_RESPONSE_CODE_CHANGED);
	wait_log(", 1152-byte records in)");

	assert_int_equal(post(loop, node, s, "rp", report), COAP_RESPONSE_CODE_CHANGED);
	cJSON *sh = show(FMH_NODE_A);
	assert_non_null(sh);
	const cJSON *d = cJSON_GetArrayItem(fmh_field(sh, "diagnoses"), 0);
	assert_string_equal(fmh_jstr(d, "summary"), m);
	assert_true(fmh_lists(fmh_field(d, "evidence"), e));
	cJSON_Delete(sh);

	snprintf(log, sizeof(log), "%s/triage-big.log", ctl.dir);
	pid_t t = triage(log, "journal", "kubelet", NULL, NULL);
	pump_until(loop, log, "\"end\":\t\"block-wise-end\"");
	assert_int_equal(exit_status(t, log), 0);
	/* the whole body, in order */
	char *want = strndup(big_body + strlen(head), fill);
	assert_non_null(strstr(out, want));
	free(want);

	coap_session_release(s);
	fm_coap_delete(&node);
	fm_loop_delete(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(report_shows_up, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_psk_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(node_cannot_write_another, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicates_and_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(unreachable_after_missed_heartbeats, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(insecure_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(triage_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(small_buffers_carry_the_largest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
