/* fm_tls: see fm_tls.h. Every Mbed TLS error code is translated here, once. */
#include "fm_tls.h"

/* The alert a server sent us is the single most useful fact when it refuses
 * our client certificate, and Mbed TLS 3.6 has no accessor for it: read the
 * record it has just parsed (ssl->in_msg), which the LTS branch keeps stable. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct fm_tls_config {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt own;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	bool have_own;
	char ca_file[256];
	char cert_file[256];
};

struct fm_tls {
	mbedtls_ssl_context ssl;
	struct fm_tls_config *cfg;
	int fd;
	uint32_t want;
	enum fm_tls_fail fail;
	bool handshake_done;
	bool past_client_cert; /* our (possibly empty) certificate went out */
	bool app_data;         /* any application byte arrived */
	char host[256];
	/* What the verify callback saw of the server's leaf certificate. */
	char peer_subject[128];
	char peer_not_before[24];
	char peer_not_after[24];
	struct fm_cert_info peer;
	bool have_peer;
	uint32_t peer_flags;
	char reason[320];
	int code; /* the Mbed TLS code behind fail */
};

const char *fm_tls_fail_name(enum fm_tls_fail f)
{
	switch (f) {
	case FM_TLS_OK: return "ok";
	case FM_TLS_UNKNOWN_CA: return "unknown-ca";
	case FM_TLS_CERT_EXPIRED: return "cert-expired";
	case FM_TLS_CERT_FUTURE: return "cert-not-yet-valid";
	case FM_TLS_NAME_MISMATCH: return "name-mismatch";
	case FM_TLS_BAD_CERT: return "bad-cert";
	case FM_TLS_CLIENT_CERT_REJECTED: return "client-cert-rejected";
	case FM_TLS_CLIENT_CERT_REQUIRED: return "client-cert-required";
	case FM_TLS_ALERT: return "alert";
	case FM_TLS_HANDSHAKE: return "handshake";
	case FM_TLS_CLOSED: return "closed";
	case FM_TLS_IO: return "io";
	}
	return "unknown";
}

/* Mbed TLS's errors in a person's words, once, here: the ones a person
 * meets (a file that is not what it should be) said plainly; the rest as
 * the library says them, with its code (issue 19: no "PK - Read/write of
 * file failed (mbedtls -0x3e00)" where a person reads). */
static void mbed_err(char *out, size_t size, int rc)
{
	static const struct {
		int rc;
		const char *words;
	} plain[] = {
		{MBEDTLS_ERR_X509_FILE_IO_ERROR, "cannot be read"},
		{MBEDTLS_ERR_PK_FILE_IO_ERROR, "cannot be read"},
		{MBEDTLS_ERR_X509_INVALID_FORMAT, "not a certificate (PEM or DER)"},
		{MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT, "not a certificate (PEM or DER)"},
		{MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT, "holds no PEM block"},
		{MBEDTLS_ERR_PEM_INVALID_DATA, "a PEM block whose base64 is damaged"},
		{MBEDTLS_ERR_PK_KEY_INVALID_FORMAT, "not a private key (PEM or DER)"},
		{MBEDTLS_ERR_PK_UNKNOWN_PK_ALG, "a key of a kind the agent does not know (RSA or EC expected)"},
		{MBEDTLS_ERR_PK_PASSWORD_REQUIRED, "the key is encrypted: the agent needs it unencrypted"},
		{MBEDTLS_ERR_PK_PASSWORD_MISMATCH, "the key is encrypted: the agent needs it unencrypted"},
	};
	/* a high-level code comes added to the low-level one beneath it
	 * (ASN.1's): compare the high-level part */
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if ((-rc & 0xff80) == -plain[i].rc) {
			snprintf(out, size, "%s", plain[i].words);
			return;
		}
	}
	char s[128];
	mbedtls_strerror(rc, s, sizeof(s));
	snprintf(out, size, "%s (mbedtls -0x%04x)", s, (unsigned)-rc);
}

void fm_tls_code_text(int code, char *out, size_t size)
{
	snprintf(out, size, "mbedtls -0x%04x", (unsigned)-code);
}

void fm_tls_config_delete(struct fm_tls_config **c)
{
	if (!c || !*c)
		return;
	struct fm_tls_config *cfg = *c;
	mbedtls_ssl_config_free(&cfg->conf);
	mbedtls_x509_crt_free(&cfg->ca);
	mbedtls_x509_crt_free(&cfg->own);
	mbedtls_pk_free(&cfg->key);
	mbedtls_ctr_drbg_free(&cfg->drbg);
	mbedtls_entropy_free(&cfg->entropy);
	free(cfg);
	*c = NULL;
}

static int tls_version(int v, mbedtls_ssl_protocol_version *out)
{
	switch (v) {
	case 12: *out = MBEDTLS_SSL_VERSION_TLS1_2; return 0;
	case 13: *out = MBEDTLS_SSL_VERSION_TLS1_3; return 0;
	}
	return -EINVAL;
}

/* A certificate chain from memory (PEM, NUL-terminated) or a file. */
static int load_crt(mbedtls_x509_crt *crt, const char *file, const char *pem, const char *what,
		    char *err, size_t errlen, int *code)
{
	char m[160];
	if (!pem && access(file, R_OK) < 0) {
		/* said as the system says it: Mbed TLS would only say "Read/write
		 * of file failed" */
		int e = errno;
		snprintf(err, errlen, "%s file %s: %s", what, file, strerror(e));
		return -e;
	}
	int rc = pem ? mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1)
		     : mbedtls_x509_crt_parse_file(crt, file);
	if (rc == 0)
		return 0;
	*code = rc;
	mbed_err(m, sizeof(m), rc);
	snprintf(err, errlen, "%s %s: %s", what, pem ? "(embedded)" : file, m);
	return rc == MBEDTLS_ERR_X509_FILE_IO_ERROR ? -ENOENT : -EINVAL;
}

static int load_key(struct fm_tls_config *cfg, const char *file, const char *pem, char *err,
		    size_t errlen, int *code)
{
	char m[160];
	if (!pem && access(file, R_OK) < 0) {
		int e = errno;
		snprintf(err, errlen, "key file %s: %s", file, strerror(e));
		return -e;
	}
	int rc = pem ? mbedtls_pk_parse_key(&cfg->key, (const unsigned char *)pem, strlen(pem) + 1,
					    NULL, 0, mbedtls_ctr_drbg_random, &cfg->drbg)
		     : mbedtls_pk_parse_keyfile(&cfg->key, file, NULL, mbedtls_ctr_drbg_random,
						&cfg->drbg);
	if (rc == 0)
		return 0;
	*code = rc;
	mbed_err(m, sizeof(m), rc);
	snprintf(err, errlen, "key %s: %s", pem ? "(embedded)" : file, m);
	return rc == MBEDTLS_ERR_PK_FILE_IO_ERROR ? -ENOENT : -EINVAL;
}

/* The CA, and our certificate with its key when given (checked to be a
 * pair). 0, or as load_crt/load_key with the library's code in *lib. */
static int load_files(struct fm_tls_config *cfg, const struct fm_tls_options *o, bool have_cert, char *err,
		      size_t errlen, int *lib)
{
	int rc = load_crt(&cfg->ca, o->ca_file, o->ca_pem, "CA", err, errlen, lib);
	if (rc || !have_cert)
		return rc;
	if ((rc = load_crt(&cfg->own, o->cert_file, o->cert_pem, "certificate", err, errlen, lib)) ||
	    (rc = load_key(cfg, o->key_file, o->key_pem, err, errlen, lib)))
		return rc;
	rc = mbedtls_pk_check_pair(&cfg->own.pk, &cfg->key, mbedtls_ctr_drbg_random, &cfg->drbg);
	if (rc) {
		*lib = rc;
		snprintf(err, errlen, "key %s does not belong to certificate %s", o->key_pem ? "(embedded)" : o->key_file,
			 cfg->cert_file);
		return -EINVAL;
	}
	cfg->have_own = true;
	return 0;
}

int fm_tls_config_new(struct fm_tls_config **out, const struct fm_tls_options *o, char *err,
		      size_t errlen)
{
	char m[160];
	int rc, lib = 0;
	bool have_ca = o->ca_pem || (o->ca_file && o->ca_file[0]);
	bool have_cert = o->cert_pem || o->cert_file;
	bool have_key = o->key_pem || o->key_file;

	*out = NULL;
	if (!have_ca) {
		snprintf(err, errlen, "no CA given: the server cannot be verified");
		return -EINVAL;
	}
	if (have_cert != have_key) {
		snprintf(err, errlen, "a client certificate needs both its certificate and its key");
		return -EINVAL;
	}
	mbedtls_ssl_protocol_version vmin, vmax;
	if (tls_version(o->min_version ? o->min_version : 12, &vmin) ||
	    tls_version(o->max_version ? o->max_version : 13, &vmax) || vmin > vmax) {
		snprintf(err, errlen, "TLS versions must be 1.2 or 1.3, min <= max");
		return -EINVAL;
	}
	/* PSA backs TLS 1.3 in Mbed TLS 3.6; initialising twice is harmless. */
	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(err, errlen, "PSA crypto initialisation failed");
		return -EIO;
	}

	struct fm_tls_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_x509_crt_init(&cfg->ca);
	mbedtls_x509_crt_init(&cfg->own);
	mbedtls_pk_init(&cfg->key);
	mbedtls_entropy_init(&cfg->entropy);
	mbedtls_ctr_drbg_init(&cfg->drbg);
	snprintf(cfg->ca_file, sizeof(cfg->ca_file), "%s",
		 o->ca_pem ? "the embedded certificate-authority-data" : o->ca_file);
	snprintf(cfg->cert_file, sizeof(cfg->cert_file), "%s",
		 o->cert_pem ? "(embedded client-certificate-data)" : o->cert_file ? o->cert_file : "");

	static const unsigned char pers[] = "fleetmedic-tls";
	rc = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy, pers,
				   sizeof(pers) - 1);
	if (rc) {
		lib = rc;
		mbed_err(m, sizeof(m), rc);
		snprintf(err, errlen, "seeding the random generator: %s", m);
		rc = -EIO;
		goto out_delete;
	}
	if ((rc = load_files(cfg, o, have_cert, err, errlen, &lib)))
		goto out_delete;

	rc = mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT,
					 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc) {
		lib = rc;
		mbed_err(m, sizeof(m), rc);
		snprintf(err, errlen, "TLS configuration: %s", m);
		rc = -EIO;
		goto out_delete;
	}
	/* Verification is not optional: there is no code path that relaxes it. */
	mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
	mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
	mbedtls_ssl_conf_min_tls_version(&cfg->conf, vmin);
	mbedtls_ssl_conf_max_tls_version(&cfg->conf, vmax);
	if (cfg->have_own) {
		rc = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->own, &cfg->key);
		if (rc) {
			lib = rc;
			mbed_err(m, sizeof(m), rc);
			snprintf(err, errlen, "client certificate: %s", m);
			rc = -EINVAL;
			goto out_delete;
		}
	}
	*out = cfg;
	return 0;

out_delete:
	if (o->code)
		*o->code = lib;
	fm_tls_config_delete(&cfg);
	return rc;
}

/* Socket I/O for Mbed TLS: MSG_NOSIGNAL so a peer that vanishes cannot kill
 * the agent with SIGPIPE, and the would-block cases mapped to WANT_*. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct fm_tls *t = ctx;
	ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct fm_tls *t = ctx;
	ssize_t n = recv(t->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static void x509_time(char *out, size_t size, const mbedtls_x509_time *tm)
{
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm->year, tm->mon, tm->day, tm->hour,
		 tm->min, tm->sec);
}

/* Seconds since the epoch of an X.509 time (always UTC in a certificate),
 * computed here rather than with timegm(): that is not C11, and where
 * time_t is 32 bits (older armhf userlands) a notAfter past 2038 must
 * saturate, not wrap into the past and read as "expired". The day count is
 * the proleptic Gregorian days_from_civil algorithm (H. Hinnant). */
static time_t x509_epoch(const mbedtls_x509_time *tm)
{
	int64_t y = tm->year, m = tm->mon, d = tm->day;
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t s = (era * 146097 + doe - 719468) * 86400 + (int64_t)tm->hour * 3600 +
		    (int64_t)tm->min * 60 + tm->sec;
	if (sizeof(time_t) < sizeof(int64_t)) {
		if (s > INT32_MAX)
			s = INT32_MAX;
		if (s < INT32_MIN)
			s = INT32_MIN;
	}
	return (time_t)s;
}

/* Bytes from a certificate, made printable: they end up in reports. */
static void printable(char *out, size_t size, const char *prefix, const unsigned char *p, size_t len)
{
	size_t o = (size_t)snprintf(out, size, "%s", prefix);
	for (size_t i = 0; i < len && o + 1 < size; i++)
		out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	if (o < size)
		out[o] = '\0';
}

static void describe_sans(const mbedtls_x509_crt *crt, struct fm_cert_info *ci)
{
	if (!crt->subject_alt_names.buf.p)
		return;
	for (const mbedtls_x509_sequence *cur = &crt->subject_alt_names; cur; cur = cur->next) {
		mbedtls_x509_subject_alternative_name san;
		memset(&san, 0, sizeof(san));
		ci->sans_total++;
		if (mbedtls_x509_parse_subject_alt_name(&cur->buf, &san) != 0)
			continue;
		if (ci->n_sans < FM_CERT_MAX_SANS) {
			char *dst = ci->sans[ci->n_sans];
			size_t size = sizeof(ci->sans[0]);
			const mbedtls_x509_buf *u = &san.san.unstructured_name;
			char ip[INET6_ADDRSTRLEN];
			bool kept = true;
			switch (san.type) {
			case MBEDTLS_X509_SAN_DNS_NAME: printable(dst, size, "DNS:", u->p, u->len); break;
			case MBEDTLS_X509_SAN_RFC822_NAME: printable(dst, size, "email:", u->p, u->len); break;
			case MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER:
				printable(dst, size, "URI:", u->p, u->len);
				break;
			case MBEDTLS_X509_SAN_IP_ADDRESS:
				if ((u->len == 4 && inet_ntop(AF_INET, u->p, ip, sizeof(ip))) ||
				    (u->len == 16 && inet_ntop(AF_INET6, u->p, ip, sizeof(ip))))
					snprintf(dst, size, "IP:%s", ip);
				else
					kept = false;
				break;
			default: kept = false;
			}
			if (kept)
				ci->n_sans++;
		}
		mbedtls_x509_free_subject_alt_name(&san);
	}
}

static void describe(const mbedtls_x509_crt *crt, struct fm_cert_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	/* A DN longer than the field is cut, not dropped: the start names it. */
	if (mbedtls_x509_dn_gets(ci->subject, sizeof(ci->subject), &crt->subject) < 0)
		ci->subject[sizeof(ci->subject) - 1] = '\0';
	if (mbedtls_x509_dn_gets(ci->issuer, sizeof(ci->issuer), &crt->issuer) < 0)
		ci->issuer[sizeof(ci->issuer) - 1] = '\0';
	ci->not_before = x509_epoch(&crt->valid_from);
	ci->not_after = x509_epoch(&crt->valid_to);
	ci->is_ca = mbedtls_x509_crt_get_ca_istrue(crt) == 1;
	describe_sans(crt, ci);
}

/* Remembers what the server presented, so a failure can say which
 * certificate is wrong and how, not only that one is. */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct fm_tls *t = ctx;
	if (depth == 0) {
		describe(crt, &t->peer);
		t->have_peer = true;
		if (mbedtls_x509_dn_gets(t->peer_subject, sizeof(t->peer_subject), &crt->subject) < 0)
			t->peer_subject[0] = '\0';
		x509_time(t->peer_not_before, sizeof(t->peer_not_before), &crt->valid_from);
		x509_time(t->peer_not_after, sizeof(t->peer_not_after), &crt->valid_to);
	}
	t->peer_flags |= *flags;
	return 0;
}

struct fm_tls *fm_tls_new(struct fm_tls_config *cfg, int fd, const char *host)
{
	struct fm_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	mbedtls_ssl_init(&t->ssl);
	t->cfg = cfg;
	t->fd = fd;
	t->want = EPOLLOUT;
	snprintf(t->host, sizeof(t->host), "%s", host);
	if (mbedtls_ssl_setup(&t->ssl, &cfg->conf) != 0)
		goto out_delete;
	/* Both SNI and the name the certificate must carry; Mbed TLS 3.6 matches
	 * an IP literal against iPAddress subjectAltNames. */
	if (mbedtls_ssl_set_hostname(&t->ssl, host) != 0)
		goto out_delete;
	mbedtls_ssl_set_verify(&t->ssl, verify_cb, t);
	mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
	return t;

out_delete:
	fm_tls_delete(&t);
	return NULL;
}

void fm_tls_delete(struct fm_tls **t)
{
	if (!t || !*t)
		return;
	mbedtls_ssl_free(&(*t)->ssl);
	free(*t);
	*t = NULL;
}

static const char *alert_name(unsigned a)
{
	switch (a) {
	case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "handshake failure";
	case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad certificate";
	case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT: return "unsupported certificate";
	case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED: return "certificate revoked";
	case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate expired";
	case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN: return "certificate unknown";
	case MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER: return "illegal parameter";
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown CA";
	case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED: return "access denied";
	case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR: return "decode error";
	case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "decrypt error";
	case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION: return "protocol version";
	case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY: return "insufficient security";
	case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR: return "internal error";
	case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME: return "unrecognized name";
	case MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED: return "certificate required";
	case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL: return "no application protocol";
	}
	return "unknown alert";
}

/* An alert that says "your certificate": in TLS 1.3 it can arrive after our
 * side of the handshake has finished, on the first read. */
static bool alert_about_client_cert(unsigned a)
{
	return a == MBEDTLS_SSL_ALERT_MSG_BAD_CERT || a == MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT ||
	       a == MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED || a == MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED ||
	       a == MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN || a == MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA ||
	       a == MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED || a == MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED;
}

static void own_cert_hint(const struct fm_tls *t, char *out, size_t size)
{
	const mbedtls_x509_crt *own = &t->cfg->own;
	char when[24];
	out[0] = '\0';
	if (mbedtls_x509_time_is_past(&own->valid_to)) {
		x509_time(when, sizeof(when), &own->valid_to);
		snprintf(out, size, "; our certificate %s expired on %s", t->cfg->cert_file, when);
	} else if (mbedtls_x509_time_is_future(&own->valid_from)) {
		x509_time(when, sizeof(when), &own->valid_from);
		snprintf(out, size, "; our certificate %s is not valid before %s (clock?)",
			 t->cfg->cert_file, when);
	}
}

/* Turns an Mbed TLS error into a failure kind and a reason. Returns the
 * errno-style code for the caller. */
static int set_failure(struct fm_tls *t, int rc)
{
	char m[160], hint[200];

	t->code = rc;

	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		uint32_t f = mbedtls_ssl_get_verify_result(&t->ssl) | t->peer_flags;
		if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
			t->fail = FM_TLS_UNKNOWN_CA;
			snprintf(t->reason, sizeof(t->reason),
				 "unknown CA: the server's certificate (%s) is not signed by a CA in %s",
				 t->peer_subject, t->cfg->ca_file);
		} else if (f & MBEDTLS_X509_BADCERT_EXPIRED) {
			t->fail = FM_TLS_CERT_EXPIRED;
			snprintf(t->reason, sizeof(t->reason),
				 "server certificate expired: %s was valid until %s", t->peer_subject,
				 t->peer_not_after);
		} else if (f & MBEDTLS_X509_BADCERT_FUTURE) {
			t->fail = FM_TLS_CERT_FUTURE;
			snprintf(t->reason, sizeof(t->reason),
				 "server certificate not yet valid: %s starts %s (is the clock right?)",
				 t->peer_subject, t->peer_not_before);
		} else if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
			t->fail = FM_TLS_NAME_MISMATCH;
			snprintf(t->reason, sizeof(t->reason),
				 "name mismatch: the server's certificate (%s) is not valid for %s",
				 t->peer_subject, t->host);
		} else {
			char info[160];
			mbedtls_x509_crt_verify_info(info, sizeof(info), "", f);
			info[strcspn(info, "\n")] = '\0';
			t->fail = FM_TLS_BAD_CERT;
			snprintf(t->reason, sizeof(t->reason), "server certificate rejected: %s", info);
		}
		return -EPROTO;
	}
	if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		unsigned a = t->ssl.in_msg ? t->ssl.in_msg[1] : 0;
		if (t->cfg->have_own && alert_about_client_cert(a)) {
			own_cert_hint(t, hint, sizeof(hint));
			t->fail = FM_TLS_CLIENT_CERT_REJECTED;
			snprintf(t->reason, sizeof(t->reason),
				 "server rejected our client certificate (alert: %s)%s", alert_name(a),
				 hint);
		} else if (!t->cfg->have_own &&
			   (alert_about_client_cert(a) || a == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE)) {
			t->fail = FM_TLS_CLIENT_CERT_REQUIRED;
			snprintf(t->reason, sizeof(t->reason),
				 "server requires a client certificate and none was given (alert: %s)",
				 alert_name(a));
		} else {
			t->fail = FM_TLS_ALERT;
			snprintf(t->reason, sizeof(t->reason), "server sent alert: %s (%u)",
				 alert_name(a), a);
		}
		return -EPROTO;
	}
	if ((rc == MBEDTLS_ERR_NET_CONN_RESET || rc == MBEDTLS_ERR_SSL_CONN_EOF) &&
	    t->past_client_cert && !t->app_data) {
		/* A server refusing our certificate (or its absence) sends an
		 * alert and closes while our last flight or our request is still
		 * in flight; the reset that follows often destroys the alert
		 * before we can read it. A close right after our certificate
		 * step, before any answer, is that refusal. */
		if (t->cfg->have_own) {
			own_cert_hint(t, hint, sizeof(hint));
			t->fail = FM_TLS_CLIENT_CERT_REJECTED;
			snprintf(t->reason, sizeof(t->reason),
				 "server rejected our client certificate (it closed the connection "
				 "right after receiving it)%s",
				 hint);
		} else {
			t->fail = FM_TLS_CLIENT_CERT_REQUIRED;
			snprintf(t->reason, sizeof(t->reason),
				 "server requires a client certificate and none was given (it closed "
				 "the connection right after our empty certificate)");
		}
		return -EPROTO;
	}
	if (rc == MBEDTLS_ERR_NET_CONN_RESET || rc == MBEDTLS_ERR_SSL_CONN_EOF) {
		t->fail = FM_TLS_CLOSED;
		snprintf(t->reason, sizeof(t->reason), "%s",
			 t->handshake_done ? "connection closed by the server"
					   : "connection closed by the server during the TLS handshake");
		return -ECONNRESET;
	}
	if (rc == MBEDTLS_ERR_NET_SEND_FAILED || rc == MBEDTLS_ERR_NET_RECV_FAILED) {
		t->fail = FM_TLS_IO;
		snprintf(t->reason, sizeof(t->reason), "socket error: %s", strerror(errno));
		return -EIO;
	}
	mbed_err(m, sizeof(m), rc);
	t->fail = FM_TLS_HANDSHAKE;
	snprintf(t->reason, sizeof(t->reason), "TLS handshake failed: %s", m);
	return -EPROTO;
}

/* WANT_READ / WANT_WRITE become -EAGAIN and what to wait for; anything else
 * is a failure. */
static int would_block_or_fail(struct fm_tls *t, int rc)
{
	if (rc == MBEDTLS_ERR_SSL_WANT_READ) {
		t->want = EPOLLIN;
		return -EAGAIN;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		t->want = EPOLLOUT;
		return -EAGAIN;
	}
	return set_failure(t, rc);
}

int fm_tls_handshake(struct fm_tls *t)
{
	if (t->handshake_done)
		return 0;
	if (t->fail)
		return -EPROTO;
	/* Step by step, to know when our certificate has gone out: a close
	 * after that point is the server's verdict on it. */
	int rc = 0;
	while (!mbedtls_ssl_is_handshake_over(&t->ssl)) {
		if (t->ssl.state == MBEDTLS_SSL_CLIENT_CERTIFICATE)
			t->past_client_cert = true;
		rc = mbedtls_ssl_handshake_step(&t->ssl);
		if (rc)
			break;
	}
	if (rc == 0) {
		t->handshake_done = true;
		t->want = EPOLLIN;
		return 0;
	}
	return would_block_or_fail(t, rc);
}

ssize_t fm_tls_read(struct fm_tls *t, void *buf, size_t len)
{
	if (t->fail)
		return -EPROTO;
	for (;;) {
		int rc = mbedtls_ssl_read(&t->ssl, buf, len);
		if (rc > 0) {
			t->app_data = true;
			return rc;
		}
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
			return 0;
		/* TLS 1.3 post-handshake messages: nothing for us, read on. */
		if (rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		return would_block_or_fail(t, rc);
	}
}

ssize_t fm_tls_write(struct fm_tls *t, const void *buf, size_t len)
{
	if (t->fail)
		return -EPROTO;
	int rc = mbedtls_ssl_write(&t->ssl, buf, len);
	return rc >= 0 ? rc : would_block_or_fail(t, rc);
}

uint32_t fm_tls_want(const struct fm_tls *t)
{
	return t->want;
}

enum fm_tls_fail fm_tls_failure(const struct fm_tls *t)
{
	return t->fail;
}

int fm_tls_code(const struct fm_tls *t)
{
	return t->code;
}

const char *fm_tls_reason(const struct fm_tls *t)
{
	return t->reason;
}

const char *fm_tls_version(const struct fm_tls *t)
{
	return t->handshake_done ? mbedtls_ssl_get_version(&t->ssl) : "";
}

int fm_tls_peer_cert(const struct fm_tls *t, struct fm_cert_info *out)
{
	if (!t->have_peer)
		return -ENODATA;
	*out = t->peer;
	return 0;
}

int fm_tls_cert_info_pem(const char *pem, size_t len, struct fm_cert_info *out, size_t max,
			 size_t *n, char *err, size_t errlen)
{
	static const char begin_cert[] = "-----BEGIN CERTIFICATE-----";
	char m[160];
	int rc;

	*n = 0;
	if (len > FM_CERT_MAX_FILE) {
		snprintf(err, errlen, "larger than %d bytes: not a certificate file",
			 FM_CERT_MAX_FILE);
		return -EMSGSIZE;
	}
	bool is_pem = memmem(pem, len, "-----BEGIN ", 11) != NULL;
	if (is_pem && !memmem(pem, len, begin_cert, sizeof(begin_cert) - 1)) {
		snprintf(err, errlen, "no certificate in it (other PEM blocks only)");
		return -ENODATA;
	}
	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(err, errlen, "PSA crypto initialisation failed");
		return -EIO;
	}
	/* Mbed TLS wants PEM NUL-terminated, the NUL counted in the length. */
	char *buf = malloc(len + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(buf, pem, len);
	buf[len] = '\0';
	mbedtls_x509_crt chain;
	mbedtls_x509_crt_init(&chain);
	rc = is_pem ? mbedtls_x509_crt_parse(&chain, (const unsigned char *)buf, len + 1)
		    : mbedtls_x509_crt_parse_der(&chain, (const unsigned char *)buf, len);
	free(buf);
	if (rc < 0) {
		mbed_err(m, sizeof(m), rc);
		snprintf(err, errlen, "%s%s", strncmp(m, "not a certificate", 17) ? "not a certificate: " : "", m);
		mbedtls_x509_crt_free(&chain);
		return -EINVAL;
	}
	/* rc > 0 counts PEM blocks that did not parse: the others still say
	 * something useful, so they are kept. */
	for (const mbedtls_x509_crt *c = &chain; c && c->raw.p && *n < max; c = c->next)
		describe(c, &out[(*n)++]);
	mbedtls_x509_crt_free(&chain);
	return 0;
}

int fm_tls_cert_info_file(const char *path, struct fm_cert_info *out, size_t max, size_t *n,
			  char *err, size_t errlen)
{
	char e[200];
	struct stat sb;
	int rc;

	*n = 0;
	/* O_NONBLOCK: a FIFO planted where a certificate should be must not
	 * hang the agent at open(). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (sb.st_size > FM_CERT_MAX_FILE) {
		close(fd);
		snprintf(err, errlen, "%s: larger than %d bytes: not a certificate file", path,
			 FM_CERT_MAX_FILE);
		return -EMSGSIZE;
	}
	/* The size may change under us: read at most the cap, whatever fstat said. */
	char *buf = malloc(FM_CERT_MAX_FILE);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	size_t len = 0;
	while (len < FM_CERT_MAX_FILE) {
		ssize_t r = read(fd, buf + len, FM_CERT_MAX_FILE - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
			goto out_free;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = fm_tls_cert_info_pem(buf, len, out, max, n, e, sizeof(e));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, e);

out_free:
	free(buf);
	close(fd);
	return rc;
}
