/* fmh_controller: a real `fleetmedic-controller serve` on loopback for the
 * tests, its key store, and an independent CoAP/DTLS client to talk to it
 * (Debian's libcoap3-bin: coap-client-openssl, OpenSSL's DTLS, not ours).
 *
 * The key store holds FMH_NODE_A, FMH_NODE_B and FMH_NODE_C (a third node
 * for bench/agent_bench's agents side by side); their keys are printable
 * ASCII (FMH_KEY_A, FMH_KEY_B) because coap-client's -k takes the key's
 * bytes as text; the store file holds them in hex as the controller wants.
 */
#ifndef FMH_CONTROLLER_H
#define FMH_CONTROLLER_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FMH_NODE_A "pi-master1"
#define FMH_KEY_A "fleetmedic-test-key-pi-master1"
#define FMH_NODE_B "node-b"
#define FMH_KEY_B "fleetmedic-test-key-node-b"
#define FMH_NODE_C "node-c"
#define FMH_KEY_C "fleetmedic-test-key-node-c"

struct fmh_controller {
	pid_t pid;
	int port;		/* UDP, 127.0.0.1 */
	bool insecure;
	char dir[PATH_MAX];	/* tmpdir: keys, fleet.db, serve.log */
	char keys[PATH_MAX];
	char db[PATH_MAX];	/* the file, or PostgreSQL's connection string */
	char control[PATH_MAX]; /* --control given to serve and triage ("": serve's default, beside the file) */
	char log[PATH_MAX];
	char url[64];		/* coaps://127.0.0.1:PORT (coap:// insecure) */
	int http_port;		/* TCP, 127.0.0.1; 0: no --http */
	char http_url[64];	/* http://127.0.0.1:PORT */
};

/* The controller binary: $FM_CONTROLLER, set by ctest. */
const char *fmh_controller_bin(void);

/* The store every controller started from here uses: SQLite (a file in
 * its tmpdir), or with FMH_STORE=postgresql in the environment a fresh
 * database of one real PostgreSQL the harness starts for the process
 * (fmh_pg), so a test registered a second time with that variable runs
 * against PostgreSQL unchanged (issue 28). Its --control is then given
 * explicitly (a PostgreSQL store has no file to put the socket beside). */
bool fmh_controller_pg(void);
/* The arguments that name c's store, into argv at n: "--db" DB and, when
 * set, "--control" SOCK. The new n. */
int fmh_controller_store_args(const struct fmh_controller *c, const char **argv, int n);

/* Writes the key store and starts serve (-v) on a free UDP port; waits up
 * to 10 s for it to say it serves. On failure prints its log. 0 or -errno
 * (-ESRCH: it exited). */
int fmh_controller_start(struct fmh_controller *c, bool insecure);
/* The same with its HTTP side on 127.0.0.1 (a free TCP port: http_port,
 * http_url), waited for too. */
int fmh_controller_start_http(struct fmh_controller *c, bool insecure);
/* fmh_coap's POST of payload to path as node (DTLS-PSK with key), answered
 * 2.xx: 0; -EPROTO when the controller refused it (coap-client's output on
 * stderr), or fmh_coap's -errno. */
int fmh_post(const struct fmh_controller *c, const char *node, const char *key, const char *path, const char *payload);

/* An HTTP request with curl (an independent client): method on url, more
 * of curl's arguments in extra (NULL ended, may be NULL), run under prefix
 * (a command such as nsenter ..., NULL ended, may be NULL). The body into
 * out; returns the status, or -1 when curl failed (its message in out). */
int fmh_curl(const char *const *prefix, const char *method, const char *url, const char *const *extra, char *out,
	     size_t size);
/* Either, with more of serve's options (NULL ended; strings borrowed). */
int fmh_controller_start_with(struct fmh_controller *c, bool insecure, bool http, const char *const *extra);
/* A second serve on first's store and key store (several serves on one
 * PostgreSQL database, issue 28): its own port, tmpdir, log and --control,
 * and with http its own HTTP port. 0 or -errno as fmh_controller_start. */
int fmh_controller_start_beside(struct fmh_controller *c, const struct fmh_controller *first, bool http,
				const char *const *extra);
/* The PostgreSQL the controllers of this process use (started with the
 * first of them under FMH_STORE=postgresql; NULL before): a test restarts
 * it (fmh_pg_stop, fmh_pg_restart) to see the controllers ride it out. */
struct fmh_pg *fmh_controller_pg_cluster(void);

/* Stops it (SIGTERM, then as fmh_stop); its directory stays until cleanup.
 * *status gets its exit status. 0 or -ESRCH. */
int fmh_controller_stop(struct fmh_controller *c, int *status);

/* A free UDP port on 127.0.0.1 a moment ago. The port or -errno. */
int fmh_free_udp_port(void);

/* Runs coap-client-openssl against c: method ("get", "post"), path with an
 * optional query ("rp", "hb?n=x"), payload (NULL: none; sent with
 * content-format 50), as identity/key (NULL: none, e.g. for coap://). out
 * gets what it printed (stdout and stderr). Waits at most 10 s. 0 or
 * -errno as fmh_run (the client's own exit status says little: it is 0
 * when the handshake fails too). */
int fmh_coap(const struct fmh_controller *c, const char *identity, const char *key, const char *method,
	     const char *path, const char *payload, char *out, size_t out_size);

/* Runs the controller's nodes/show with --db c->db and --json, the
 * arguments given (NULL-terminated, at most 8) first: the parsed JSON (caller
 * frees), or NULL when it printed none; *status gets its exit status. */
cJSON *fmh_controller_json(const struct fmh_controller *c, int *status, ...);

/* The severity of the controller's diagnosis code (any key) for node, as
 * `show NODE --json` gives it, into sev; "" when it holds none. */
void fmh_controller_severity(const struct fmh_controller *c, const char *node, const char *code, char *sev,
			     size_t size);

/* Waits until that severity is sev ("": until the controller holds no
 * such diagnosis), asking every 20 ms. The milliseconds it took, or
 * -ETIMEDOUT after limit_ms. */
long fmh_controller_wait(const struct fmh_controller *c, const char *node, const char *code, const char *sev,
			 uint64_t limit_ms);

#endif
