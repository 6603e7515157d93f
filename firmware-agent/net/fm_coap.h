/* fm_coap: libcoap (built with Mbed TLS) nested in the agent's loop, and
 * the DTLS-PSK plumbing the uplink (agent) and the controller share.
 *
 * libcoap never owns the loop (libcoap's coap_io(3) "Method Two"): the
 * context's epoll fd (coap_context_get_coap_fd) is one event on our fm_loop;
 * when it is readable we call coap_io_process(ctx, COAP_IO_NO_WAIT), and a
 * timer follows what coap_io_prepare_epoll() says is libcoap's next timeout
 * (retransmissions, DTLS timers, session keep-alive). libcoap's log lines go
 * to fm_log.
 *
 * Block-wise transfer is libcoap's (COAP_BLOCK_USE_LIBCOAP |
 * COAP_BLOCK_SINGLE_BODY): handlers see whole bodies and answer with
 * coap_add_data_large_response().
 *
 * PSK keys live in files holding the key in hex; a file that group or others
 * may read is refused (the key is the node's only credential).
 */
#ifndef FM_COAP_H
#define FM_COAP_H

#include "fm_log.h"
#include "fm_loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest PSK accepted (bytes, after hex decoding) and identity. */
/* libcoap's types, by name only: this header does not bring libcoap's in
 * (STYLE.md); a file that calls libcoap includes <coap3/coap.h> itself. */
struct coap_context_t;
struct coap_session_t;
struct coap_address_t;

#define FM_COAP_PSK_MAX	     64
#define FM_COAP_IDENTITY_MAX 128
/* CoAP over DTLS's default port (RFC 7252 §6.2) and plain CoAP's. */
#define FM_COAP_PORT_DTLS 5684
#define FM_COAP_PORT	  5683

struct fm_coap;

/* Sends libcoap's (and its DTLS layer's) log to fm_log, lines of level and
 * graver. Calls coap_startup() the first time. Idempotent. */
void fm_coap_log_setup(enum fm_log_level level);

/* A libcoap context on loop, with libcoap's block-wise mode. The context's
 * app data is the struct fm_coap (fm_coap_of). NULL (errno set) when libcoap
 * or the loop cannot. */
struct fm_coap *fm_coap_new(struct fm_loop *loop);
/* Frees the context (its sessions and endpoints with it), leaves the loop,
 * NULLs *c. Accepts NULL and half-built objects. */
void fm_coap_delete(struct fm_coap **c);

/* The libcoap context (borrowed; valid until fm_coap_delete). */
struct coap_context_t *fm_coap_context(struct fm_coap *c);
/* The struct fm_coap of a context made by fm_coap_new. */
struct fm_coap *fm_coap_of(const struct coap_context_t *ctx);
/* A pointer for the owner (the uplink, the controller's server), kept here
 * so libcoap's handlers can find their state from the context. */
void fm_coap_set_owner(struct fm_coap *c, void *owner);
void *fm_coap_owner(const struct coap_context_t *ctx);

/* Lets libcoap do what is due now (after a coap_send, a session made) and
 * re-arms the timer for its next timeout. With a pass hook (below), first
 * every datagram waiting is handled (up to FM_COAP_PASS_MAX), then the hook
 * runs, then what it triggered is sent; a call from inside a handler or the
 * hook only lets libcoap send and read, as without a hook. */
void fm_coap_process(struct fm_coap *c);

/* A loop pass's end (a server's group commit: fc_server): fn(c, arg) runs
 * once per fm_coap_process, after libcoap has handled every request that
 * was waiting, before libcoap checks its timers and async list, so a
 * response held with coap_register_async and released in fn with
 * coap_async_trigger goes out in the same pass. fn NULL: none (the agent's
 * case). */
#define FM_COAP_PASS_MAX 512
/* The most datagrams one coap_io_do_epoll call is given to read. */
#define FM_COAP_ROUND_MAX 64
typedef void (*fm_coap_pass_fn)(struct fm_coap *c, void *arg);
void fm_coap_set_pass(struct fm_coap *c, fm_coap_pass_fn fn, void *arg);

/* Reads the hex key in path (whitespace around it ignored) into key. 0, or
 * -errno with err saying why: -EPERM when group or others may read the file
 * (err names the file and its mode), -EINVAL not hex / empty / odd length,
 * -EMSGSIZE longer than size bytes. Borrows everything. */
int fm_coap_read_psk(const char *path, uint8_t *key, size_t size, size_t *len, char *err,
		     size_t err_size);

/* A controller address: coaps://HOST[:PORT] (DTLS, port 5684) or
 * coap://HOST[:PORT] (plain, port 5683). */
struct fm_coap_uri {
	bool secure;
	char host[256];
	uint16_t port;
};
/* Parses uri. 0 or -EINVAL with err saying why (a scheme other than coap or
 * coaps, a path, no host, a bad port). */
int fm_coap_parse_uri(const char *uri, struct fm_coap_uri *u, char *err, size_t err_size);
/* Parses "HOST:PORT" (IPv6 as "[::1]:5684"). 0 or -EINVAL with err set. */
int fm_coap_parse_hostport(const char *s, char *host, size_t host_size, uint16_t *port, char *err,
			   size_t err_size);
/* Resolves host:port (numeric or a name; blocks for DNS, done at start and
 * on a new session only). 0 or -EHOSTUNREACH with err set. */
int fm_coap_resolve(const char *host, uint16_t port, struct coap_address_t *addr, char *err,
		    size_t err_size);

/* Opens a client session to u: DTLS-PSK with identity and key when
 * u->secure (DTLS Connection ID asked for when libcoap supports it), plain
 * CoAP otherwise. The session is libcoap's (released with
 * coap_session_release). NULL with err set. Borrows everything. */
struct coap_session_t *fm_coap_client(struct fm_coap *c, const struct fm_coap_uri *u, const char *identity,
			       const uint8_t *key, size_t key_len, char *err, size_t err_size);

/* A server's key lookup: the key for identity (id_len bytes, not
 * NUL-terminated, not trusted), copied into key (FM_COAP_PSK_MAX bytes).
 * Returns the key's length, or 0 to refuse the identity. */
typedef size_t (*fm_coap_psk_lookup_fn)(void *arg, const uint8_t *identity, size_t id_len,
					uint8_t *key);
/* Listens on host:port: DTLS-PSK with keys from lookup when lookup is not
 * NULL, plain CoAP when it is NULL. 0 or -errno with err set. */
int fm_coap_listen(struct fm_coap *c, const char *host, uint16_t port, fm_coap_psk_lookup_fn lookup,
		   void *arg, char *err, size_t err_size);

/* The PSK identity of a DTLS session (NUL-terminated into buf, at most
 * size - 1 bytes); false for a plain session or an identity that does not
 * fit or holds a NUL. */
bool fm_coap_session_identity(const struct coap_session_t *s, char *buf, size_t size);

/* The cipher suite a DTLS session agreed on, as Mbed TLS names it
 * ("TLS-ECDHE-PSK-WITH-AES-128-CCM-8"), so a log says whether the session
 * has forward secrecy; "none" for a plain session or before the handshake. */
const char *fm_coap_session_cipher(const struct coap_session_t *s);

/* The largest record payload a DTLS session takes in: Mbed TLS's
 * MBEDTLS_SSL_IN_CONTENT_LEN as the libmbedtls.a linked was built (16384 by
 * default, 1152 in the controller: toolchains/mbedtls-dtls-server.h); -1 for
 * a plain session. */
int fm_coap_session_record_max(const struct coap_session_t *s);

#endif
