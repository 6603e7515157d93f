/* fm_discover: where the control plane is on this node, found under the root
 * prefix with no configuration: kubeadm (static pod manifests, PKI,
 * admin.conf) or k3s (k3s.yaml, server/tls). Explicit options override what
 * was found, field by field.
 *
 * Everything found says where it came from ("origin"), so a report can say
 * "from /etc/kubernetes/manifests/etcd.yaml" and a person can check it.
 *
 * kubeadm (any of manifests/etcd.yaml, manifests/kube-apiserver.yaml,
 * admin.conf under /etc/kubernetes):
 *   etcd.url     the loopback entry of etcd.yaml's --listen-client-urls (or of
 *                --advertise-client-urls; an unspecified address becomes
 *                127.0.0.1), else the first --advertise-client-urls; without
 *                etcd.yaml, kube-apiserver.yaml's --etcd-servers (and
 *                --etcd-cafile)
 *   etcd.ca      --trusted-ca-file; etcd.cert/key: pki/etcd/healthcheck-client
 *                when both files exist, else the apiserver's --etcd-certfile/
 *                --etcd-keyfile
 *   etcd_metrics_url  the http entry of --listen-metrics-urls
 *   apiserver    admin.conf's server and credentials; without admin.conf (or
 *                without a server in it) https://127.0.0.1:<--secure-port>
 *                from kube-apiserver.yaml with --client-ca-file as the CA
 *   node_name    etcd's --name, else "<component>-<node>" pod names, else
 *                /etc/hostname
 *   pki_dirs     /etc/kubernetes/pki; kubeconfigs: admin.conf,
 *                super-admin.conf, kubelet.conf, controller-manager.conf,
 *                scheduler.conf, those that exist
 * k3s (/etc/rancher/k3s/k3s.yaml or /var/lib/rancher/k3s/server):
 *   etcd         only with embedded etcd (server/db/etcd exists):
 *                https://127.0.0.1:2379, server/tls/etcd/server-ca.crt,
 *                server/tls/etcd/client.{crt,key}, metrics
 *                http://127.0.0.1:2381; otherwise etcd.url is "" (SQLite or
 *                an external datastore: there is no etcd to ask) and
 *                etcd.origin says so ("none: k3s without embedded etcd ...")
 *   apiserver    k3s.yaml's server and credentials, else
 *                https://127.0.0.1:6443 with server/tls/server-ca.crt and
 *                client-admin.{crt,key}
 *   pki_dirs     server/tls; kubeconfigs: k3s.yaml; node_name /etc/hostname
 * Paths named inside the host's files are host paths: they are joined with
 * the root prefix. Paths given as options are used as given.
 */
#ifndef FM_DISCOVER_H
#define FM_DISCOVER_H

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>

enum fm_flavor { FM_FLAVOR_NONE = 0, FM_FLAVOR_KUBEADM, FM_FLAVOR_K3S };

/* How to reach one TLS endpoint. Paths are host paths already joined with
 * the root prefix. PEM strings (malloc'd, NUL-terminated) hold material a
 * kubeconfig embeds (*-data, base64-decoded); they win over the paths. */
struct fm_endpoint {
	char url[256]; /* "https://127.0.0.1:2379"; "" when none found */
	char ca[PATH_MAX];
	char cert[PATH_MAX];
	char key[PATH_MAX];
	char *ca_pem;
	char *cert_pem;
	char *key_pem;
	char *token;	       /* bearer token (kubeconfig user.token), or NULL */
	char origin[PATH_MAX]; /* the file the URL came from (under the root prefix),
				* "--etcd", "--apiserver", "--kubeconfig FILE",
				* "default (kubeadm paths)", or "none: why" with url "" */
};

#define FM_DISCOVER_MAX_FILES 8

struct fm_discovery {
	enum fm_flavor flavor;
	char root[PATH_MAX];         /* the root prefix everything was found under */
	char node_name[128];	      /* from the manifests / kubeconfig, if seen */
	struct fm_endpoint etcd;      /* client URL, etcd CA, a client cert etcd trusts */
	char etcd_metrics_url[256];   /* plain http --listen-metrics-urls, or "" */
	struct fm_endpoint apiserver; /* URL, CA, credentials (from admin.conf / k3s.yaml) */
	/* Directories whose certificates are checked (PKI, k3s server/tls),
	 * and kubeconfig files whose embedded certificates are: malloc'd
	 * (fm_discovery_free), not PATH_MAX arrays, which made this structure
	 * 100 kB that the running agent keeps, zeroed and so resident, on its
	 * stack (issue 27: Private_Dirty). */
	char *pki_dirs[FM_DISCOVER_MAX_FILES];
	int n_pki_dirs;
	char *kubeconfigs[FM_DISCOVER_MAX_FILES];
	int n_kubeconfigs;
	char notes[1024]; /* what was looked at and not found, for --help-me output */
};

/* Explicit settings (NULL: not given). */
struct fm_discover_opts {
	const char *root; /* default "/" */
	const char *etcd_url, *etcd_ca, *etcd_cert, *etcd_key;
	const char *apiserver_url, *kubeconfig;
};

/* Fills d from the host under o->root, then applies the explicit options:
 * --etcd replaces the URL (and drops a discovered metrics URL that belongs
 * to another etcd); --etcd-ca alone also drops the client certificate;
 * --kubeconfig (used as given; the paths inside it are host paths) replaces
 * the apiserver's server, CA (when it names one) and client identity
 * (certificate, key, token) as a whole; --apiserver then replaces the URL.
 * Returns 0 (also when nothing was found: d->flavor is FM_FLAVOR_NONE and
 * the endpoints fall back to the defaults https://127.0.0.1:2379 and
 * https://127.0.0.1:6443 with kubeadm's paths), or -errno with a reason in
 * err when an explicit file (--kubeconfig) cannot be read or parsed. The
 * caller frees d with fm_discovery_free. */
int fm_discover(struct fm_discovery *d, const struct fm_discover_opts *o, char *err, size_t errlen);
/* What kubeadm's static pod manifests say, the part of fm_discover() that
 * reads no file, so that tests and the fuzz target (tests/fuzz/
 * fuzz_manifest.c) can feed it parsed manifests: em is etcd.yaml (read from
 * etcd_yaml), am kube-apiserver.yaml (from api_yaml); either may be NULL.
 * Sets, as described above, d's etcd URL and origin, etcd CA,
 * etcd_metrics_url and node_name from em, the etcd URL from am's
 * --etcd-servers when em gave none, and the apiserver URL
 * (https://127.0.0.1:<--secure-port>), origin and CA from am; paths named
 * in them are joined with d->root ("/" when empty). What is missing or
 * unusable goes to d->notes. Returns true when an etcd URL was found.
 * Borrows everything. */
struct fm_manifest;
bool fm_discover_manifests(struct fm_discovery *d, const struct fm_manifest *em,
			   const char *etcd_yaml, const struct fm_manifest *am, const char *api_yaml);

/* Frees the PEM strings and tokens; d can be reused. */
void fm_discovery_free(struct fm_discovery *d);

#endif
