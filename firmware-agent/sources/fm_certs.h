/* fm_certs: certificates as facts, judged against an injected clock.
 *
 * One fact of kind "cert" per certificate:
 *   id        the file path; "<path>#2", "#3" ... for further certificates
 *             in the same file (a bundle); "<url> (served)" for what a
 *             server presented; "<kubeconfig>#<user>" for an embedded one
 *   file      where it was read (the path, the kubeconfig, or the URL)
 *   subject, issuer             DNs ("CN=pi-master1")
 *   not_before, not_after       RFC 3339 UTC ("2027-11-23T13:50:49Z")
 *   days_left                   whole days until not_after, floored:
 *                               negative once expired (-1 the day after)
 *   expired                     now > not_after
 *   not_yet_valid               now < not_before
 *   clock_outside_validity      either of the two: the local clock is
 *                               outside the window (an RTC-less board that
 *                               booted in 1970 makes every one of these true)
 *   is_ca, sans (a few: "DNS:localhost", "IP:127.0.0.1"), served (true for
 *   a server's)
 * A file that cannot be used gives one fact with "state" ("missing",
 * "unreadable", "malformed", "too-large") and a "reason", and no dates.
 *
 * `now` is always a parameter (STYLE: inject the clock), so the tests can
 * stand at any point of a certificate's life.
 */
#ifndef FM_CERTS_H
#define FM_CERTS_H

#include "fm_facts.h"
#include "fm_tls.h"

#include <stddef.h>
#include <time.h>

#define FM_CERTS_PER_FILE  8   /* certificates described from one file or PEM */
#define FM_CERTS_MAX_DEPTH 4   /* directories below the scanned one */
#define FM_CERTS_MAX_FILES 256 /* candidate files per scan */

/* t as RFC 3339 UTC ("2027-11-23T13:50:49Z", 21 bytes with the NUL); ""
 * when it cannot be written. Such strings compare in time order. */
void fm_certs_rfc3339(char *out, size_t size, time_t t);

/* The fields above for ci at now (caller owns the object; NULL on
 * allocation failure). file may be NULL (then no "file"). */
cJSON *fm_certs_fields(const struct fm_cert_info *ci, const char *file, time_t now);

/* Puts the fact for ci with id and file. 0 or -ENOMEM. */
int fm_certs_put_info(struct fm_facts *facts, const char *id, const char *file,
		      const struct fm_cert_info *ci, time_t now);

/* Puts the facts for every certificate in the file at path (id = path).
 * Returns how many certificates were put (>= 1), or -errno after putting the
 * failure fact (-ENODATA: a key or other PEM without a certificate). */
int fm_certs_put_file(struct fm_facts *facts, const char *path, time_t now);

/* Puts the facts for the certificates in PEM text held in memory (as a
 * kubeconfig embeds client-certificate-data): ids are id, id#2 ...; file
 * names where the text came from (the kubeconfig). Borrows pem. Returns the
 * count put or -errno after putting the failure fact. */
int fm_certs_put_pem(struct fm_facts *facts, const char *id, const char *file, const char *pem,
		     size_t len, time_t now);

/* Walks dir (a PKI directory: /etc/kubernetes/pki, k3s' server/tls) down
 * FM_CERTS_MAX_DEPTH levels, in name order, and puts the facts for every
 * *.crt and *.pem regular file (symlinks to files are followed; symlinked
 * directories are not), looking at FM_CERTS_MAX_FILES of them at most.
 * Files holding only a key are skipped silently. *n_files (may be NULL) gets
 * the number of certificate files put. Returns 0, or -errno when dir itself
 * cannot be opened (reason in err); problems with single files are facts. */
int fm_certs_scan_dir(struct fm_facts *facts, const char *dir, time_t now, int *n_files,
		      char *err, size_t errlen);

/* What an endpoint's TLS involved: the certificate the server presented on
 * the connection c (id "<url> (served)", served: true) and the CA and client
 * certificate files ep names. Material ep holds in memory comes from a
 * kubeconfig and is reported by fm_certs_put_node under its name. */
struct fm_endpoint;
struct fm_httpc;
void fm_certs_put_endpoint(struct fm_facts *facts, const struct fm_endpoint *ep,
			   const struct fm_httpc *c, time_t now);

/* Every certificate of the node's discovered PKI: the files under d's
 * pki_dirs, and the certificates each of d's kubeconfigs holds (embedded
 * *-data as "<kubeconfig>#certificate-authority-data" and
 * "<kubeconfig>#client-certificate-data", or the files it names). A
 * kubeconfig that cannot be read becomes a cert fact with state "malformed"
 * or "unreadable". */
struct fm_discovery;
void fm_certs_put_node(struct fm_facts *facts, const struct fm_discovery *d, time_t now);

#endif
