/* coap_load: many simulated agents in one process, for the controller's
 * ingest figures (issue 10 item 6) and the wire-byte helper (item 3).
 *
 *   coap_load keys N [SEED [FIRST]]
 *       prints a controller --keys file for nodes load-FIRST ..
 *       load-(FIRST+N-1) (FIRST default 0: load-00000 .. load-(N-1)), each
 *       key 16 bytes derived from SEED (default 1) and the node's index.
 *   coap_load run --server HOST:PORT --nodes N [--first K] [--seed S] [--window W]
 *                 [--seconds T --kind rp|hb|rp,hb] [--server-pid PID]
 *                 [--cpu-tree PID] [--wait-usr2] [--drain D] [--hold]
 *       opens N DTLS-PSK sessions (each its own identity, key and UDP
 *       socket, so its own source port), at most W (64) in set-up at once,
 *       for nodes load-K .. load-(K+N-1) (K default 0): two processes with
 *       disjoint ranges load one store side by side (bench/b_store.sh);
 *       each session's first request is a healthy heartbeat. Prints
 *       "connected nodes=N failed=F seconds=S per_s=R suite=CIPHER" once every session's
 *       heartbeat was answered 2.04, then with --server-pid the controller's
 *       memory: "server_mem rss_kb=… private_dirty_kb=… rss_anon_kb=…
 *       rss_file_kb=…" (/proc/PID/status, smaps_rollup). With --wait-usr2
 *       it then prints "waiting" and starts the load phases only on SIGUSR2
 *       (the sessions kept open meanwhile), so several processes load at
 *       once. With --seconds T every session then
 *       sends back to back (one request outstanding per session, as a CoAP
 *       client's NSTART=1) reports (rp: incident-1-sized, each a real change
 *       of the stored diagnosis, q counting up from 1) or heartbeats (hb)
 *       for T seconds (one phase per kind given: "rp,hb" runs both), and
 *       prints "load kind=… ok=… per_s=…" counting the 2.04 answers that
 *       arrived within the T seconds (requests still out then are waited for
 *       up to --drain D seconds (10; a request the controller's full
 *       receive buffer dropped waits for CoAP's retransmission, up to 45 s
 *       for its last) and counted in total_ok only), with the time the controller
 *       (--server-pid) spent on a CPU and waiting for one meanwhile
 *       (/proc/PID/schedstat), and this process's CPU time; with
 *       --cpu-tree PID also the CPU time of PID and its children over the
 *       same window, tree_cpu_s=… (fmh_proc_tree_cpu_s: a database
 *       server's postmaster and its backends; -1 without). An answer
 *       whose token is not that of the node's request out (a second
 *       answer to a retransmitted one) is counted as stray, not taken. With
 *       --hold it then prints "holding" and keeps every session open until
 *       SIGTERM or SIGINT.
 *       Keys changing under load (issue 25): --rekey NODE=FILE makes it read
 *       NODE's new key (hex) from FILE on SIGUSR1 and reopen NODE's session
 *       with it, printing "rekeyed NODE at q=N" (the load phase then lasts
 *       until the rekey and 2 s more, up to 60 s past --seconds); --revoked NODE expects
 *       NODE's session to be closed by the controller (printed "revoked NODE
 *       closed at q=N", not a failure); --acked FILE writes "NODE Q" for
 *       every node at the end, Q its last acknowledged report: also when
 *       the run failed (a session failed, the server died) or was stopped
 *       by SIGTERM or SIGINT, as what was acknowledged is known all the
 *       same (written to FILE.tmp and renamed: never seen half-written).
 *   coap_load wire --server HOST:PORT [--count K] [--seed S]
 *       three sessions, one after the other, for a capture to tell apart by
 *       source port: node 0 only completes the handshake, node 1 sends K
 *       healthy heartbeats, node 2 K incident-1-sized reports, each request
 *       sent when the previous one was answered; each session is closed
 *       (DTLS close_notify) before the next opens. Prints "wire
 *       port_handshake=P0 port_hb=P1 port_rp=P2 count=K hb_bytes=…
 *       rp_bytes=… cid=0|1".
 *
 * The controller must start from an empty database: reports count q from 1.
 * Exit status: 0 done, 1 a session failed or an answer was not 2.04,
 * 2 usage.
 */
#include "bench_proc.h"
#include "fm_coap.h"
#include "fm_conf.h"
#include "fm_log.h"
#include "fm_loop.h"

#include <coap3/coap.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN	      16
#define NODES_MAX     20000
#define INDEX_MAX     99999 /* load-%05u */
#define HB_INTERVAL_S 120

enum kind { KIND_HB, KIND_RP };

struct node {
	coap_session_t *s;
	char id[16];
	uint8_t key[32];
	size_t key_len; /* KEY_LEN, or what --rekey read (enroll's: 32) */
	uint32_t q; /* the last report acknowledged */
	bool busy;  /* a request is out */
	bool up;    /* its first heartbeat was answered */
	bool failed;
	bool flip; /* which of the two summaries the next report carries */
	bool revoked; /* --revoked: its session closing is expected */
	uint8_t tok[8]; /* the token of the request out */
	size_t tok_len;
};

static struct {
	struct fm_loop *loop;
	struct fm_coap *coap;
	struct fm_coap_uri uri;
	struct node *nodes;
	unsigned n, opened, up, failed, busy;
	unsigned *ready; /* stack of nodes with nothing out */
	unsigned nready, ready_cap;
	enum kind kind;
	bool loading; /* count answers */
	uint64_t ok, ok_window, other, nacks, stray;
	bool stop;
	const char *rekey_node, *rekey_file; /* --rekey NODE=FILE */
	volatile bool rekey_due;	     /* SIGUSR1 */
	bool rekeyed;			     /* done (once per run) */
	unsigned revoked_closed;
	long tree_pid;	  /* --cpu-tree */
	double drain_s;	  /* --drain */
	volatile bool go; /* SIGUSR2 (--wait-usr2) */
} g;

/* splitmix64: a node's key from the seed and its index (a benchmark's keys
 * need to be reproducible by `keys`, not secret). */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void node_init(struct node *nd, unsigned i, uint64_t seed)
{
	memset(nd, 0, sizeof(*nd));
	snprintf(nd->id, sizeof(nd->id), "load-%05u", i);
	for (unsigned b = 0; b < KEY_LEN; b += 8) {
		uint64_t v = mix(seed * 1000003u + i * 2u + b / 8);
		memcpy(nd->key + b, &v, 8);
	}
	nd->key_len = KEY_LEN;
}

static int cmd_keys(int argc, char **argv)
{
	if (argc < 3 || argc > 5)
		return 2;
	unsigned long n = strtoul(argv[2], NULL, 10);
	uint64_t seed = argc >= 4 ? strtoull(argv[3], NULL, 10) : 1;
	unsigned long first = argc == 5 ? strtoul(argv[4], NULL, 10) : 0;
	if (n == 0 || n > NODES_MAX || first + n - 1 > INDEX_MAX)
		return 2;
	if (argc == 5)
		printf("# coap_load keys %lu %" PRIu64 " %lu\n", n, seed, first);
	else
		printf("# coap_load keys %lu %" PRIu64 "\n", n, seed);
	for (unsigned i = 0; i < n; i++) {
		struct node nd;
		node_init(&nd, (unsigned)first + i, seed);
		printf("%s ", nd.id);
		for (unsigned b = 0; b < KEY_LEN; b++)
			printf("%02x", nd.key[b]);
		printf("\n");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* --- requests ---------------------------------------------------------------------- */

/* A healthy node's heartbeat: nothing raised, the empty set's hash. */
static size_t hb_payload(const struct node *nd, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size,
				"{\"q\":%" PRIu32 ",\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":%u}",
				nd->q, HB_INTERVAL_S);
}

/* Incident 1's diagnosis as a report carries it, cut to DESIGN.md's budget
 * (<= 320 bytes; PROTOCOL.md's example is 452): evidence cut to one item
 * (e is cut first), no board (optional). The summary alternates between two
 * of the same length, so every report is a change the store writes (the
 * diagnosis row and a history line). */
static size_t rp_payload(const struct node *nd, char *buf, size_t size)
{
	return (size_t)snprintf(
	    buf, size,
	    "{\"q\":%" PRIu32 ",\"t\":%lld,\"d\":[{\"c\":\"container-name-conflict\",\"s\":3,"
	    "\"k\":\"k8s_kube-apiserver_kube-apiserver-%s_kube-system_5c0e_24\","
	    "\"m\":\"kubelet cannot recreate kube-apiserver: name held by 0f2a9c1e77d3 (%s)\","
	    "\"e\":[\"journal.match:kubelet\"],\"x\":[\"apiserver-unreachable\"],"
	    "\"f\":[\"docker rm 8470235abd66\"]}]}",
	    nd->q + 1, (long long)time(NULL), nd->id, nd->flip ? "created" : "running");
}

static int send_req(struct node *nd, enum kind kind)
{
	char body[1024];
	uint8_t tok[8], cf[4];
	size_t tlen, len = kind == KIND_RP ? rp_payload(nd, body, sizeof(body))
					   : hb_payload(nd, body, sizeof(body));
	const char *path = kind == KIND_RP ? "rp" : "hb";
	coap_pdu_t *pdu =
	    coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(nd->s),
			  coap_session_max_pdu_size(nd->s));
	if (!pdu)
		return -ENOMEM;
	coap_session_new_token(nd->s, &tlen, tok);
	memcpy(nd->tok, tok, tlen);
	nd->tok_len = tlen;
	if (!coap_add_token(pdu, tlen, tok) ||
	    !coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path), (const uint8_t *)path) ||
	    !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
			     coap_encode_var_safe(cf, sizeof(cf), COAP_MEDIATYPE_APPLICATION_JSON),
			     cf) ||
	    !coap_add_data(pdu, len, (const uint8_t *)body)) {
		coap_delete_pdu(pdu);
		return -ENOMEM;
	}
	if (coap_send(nd->s, pdu) == COAP_INVALID_MID)
		return -EIO;
	nd->busy = true;
	g.busy++;
	return 0;
}

/* --- libcoap's handlers: they only record; sends happen outside them ---------------- */

static void done_with(struct node *nd)
{
	if (nd->busy) {
		nd->busy = false;
		g.busy--;
	}
	if (!nd->failed && g.nready < g.ready_cap)
		g.ready[g.nready++] = (unsigned)(nd - g.nodes);
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
				   const coap_pdu_t *received, const coap_mid_t mid)
{
	(void)sent;
	(void)mid;
	struct node *nd = coap_session_get_app_data(session);
	if (!nd || !nd->busy)
		return COAP_RESPONSE_OK;
	/* an answer to an earlier request (a second one to a retransmission,
	 * which the server took as a duplicate) is not this one's */
	coap_bin_const_t tok = coap_pdu_get_token(received);
	if (tok.length != nd->tok_len || memcmp(tok.s, nd->tok, tok.length) != 0) {
		g.stray++;
		return COAP_RESPONSE_OK;
	}
	coap_pdu_code_t code = coap_pdu_get_code(received);
	if (code != COAP_RESPONSE_CODE_CHANGED) {
		size_t len = 0;
		const uint8_t *data = NULL;
		coap_get_data(received, &len, &data);
		if (g.other++ < 5)
			fm_err("%s: answered %d.%02d %.*s", nd->id, code >> 5, code & 31, (int)len,
			       data ? (const char *)data : "");
	} else if (!nd->up) {
		nd->up = true;
		g.up++;
	} else {
		if (g.kind == KIND_RP) {
			nd->q++;
			nd->flip = !nd->flip;
		}
		g.ok++;
		if (g.loading)
			g.ok_window++;
	}
	done_with(nd);
	return COAP_RESPONSE_OK;
}

/* A --revoked node's session went (the controller closed it): expected;
 * it sends nothing more. */
static bool revoked_gone(struct node *nd)
{
	if (!nd->revoked)
		return false;
	if (!nd->failed) {
		nd->failed = true;
		g.revoked_closed++;
		printf("revoked %s closed at q=%" PRIu32 "\n", nd->id, nd->q);
		fflush(stdout);
	}
	done_with(nd);
	return true;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
		    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	(void)sent;
	(void)mid;
	struct node *nd = coap_session_get_app_data(session);
	if (!nd || !nd->busy)
		return;
	g.nacks++;
	if (revoked_gone(nd))
		return;
	if (reason == COAP_NACK_TLS_FAILED || reason == COAP_NACK_NOT_DELIVERABLE ||
	    reason == COAP_NACK_RST) {
		if (!nd->failed) {
			nd->failed = true;
			g.failed++;
			fm_err("%s: request not delivered (libcoap nack reason %d)", nd->id,
			       (int)reason);
		}
	}
	done_with(nd); /* the same q again, as the agent does */
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
	struct node *nd = coap_session_get_app_data(session);
	if (!nd)
		return 0;
	if ((event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED) && !g.stop &&
	    revoked_gone(nd))
		return 0;
	if ((event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED) && !nd->failed &&
	    !g.stop) {
		nd->failed = true;
		g.failed++;
		fm_err("%s: DTLS session %s", nd->id,
		       event == COAP_EVENT_DTLS_ERROR ? "failed" : "closed");
	}
	return 0;
}

static void on_signal(struct fm_signal *sig, int signo)
{
	(void)signo;
	g.stop = true;
	fm_loop_stop(sig->ev.loop);
}

/* --- running --------------------------------------------------------------------------- */

static int open_session(struct node *nd)
{
	char err[300];
	nd->s = fm_coap_client(g.coap, &g.uri, nd->id, nd->key, nd->key_len, err, sizeof(err));
	if (!nd->s) {
		fm_err("%s: %s", nd->id, err);
		return -EIO;
	}
	coap_session_set_app_data(nd->s, nd);
	return 0;
}

/* Runs the loop once (at most timeout_ms), then lets libcoap send what was
 * queued outside its handlers and re-arm its timer. */
static void pump(int timeout_ms)
{
	fm_loop_run_once(g.loop, timeout_ms);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The controller's memory, as bench/lib.sh's bench_mem reads it. */
static void print_server_mem(long pid)
{
	char status[64], rollup[64];
	snprintf(status, sizeof(status), "/proc/%ld/status", pid);
	snprintf(rollup, sizeof(rollup), "/proc/%ld/smaps_rollup", pid);
	printf("server_mem rss_kb=%ld private_dirty_kb=%ld rss_anon_kb=%ld rss_file_kb=%ld\n",
	       fmh_proc_kb(status, "VmRSS"), fmh_proc_kb(rollup, "Private_Dirty"),
	       fmh_proc_kb(status, "RssAnon"), fmh_proc_kb(status, "RssFile"));
	fflush(stdout);
}

/* Opens every session (at most window in set-up at once), each sending a
 * heartbeat first. 0 when all were answered 2.04 before deadline_s. */
static int connect_all(unsigned window, double deadline_s)
{
	unsigned setting_up = 0;
	double t0 = now_s();
	while (g.up + g.failed < g.n && now_s() < deadline_s && !g.stop) {
		while (g.opened < g.n && setting_up < window) {
			struct node *nd = &g.nodes[g.opened++];
			if (open_session(nd) < 0 || send_req(nd, KIND_HB) < 0) {
				nd->failed = true;
				g.failed++;
				continue;
			}
			setting_up++;
		}
		fm_coap_process(g.coap);
		pump(100);
		/* every node answered or failed leaves set-up */
		setting_up = g.opened - g.up - g.failed;
		g.nready = 0; /* the load phase fills the stack itself */
	}
	double dt = now_s() - t0;
	const char *suite = "none";
	for (unsigned i = 0; i < g.n; i++)
		if (g.nodes[i].up) {
			suite = fm_coap_session_cipher(g.nodes[i].s);
			break;
		}
	printf("connected nodes=%u failed=%u seconds=%.3f per_s=%.1f suite=%s\n", g.up, g.n - g.up, dt,
	       dt > 0 ? g.up / dt : 0, suite);
	fflush(stdout);
	return g.up == g.n ? 0 : -1;
}

static void on_usr1(struct fm_signal *sig, int signo)
{
	(void)sig;
	(void)signo;
	g.rekey_due = true;
}

static void on_usr2(struct fm_signal *sig, int signo)
{
	(void)sig;
	(void)signo;
	g.go = true;
}

/* --rekey: the node's new key from its file (hex, as enroll writes a psk
 * file), and a new session with it, as an agent does on SIGHUP; what was
 * out on the old session is sent again on the new (the same q). */
static void rekey(void)
{
	g.rekey_due = false;
	struct node *nd = NULL;
	for (unsigned i = 0; i < g.n && !nd; i++)
		if (strcmp(g.nodes[i].id, g.rekey_node) == 0)
			nd = &g.nodes[i];
	FILE *f = fopen(g.rekey_file, "re");
	char hex[2 * 32 + 8] = "";
	bool ok = f && fgets(hex, sizeof(hex), f) && strlen(hex) >= 2 * KEY_LEN;
	if (f)
		fclose(f);
	uint8_t key[32];
	size_t len = 0;
	hex[strcspn(hex, "\r\n")] = '\0';
	if (!nd || !ok || fm_conf_hex(hex, strlen(hex), key, sizeof(key), &len) < 0 || len == 0) {
		fm_err("--rekey %s=%s: no such node or no key in the file", g.rekey_node, g.rekey_file);
		g.failed++;
		return;
	}
	if (nd->s) {
		coap_session_set_app_data(nd->s, NULL);
		coap_session_release(nd->s);
		nd->s = NULL;
	}
	/* a node with nothing out is on the ready stack already: pushed
	 * again, it would be sent twice and counted busy twice */
	bool was_busy = nd->busy;
	if (nd->busy) {
		nd->busy = false;
		g.busy--;
	}
	memcpy(nd->key, key, len);
	nd->key_len = len;
	if (open_session(nd) < 0) {
		nd->failed = true;
		g.failed++;
		return;
	}
	printf("rekeyed %s at q=%" PRIu32 "\n", nd->id, nd->q);
	g.rekeyed = true;
	fflush(stdout);
	if (was_busy && g.nready < g.ready_cap)
		g.ready[g.nready++] = (unsigned)(nd - g.nodes);
}

static void load(double seconds, long server_pid)
{
	g.nready = 0;
	for (unsigned i = 0; i < g.n; i++)
		if (g.nodes[i].up && !g.nodes[i].failed)
			g.ready[g.nready++] = i;
	double srv0 = 0, srv1 = 0, wait0 = 0, wait1 = 0;
	bool sched = fmh_proc_sched(server_pid, &srv0, &wait0);
	double tree0 = g.tree_pid > 0 ? fmh_proc_tree_cpu_s(g.tree_pid) : -1;
	double me0 = self_cpu_s(), t0 = now_s(), end = t0 + seconds;
	g.loading = true;
	while (!g.stop) {
		double t = now_s();
		/* with --rekey the window lasts until the rekey (SIGUSR1) has
		 * been done and 2 s more, so the node reports with its new key
		 * however long the caller took to send it (60 s at most) */
		if (t >= end && !(g.rekey_node && !g.rekeyed && t < end + 60))
			break;
		if (g.rekey_due && g.rekey_node) {
			rekey();
			if (end < now_s() + 2)
				end = now_s() + 2;
		}
		while (g.nready > 0) {
			struct node *nd = &g.nodes[g.ready[--g.nready]];
			if (nd->busy) {
				fm_err("%s: on the ready stack with a request out", nd->id);
				g.failed++;
				continue;
			}
			if (send_req(nd, g.kind) < 0 && !nd->failed) {
				nd->failed = true;
				g.failed++;
			}
		}
		fm_coap_process(g.coap);
		int ms = end > t ? (int)((end - t) * 1000) + 1 : 100;
		pump(ms < 100 ? ms : 100);
	}
	g.loading = false;
	double t1 = now_s(), me1 = self_cpu_s();
	sched = fmh_proc_sched(server_pid, &srv1, &wait1) && sched;
	double tree1 = g.tree_pid > 0 ? fmh_proc_tree_cpu_s(g.tree_pid) : -1;
	/* what is still out: waited for, so the store's count can be checked */
	double drain = t1 + g.drain_s;
	while (g.busy > 0 && now_s() < drain && !g.stop)
		pump(100);
	/* what never came back, named: which node, at which q, in which state */
	for (unsigned i = 0, named = 0; i < g.n && named < 5; i++) {
		const struct node *nd = &g.nodes[i];
		if (!nd->busy)
			continue;
		named++;
		fm_err("%s: unanswered at q=%" PRIu32 " (session state %d%s)", nd->id, nd->q,
		       nd->s ? (int)coap_session_get_state(nd->s) : -1, nd->revoked ? ", revoked" : "");
	}
	double dt = t1 - t0;
	char body[1024];
	struct node probe = g.nodes[0];
	size_t bytes = g.kind == KIND_RP ? rp_payload(&probe, body, sizeof(body))
					 : hb_payload(&probe, body, sizeof(body));
	printf("load kind=%s payload_bytes=%zu nodes=%u seconds=%.3f ok=%" PRIu64
	       " per_s=%.1f total_ok=%" PRIu64 " other=%" PRIu64 " stray=%" PRIu64 " nacks=%" PRIu64
	       " failed=%u unanswered=%u server_cpu_s=%.3f server_wait_s=%.3f"
	       " client_cpu_s=%.3f tree_cpu_s=%.3f\n",
	       g.kind == KIND_RP ? "rp" : "hb", bytes, g.n, dt, g.ok_window,
	       dt > 0 ? g.ok_window / dt : 0, g.ok, g.other, g.stray, g.nacks, g.failed, g.busy,
	       sched ? srv1 - srv0 : -1, sched ? wait1 - wait0 : -1, me1 - me0,
	       tree0 >= 0 && tree1 >= 0 ? tree1 - tree0 : -1);
	fflush(stdout);
}

static uint16_t local_port(const struct node *nd)
{
	const coap_address_t *a = coap_session_get_addr_local(nd->s);
	return a ? coap_address_get_port(a) : 0;
}

/* One session: handshake, then count requests of kind, one at a time,
 * then closed. The local port, or 0 on failure. */
static uint16_t wire_session(struct node *nd, enum kind kind, unsigned count, double deadline_s)
{
	g.kind = kind;
	if (open_session(nd) < 0)
		return 0;
	unsigned sent = 0;
	bool up = false;
	while (!nd->failed && now_s() < deadline_s) {
		/* libcoap 4.3.5 with Mbed TLS raises no COAP_EVENT_DTLS_CONNECTED
		 * for a client session whose handshake ends on a received record:
		 * the session's state says it */
		up = coap_session_get_state(nd->s) == COAP_SESSION_STATE_ESTABLISHED;
		if (!up || nd->busy) {
			pump(100);
			continue;
		}
		if (count == 0 || (sent == count && !nd->busy))
			break;
		if (send_req(nd, kind) < 0)
			return 0;
		sent++;
		fm_coap_process(g.coap);
		g.nready = 0; /* one session: no stack needed */
	}
	g.nready = 0;
	bool ok = !nd->failed && up && !nd->busy && (count == 0 || nd->up || kind == KIND_RP);
	uint16_t port = local_port(nd); /* known once connected */
	coap_session_set_app_data(nd->s, NULL);
	coap_session_release(nd->s); /* DTLS close_notify */
	nd->s = NULL;
	fm_coap_process(g.coap);
	return ok ? port : 0;
}

static int cmd_wire(unsigned count, uint64_t seed)
{
	struct node nd[3];
	char body[1024];
	for (unsigned i = 0; i < 3; i++)
		node_init(&nd[i], i, seed);
	g.nodes = nd;
	g.n = 3;
	double deadline = now_s() + 30;
	uint16_t p0 = wire_session(&nd[0], KIND_HB, 0, deadline);
	/* a heartbeat's first answer counts as "up", the rest as ok */
	uint64_t ok0 = g.ok;
	uint16_t p1 = wire_session(&nd[1], KIND_HB, count, deadline);
	uint64_t hb_ok = g.ok - ok0 + (nd[1].up ? 1 : 0);
	nd[2].up = true; /* every answer of node 2 is a report's */
	ok0 = g.ok;
	uint16_t p2 = wire_session(&nd[2], KIND_RP, count, deadline);
	uint64_t rp_ok = g.ok - ok0;
	struct node probe = nd[2];
	probe.q = 0;
	size_t rp_bytes = rp_payload(&probe, body, sizeof(body));
	size_t hb_bytes = hb_payload(&nd[1], body, sizeof(body));
	printf("wire port_handshake=%u port_hb=%u port_rp=%u count=%u hb_ok=%" PRIu64
	       " rp_ok=%" PRIu64 " hb_bytes=%zu rp_bytes=%zu cid=%d other=%" PRIu64 "\n",
	       p0, p1, p2, count, hb_ok, rp_ok, hb_bytes, rp_bytes,
	       coap_dtls_cid_is_supported() ? 1 : 0, g.other);
	fflush(stdout);
	return p0 && p1 && p2 && hb_ok == count && rp_ok == count && g.other == 0 ? 0 : 1;
}

/* --acked FILE: "NODE Q" a line, Q the node's last acknowledged report;
 * written whole to FILE.tmp, then renamed, so a reader never sees half. */
static int write_acked(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	for (unsigned i = 0; f && i < g.n; i++)
		fprintf(f, "%s %" PRIu32 "\n", g.nodes[i].id, g.nodes[i].q);
	if (!f || fclose(f) != 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "coap_load: --acked %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: coap_load keys N [SEED [FIRST]]\n"
		"       coap_load run --server HOST:PORT --nodes N [--first K] [--seed S] [--window W]\n"
		"                 [--seconds T --kind rp|hb|rp,hb] [--server-pid PID]\n"
		"                 [--cpu-tree PID] [--wait-usr2] [--drain D] [--hold]\n"
		"                 [--rekey NODE=FILE] [--revoked NODE] [--acked FILE]\n"
		"       coap_load wire --server HOST:PORT [--count K] [--seed S]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"server", required_argument, NULL, 's'},	  {"nodes", required_argument, NULL, 'n'},
	    {"seed", required_argument, NULL, 'S'},	  {"window", required_argument, NULL, 'w'},
	    {"seconds", required_argument, NULL, 't'},	  {"kind", required_argument, NULL, 'k'},
	    {"server-pid", required_argument, NULL, 'p'}, {"hold", no_argument, NULL, 'H'},
	    {"count", required_argument, NULL, 'c'},	  {"rekey", required_argument, NULL, 'r'},
	    {"revoked", required_argument, NULL, 'R'},	  {"acked", required_argument, NULL, 'a'},
	    {"first", required_argument, NULL, 'f'},	  {"cpu-tree", required_argument, NULL, 'T'},
	    {"wait-usr2", no_argument, NULL, 'W'},	  {"drain", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "keys") == 0) {
		int rc = cmd_keys(argc, argv);
		if (rc == 2)
			usage();
		return rc;
	}
	bool wire = strcmp(argv[1], "wire") == 0;
	if (!wire && strcmp(argv[1], "run") != 0) {
		usage();
		return 2;
	}
	const char *server = NULL;
	unsigned long n = 0, window = 64, count = 20, first = 0;
	bool wait_usr2 = false;
	uint64_t seed = 1;
	double seconds = 0;
	long server_pid = 0;
	bool hold = false;
	const char *revoked = NULL, *acked = NULL;
	enum kind kinds[2] = {KIND_RP, KIND_RP};
	unsigned nkinds = 0;
	int c;
	g.drain_s = 10;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			server = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'w':
			window = strtoul(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		case 'k':
			/* one load phase per kind, in the order given */
			for (char *k = strtok(optarg, ","); k; k = strtok(NULL, ",")) {
				if ((strcmp(k, "rp") && strcmp(k, "hb")) || nkinds == 2) {
					usage();
					return 2;
				}
				kinds[nkinds++] = strcmp(k, "rp") == 0 ? KIND_RP : KIND_HB;
			}
			break;
		case 'p':
			server_pid = strtol(optarg, NULL, 10);
			break;
		case 'H':
			hold = true;
			break;
		case 'c':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'r': {
			char *eq = strchr(optarg, '=');
			if (!eq) {
				usage();
				return 2;
			}
			*eq = '\0';
			g.rekey_node = optarg;
			g.rekey_file = eq + 1;
			break;
		}
		case 'R':
			revoked = optarg;
			break;
		case 'a':
			acked = optarg;
			break;
		case 'f':
			first = strtoul(optarg, NULL, 10);
			break;
		case 'T':
			g.tree_pid = strtol(optarg, NULL, 10);
			break;
		case 'W':
			wait_usr2 = true;
			break;
		case 'D':
			g.drain_s = strtod(optarg, NULL);
			break;
		default:
			usage();
			return 2;
		}
	}
	char uri[300], err[300];
	snprintf(uri, sizeof(uri), "coaps://%s", server ? server : "");
	if (!server || optind != argc ||
	    (!wire && (n == 0 || n > NODES_MAX || first + n - 1 > INDEX_MAX)) || window == 0 ||
	    seconds < 0 || g.drain_s < 0 || count == 0 || count > 100000 ||
	    fm_coap_parse_uri(uri, &g.uri, err, sizeof(err)) < 0) {
		usage();
		return 2;
	}
	/* one socket per session */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < n + 64) {
			fprintf(
			    stderr,
			    "coap_load: %lu sessions need %lu file descriptors; the limit is %lu\n",
			    n, n + 64, (unsigned long)rl.rlim_cur);
			return 2;
		}
	}
	/* errors only: "a callback blocked" warnings say that this shared
	 * machine descheduled us, which the figures show anyway */
	fm_log_set_level(getenv("COAP_LOAD_DEBUG") ? FM_LOG_DEBUG : FM_LOG_ERR);
	fm_coap_log_setup(getenv("COAP_LOAD_DEBUG") ? FM_LOG_DEBUG : FM_LOG_ERR);
	int status = 1;
	struct fm_signal sigterm = {.ev = FM_EVENT_INIT}, sigint = {.ev = FM_EVENT_INIT},
			 sigusr1 = {.ev = FM_EVENT_INIT}, sigusr2 = {.ev = FM_EVENT_INIT};
	g.loop = fm_loop_new();
	if (!g.loop || fm_signal_init(g.loop, &sigterm, SIGTERM, on_signal) < 0 ||
	    fm_signal_init(g.loop, &sigint, SIGINT, on_signal) < 0 ||
	    fm_signal_init(g.loop, &sigusr1, SIGUSR1, on_usr1) < 0 ||
	    fm_signal_init(g.loop, &sigusr2, SIGUSR2, on_usr2) < 0 ||
	    !(g.coap = fm_coap_new(g.loop))) {
		fprintf(stderr, "coap_load: cannot set up the loop or libcoap: %s\n",
			strerror(errno));
		goto out;
	}
	coap_context_t *ctx = fm_coap_context(g.coap);
	coap_register_response_handler(ctx, on_response);
	coap_register_nack_handler(ctx, on_nack);
	coap_register_event_handler(ctx, on_event);
	g.ready_cap = wire ? 3 : (unsigned)n;
	g.ready = calloc(g.ready_cap, sizeof(*g.ready));
	if (!g.ready)
		goto out;
	if (wire) {
		status = cmd_wire((unsigned)count, seed);
		goto out;
	}
	g.n = (unsigned)n;
	g.nodes = calloc(n, sizeof(*g.nodes));
	if (!g.nodes)
		goto out;
	for (unsigned i = 0; i < g.n; i++) {
		node_init(&g.nodes[i], (unsigned)first + i, seed);
		g.nodes[i].revoked = revoked && strcmp(g.nodes[i].id, revoked) == 0;
	}
	g.kind = KIND_HB;
	if (connect_all((unsigned)window, now_s() + 60 + n * 0.05) < 0)
		goto out;
	if (server_pid > 0)
		print_server_mem(server_pid);
	if (wait_usr2) {
		printf("waiting\n");
		fflush(stdout);
		while (!g.go && !g.stop)
			pump(100);
		if (g.stop)
			goto out;
	}
	for (unsigned k = 0; seconds > 0 && k < (nkinds ? nkinds : 1); k++) {
		g.kind = kinds[k];
		g.ok = g.ok_window = g.nacks = 0;
		load(seconds, server_pid);
		if (g.other || g.failed || g.busy)
			goto out;
	}
	/* what each node had acknowledged: the store must hold exactly that
	 * many reports of it */
	if (acked && write_acked(acked) < 0)
		goto out;
	acked = NULL;
	if (hold) {
		printf("holding\n");
		fflush(stdout);
		while (!g.stop)
			pump(-1);
	}
	status = 0;
out:
	/* a failed run (a session failed, the server died, SIGTERM) says what
	 * was acknowledged all the same: a lower bound of what is stored */
	if (acked && g.nodes && !wire)
		write_acked(acked);
	g.stop = true;
	fm_coap_delete(&g.coap);
	fm_signal_close(&sigterm);
	fm_signal_close(&sigint);
	fm_signal_close(&sigusr1);
	fm_signal_close(&sigusr2);
	fm_loop_delete(&g.loop);
	if (g.nodes != NULL && !wire)
		free(g.nodes);
	free(g.ready);
	return status;
}
