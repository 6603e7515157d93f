/* fm_tls: TLS client sessions over non-blocking sockets. The only file of the
 * agent that includes mbedtls/.
 *
 * The server's certificate is always verified against a CA file, and its name
 * (DNS or IP subjectAltName) against the host we dialled; there is no switch
 * to turn that off. A client certificate is optional (etcd's --client-cert-auth
 * wants one). TLS 1.2 and 1.3 are both offered unless narrowed.
 *
 * A session is a state machine driven by the caller's event loop: every call
 * that would block returns -EAGAIN and fm_tls_want() says whether to wait for
 * EPOLLIN or EPOLLOUT. Failures come back as -EPROTO (or -ECONNRESET) with a
 * reason a person can act on ("unknown CA", "server certificate expired",
 * "server rejected our client certificate (alert: bad certificate)" ...).
 */
#ifndef FM_TLS_H
#define FM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Why a session failed; FM_TLS_OK while it has not. */
enum fm_tls_fail {
	FM_TLS_OK = 0,
	FM_TLS_UNKNOWN_CA,     /* server certificate not signed by our CA */
	FM_TLS_CERT_EXPIRED,   /* server certificate past notAfter */
	FM_TLS_CERT_FUTURE,    /* server certificate before notBefore (clock?) */
	FM_TLS_NAME_MISMATCH,  /* server certificate not valid for the host dialled */
	FM_TLS_BAD_CERT,       /* server certificate unusable for another reason */
	FM_TLS_CLIENT_CERT_REJECTED, /* the server refused our client certificate */
	FM_TLS_CLIENT_CERT_REQUIRED, /* the server wants one and we sent none */
	FM_TLS_ALERT,          /* any other fatal alert from the server */
	FM_TLS_HANDSHAKE,      /* the handshake failed locally (no common cipher, malformed ...) */
	FM_TLS_CLOSED,         /* the peer closed or reset during the handshake */
	FM_TLS_IO,             /* a socket error */
};

/* Short stable name of a failure kind ("unknown-ca", "name-mismatch" ...). */
const char *fm_tls_fail_name(enum fm_tls_fail f);

/* Each of CA, certificate and key comes from a file or, as kubeconfigs
 * embed them (certificate-authority-data ...), from memory: a NUL-terminated
 * PEM string. The *_pem form wins when both are given. */
struct fm_tls_options {
	const char *ca_file;   /* PEM bundle of trusted CAs; one of the two is required */
	const char *ca_pem;
	const char *cert_file; /* our certificate (PEM), or NULL */
	const char *cert_pem;
	const char *key_file;  /* its key (PEM), required with a certificate */
	const char *key_pem;
	int min_version;       /* 12 or 13 (TLS 1.2 / 1.3); 0: 12 */
	int max_version;       /* 12 or 13; 0: 13 */
	int *code;             /* when set, a failing fm_tls_config_new puts the Mbed TLS
				* code behind its reason there (0: not the library's) */
};

/* Shared by every session to one server: CA chain, our certificate and key,
 * random generator. */
struct fm_tls_config;

/* Loads the files of o. Returns 0 and sets *out, or -errno with a reason in
 * err (file missing, not PEM, key does not match certificate ...). The caller
 * owns *out and frees it with fm_tls_config_delete. */
int fm_tls_config_new(struct fm_tls_config **out, const struct fm_tls_options *o, char *err,
		      size_t errlen);
/* Frees and NULLs *c; accepts NULL, *c == NULL and half-built configs. */
void fm_tls_config_delete(struct fm_tls_config **c);

struct fm_tls;

/* A client session on the connected non-blocking socket fd, verifying the
 * server as host (a DNS name or an IP literal). Borrows cfg (which must
 * outlive the session) and fd (the caller closes it). NULL on allocation or
 * setup failure. */
struct fm_tls *fm_tls_new(struct fm_tls_config *cfg, int fd, const char *host);
/* Frees and NULLs *t; accepts NULL. Does not close the fd. */
void fm_tls_delete(struct fm_tls **t);

/* Advances the handshake. 0 when done; -EAGAIN: call again when the socket is
 * ready for fm_tls_want(); -EPROTO / -ECONNRESET: failed, see fm_tls_fail()
 * and fm_tls_reason(). */
int fm_tls_handshake(struct fm_tls *t);
/* Reads decrypted bytes: > 0, 0 when the peer closed (close_notify or EOF),
 * -EAGAIN, or -EPROTO / -ECONNRESET with a reason. Mbed TLS keeps whole
 * records: after a readable event call this until it returns -EAGAIN. */
ssize_t fm_tls_read(struct fm_tls *t, void *buf, size_t len);
/* Writes: bytes taken (> 0), -EAGAIN, or -EPROTO / -ECONNRESET. After -EAGAIN
 * the same data must be offered again. */
ssize_t fm_tls_write(struct fm_tls *t, const void *buf, size_t len);
/* EPOLLIN or EPOLLOUT: what the last -EAGAIN waits for. */
uint32_t fm_tls_want(const struct fm_tls *t);

enum fm_tls_fail fm_tls_failure(const struct fm_tls *t);
/* Why the session failed, "" while it has not. Valid while t lives. */
const char *fm_tls_reason(const struct fm_tls *t);
/* The Mbed TLS code behind the failure (negative), 0 while it has not
 * failed: kept for machines (--json), the reason says it in words. */
int fm_tls_code(const struct fm_tls *t);
/* "mbedtls -0x2700": how a code is written where it is kept. */
void fm_tls_code_text(int code, char *out, size_t size);
/* "TLSv1.3" ... once the handshake is done, else "". */
const char *fm_tls_version(const struct fm_tls *t);

/* Certificate inspection: what a certificate says about itself, for expiry
 * and clock checks. Nothing here verifies anything. */

#define FM_CERT_MAX_SANS 8

struct fm_cert_info {
	char subject[256];     /* DN as "O=system:masters, CN=kube-apiserver-etcd-client" */
	char issuer[256];
	time_t not_before;     /* UTC; clamped to time_t's range where it is 32 bits */
	time_t not_after;
	bool is_ca;            /* basicConstraints CA:TRUE */
	int n_sans;            /* kept in sans[] (at most FM_CERT_MAX_SANS) */
	int sans_total;        /* in the certificate */
	char sans[FM_CERT_MAX_SANS][80]; /* "DNS:localhost", "IP:127.0.0.1", "URI:..." */
};

/* Caps on what is inspected: one file, and the certificates kept from it. */
#define FM_CERT_MAX_FILE (256 * 1024)

/* Describes the certificates in pem (len bytes; PEM, any number of
 * certificates interleaved with other text, or one DER certificate) into
 * out[0..max). *n gets how many were stored. Returns 0 (at least one
 * certificate parsed; blocks that do not parse are skipped), -ENODATA when
 * the text holds PEM blocks but no certificate (a key file), -EINVAL when
 * nothing parses (reason in err), -EMSGSIZE over FM_CERT_MAX_FILE. Borrows
 * pem for the call; it need not be NUL-terminated. */
int fm_tls_cert_info_pem(const char *pem, size_t len, struct fm_cert_info *out, size_t max,
			 size_t *n, char *err, size_t errlen);
/* Same for a file (read up to FM_CERT_MAX_FILE bytes). Also -ENOENT,
 * -EACCES ... when it cannot be read, with the path in err. */
int fm_tls_cert_info_file(const char *path, struct fm_cert_info *out, size_t max, size_t *n,
			  char *err, size_t errlen);

/* The server's leaf certificate as the verify callback saw it during the
 * handshake (also when verification then failed: an expired server
 * certificate is described all the same). 0, or -ENODATA when no
 * certificate has been seen (yet). */
int fm_tls_peer_cert(const struct fm_tls *t, struct fm_cert_info *out);

#endif
