/* fc_server: the controller's CoAP(S) endpoint (PROTOCOL.md), nested in
 * fm_loop through fm_coap.
 *
 * DTLS-PSK: libcoap asks validate_id_call_back for the key of the identity
 * the client gives; an identity not in the keystore gets no key and the
 * handshake fails, a wrong key fails it at Finished; both are logged with
 * the peer's address. Connection ID is used when libcoap supports it (its
 * Mbed TLS server side offers one to every client that asks).
 *
 * The node a request is about is the session's PSK identity, never a
 * payload field. With insecure (plain CoAP, no DTLS) there is no identity:
 * the node is then named by the request's Uri-Query "n=NODE", which must be
 * in the keystore too; every such request is logged at WARNING.
 *
 * Triage requests are relayed to nodes over their sessions (fc_relay);
 * a heartbeat is answered {"t":N} when N of them wait for the node.
 *
 * Resources: POST /hb, POST /rp, GET /me. The CoAP context, its loop
 * integration and the endpoint are fm_coap's (the agent's uplink shares it). A timer marks nodes unreachable
 * after FC_STORE_MISSED_MAX missed heartbeat intervals, logged once per
 * transition.
 */
#ifndef FC_SERVER_H
#define FC_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct fm_loop;
struct fc_keys;
struct fc_store;
struct fc_server;

struct fc_server_conf {
	const char *listen;	/* HOST:PORT or [V6]:PORT */
	const struct fc_keys *keys;
	struct fc_store *store;
	bool insecure;		/* plain CoAP instead of DTLS */
	unsigned sweep_ms;	/* how often to look for silent nodes; 0: 1000 */
	const char *control;	/* the triage relay's unix socket (fc_relay), or NULL */
};

/* Binds the endpoint and registers with loop. Borrows loop, keys and store
 * until fc_server_delete. NULL with why filled (one line). */
struct fc_server *fc_server_new(struct fm_loop *loop, const struct fc_server_conf *conf, char *why,
				size_t why_size);
void fc_server_delete(struct fc_server **s);

/* The address it serves on, as --listen gave it. */
const char *fc_server_address(const struct fc_server *s);

#endif
